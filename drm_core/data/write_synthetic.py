"""Write synthetic samples to disk for people to look at, and optionally a contact sheet of skeletons.

    python -m drm_core.data.write_synthetic OUT_DIR --count N --seed S [--validation] [--contact-sheet out.jpg]

OUT_DIR gets images/NNNNNN.jpg and annotations.json:
    {"format": "drm_synthetic_v1", "joint_names": [15 MPI15 names], "config": {SyntheticConfig fields},
     "images": [{"file_name": "images/000000.jpg", "image_id", "width", "height",
                 "K": 3x3 pixels, "dist": [k1, k2, p1, p2, k3], "distortion_model": "plumb_bob",
                 "people": [{"joints_3d_m": 15x3 camera frame (x right, y down, z forward),
                             "joints_2d_px": 15x2, "visibility": 15 (0 not projectable,
                                                 1 occluded or outside the image, 2 visible),
                             "height_m": body height}]}]}
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import cv2
import numpy as np

from drm_core.data.synthetic import SyntheticConfig, SyntheticDataset
from drm_core.drawing import WHITE, draw_skeleton
from drm_core.skeleton import MPI15
from drm_core.pose_types import Sample

_BONE_COLOURS = [(255, 255, 255), (255, 255, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255), (0, 128, 255),
                 (255, 128, 0), (0, 255, 0), (255, 0, 0), (0, 0, 255), (128, 255, 0), (255, 0, 128),
                 (0, 255, 128), (128, 0, 255)]


def draw_skeletons(sample: Sample) -> np.ndarray:
    """The sample's RGB image with every person's bones (skeleton.bones) and joints drawn over it: solid for
    visible joints, hollow for occluded ones, bones only between labelled joints."""
    img = sample.image.copy()
    scale = max(1, round(max(img.shape[:2]) / 640))
    for uv, vis in zip(sample.joints_2d_px, sample.visibility):
        draw_skeleton(img, uv, MPI15.bones, _BONE_COLOURS, thickness=2 * scale, joint_radius=3 * scale,
                      joint_colour=WHITE, shown=vis > 0, hollow=vis == 1)
    return img


def contact_sheet(samples: list[Sample], columns: int = 4, tile_width: int = 480) -> np.ndarray:
    """A grid of samples with skeletons drawn, each tile resized to `tile_width` (RGB)."""
    tiles = []
    for s in samples:
        img = draw_skeletons(s)
        h = round(img.shape[0] * tile_width / img.shape[1])
        tiles.append(cv2.resize(img, (tile_width, h), interpolation=cv2.INTER_AREA))
    tile_h = max(t.shape[0] for t in tiles)
    rows = (len(tiles) + columns - 1) // columns
    sheet = np.full((rows * tile_h, columns * tile_width, 3), 32, dtype=np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, columns)
        sheet[r * tile_h:r * tile_h + t.shape[0], c * tile_width:(c + 1) * tile_width] = t
    return sheet


def _record(sample: Sample, file_name: str) -> dict:
    cam = sample.camera
    return {"file_name": file_name, "image_id": sample.image_id, "width": cam.width, "height": cam.height,
            "K": cam.K.tolist(), "dist": cam.dist.tolist(), "distortion_model": cam.distortion_model,
            "people": [{"joints_3d_m": j3.tolist(), "joints_2d_px": j2.tolist(), "visibility": v.tolist(),
                        "height_m": float(hm)}
                       for j3, j2, v, hm in zip(sample.joints_3d_m, sample.joints_2d_px, sample.visibility,
                                                sample.meta["heights_m"])]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--validation", action="store_true", help="use the held-out validation preset")
    ap.add_argument("--contact-sheet", type=Path, default=None, help="also write a skeleton grid (jpg)")
    ap.add_argument("--columns", type=int, default=4)
    args = ap.parse_args(argv)
    if args.count < 1:
        ap.error(f"--count must be positive, got {args.count}")
    config = SyntheticConfig.validation(args.seed) if args.validation else SyntheticConfig(seed=args.seed)
    data = SyntheticDataset(config, args.count)
    (args.out_dir / "images").mkdir(parents=True, exist_ok=True)
    records, samples = [], []
    t0 = time.perf_counter()
    for i in range(args.count):
        s = data[i]
        name = f"images/{i:06d}.jpg"
        cv2.imwrite(str(args.out_dir / name), cv2.cvtColor(s.image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
        records.append(_record(s, name))
        if args.contact_sheet is not None:
            samples.append(s)
    elapsed = time.perf_counter() - t0
    cfg = {k: v for k, v in dataclasses.asdict(config).items()}
    with (args.out_dir / "annotations.json").open("w", encoding="utf-8") as f:
        json.dump({"format": "drm_synthetic_v1", "joint_names": list(MPI15.joint_names), "config": cfg,
                   "images": records}, f)
    if args.contact_sheet is not None:
        args.contact_sheet.parent.mkdir(parents=True, exist_ok=True)
        sheet = contact_sheet(samples, args.columns)
        cv2.imwrite(str(args.contact_sheet), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {args.count} samples to {args.out_dir} ({1000 * elapsed / args.count:.1f} ms/sample incl. jpg)")


if __name__ == "__main__":
    main()
