"""python -m drm_core.evaluation.cli --model M --dataset synthetic-val|mupots|panoptic ... --out DIR

Runs a model over a benchmark with its own metrics and writes the report (JSON, paper-style Markdown, plots).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from drm_core.checkpoint import CheckpointError
from drm_core.data.errors import DatasetError
from drm_core.data.registry import DatasetSpec, open_dataset
from drm_core.evaluation.evaluate import evaluate, evaluate_panoptic_dataset
from drm_core.evaluation.mupots import SCORINGS
from drm_core.evaluation.report import write_report
from drm_core.predictor import ENGINES, load_predictor


def _dataset(args: argparse.Namespace):
    if args.dataset == "synthetic-val":
        from drm_core.data.synthetic import SyntheticConfig, SyntheticDataset
        return SyntheticDataset(SyntheticConfig.validation(seed=args.seed), args.count)
    return open_dataset(DatasetSpec(args.dataset, args.annotations, args.image_root))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate a DRM model with the benchmarks' own metrics.")
    parser.add_argument("--model", help="checkpoint (.pt) or ONNX file; default: the shipped model")
    parser.add_argument("--engine", default="auto", choices=ENGINES,
                        help="auto: onnxruntime on the CPU, torch on a GPU")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--dataset", default="synthetic-val", choices=("synthetic-val", "mupots", "panoptic"))
    parser.add_argument("--annotations", help="annotation json (mupots, panoptic)")
    parser.add_argument("--image-root", help="image folder (mupots, panoptic)")
    parser.add_argument("--count", type=int, default=200, help="synthetic-val: number of frames")
    parser.add_argument("--seed", type=int, default=1_000_003, help="synthetic-val: seed of the held-out set")
    parser.add_argument("--scoring", choices=tuple(SCORINGS),
                        help="MuPoTS-style scoring: official (the default for mupots: bone lengths rescaled "
                             "along the dataset's 17-joint tree), smap15 (SMAP's 15-joint variant) or metric "
                             "(no rescaling; the default for synthetic-val, whose ground truth is metric)")
    parser.add_argument("--max-samples", type=int)
    parser.add_argument("--out", type=Path, default=Path("out/eval"))
    args = parser.parse_args(argv)
    if args.scoring and args.dataset == "panoptic":
        parser.error("--scoring is for MuPoTS-style metrics; panoptic has its own (RtError, MPJPE)")
    if args.scoring == "official" and args.dataset != "mupots":
        parser.error("--scoring official walks MuPoTS' 17-joint tree and needs its ground truth (spine "
                     f"included); {args.dataset} has MPI15 joints: use smap15 or metric")
    try:
        predictor = load_predictor(args.model, args.engine, args.device)
        dataset = _dataset(args)
        def predict(sample):
            return predictor.predict(sample.image, sample.camera)

        start = time.perf_counter()
        if args.dataset == "panoptic":
            result = evaluate_panoptic_dataset(predict, dataset, max_samples=args.max_samples)
        else:
            # Synthetic ground truth is metric: no MuPoTS bone-length rescaling (see evaluation/mupots.py).
            scoring = args.scoring or ("official" if args.dataset == "mupots" else "metric")
            result = evaluate(predict, dataset, scoring=scoring, max_samples=args.max_samples)
        seconds = time.perf_counter() - start
    except (CheckpointError, DatasetError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    title = f"{args.dataset} - {Path(args.model).name if args.model else 'shipped model'} ({predictor.description})"
    for path in write_report(args.out, result, title):
        print(f"wrote {path}")
    print(f"evaluated in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
