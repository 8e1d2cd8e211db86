"""MuPoTS-3D as 3DMPPE distributes it (MuPoTS-3D.json) -> Samples in MPI15, plus what evaluation needs.

images: {id, file_name "TS1/img_000000.jpg", width, height, intrinsic: [fx, fy, cx, cy]}; annotations as
MuCo's with 17 joints and is_valid (the dataset's isValidFrame), optionally univ_annot3 (17 x 3, mm).
Sample.meta keeps, because the official evaluation scores on those (evaluation/mupots.py):
- sequence ("TS1") and frame index;
- gt_valid: per person, is_valid (invalid people are not scored and take no part in matching);
- joints_3d_mm_17 / joints_2d_px_17: the dataset's 17 joints, 3D in mm and 2D in pixels;
- gt_3d_source: which 3D that is. The official evaluation scores on univ_annot3 (the height-normalised
  skeleton); an annotation that carries it is scored on it, else on keypoints_cam, and the report says so.
Sample.joints_3d_m stays keypoints_cam (camera frame, metres), the 3D that projects onto keypoints_img.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from drm_core.data.errors import DatasetError, as_array, load_json, require
from drm_core.data.muco import intrinsic_matrix, load_coco_style_3d, record_to_sample
from drm_core.skeleton import MUPOTS17
from drm_core.pose_types import Sample

_FRAME = re.compile(r"(\d+)\.\w+$")
UNIV_KEY = "univ_annot3"


def _mupots_intrinsics(img: dict, path: Path, where: str) -> np.ndarray:
    fx, fy, cx, cy = as_array(require(img, "intrinsic", path, where), (4,), path, f"{where} intrinsic")
    return intrinsic_matrix(fx, fy, cx, cy)


def parse_file_name(file_name: str, path: Path) -> tuple[str, int]:
    """('TS1', 0) from 'TS1/img_000000.jpg'; DatasetError for a name in another form."""
    parts = Path(file_name).parts
    match = _FRAME.search(file_name)
    if len(parts) < 2 or match is None:
        raise DatasetError(f"{path}: file_name {file_name!r} is not of the form 'TS<n>/img_<frame>.jpg'")
    return parts[-2], int(match.group(1))


def _has_univ(path: Path) -> bool:
    """Whether the file's annotations carry univ_annot3 (then every one must). The shared COCO-style parser
    takes only required keys, so this looks once beforehand (about a second on the full file)."""
    annotations = require(load_json(path), "annotations", path, "top level")
    return any(isinstance(a, dict) and UNIV_KEY in a for a in annotations)


class MuPoTSDataset(Dataset):
    """MuPoTS-3D test images, every annotated person (valid or not; meta['gt_valid'] tells which)."""

    has_3d = True

    def __init__(self, annotation_file: str | Path, image_root: str | Path) -> None:
        self.annotation_file = Path(annotation_file)
        self.image_root = Path(image_root)
        self.gt_3d_source = UNIV_KEY if _has_univ(self.annotation_file) else "keypoints_cam"
        extra = ("is_valid", UNIV_KEY) if self.gt_3d_source == UNIV_KEY else ("is_valid",)
        self.records = load_coco_style_3d(self.annotation_file, MUPOTS17, _mupots_intrinsics, extra_keys=extra)
        for rec in self.records:  # fail at load time, not mid-evaluation
            parse_file_name(rec.file_name, self.annotation_file)
            if self.gt_3d_source == UNIV_KEY:
                people = len(rec.joints_cam_mm)
                rec.extra[UNIV_KEY] = (as_array(rec.extra[UNIV_KEY], (people, 17, 3), self.annotation_file,
                                                f"image id {rec.image_id} {UNIV_KEY}")
                                       if people else np.zeros((0, 17, 3)))

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample:
        rec = self.records[index]
        sample = record_to_sample(rec, MUPOTS17, self.image_root, "mupots", self.annotation_file)
        sequence, frame = parse_file_name(rec.file_name, self.annotation_file)
        scored_3d = rec.extra[UNIV_KEY] if self.gt_3d_source == UNIV_KEY else rec.joints_cam_mm
        sample.meta.update(sequence=sequence, frame=frame,
                           gt_valid=np.asarray(rec.extra["is_valid"], dtype=bool).reshape(-1),
                           joints_3d_mm_17=scored_3d.copy(),
                           joints_2d_px_17=rec.joints_img_px.copy(), gt_3d_source=self.gt_3d_source)
        return sample
