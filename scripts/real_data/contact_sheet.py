"""Contact sheet of the real-footage labels, read back through the data set reader (MPI15 skeletons):
green joints visible, yellow occluded; people with 3D drawn in cyan bones, 2D-only in white.

    python scripts/real_data/contact_sheet.py ~/.cache/drm_ros/real --out benchmarks/results/real_data_labels.jpg
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from drm_core.data.registry import open_dataset
from drm_core.drawing import WHITE, draw_skeleton
from drm_core.skeleton import MPI15

CYAN, GREEN, YELLOW = (255, 255, 0), (0, 255, 0), (0, 255, 255)  # BGR


def draw(sample, tile: int) -> np.ndarray:
    img = cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR)
    s = tile / max(img.shape[:2])
    img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    for p in range(sample.num_people):
        uv, vis = sample.joints_2d_px[p] * s, sample.visibility[p]
        has_3d = sample.joints_3d_m is not None and sample.joints_3d_m[p, :, 2].max() > 0
        draw_skeleton(img, uv, MPI15.bones, CYAN if has_3d else WHITE, thickness=1, joint_radius=2,
                      joint_colour=[GREEN if v == 2 else YELLOW for v in vis], shown=vis > 0)
    canvas = np.zeros((tile, tile, 3), np.uint8)
    canvas[:img.shape[0], :img.shape[1]] = img
    cv2.putText(canvas, f"{sample.meta.get('clip', '')} {sample.meta.get('frame', '')}", (4, 14), 0, 0.4,
                (0, 0, 255), 1, cv2.LINE_AA)
    return canvas


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per-split", type=int, default=8)
    ap.add_argument("--tile", type=int, default=320)
    args = ap.parse_args()
    tiles = []
    for split in ("train", "val"):
        ds = open_dataset({"name": "real", "annotations": str(args.data.expanduser() / f"real_{split}.json"),
                           "image_root": str(args.data.expanduser())})
        for i in np.linspace(0, len(ds) - 1, args.per_split).round().astype(int):
            tiles.append(draw(ds[int(i)], args.tile))
    cols = 4
    rows = [np.hstack(tiles[r:r + cols] + [np.zeros_like(tiles[0])] * (cols - len(tiles[r:r + cols])))
            for r in range(0, len(tiles), cols)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(args.out)


if __name__ == "__main__":
    main()
