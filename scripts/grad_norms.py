"""Per-term gradient norms at the backbone output, and a one-batch overfit, for today's and the fixed training signal.

    python scripts/grad_norms.py [--steps 150] [--out benchmarks/results/training_signal]

For each variant (the same model initialisation, the same 8 synthetic training images as experiments/
synthetic_cpu.yaml draws them): the L2 norm of d(lambda_k * L_k)/dX at the backbone output X for every term of
eq. 12, before training and after `--steps` Adam steps (lr 1e-3) on that one batch; after the steps also the
offset slope (least squares of predicted on target offsets over labelled pixels), the root-depth median
relative error and the correlation of relative depth with its target. Writes OUT.json and OUT.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from drm_core.codec import CodecConfig, DRMCodec
from drm_core.data.augment import AugmentConfig
from drm_core.data.synthetic import SyntheticConfig, SyntheticDataset
from drm_core.losses import DRMLoss, LossWeights
from drm_core.model import ModelConfig, build_model
from drm_core.model import heads
from drm_core.train.encoded import EncodedDataset

LEGACY_CODEC = dict(reference_focal_px=1000.0, radius_fraction=0.0, nearest_owner=False)
# (name, codec overrides, loss overrides, PDQM feature-gradient scale); each row adds one change.
VARIANTS = [
    ("today's code", LEGACY_CODEC, dict(dapl_unit_m=1.0), 0.1),
    ("+ loss balance (f0 = 100 px)", dict(LEGACY_CODEC, reference_focal_px=100.0), dict(dapl_unit_m=1.0), 0.1),
    ("+ DAPL in cm", dict(LEGACY_CODEC, reference_focal_px=100.0), dict(dapl_unit_m=0.01), 0.1),
    ("+ DAPL in dm", dict(LEGACY_CODEC, reference_focal_px=100.0), dict(dapl_unit_m=0.1), 0.1),
    ("+ person-scaled radii, nearest owner", {}, {}, 0.1),
    ("all, PDQM full feature gradient", {}, {}, 1.0),
]
TERMS = ("center", "offsets", "root_depth", "rel_depth", "dapl", "root_to_center")


def training_batch(codec: DRMCodec, count: int, seed: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The first `count` images of experiments/synthetic_cpu.yaml's stream (same scenes, same augmentation)."""
    samples = SyntheticDataset(SyntheticConfig(sizes=((320, 240), (384, 216)), people=(1, 4), seed=seed), count)
    data = EncodedDataset(samples, codec, AugmentConfig(scale_range=(0.8, 1.2), max_rotation_deg=15.0), seed)
    items = [data[i] for i in range(count)]
    return torch.stack([i[0] for i in items]), {k: torch.stack([i[1][k] for i in items]) for k in items[0][1]}


def term_gradients(model, criterion: DRMLoss, images, targets) -> dict[str, float]:
    """{term: |d(lambda * L_term)/dX|_2} at the backbone output X, and the weighted loss of each term."""
    captured = {}
    handle = model.backbone.register_forward_hook(lambda m, i, out: captured.setdefault("x", out))
    try:
        outputs = model(images)
    finally:
        handle.remove()
    _, parts = criterion(outputs, targets)
    weights = dataclasses.asdict(criterion.weights)
    result = {}
    for name in TERMS:
        weighted = weights[name] * parts[name]
        grad, = torch.autograd.grad(weighted, captured["x"], retain_graph=True, allow_unused=True)
        result[name] = {"grad_norm": 0.0 if grad is None else float(grad.norm()), "loss": float(weighted.detach())}
    return result


def fit_metrics(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, float]:
    """Offset slope, root-depth median relative error (%), relative-depth correlation over labelled pixels."""
    w = targets["offset_weight"] > 0
    pred, tgt = outputs["offsets"][w], targets["offsets"][w]
    slope = float((pred * tgt).sum() / (tgt * tgt).sum())
    w = targets["root_depth_weight"] > 0
    rel_err = ((outputs["root_depth"][w] - targets["root_depth"][w]).abs() / targets["root_depth"][w]).median()
    w = targets["rel_depth_weight"] > 0
    corr = np.corrcoef(outputs["rel_depth"][w].numpy(), targets["rel_depth"][w].numpy())[0, 1]
    return {"offset_slope": slope, "root_depth_median_error_pct": 100 * float(rel_err),
            "rel_depth_correlation": float(corr)}


def run_variant(codec_over: dict, loss_over: dict, feature_scale: float, steps: int, batch: int, seed: int,
                threads: int, device: str = "cpu") -> dict:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    codec = DRMCodec(dataclasses.replace(CodecConfig(input_width=256, input_height=160), **codec_over))
    images, targets = training_batch(codec, batch, seed)
    images, targets = images.to(device), {k: v.to(device) for k, v in targets.items()}
    model = build_model(ModelConfig.small()).to(device).train()
    criterion = DRMLoss(LossWeights(**loss_over))
    heads.FEATURE_GRADIENT_SCALE, saved = feature_scale, heads.FEATURE_GRADIENT_SCALE  # this run only
    try:
        before = term_gradients(model, criterion, images, targets)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        for _ in tqdm(range(steps), desc="overfit", leave=False):
            total, _ = criterion(model(images), targets)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
        seconds = time.perf_counter() - start
        after = term_gradients(model, criterion, images, targets)
        with torch.no_grad():
            metrics = fit_metrics({k: v.cpu() for k, v in model(images).items()},
                                  {k: v.cpu() for k, v in targets.items()})
    finally:
        heads.FEATURE_GRADIENT_SCALE = saved
    return {"codec": codec_over, "loss": loss_over, "feature_gradient_scale": feature_scale,
            "grad_init": before, "grad_trained": after, "overfit": metrics, "seconds_per_step": seconds / max(1, steps)}


def markdown(results: dict, steps: int, batch: int, device: str) -> str:
    lines = [f"# Training signal: per-term gradients at the backbone and a one-batch overfit\n",
             f"`python scripts/grad_norms.py --steps {steps} [--device cuda]`: small model, one batch of {batch} images of "
             "experiments/synthetic_cpu.yaml's stream at 256x160, the same initialisation for every row, "
             f"Adam lr 1e-3 for {steps} steps on that batch ({device}).\n",
             "Gradient norm |d(lambda_k L_k)/dX| at the backbone output X, as a ratio to the center term's, "
             "at initialisation / after the overfit steps:\n",
             "| variant | " + " | ".join(TERMS) + " |", "|---" * (len(TERMS) + 1) + "|"]
    for name, r in results.items():
        cells = []
        for t in TERMS:
            a = r["grad_init"][t]["grad_norm"] / max(r["grad_init"]["center"]["grad_norm"], 1e-12)
            b = r["grad_trained"][t]["grad_norm"] / max(r["grad_trained"]["center"]["grad_norm"], 1e-12)
            cells.append(f"{a:.3g} / {b:.3g}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["\nAbsolute center-term gradient norm (init / trained): " + ", ".join(
        f"{name}: {r['grad_init']['center']['grad_norm']:.3g} / {r['grad_trained']['center']['grad_norm']:.3g}"
        for name, r in results.items()) + "\n",
              "Weighted loss lambda_k L_k after the overfit:\n",
              "| variant | " + " | ".join(TERMS) + " |", "|---" * (len(TERMS) + 1) + "|"]
    for name, r in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{r['grad_trained'][t]['loss']:.3g}" for t in TERMS) + " |")
    lines += ["\nOne-batch overfit after the steps:\n",
              "| variant | offset slope | root depth median error % | rel. depth correlation | s/step |",
              "|---|---|---|---|---|"]
    for name, r in results.items():
        m = r["overfit"]
        lines.append(f"| {name} | {m['offset_slope']:.3f} | {m['root_depth_median_error_pct']:.2f} | "
                     f"{m['rel_depth_correlation']:.3f} | {r['seconds_per_step']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--variants", type=int, nargs="*", help="indices into the variant list (default: all)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/training_signal"))
    args = parser.parse_args(argv)
    if args.steps < 0 or args.batch < 1:
        print("error: --steps must be >= 0 and --batch >= 1", file=sys.stderr)
        return 1
    chosen = [VARIANTS[i] for i in (args.variants if args.variants else range(len(VARIANTS)))]
    results = {}
    for name, codec_over, loss_over, scale in chosen:
        results[name] = run_variant(codec_over, loss_over, scale, args.steps, args.batch, args.seed, args.threads,
                                    args.device)
        print(name, json.dumps(results[name]["overfit"]), flush=True)
    where = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    text = markdown(results, args.steps, args.batch, where)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"steps": args.steps, "batch": args.batch,
                                                         "variants": results}, indent=1))
    args.out.with_suffix(".md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
