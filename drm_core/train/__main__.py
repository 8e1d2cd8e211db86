"""python -m drm_core.train EXPERIMENT.yaml [--resume last.pt] — or, on 8 GPUs,
torchrun --nproc_per_node 8 -m drm_core.train experiments/paper_muco.yaml"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from drm_core.checkpoint import CheckpointError
from drm_core.data.errors import DatasetError
from drm_core.data.registry import DatasetSpec
from drm_core.train.config import load_config
from drm_core.train.trainer import train


def real_data_at(specs: list[DatasetSpec], folder: str) -> list[DatasetSpec]:
    """The specs with every 'real' dataset read from `folder` (same annotation file name, images there)."""
    return [dataclasses.replace(s, annotations=str(Path(folder) / Path(s.annotations).name), image_root=folder)
            if s.name == "real" else s for s in specs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train DRM from an experiment config.")
    parser.add_argument("config", help="experiment YAML (see experiments/)")
    parser.add_argument("--resume", help="checkpoint to continue from (out_dir/last.pt)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--out-dir", help="override the config's out_dir")
    parser.add_argument("--epochs", type=int, help="override the config's epochs")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps")
    parser.add_argument("--batch-size", type=int, help="override the config's batch_size")
    parser.add_argument("--workers", type=int, help="override the config's data-loader workers")
    parser.add_argument("--max-seconds", type=float, help="stop after this much training time (checkpoint kept)")
    parser.add_argument("--real-data", help="read every 'real' dataset from this folder (its real_*.json and "
                                            "images), e.g. the compact copy on a GPU machine")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
        overrides = {k: v for k, v in (("out_dir", args.out_dir), ("epochs", args.epochs),
                                       ("max_steps", args.max_steps), ("max_seconds", args.max_seconds),
                                       ("batch_size", args.batch_size), ("workers", args.workers))
                     if v is not None}
        if args.real_data:
            overrides.update(datasets_2d=real_data_at(config.datasets_2d, args.real_data),
                             datasets_3d=real_data_at(config.datasets_3d, args.real_data))
        config = dataclasses.replace(config, **overrides)
        result = train(config, args.resume, args.device)
    except (ValueError, CheckpointError, DatasetError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{result.steps} steps, last loss {result.losses[-1] if result.losses else float('nan'):.4f}, "
          f"checkpoint {result.checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
