"""Real footage pseudo-labelled offline (drm_core.real_data.build) -> Samples in MPI15.

The build writes one COCO-keypoints json per split (real_train.json, real_val.json) beside an images/ folder.
Beyond COCO's fields an image may carry `camera` {K (3x3), dist (k1, k2, p1, p2)} for calibrated footage
(pose2sim's four views) and its people then carry `keypoints_cam` (17 x 3, metres, that camera's optical frame,
triangulated across the views; a person the teacher saw in too few views has none, and gets 3D zeros, which the
codec and the metrics read as "no 3D label"); other images get SMAP's camera rule (fx = fy = width, centre
principal point) and no 3D, like COCO. People with `keypoints_rel_m` (the teacher's hip-centred metric 3D, for
people without triangulated 3D) get it as Sample.joints_rel_m: relative-depth supervision only. Keypoints are COCO-17 (BlazePose has no head top), so MPI15 is filled as
for COCO: pelvis = mid-hip, neck from shoulders and hips, head top unlabelled (skeleton.to_mpi15).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from drm_core.camera import Camera, InvalidCameraError
from drm_core.data.errors import DatasetError, as_array, load_json, read_image_rgb, require
from drm_core.data.muco import intrinsic_matrix, map_to_mpi15
from drm_core.skeleton import COCO17, MPI15
from drm_core.pose_types import Sample

J = COCO17.num_joints


@dataclass
class RealRecord:
    image_id: int
    file_name: str
    camera: Camera
    keypoints: np.ndarray  # (P, 17, 3): x, y, v in pixels of the stored image
    keypoints_cam: np.ndarray | None  # (P, 17, 3) metres (zeros: no 3D label), or None for 2D-only images
    boxes_xywh: np.ndarray  # (P, 4)
    meta: dict
    keypoints_rel: np.ndarray | None = None  # (P, 17, 3) the teacher's hip-centred metres (zeros: none), or None


def _camera(img: dict, path: Path, where: str) -> Camera:
    width = int(require(img, "width", path, where))
    height = int(require(img, "height", path, where))
    cam = img.get("camera")
    try:
        if cam is None:
            return Camera(intrinsic_matrix(width, width, width / 2, height / 2), width, height)
        K = as_array(require(cam, "K", path, f"{where} camera"), (3, 3), path, f"{where} camera K")
        dist = as_array(cam.get("dist", []), (None,), path, f"{where} camera dist")
        return Camera(K, width, height, dist)
    except InvalidCameraError as e:
        raise DatasetError(f"{path}: {where}: {e}") from None


class RealFootageDataset(Dataset):
    """Frames of one split file with at least one labelled person (all frames when keep_empty: a frame whose
    teacher found nobody usable still teaches 'nobody here' only if the teacher never misses, so off by
    default). Frames of calibrated cameras with a triangulated person come with joints_3d_m."""

    def __init__(self, annotation_file: str | Path, image_root: str | Path, keep_empty: bool = False) -> None:
        self.annotation_file = path = Path(annotation_file)
        self.image_root = Path(image_root)
        data = load_json(path)
        images = require(data, "images", path, "top level")
        annotations = require(data, "annotations", path, "top level")
        people: dict[int, list[dict]] = {}
        entries: dict[int, tuple[dict, str]] = {}
        for i, img in enumerate(images):
            where = f"images[{i}]"
            image_id = require(img, "id", path, where)
            entries[image_id] = (img, where)
            people[image_id] = []
        for i, ann in enumerate(annotations):
            where = f"annotation index {i}"
            image_id = require(ann, "image_id", path, where)
            if image_id not in people:
                raise DatasetError(f"{path}: {where} refers to image_id {image_id!r}, which is not in 'images'")
            kps = as_array(require(ann, "keypoints", path, where), (J * 3,), path, f"{where} keypoints")
            cam = ann.get("keypoints_cam")
            rel = ann.get("keypoints_rel_m")
            people[image_id].append({
                "kps": kps.reshape(J, 3),
                "cam": None if cam is None else as_array(cam, (J, 3), path, f"{where} keypoints_cam"),
                "rel": None if rel is None else as_array(rel, (J, 3), path, f"{where} keypoints_rel_m"),
                "bbox": as_array(ann.get("bbox", [0, 0, 0, 0]), (4,), path, f"{where} bbox")})
        self.records: list[RealRecord] = []
        for image_id, (img, where) in entries.items():
            ps = people[image_id]
            if not ps and not keep_empty:
                continue
            has_3d = "camera" in img and any(p["cam"] is not None for p in ps)
            self.records.append(RealRecord(
                image_id=image_id, file_name=str(require(img, "file_name", path, where)),
                camera=_camera(img, path, where),
                keypoints=np.stack([p["kps"] for p in ps]) if ps else np.zeros((0, J, 3)),
                keypoints_cam=np.stack([np.zeros((J, 3)) if p["cam"] is None else p["cam"] for p in ps])
                if has_3d else None,
                boxes_xywh=np.stack([p["bbox"] for p in ps]) if ps else np.zeros((0, 4)),
                keypoints_rel=np.stack([np.zeros((J, 3)) if p["rel"] is None else p["rel"] for p in ps])
                if any(p["rel"] is not None for p in ps) else None,
                meta={k: img[k] for k in ("source", "clip", "frame", "split") if k in img}))
        self.has_3d = any(r.keypoints_cam is not None for r in self.records)
        self.root = MPI15.root

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample:
        rec = self.records[index]
        image = read_image_rgb(self.image_root / rec.file_name, rec.camera.width, rec.camera.height)
        joints_2d, vis = map_to_mpi15(COCO17, rec.keypoints[:, :, :2], rec.keypoints[:, :, 2])
        joints_3d = None
        if rec.keypoints_cam is not None:
            has = np.where(np.any(rec.keypoints_cam != 0, axis=-1), rec.keypoints[:, :, 2], 0)
            joints_3d, _ = map_to_mpi15(COCO17, rec.keypoints_cam, has)  # zeros where any source lacks 3D
        joints_rel = None
        if rec.keypoints_rel is not None:  # root-relative: the MPI15 pelvis (mid-hip) becomes the origin
            has = np.where(np.any(rec.keypoints_rel != 0, axis=-1), rec.keypoints[:, :, 2], 0)
            rel, rel_vis = map_to_mpi15(COCO17, rec.keypoints_rel, has)
            rel = rel - rel[:, self.root:self.root + 1]
            joints_rel = np.where(rel_vis[..., None] > 0, rel, np.nan)
            joints_rel[~(rel_vis[:, self.root] > 0)] = np.nan  # without a root there is nothing to be relative to
        return Sample(image=image, camera=rec.camera, joints_2d_px=joints_2d, joints_3d_m=joints_3d,
                      visibility=vis, dataset="real", image_id=str(rec.image_id),
                      meta={"file_name": rec.file_name, "boxes_xywh": rec.boxes_xywh, **rec.meta},
                      joints_rel_m=joints_rel)
