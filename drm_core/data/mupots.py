"""MuPoTS-3D as 3DMPPE distributes it (MuPoTS-3D.json) -> Samples in MPI15, plus what evaluation needs.

images: {id, file_name "TS1/img_000000.jpg", width, height, intrinsic: [fx, fy, cx, cy]}; annotations as
MuCo's with 17 joints and is_valid. Sample.meta keeps the sequence ("TS1"), the frame index, per-person
is_valid and the original 17-joint 3D (mm) and 2D (px), because the official evaluation works on those.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from drm_core.data.errors import DatasetError, as_array, require
from drm_core.data.muco import intrinsic_matrix, load_coco_style_3d, record_to_sample
from drm_core.skeleton import MUPOTS17
from drm_core.types import Sample

_FRAME = re.compile(r"(\d+)\.\w+$")


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


class MuPoTSDataset(Dataset):
    """MuPoTS-3D test images, every annotated person (valid or not; meta['is_valid'] tells which)."""

    has_3d = True

    def __init__(self, annotation_file: str | Path, image_root: str | Path) -> None:
        self.annotation_file = Path(annotation_file)
        self.image_root = Path(image_root)
        self.records = load_coco_style_3d(self.annotation_file, MUPOTS17, _mupots_intrinsics,
                                          extra_keys=("is_valid",))
        for rec in self.records:  # fail at load time, not mid-evaluation
            parse_file_name(rec.file_name, self.annotation_file)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample:
        rec = self.records[index]
        sample = record_to_sample(rec, MUPOTS17, self.image_root, "mupots", self.annotation_file)
        sequence, frame = parse_file_name(rec.file_name, self.annotation_file)
        sample.meta.update(sequence=sequence, frame=frame,
                           is_valid=np.asarray(rec.extra["is_valid"], dtype=bool).reshape(-1),
                           joints_3d_mm_17=rec.joints_cam_mm.copy(), joints_2d_px_17=rec.joints_img_px.copy())
        return sample
