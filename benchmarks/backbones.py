"""The two CPU backbones side by side after the same training budget: loss curves and held-out synthetic metrics.

Expects the runs of experiments/backbone_compare_{small,small_effnet}.yaml and their evaluations:
    nice -n 10 python -m drm_core.train experiments/backbone_compare_small.yaml        # and ..._small_effnet
    python -m drm_core.evaluation.cli --model runs/backbone_compare_small/last.pt --device cpu --count 50 \
        --out out/backbones/small                                                      # and small_effnet
    python benchmarks/backbones.py
Writes benchmarks/results/backbones.json and backbones_loss.png (training loss against step, both presets) and
prints the Markdown table that backbones.md quotes.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

PRESETS = ("small", "small_effnet")
METRICS = (("matched", "pck_rel"), ("matched", "pck_abs"), ("matched", "pck_root"), ("all_people", "pck_rel"),
           ("recall",), ("mpjpe_rel_mm",), ("root_error_mm",))


def loss_curves(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every loss/* scalar the trainer logged, as (step, value) pairs."""
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"] if tag.startswith("loss/")}


def _lookup(metrics: dict, path: tuple[str, ...]) -> float:
    for key in path:
        metrics = metrics[key]
    return float(metrics)


def _mean_tail(curve: list[tuple[int, float]], n: int = 5) -> float:
    values = [v for _, v in curve[-n:]]
    return sum(values) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--evals", type=Path, default=Path("out/backbones"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    record = {}
    for preset in PRESETS:
        curves = loss_curves(args.runs / f"backbone_compare_{preset}")
        metrics_path = args.evals / preset / "mupots_metrics.json"
        metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
        record[preset] = {"loss_curves": curves,
                          "metrics": {".".join(p): _lookup(metrics, p) for p in METRICS} if metrics else None}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "backbones.json").write_text(json.dumps(record, indent=1) + "\n")

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for preset in PRESETS:
        curves = record[preset]["loss_curves"]
        for axis, tag in zip(axes, ("loss/total", "loss/root_depth")):
            if tag in curves:
                axis.plot(*zip(*curves[tag]), marker=".", label=preset)
                axis.set_title(tag)
                axis.set_xlabel("step")
    for axis in axes:
        axis.legend()
    figure.tight_layout()
    figure.savefig(args.out / "backbones_loss.png", dpi=90)

    tags = sorted(set().union(*(record[p]["loss_curves"] for p in PRESETS)))
    steps = {p: len(record[p]["loss_curves"].get("loss/total", [])) for p in PRESETS}
    lines = ["| | " + " | ".join(PRESETS) + " |", "|---|" + "---|" * len(PRESETS),
             "| logged steps | " + " | ".join(str(steps[p]) for p in PRESETS) + " |"]
    for tag in tags:
        cells = []
        for preset in PRESETS:
            curve = record[preset]["loss_curves"].get(tag)
            cells.append(f"{curve[0][1]:.4f} → {_mean_tail(curve):.4f}" if curve else "-")
        lines.append(f"| {tag} (first → mean of last 5) | " + " | ".join(cells) + " |")
    for path in METRICS:
        name = ".".join(path)
        cells = [f"{record[p]['metrics'][name]:.2f}" if record[p]["metrics"] else "not run" for p in PRESETS]
        lines.append(f"| val {name} | " + " | ".join(cells) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
