"""CPU training speed: steps per second of one training step (forward, losses, backward, Adam) for fp32, bf16
autocast, channels-last tensors and torch thread counts, interleaved round by round in one process so that
the machine's load (other jobs on a shared CPU) falls on every variant alike; the ratios to fp32 are the
result, the absolute rates are only this machine at that moment.

    python benchmarks/train_speed.py                          # MoveNet preset, 320x256, batch 8
    python benchmarks/train_speed.py --preset small_effnet --width 320 --height 192 --rounds 3

Writes benchmarks/results/train_speed.json, train_speed.md and train_speed.png (steps/s per variant, the
rounds as points). The batch is a fixed set of synthetic frames encoded once, so only the step is timed.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from drm_core.codec import CodecConfig, DRMCodec
from drm_core.data.registry import DatasetSpec, open_dataset
from drm_core.losses import DRMLoss, LossWeights
from drm_core.model import ModelConfig, build_model
from drm_core.train.encoded import EncodedDataset

RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = {"small": ModelConfig.small, "small_effnet": ModelConfig.small_effnet, "movenet": ModelConfig.movenet}


@dataclass(frozen=True)
class Variant:
    bf16: bool
    channels_last: bool
    threads: int

    @property
    def name(self) -> str:
        return (f"{'bf16' if self.bf16 else 'fp32'}{' + channels_last' if self.channels_last else ''}, "
                f"{self.threads} thread{'s' if self.threads > 1 else ''}")


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return sorted(f for f in flags if f in {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})


def fixed_batch(width: int, height: int, batch: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    spec = DatasetSpec.from_mapping({"name": "synthetic", "length": batch, "seed": 7, "people": [1, 4],
                                     "sizes": [[640, 480]]})
    data = EncodedDataset(open_dataset(spec), DRMCodec(CodecConfig(input_width=width, input_height=height)), None)
    items = [data[i] for i in range(batch)]
    images = torch.stack([x for x, _ in items])
    targets = {k: torch.stack([t[k] for _, t in items]) for k in items[0][1]}
    return images, targets


class Stepper:
    """One model and optimiser per variant (a variant's memory layout is part of the model)."""

    def __init__(self, config: ModelConfig, variant: Variant, images: torch.Tensor, targets: dict) -> None:
        torch.manual_seed(0)
        self.variant = variant
        fmt = torch.channels_last if variant.channels_last else torch.contiguous_format
        self.model = build_model(config).to(memory_format=fmt).train()
        self.images = images.contiguous(memory_format=fmt)
        self.targets = targets
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-4)
        self.criterion = DRMLoss(LossWeights(), config.root_joint)

    def step(self) -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.variant.bf16):
            outputs = self.model(self.images)
        total, _ = self.criterion({k: v.float() for k, v in outputs.items()}, self.targets)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        return float(total.detach())


def forward_ms(config: ModelConfig, sizes: list[tuple[int, int]], repeats: int) -> dict[str, float]:
    """Inference forward time (batch 1, fp32, median of repeats) per input size: the choice of training size."""
    model = build_model(config).eval()
    out = {}
    with torch.inference_mode():
        for w, h in sizes:
            x = torch.rand(1, 3, h, w)
            model(x)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
            out[f"{w}x{h}"] = round(1000 * float(np.median(times)), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="movenet")
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per variant per round (after one warm-up)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--forward-sizes", nargs="*", default=["320x256", "384x288", "320x192", "448x320"],
                    help="input sizes whose batch-1 forward time is measured too")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    config = dataclasses.replace(PRESETS[args.preset](), pretrained=False)  # weights do not change the speed
    images, targets = fixed_batch(args.width, args.height, args.batch)
    variants = [Variant(b, c, t) for t in args.threads for b in (False, True) for c in (False, True)]
    steppers = []
    for v in variants:
        torch.set_num_threads(v.threads)
        s = Stepper(config, v, images, targets)
        s.step()  # warm-up: allocations, oneDNN kernels chosen
        steppers.append(s)
    rates: dict[str, list[float]] = {v.name: [] for v in variants}
    with tqdm(total=args.rounds * len(variants), desc="rounds x variants", unit="variant") as bar:
        for r in range(args.rounds):
            order = steppers if r % 2 == 0 else steppers[::-1]  # alternate the order against drifts in load
            for s in order:
                torch.set_num_threads(s.variant.threads)
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    s.step()
                rates[s.variant.name].append(args.steps / (time.perf_counter() - t0))
                bar.update(1)
    torch.set_num_threads(max(args.threads))
    fwd = forward_ms(config, [tuple(int(v) for v in s.split("x")) for s in args.forward_sizes], 5)

    rows = []
    for v in variants:
        base = np.array(rates[Variant(False, False, v.threads).name])
        mine = np.array(rates[v.name])
        rows.append({"variant": v.name, **dataclasses.asdict(v), "steps_per_s_median": float(np.median(mine)),
                     "steps_per_s_rounds": [round(x, 4) for x in mine],
                     "ratio_to_fp32_same_threads": float(np.median(mine / base)),
                     "ratio_to_fp32_same_threads_rounds": [round(x, 3) for x in mine / base]})
    best = max(rows, key=lambda r: r["steps_per_s_median"])
    result = {"preset": args.preset, "input": f"{args.width}x{args.height}", "batch": args.batch,
              "rounds": args.rounds, "steps_per_round": args.steps, "torch": torch.__version__,
              "cpu": platform.processor() or platform.machine(), "cpu_flags": cpu_flags(),
              "logical_cpus": torch.get_num_threads(), "rows": rows, "best": best["variant"],
              "forward_ms_batch1_fp32": fwd}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train_speed.json").write_text(json.dumps(result, indent=1))
    text = markdown(result, " ".join(["python benchmarks/train_speed.py", *(argv or [])]))
    (args.out / "train_speed.md").write_text(text)
    print(text)
    _plot(rows, args.out / "train_speed.png", f"{args.preset} {args.width}x{args.height} batch {args.batch}")
    return 0


def markdown(result: dict, command: str) -> str:
    """train_speed.md: the table of rates and ratios, the forward times, and how to read them."""
    lines = [f"# CPU training speed: {result['preset']} at {result['input']}, batch {result['batch']}", "",
             f"`{command}` (torch {result['torch']}, {result['logical_cpus']} logical CPUs, flags "
             f"{', '.join(result['cpu_flags'])}; {result['rounds']} interleaved rounds of {result['steps_per_round']} "
             "steps per variant, the order reversed every other round).", "",
             f"| variant | steps/s (median of {result['rounds']} rounds) | ratio to fp32, same threads (per round) |",
             "|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['variant']} | {r['steps_per_s_median']:.3f} | {r['ratio_to_fp32_same_threads']:.2f} "
                     f"({', '.join(f'{x:.2f}' for x in r['ratio_to_fp32_same_threads_rounds'])}) |")
    fwd = ", ".join(f"{k} {v} ms" for k, v in result["forward_ms_batch1_fp32"].items())
    lines += ["", f"Fastest: {result['best']}. Forward pass, batch 1, fp32, eager PyTorch: {fwd} (the node runs "
              "onnxruntime, 2-3x faster; these only compare sizes).", "",
              "The machine is shared, so absolute rates move with the other jobs; the ratios, measured in the same "
              "rounds, are the result. The trainer follows it: `TrainConfig.cpu_bf16` (default `auto`: bf16 "
              "autocast where the CPU has native bf16) and `channels_last` (default true).", ""]
    return "\n".join(lines)


def _plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    for i, r in enumerate(rows):
        ax.barh(i, r["steps_per_s_median"], color="tab:blue" if not r["bf16"] else "tab:orange", alpha=0.6)
        ax.plot(r["steps_per_s_rounds"], [i] * len(r["steps_per_s_rounds"]), "k.", ms=4)
    ax.set_yticks(range(len(rows)), [r["variant"] for r in rows], fontsize=8)
    ax.set_xlabel("training steps / s (bars: median, dots: rounds)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
