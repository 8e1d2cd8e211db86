"""python -m drm_core.evaluation.real_cli --model M.pt --data DIR|ANNOTATIONS.json --out out/real_eval

Scores a model on real images the model never trained on: recall at OKS >= 0.5 and false positives
per image over the 12 limb joints, hip-centred MPJPE and mid-hip error against distance where the data has 3D.
Writes real_eval.json, real_eval.md, a contact sheet of frames with the predicted and the true skeletons, and
the mid-hip error against distance as a plot. MoveNet MultiPose itself is scored on the same frames beside the
model (`--baseline auto`: when its weights are in the cache; python -m drm_core.model.movenet_weights --fetch).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

from drm_core.checkpoint import CheckpointError
from drm_core.data.errors import DatasetError
from drm_core.data.registry import DatasetSpec, open_dataset
from drm_core.evaluation.real_images import evaluate_real
from drm_core.evaluation.real_report import Baseline, SheetFrame, write_report
from drm_core.predictor import ENGINES, load_predictor

READER = "real"  # the registry's name for the pseudo-labelled real footage (drm_core/data/real_footage.py)


def annotation_file(data: Path, split: str) -> Path:
    """The annotation json: `data` itself, or the one json in the folder whose name contains `split`."""
    if data.is_file():
        return data
    if not data.is_dir():
        raise DatasetError(f"--data {data}: no such file or folder")
    found = sorted(p for p in data.glob("*.json") if split in p.stem)
    if len(found) != 1:
        listed = ", ".join(str(p) for p in found) or "none"
        raise DatasetError(f"--data {data}: expected one annotation json with {split!r} in its name, found {listed}; "
                           f"pass the json itself")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score a DRM model on real images with 2D (and some 3D) labels.")
    parser.add_argument("--model", help="checkpoint (.pt) or ONNX file; default: the shipped model")
    parser.add_argument("--engine", default="auto", choices=ENGINES,
                        help="auto: onnxruntime on the CPU, torch on a GPU")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--data", type=Path, required=True,
                        help="the data set's folder (its held-out split is used) or a COCO-format annotation json")
    parser.add_argument("--split", default="val", help="with a folder: the annotation json whose name holds this")
    parser.add_argument("--image-root", type=Path, help="image folder; default: the annotation json's folder")
    parser.add_argument("--reader", default=READER, help=f"dataset reader in drm_core.data.registry (default {READER})")
    parser.add_argument("--score-threshold", type=float, help="person score threshold; default: the model's own")
    parser.add_argument("--max-samples", type=int)
    parser.add_argument("--sheet", type=int, default=12, help="frames on the contact sheet (0: none)")
    parser.add_argument("--out", type=Path, default=Path("out/real_eval"))
    parser.add_argument("--baseline", default="auto", choices=("auto", "movenet", "none"),
                        help="score MoveNet MultiPose on the same frames (auto: when its weights are cached)")
    parser.add_argument("--baseline-size", type=int, nargs=2, metavar=("W", "H"),
                        help="MoveNet's input size (multiples of 32); default: the model's own")
    args = parser.parse_args(argv)
    try:
        annotations = annotation_file(args.data.expanduser(), args.split)
        image_root = args.image_root.expanduser() if args.image_root else annotations.parent
        dataset = open_dataset(DatasetSpec(args.reader, str(annotations), str(image_root)))
        if len(dataset) == 0:
            raise DatasetError(f"{annotations}: no frames to evaluate")
        predictor = load_predictor(args.model, args.engine, args.device, score_threshold=args.score_threshold)
        total = min(len(dataset), args.max_samples or len(dataset))
        keep = set(np.linspace(0, total - 1, min(args.sheet, total)).round().astype(int).tolist())
        sheet: list[SheetFrame] = []

        def on_frame(index, sample, prediction, score):
            if index in keep:
                sheet.append(SheetFrame.of(sample, prediction, score))

        start = time.perf_counter()
        result, frames = evaluate_real(lambda s: predictor.predict(s.image, s.camera), dataset,
                                       max_samples=args.max_samples, on_frame=on_frame)
        seconds = time.perf_counter() - start
        baseline = _baseline(args.baseline, tuple(args.baseline_size or predictor.input_size), dataset,
                             args.max_samples)
    except (CheckpointError, DatasetError, KeyError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    model = Path(args.model).name if args.model else "shipped model"
    manifest = annotations.parent / "manifest.json"  # real_build's record of sources and outputs, with hashes
    settings = {"model": args.model or "shipped model", "engine": predictor.description, "data": str(annotations),
                "data sha256": hashlib.sha256(annotations.read_bytes()).hexdigest()[:16],
                **({"manifest sha256": hashlib.sha256(manifest.read_bytes()).hexdigest()[:16]}
                   if manifest.is_file() else {}),
                "frames": result.frames,
                "score threshold": predictor.codec.config.center_threshold, "seconds": round(seconds, 1)}
    if baseline is not None:
        settings["baseline"] = baseline.name
    for path in write_report(args.out, result, frames, f"Real images - {model}", settings, sheet, baseline):
        print(f"wrote {path}")
    if baseline is not None:
        print(f"{baseline.name}: recall {baseline.result.recall:.3f}, FP/image {baseline.result.fp_per_image:.2f}")
    print(f"recall {result.recall:.3f}, FP/image {result.fp_per_image:.2f}, MPJPE median "
          f"{result.mpjpe_mm_median:.0f} mm, mid-hip 3-7 m median "
          f"{result.root_error_by_distance['3-7 m']['median_m']:.2f} m ({seconds:.1f} s)")
    return 0


def _baseline(choice: str, input_size: tuple[int, int], dataset, max_samples: int | None) -> Baseline | None:
    """MoveNet scored on the same frames, or None (not asked for; with auto, also when its weights are absent)."""
    if choice == "none":
        return None
    from drm_core.evaluation.movenet_baseline import MoveNetBaseline
    from drm_core.model.movenet_weights import MoveNetWeightsError

    try:
        movenet = MoveNetBaseline(input_size)
    except MoveNetWeightsError as err:
        if choice == "auto":
            print(f"no MoveNet baseline: {err}", file=sys.stderr)
            return None
        raise ValueError(str(err)) from err
    result, _ = evaluate_real(movenet, dataset, max_samples=max_samples)
    return Baseline(movenet.description, result)


if __name__ == "__main__":
    sys.exit(main())
