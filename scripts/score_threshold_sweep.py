"""Choose a model's person score threshold on frames it trained on (never the held-out split): predict each frame
once at a low threshold, then score the real-image metrics with every candidate threshold applied afterwards.

Usage: python scripts/score_threshold_sweep.py --model M.pt --data data/real [--split train] [--max-samples 150]
       [--thresholds 0.1 0.15 0.2 0.25 0.3] [--json out.json] [--write SHIPPED.pt]
Prints recall at OKS >= 0.5 and false positives per image for each threshold; the frames are spread evenly over
the split. --write saves the model's weights with the highest threshold that loses no recall against the lowest
(how drm_core/assets/drm_movenet_real.pt was made from its training run's last.pt).
"""
from __future__ import annotations

import argparse
import json
import sys
import dataclasses
from pathlib import Path

import numpy as np

from drm_core.data.registry import DatasetSpec, open_dataset
from drm_core.evaluation.real_cli import annotation_file
from drm_core.evaluation.real_images import score_frame, summarise
from drm_core.predictor import load_predictor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--max-samples", type=int, default=150)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.1, 0.15, 0.2, 0.25, 0.3, 0.4])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--write", type=Path, help="save the weights with the chosen threshold here")
    args = parser.parse_args(argv)
    annotations = annotation_file(args.data, args.split)
    dataset = open_dataset(DatasetSpec("real", str(annotations), str(annotations.parent)))
    predictor = load_predictor(args.model, score_threshold=min(args.thresholds))
    picks = np.linspace(0, len(dataset) - 1, min(args.max_samples, len(dataset))).round().astype(int)
    predictions = []
    for n, i in enumerate(picks):
        sample = dataset[int(i)]
        predictions.append((sample, predictor.predict(sample.image, sample.camera)))
        print(f"\r{n + 1}/{len(picks)} frames", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    rows = []
    for threshold in sorted(args.thresholds):
        frames = []
        for sample, poses in predictions:
            keep = poses.scores >= threshold
            kept = dataclasses.replace(poses, joints_cam_m=poses.joints_cam_m[keep], joints_uv_px=poses.joints_uv_px[keep],
                           joint_conf=poses.joint_conf[keep], scores=poses.scores[keep])
            frames.append(score_frame(sample, kept))
        result = summarise(frames)
        rows.append({"threshold": threshold, "recall": result.recall, "fp_per_image": result.fp_per_image})
        print(f"threshold {threshold:.2f}: recall {100 * result.recall:.1f} %, {result.fp_per_image:.2f} false "
              f"positives per image ({len(frames)} {args.split} frames)")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "split": args.split, "rows": rows}, indent=1))
    if args.write:
        from drm_core.checkpoint import load_model, save_checkpoint

        chosen = max(r["threshold"] for r in rows if r["recall"] >= rows[0]["recall"])
        model, codec = load_model(args.model, "cpu")
        save_checkpoint(args.write, model, dataclasses.replace(codec, center_threshold=chosen))
        print(f"wrote {args.write} with threshold {chosen:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
