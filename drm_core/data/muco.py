"""MuCo-3DHP as 3DMPPE distributes it (MuCo-3DHP.json, COCO-style) -> Samples in MPI15, metres.

images: {id, file_name, width, height, f: [fx, fy], c: [cx, cy]}; annotations: {image_id, keypoints_cam
(21 x 3, mm, camera frame), keypoints_img (21 x 2, px), keypoints_vis (21), bbox [x, y, w, h]}.
The same layout with 17 joints and per-image `intrinsic` is MuPoTS-3D (see mupots.py), so the parsing lives here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from torch.utils.data import Dataset

from drm_core.camera import Camera, InvalidCameraError
from drm_core.data.errors import DatasetError, as_array, load_json, read_image_rgb, require
from drm_core.skeleton import MUCO21, Skeleton, to_mpi15
from drm_core.pose_types import OCCLUDED, VISIBLE, Sample


@dataclass
class ImageRecord:
    """One image of a COCO-style 3D json with its people in the file's own joint set (P people, J joints)."""

    image_id: int
    file_name: str
    width: int
    height: int
    K: np.ndarray
    joints_cam_mm: np.ndarray  # (P, J, 3)
    joints_img_px: np.ndarray  # (P, J, 2)
    visibility: np.ndarray  # (P, J) int8, COCO convention
    extra: dict[str, list] = field(default_factory=dict)  # per-person values of `extra_keys`


def load_coco_style_3d(path: str | Path, skeleton: Skeleton,
                       intrinsics: Callable[[dict, Path, str], np.ndarray],
                       extra_keys: tuple[str, ...] = ()) -> list[ImageRecord]:
    """Parse a 3DMPPE json into per-image records, checking every shape (errors name the annotation index).

    `intrinsics(image_entry, path, where)` returns the image's K; `extra_keys` are per-person annotation
    keys kept as they are (MuPoTS' is_valid).
    """
    path = Path(path)
    data = load_json(path)
    images = require(data, "images", path, "top level")
    annotations = require(data, "annotations", path, "top level")
    j = skeleton.num_joints
    records: dict[int, ImageRecord] = {}
    for i, img in enumerate(images):
        where = f"images[{i}]"
        image_id = require(img, "id", path, where)
        records[image_id] = ImageRecord(
            image_id=image_id, file_name=str(require(img, "file_name", path, where)),
            width=int(require(img, "width", path, where)), height=int(require(img, "height", path, where)),
            K=intrinsics(img, path, where), joints_cam_mm=np.zeros((0, j, 3)), joints_img_px=np.zeros((0, j, 2)),
            visibility=np.zeros((0, j), np.int8), extra={k: [] for k in extra_keys})
    people: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {k: [] for k in records}
    for i, ann in enumerate(annotations):
        where = f"annotation index {i}"
        image_id = require(ann, "image_id", path, where)
        if image_id not in records:
            raise DatasetError(f"{path}: {where} refers to image_id {image_id!r}, which is not in 'images'")
        cam = as_array(require(ann, "keypoints_cam", path, where), (j, 3), path, f"{where} keypoints_cam")
        uv = as_array(require(ann, "keypoints_img", path, where), (j, 2), path, f"{where} keypoints_img")
        # keypoints_vis marks occlusion; every joint has motion-capture 3D, so occluded joints stay labelled.
        vis_flag = ann.get("keypoints_vis", [1] * j)
        vis_flag = as_array(vis_flag, (j,), path, f"{where} keypoints_vis")
        vis = np.where(vis_flag > 0, VISIBLE, OCCLUDED).astype(np.int8)
        people[image_id].append((cam, uv, vis))
        for k in extra_keys:
            records[image_id].extra[k].append(require(ann, k, path, where))
    for image_id, rec in records.items():
        if people[image_id]:
            rec.joints_cam_mm = np.stack([p[0] for p in people[image_id]])
            rec.joints_img_px = np.stack([p[1] for p in people[image_id]])
            rec.visibility = np.stack([p[2] for p in people[image_id]])
    return list(records.values())


def camera_from(K: np.ndarray, width: int, height: int, path: Path, where: str) -> Camera:
    """A Camera, or DatasetError naming the image entry whose intrinsics are unusable."""
    try:
        return Camera(K, width, height)
    except InvalidCameraError as e:
        raise DatasetError(f"{path}: {where}: {e}") from None


def intrinsic_matrix(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _muco_intrinsics(img: dict, path: Path, where: str) -> np.ndarray:
    f = as_array(require(img, "f", path, where), (2,), path, f"{where} f")
    c = as_array(require(img, "c", path, where), (2,), path, f"{where} c")
    return intrinsic_matrix(f[0], f[1], c[0], c[1])


def map_to_mpi15(skeleton: Skeleton, joints: np.ndarray, visibility: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P, J, D) joints and (P, J) visibility of `skeleton` in MPI15; visibility comes back int8 (Sample's)."""
    mapped, vis = to_mpi15(skeleton).apply(joints, np.asarray(visibility))
    return mapped, vis.astype(np.int8)


def record_to_sample(rec: ImageRecord, skeleton: Skeleton, image_root: Path, dataset: str,
                     json_path: Path) -> Sample:
    """Read the record's image and map its people to MPI15 (mm -> m)."""
    camera = camera_from(rec.K, rec.width, rec.height, json_path, f"image id {rec.image_id}")
    image = read_image_rgb(image_root / rec.file_name, rec.width, rec.height)
    joints_3d, vis = map_to_mpi15(skeleton, rec.joints_cam_mm / 1000.0, rec.visibility)
    joints_2d, _ = map_to_mpi15(skeleton, rec.joints_img_px, rec.visibility)
    return Sample(image=image, camera=camera, joints_2d_px=joints_2d, joints_3d_m=joints_3d, visibility=vis,
                  dataset=dataset, image_id=str(rec.image_id), meta={"file_name": rec.file_name})


class MuCoDataset(Dataset):
    """MuCo-3DHP images with every person in MPI15 (neck = MuCo's thorax), camera-frame metres."""

    has_3d = True

    def __init__(self, annotation_file: str | Path, image_root: str | Path) -> None:
        self.annotation_file = Path(annotation_file)
        self.image_root = Path(image_root)
        self.records = load_coco_style_3d(self.annotation_file, MUCO21, _muco_intrinsics)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample:
        return record_to_sample(self.records[index], MUCO21, self.image_root, "muco", self.annotation_file)
