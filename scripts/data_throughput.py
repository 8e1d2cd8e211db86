"""How many training samples per second the synthetic data pipeline (render + augment + encode) delivers.

    python scripts/data_throughput.py --workers 1 [2 15] [--seconds 20] [--people 1 12]

Runs the trainer's DataLoader (experiments/synthetic_cpu_stage4.yaml's stream at 256x160, batch 8) with each
worker count for about --seconds after the first batch, and prints samples/s and training steps/s it could feed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from drm_core.codec import CodecConfig, DRMCodec
from drm_core.data.augment import AugmentConfig
from drm_core.data.registry import DatasetSpec
from drm_core.train.config import TrainConfig
from drm_core.train.trainer import Distributed, build_loader


def measure(workers: int, seconds: float, people: tuple[int, int], batch: int) -> dict:
    spec = DatasetSpec("synthetic", options=dict(length=100_000, seed=300, people=list(people),
                                                 sizes=[[320, 240], [384, 216], [416, 256]]))
    config = TrainConfig(name="throughput", datasets_3d=[spec], codec=CodecConfig(input_width=256, input_height=160),
                         augment=AugmentConfig(scale_range=(0.8, 1.2), max_rotation_deg=15.0), batch_size=batch,
                         workers=workers)
    loader, _ = build_loader(config, DRMCodec(config.codec), Distributed())
    batches = iter(loader)
    next(batches)  # worker start-up is not throughput
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        next(batches)
        count += 1
    elapsed = time.perf_counter() - start
    return {"workers": workers, "samples_per_second": count * batch / elapsed, "steps_per_second": count / elapsed,
            "people": list(people), "batch": batch}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--people", type=int, nargs=2, default=(1, 12))
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)
    for w in args.workers:
        print(json.dumps(measure(w, args.seconds, tuple(args.people), args.batch)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
