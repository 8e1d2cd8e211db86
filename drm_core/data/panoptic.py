"""CMU Panoptic in the form SMAP distributes it -> Samples in MPI15, metres.

SMAP's json (zju3dv/SMAP lib/preprocess/data_format.md): {"root": [{img_height, img_width, img_paths, dataset,
isValidation, bodys}]}, bodys N x 15 x 11 with columns [x, y, Z, v, X, Y, Z, fx, fy, cx, cy]: 2D in pixels,
3D in cm, v 0 unlabelled / 1 occluded / 2 visible, joints already in MPI15 order. SMAP treats the cameras as
pinhole (no distortion), and so do we.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from drm_core.data.errors import DatasetError, as_array, load_json, read_image_rgb, require
from drm_core.data.muco import camera_from, intrinsic_matrix, map_to_mpi15
from drm_core.skeleton import MPI15
from drm_core.pose_types import Sample

_SEQUENCE = re.compile(r"^\d{6}_([a-zA-Z]+?)\d*$")  # 160422_haggling1 -> haggling
_CAMERA = re.compile(r"^\d{2}_\d{2}$")  # 00_16: HD camera 16
SPLITS = ("train", "val", "all")


@dataclass
class PanopticRecord:
    img_path: str
    width: int
    height: int
    K: np.ndarray
    bodys: np.ndarray  # (P, 15, 11) as in the file
    is_validation: bool
    source: str  # the entry's `dataset` field


def parse_img_path(img_path: str) -> dict[str, str]:
    """Sequence, activity and camera from a path like '160422_haggling1/00_16/00_16_00001234.jpg'; empty
    strings for parts the path does not have."""
    out = {"sequence": "", "activity": "", "camera": ""}
    for part in Path(img_path).parts:
        m = _SEQUENCE.match(part)
        if m and not out["sequence"]:
            out["sequence"], out["activity"] = part, m.group(1).lower()
        elif _CAMERA.match(part) and not out["camera"]:
            out["camera"] = part
    return out


def _record(entry: dict, path: Path, where: str) -> PanopticRecord:
    width = int(require(entry, "img_width", path, where))
    height = int(require(entry, "img_height", path, where))
    bodys = require(entry, "bodys", path, where)
    bodys = np.zeros((0, MPI15.num_joints, 11)) if len(bodys) == 0 else \
        as_array(bodys, (None, MPI15.num_joints, 11), path, f"{where} bodys")
    if len(bodys):
        intr = bodys[:, :, 7:11].reshape(-1, 4)
        if not np.allclose(intr, intr[0]):
            raise DatasetError(f"{path}: {where} bodys carry different intrinsics for one image")
        K = intrinsic_matrix(*intr[0])
    else:  # SMAP's rule for images without intrinsics
        K = intrinsic_matrix(width, width, width / 2, height / 2)
    return PanopticRecord(img_path=str(require(entry, "img_paths", path, where)), width=width, height=height, K=K,
                          bodys=bodys, is_validation=bool(entry.get("isValidation", 0)),
                          source=str(entry.get("dataset", "")))


class PanopticDataset(Dataset):
    """SMAP-format CMU Panoptic; `split` picks isValidation 0 ('train'), 1 ('val') or both ('all')."""

    has_3d = True

    def __init__(self, annotation_file: str | Path, image_root: str | Path, split: str = "all") -> None:
        if split not in SPLITS:
            raise DatasetError(f"{annotation_file}: unknown split {split!r}; expected one of {SPLITS}")
        self.annotation_file = Path(annotation_file)
        self.image_root = Path(image_root)
        entries = require(load_json(self.annotation_file), "root", self.annotation_file, "top level")
        records = [_record(e, self.annotation_file, f"root[{i}]") for i, e in enumerate(entries)]
        self.records = [r for r in records if split == "all" or r.is_validation == (split == "val")]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample:
        rec = self.records[index]
        camera = camera_from(rec.K, rec.width, rec.height, self.annotation_file, f"image {rec.img_path}")
        image = read_image_rgb(self.image_root / rec.img_path, rec.width, rec.height)
        vis = rec.bodys[:, :, 3]
        joints_3d, vis = map_to_mpi15(MPI15, rec.bodys[:, :, 4:7] / 100.0, vis)  # cm -> m
        joints_2d, _ = map_to_mpi15(MPI15, rec.bodys[:, :, 0:2], vis)
        meta = {"file_name": rec.img_path, "source": rec.source, **parse_img_path(rec.img_path)}
        return Sample(image=image, camera=camera, joints_2d_px=joints_2d, joints_3d_m=joints_3d, visibility=vis,
                      dataset="panoptic", image_id=rec.img_path, meta=meta)
