"""COCO person keypoints (person_keypoints_*.json) -> 2D-only Samples in MPI15.

Crowd annotations and people without a labelled keypoint are skipped (they carry no pose). Joints map as SMAP
maps them (pelvis = mid-hip, neck from the shoulders and hips, no head top; see skeleton.to_mpi15). COCO has no
intrinsics, so the camera follows SMAP's rule: fx = fy = image width, principal point at the image centre;
geometry code then has a K, and the 3D targets are masked because joints_3d_m is None.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from drm_core.data.errors import DatasetError, as_array, load_json, read_image_rgb, require
from drm_core.data.muco import camera_from, intrinsic_matrix, map_to_mpi15
from drm_core.skeleton import COCO17
from drm_core.pose_types import Sample


@dataclass
class CocoRecord:
    image_id: int
    file_name: str
    width: int
    height: int
    keypoints: np.ndarray  # (P, 17, 3): x, y, v


class CocoDataset(Dataset):
    """COCO images with at least one usable person (or all images when keep_empty)."""

    has_3d = False

    def __init__(self, annotation_file: str | Path, image_root: str | Path, keep_empty: bool = False) -> None:
        self.annotation_file = path = Path(annotation_file)
        self.image_root = Path(image_root)
        data = load_json(path)
        images = require(data, "images", path, "top level")
        annotations = require(data, "annotations", path, "top level")
        meta: dict[int, tuple[str, int, int]] = {}
        for i, img in enumerate(images):
            where = f"images[{i}]"
            meta[require(img, "id", path, where)] = (str(require(img, "file_name", path, where)),
                                                     int(require(img, "width", path, where)),
                                                     int(require(img, "height", path, where)))
        people: dict[int, list[np.ndarray]] = {k: [] for k in meta}
        for i, ann in enumerate(annotations):
            where = f"annotation index {i}"
            image_id = require(ann, "image_id", path, where)
            if image_id not in meta:
                raise DatasetError(f"{path}: {where} refers to image_id {image_id!r}, which is not in 'images'")
            if ann.get("iscrowd", 0):
                continue
            kps = as_array(require(ann, "keypoints", path, where), (COCO17.num_joints * 3,), path,
                           f"{where} keypoints").reshape(COCO17.num_joints, 3)
            if ann.get("num_keypoints", 1) == 0 or not np.any(kps[:, 2] > 0):
                continue
            people[image_id].append(kps)
        self.records = [CocoRecord(k, *meta[k], np.stack(p) if p else np.zeros((0, COCO17.num_joints, 3)))
                        for k, p in people.items() if p or keep_empty]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample:
        rec = self.records[index]
        K = intrinsic_matrix(rec.width, rec.width, rec.width / 2, rec.height / 2)
        camera = camera_from(K, rec.width, rec.height, self.annotation_file, f"image id {rec.image_id}")
        image = read_image_rgb(self.image_root / rec.file_name, rec.width, rec.height)
        joints_2d, vis = map_to_mpi15(COCO17, rec.keypoints[:, :, :2], rec.keypoints[:, :, 2])
        return Sample(image=image, camera=camera, joints_2d_px=joints_2d, joints_3d_m=None, visibility=vis,
                      dataset="coco", image_id=str(rec.image_id), meta={"file_name": rec.file_name})
