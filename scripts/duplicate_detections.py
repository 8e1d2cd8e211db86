"""Duplicate detections per frame on the held-out synthetic validation, with and without a decoding option.

    python scripts/duplicate_detections.py [--model M.pt] [--count 100] [--out benchmarks/results/duplicates]

Runs the network once per frame and decodes its maps under each variant below, so every difference comes from
decoding. A prediction is of the ground-truth person whose joints inside the image it is nearest to (median
distance under half that person's box diagonal); a second, lower-scoring prediction of the same person is a
duplicate; one that is of nobody is spurious. Writes OUT.json/.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from drm_core.checkpoint import CheckpointError
from drm_core.codec import DRMCodec
from drm_core.data.synthetic import SyntheticConfig, SyntheticDataset
from drm_core.predictor import load_predictor

MATCH_FRACTION = 0.5  # a prediction is of a person when its median joint error is under half their box diagonal
VARIANTS = {
    "pose NMS only (before)": dict(nms_torso=False),
    "pose NMS at 0.15 of the diagonal (DEKR)": dict(nms_torso=False, nms_distance_fraction=0.15),
    "pose NMS + torso box (after)": dict(nms_torso=True),
    "pose NMS + torso box x1.5": dict(nms_torso=True, nms_torso_scale=1.5),
    "pose NMS + torso box x1.5, any depth": dict(nms_torso=True, nms_torso_scale=1.5, nms_depth_m=100.0),
}


def assign(gt_uv: np.ndarray, gt_in: np.ndarray, pred_uv: np.ndarray) -> np.ndarray:
    """(P,) index of the ground-truth person each prediction is of, or -1: the person whose in-image joints are
    nearest (median distance in units of the person's box diagonal), when under MATCH_FRACTION."""
    owner = np.full(len(pred_uv), -1)
    best = np.full(len(pred_uv), MATCH_FRACTION)
    for g, (uv, inside) in enumerate(zip(gt_uv, gt_in)):
        if inside.sum() < 2:
            continue
        pts = uv[inside]
        diag = max(1.0, float(np.hypot(*(pts.max(0) - pts.min(0)))))
        dist = np.median(np.linalg.norm(pred_uv[:, inside] - pts[None], axis=-1), axis=-1) / diag
        take = dist < best
        owner[take], best[take] = g, dist[take]
    return owner


def count(owner: np.ndarray, num_gt: int) -> dict[str, int]:
    """Predictions come sorted by score: the first of each person is a hit, the later ones duplicates."""
    seen: set[int] = set()
    dup = 0
    for g in owner:
        if g >= 0:
            dup += g in seen
            seen.add(int(g))
    return {"detections": len(owner), "duplicates": dup, "spurious": int((owner < 0).sum()),
            "found": len(seen), "people": num_gt}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="checkpoint (.pt); default: the shipped model")
    parser.add_argument("--engine", default="auto", choices=("auto", "torch", "onnxruntime"))
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1_000_003, help="the evaluation CLI's held-out seed")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/duplicates"))
    args = parser.parse_args(argv)
    try:
        predictor = load_predictor(args.model, args.engine, "cpu")
    except (CheckpointError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    base = predictor.codec.config
    codecs = {name: DRMCodec(dataclasses.replace(base, **over), predictor.codec.skeleton)
              for name, over in VARIANTS.items()}
    totals = {name: {} for name in VARIANTS}
    per_frame = {name: [] for name in VARIANTS}
    dataset = SyntheticDataset(SyntheticConfig.validation(seed=args.seed), args.count)
    for i in tqdm(range(len(dataset)), desc="frames"):
        sample = dataset[i]
        batch, letterbox = predictor.preprocess(sample.image, sample.camera)
        maps = {k: v[0] for k, v in predictor.engine(batch).items()}
        cam = sample.camera
        uv = sample.joints_2d_px
        gt_in = (sample.visibility > 0) & (uv[..., 0] >= 0) & (uv[..., 0] <= cam.width - 1) & \
            (uv[..., 1] >= 0) & (uv[..., 1] <= cam.height - 1)
        num_gt = int((gt_in.sum(-1) >= 2).sum())
        for name, codec in codecs.items():
            poses = codec.decode(maps, cam, letterbox)
            c = count(assign(uv, gt_in, poses.joints_uv_px), num_gt)
            per_frame[name].append(c["duplicates"])
            for k, v in c.items():
                totals[name][k] = totals[name].get(k, 0) + v
    lines = ["# Duplicate detections on the held-out synthetic validation\n",
             f"`python scripts/duplicate_detections.py --count {args.count}` on "
             f"{args.model or 'the shipped model'} ({predictor.description}); stored codec config "
             f"(reference_focal_px {base.reference_focal_px}), only the pose NMS varied. A prediction is of "
             "the person whose in-image joints it is nearest to (median distance under half their box diagonal).\n",
             "| decoding | detections | duplicates | duplicates / frame | frames with a duplicate | spurious | "
             "people found |", "|---|---|---|---|---|---|---|"]
    for name, t in totals.items():
        frames = int(np.count_nonzero(per_frame[name]))
        lines.append(f"| {name} | {t['detections']} | {t['duplicates']} | {t['duplicates'] / args.count:.2f} | "
                     f"{frames} | {t['spurious']} | {t['found']} / {t['people']} |")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps({"count": args.count, "seed": args.seed, "model": args.model,
                                                         "variants": VARIANTS, "totals": totals,
                                                         "duplicates_per_frame": per_frame}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
