"""The prepared GPU training run (benchmarks/gpu/train_shipped.sh) in its tiny CPU mode on a tiny real data set
written here: it trains, strips the checkpoint to weights, evaluates on the held-out split and packs at most 6
files that fit what the device tool brings back. The model is the small preset from random weights, so no
MoveNet weights are needed; the shipped experiment file itself is checked to load."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml

from drm_core.camera import Camera, project
from drm_core.real_data.build import write_split
from drm_core.skeleton import COCO17
from drm_core.train.config import load_config
from drm_core.data.template_scenes import person_at
from tests.paths import ROOT

W, H = 160, 120
K = np.array([[150.0, 0.0, 80.0], [0.0, 150.0, 60.0], [0.0, 0.0, 1.0]])


def _tiny_real(root: Path) -> None:
    """Two frames per split, one calibrated person with 3D each (COCO-17 from the MPI15 test person)."""
    cam = Camera(K, W, H)
    (root / "images").mkdir(parents=True)
    for split, offset in (("train", 0), ("val", 10)):
        images, anns = [], []
        for i in range(2):
            image_id = offset + i + 1
            name = f"images/{split}{i}.jpg"
            cv2.imwrite(str(root / name), np.full((H, W, 3), 100 + 20 * i, np.uint8))
            mpi = person_at(cam, (70 + 10 * i, 62), 3.0)
            joints = np.array([mpi[min(j, len(mpi) - 1)] for j in range(17)])  # any 17 distinct 3D points
            uv = project(joints, cam)
            kps = np.column_stack([uv, np.full(17, 2)])
            images.append({"id": image_id, "file_name": name, "width": W, "height": H, "split": split,
                           "camera": {"K": K.tolist(), "dist": [0, 0, 0, 0]}})
            anns.append({"id": image_id, "image_id": image_id, "keypoints": kps.ravel().tolist(),
                         "bbox": [float(uv[:, 0].min()), float(uv[:, 1].min()), 20.0, 40.0],
                         "keypoints_cam": joints.tolist()})
        write_split(root / f"real_{split}.json", images, anns)


def test_shipped_experiment_files_load() -> None:
    for name in ("movenet_real", "movenet_real_slow"):
        config = load_config(ROOT / "experiments" / f"{name}.yaml")
        assert config.model.backbone == "movenet_multipose"
        assert config.codec.input_width % 32 == 0 and config.codec.input_height % 32 == 0
    assert load_config(ROOT / "experiments" / "movenet_real.yaml").freeze == ["backbone", "center_head",
                                                                               "offset_head.head"]


def test_tiny_run_trains_evaluates_and_packs(tmp_path: Path) -> None:
    data = tmp_path / "real"
    _tiny_real(data)
    config = yaml.safe_load((ROOT / "experiments" / "movenet_real.yaml").read_text())
    config.update(model={"preset": "small", "pretrained": False, "adaptive_blocks": 1},
                  codec={"input_width": 128, "input_height": 96}, freeze=["backbone"], photometric=None)
    config["datasets_3d"][0].update(length=4, people=[1, 2], sizes=[[160, 120]])
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    out, packed = tmp_path / "out", tmp_path / "packed"
    # SPLIT_MB 10: the tiny model's 16 MB split in two, as the MoveNet model's 19 MB are at the default 15
    env = {**os.environ, "PYTHON": sys.executable, "PACK_DIR": str(packed), "CONFIG": str(tmp_path / "tiny.yaml"),
           "DATA": str(data), "DEVICE": "cpu", "SPLIT_MB": "10"}
    done = subprocess.run(["bash", "benchmarks/gpu/train_shipped.sh", str(out), "--tiny"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr + (out / "train.log").read_text()[-3000:] + \
        ((out / "eval.log").read_text()[-3000:] if (out / "eval.log").exists() else "")
    assert "2 steps" in (out / "summary.txt").read_text()
    files = sorted(packed.iterdir())
    names = {p.name for p in files}
    parts = sorted(p for p in files if p.name.startswith("model.pt.part-"))
    assert {"summary.txt", "real_eval.md", "run.tar.gz"} <= names and len(parts) >= 2
    assert len(files) <= 6
    for path in files:
        assert re.fullmatch(r"[A-Za-z0-9._-]+", path.name) and path.stat().st_size <= 16 * 2 ** 20, path
    (tmp_path / "model.pt").write_bytes(b"".join(p.read_bytes() for p in parts))  # cat model.pt.part-* > model.pt
    assert (tmp_path / "model.pt").read_bytes() == (out / "model.pt").read_bytes()
    model = torch.load(tmp_path / "model.pt", map_location="cpu", weights_only=True)
    assert "model" in model and "optimizer" not in model
    with tarfile.open(packed / "run.tar.gz") as archive:
        members = {Path(n).name for n in archive.getnames()}
        report = archive.extractfile(next(m for m in archive.getmembers() if m.name.endswith("real_eval.json")))
        assert json.loads(report.read())
    assert {"train.log", "eval.log", "env.txt"} <= members and "last.pt" not in members
