"""Ablation of the training-signal fixes: each added in turn, every row trained on the same budget from
the same start and scored on the held-out synthetic validation.

    python scripts/ablation.py --steps 1500 --workers 15 --eval-count 100          # a GPU, AMP, 15 loader workers
    python scripts/ablation.py --tiny --out /tmp/ablation                           # seconds on a CPU (the test)

Rows (cumulative): today's code (f0 = 1000 px, DAPL in metres, fixed radii with smaller-wins pixels, pose NMS
only); + loss balance (f0 = 100 px); + DAPL units (cm); + radii (person-scaled, nearest owner); + NMS (torso-box
suppression: decoding only, so it reuses the previous row's weights). Optional: --pdqm-full adds a row with the
PDQM feature gradient at 1.0 instead of heads.FEATURE_GRADIENT_SCALE.
Every row: the small model from the same seeded random initialisation (no ImageNet weights: the GPU machine
is offline), Adam lr 1e-3 with the trainer's warm-up and linear decay over --steps steps of --batch images from
the synthetic stream of experiments/synthetic_cpu_stage4.yaml (1-12 people), with the data fixes (out-of-image
joints kept as occluded, lens distortion kept in training) in every row. Scored with drm_core.evaluation (metric
scoring, matched people) on --eval-count frames of the held-out set (SyntheticConfig.validation) plus duplicates
per frame (scripts/duplicate_detections.py's rule).
Writes OUT/<row>/last.pt, and REPORT/ablation.json and REPORT/ablation.md (after every row).
"""
from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch

from drm_core.codec import CodecConfig, DRMCodec
from drm_core.data.augment import AugmentConfig
from drm_core.data.registry import DatasetSpec
from drm_core.data.synthetic import SyntheticConfig, SyntheticDataset
from drm_core.evaluation.evaluate import evaluate
from drm_core.losses import LossWeights
from drm_core.model import ModelConfig, heads
from drm_core.predictor import load_predictor
from drm_core.train.config import TrainConfig
from drm_core.train.trainer import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from duplicate_detections import assign, count  # noqa: E402  (the duplicate rule, shared with that script)

LEGACY_CODEC = dict(reference_focal_px=1000.0, radius_fraction=0.0, nearest_owner=False, nms_torso=False)


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    codec: dict
    loss: dict
    feature_gradient_scale: float | None = None  # None: heads.FEATURE_GRADIENT_SCALE as shipped
    weights_of: str | None = None  # decode-only row: reuse this row's weights


def rows(pdqm_full: bool) -> list[Row]:
    out = [Row("today's code", LEGACY_CODEC, dict(dapl_unit_m=1.0)),
           Row("+ loss balance", dict(LEGACY_CODEC, reference_focal_px=100.0), dict(dapl_unit_m=1.0)),
           Row("+ DAPL units", dict(LEGACY_CODEC, reference_focal_px=100.0), {}),
           Row("+ radii", dict(nms_torso=False), {}),
           Row("+ NMS", dict(nms_torso=True), {}, weights_of="+ radii")]
    if pdqm_full:
        out.append(Row("+ PDQM full feature gradient", {}, {}, feature_gradient_scale=1.0))
    return out


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").lower() or "row"


def train_config(row: Row, args: argparse.Namespace) -> TrainConfig:
    w, h = args.input
    data = dict(length=args.steps * args.batch, seed=300, people=[1, 12],
                sizes=[[320, 240], [384, 216], [416, 256]])
    return TrainConfig(
        name=_slug(row.name), datasets_3d=[DatasetSpec("synthetic", options=data)], model=ModelConfig.small(),
        codec=dataclasses.replace(CodecConfig(input_width=w, input_height=h), **row.codec),
        augment=AugmentConfig(scale_range=(0.8, 1.2), max_rotation_deg=15.0), loss=LossWeights(**row.loss),
        epochs=1, batch_size=args.batch, warmup_epochs=0.05, workers=args.workers, amp=True, seed=args.seed,
        log_every=50, out_dir=str(args.out / _slug(row.name)))


def _render(index_seed: tuple[int, int, int]):
    index, count_, seed = index_seed
    return SyntheticDataset(SyntheticConfig.validation(seed=seed), count_)[index]


def validation_samples(count_: int, seed: int, workers: int) -> list:
    """The held-out frames, rendered once (in parallel) and shared by every row."""
    jobs = [(i, count_, seed) for i in range(count_)]
    if workers > 1:
        with Pool(workers) as pool:
            return pool.map(_render, jobs)
    return [_render(j) for j in jobs]


def score(checkpoint: Path, codec_overrides: dict, samples: list, device: str) -> dict:
    """Matched PCK figures, recall and duplicates per frame of one checkpoint decoded with its own codec."""
    predictor = load_predictor(checkpoint, "torch", device)
    predictor.codec = DRMCodec(dataclasses.replace(predictor.codec.config, **codec_overrides),
                               predictor.codec.skeleton)
    duplicates = []

    def predict(sample):
        poses = predictor.predict(sample.image, sample.camera)
        uv, cam = sample.joints_2d_px, sample.camera
        gt_in = (sample.visibility > 0) & (uv[..., 0] >= 0) & (uv[..., 0] <= cam.width - 1) & \
            (uv[..., 1] >= 0) & (uv[..., 1] <= cam.height - 1)
        duplicates.append(count(assign(uv, gt_in, poses.joints_uv_px), 0)["duplicates"])
        return poses

    # The evaluation API names its synthetic (no bone rescaling) scoring "metric"; older ones took a flag.
    kwargs = {"scoring": "metric"} if "scoring" in inspect.signature(evaluate).parameters else {"rescale_bones": False}
    result = evaluate(predict, samples, **kwargs)
    m = result.matched
    return {"pck_rel": m.pck_rel, "pck_abs": m.pck_abs, "pck_root": m.pck_root, "auc_rel": m.auc_rel,
            "recall": 100 * result.recall, "mpjpe_rel_mm": result.mpjpe_rel_mm, "root_error_mm": result.root_error_mm,
            "duplicates_per_frame": float(np.mean(duplicates)) if duplicates else 0.0}


def markdown(report: dict) -> str:
    a = report["args"]
    lines = ["# Ablation of the training-signal fixes (held-out synthetic validation)\n",
             f"`python scripts/ablation.py {' '.join(report['argv'])}` on {report['device']}: every row the small "
             f"model from the same seeded random initialisation (seed {a['seed']}, no ImageNet weights), "
             f"{a['steps']} steps of batch {a['batch']} at {a['input'][0]}x{a['input'][1]} on synthetic scenes of 1-12 "
             f"people, Adam lr 1e-3 with warm-up and linear decay; scored on {a['eval_count']} held-out frames "
             "(metric scoring, matched people).\n",
             "| row | PCK_rel | PCK_abs | PCK_root | AUC_rel | recall % | root error mm | duplicates / frame | "
             "train s |", "|---" * 9 + "|"]
    for name, r in report["rows"].items():
        s = r["scores"]
        lines.append(f"| {name} | {s['pck_rel']:.1f} | {s['pck_abs']:.1f} | {s['pck_root']:.1f} | "
                     f"{s['auc_rel']:.1f} | {s['recall']:.1f} | {s['root_error_mm']:.0f} | "
                     f"{s['duplicates_per_frame']:.2f} | {r['train_seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500, help="training steps per row")
    parser.add_argument("--batch", type=int, default=8, help="images per step (sec. 4.1: 8 per GPU)")
    parser.add_argument("--workers", type=int, default=2, help="data-loader workers (and validation renderers)")
    parser.add_argument("--input", type=int, nargs=2, default=(256, 160), metavar=("W", "H"))
    parser.add_argument("--eval-count", type=int, default=100)
    parser.add_argument("--eval-seed", type=int, default=1_000_003)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--pdqm-full", action="store_true", help="add a row with the full PDQM feature gradient")
    parser.add_argument("--only", nargs="*", help="row names to run (default: all)")
    parser.add_argument("--dapl-unit-m", type=float, help="DAPL's unit in the rows that use the fixed DAPL "
                        "(default: LossWeights().dapl_unit_m)")
    parser.add_argument("--tiny", action="store_true", help="2 steps of 2 images, 2 frames, 0 workers (a test)")
    parser.add_argument("--out", type=Path, default=Path("runs/ablation"), help="checkpoints, one folder per row")
    parser.add_argument("--report", type=Path, help="folder for ablation.json/.md (default: --out)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.steps, args.batch, args.eval_count, args.workers = 2, 2, 2, 0
    if args.steps < 1 or args.batch < 1 or args.eval_count < 1:
        print("error: --steps, --batch and --eval-count must be positive", file=sys.stderr)
        return 1
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else \
        ("cpu" if args.device == "auto" else args.device)
    chosen = [r for r in rows(args.pdqm_full) if not args.only or r.name in args.only]
    if args.dapl_unit_m is not None:
        chosen = [r if "dapl_unit_m" in r.loss else dataclasses.replace(
            r, name=f"{r.name} (DAPL unit {args.dapl_unit_m} m)", loss={**r.loss, "dapl_unit_m": args.dapl_unit_m},
            weights_of=r.weights_of and f"{r.weights_of} (DAPL unit {args.dapl_unit_m} m)") for r in chosen]
    start = time.perf_counter()
    samples = validation_samples(args.eval_count, args.eval_seed, args.workers)
    print(f"rendered {len(samples)} validation frames in {time.perf_counter() - start:.0f} s", flush=True)
    report = {"argv": argv, "device": torch.cuda.get_device_name() if device == "cuda" else "CPU",
              "args": {k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v)
                       for k, v in vars(args).items()}, "rows": {}}
    checkpoints: dict[str, Path] = {}
    for row in chosen:
        seconds = 0.0
        if row.weights_of is not None and row.weights_of in checkpoints:
            checkpoint = checkpoints[row.weights_of]
        else:
            saved = heads.FEATURE_GRADIENT_SCALE
            if row.feature_gradient_scale is not None:
                heads.FEATURE_GRADIENT_SCALE = row.feature_gradient_scale  # read at every forward pass
            try:
                t0 = time.perf_counter()
                result = train(train_config(row, args), device=device)
                seconds = time.perf_counter() - t0
            finally:
                heads.FEATURE_GRADIENT_SCALE = saved
            checkpoint = result.checkpoint
        checkpoints[row.name] = checkpoint
        scores = score(checkpoint, row.codec if row.weights_of else {}, samples, device)
        report["rows"][row.name] = {"codec": row.codec, "loss": row.loss, "checkpoint": str(checkpoint),
                                    "train_seconds": seconds, "steps_per_second": args.steps / seconds if seconds else None,
                                    "scores": scores}
        print(row.name, json.dumps(report["rows"][row.name]), flush=True)
        report_dir = args.report or args.out
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "ablation.json").write_text(json.dumps(report, indent=1))  # after every row: partial results
        (report_dir / "ablation.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
