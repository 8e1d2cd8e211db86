"""Time DRMCodec.decode on maps encoded from scenes of 1, 3 and 20 people; writes benchmarks/results/decode.json.

Usage: python scripts/bench_decode.py [--repeats N]
The maps are perfect (codec.encode output), so every person is found: this times the decode itself.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a file: the repository's drm_core, not an installed one

from drm_core.camera import Camera, Letterbox  # noqa: E402
from drm_core.codec import CodecConfig, DRMCodec  # noqa: E402
from drm_core.data.template_scenes import input_ground_truth, scene  # noqa: E402

CAMERA = Camera(np.array([[1000.0, 0, 960], [0, 1000, 540], [0, 0, 1]]), 1920, 1080)


def placements(people: int, rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """People on a grid across the image at 3-10 m (u, v px, depth m)."""
    cols = int(np.ceil(np.sqrt(people * 2)))
    rows = int(np.ceil(people / cols))
    us = np.linspace(0.08, 0.92, cols) * CAMERA.width
    vs = np.linspace(0.4, 0.65, rows) * CAMERA.height
    grid = [(u, v) for v in vs for u in us][:people]
    return [(u, v, rng.uniform(3.0, 10.0)) for u, v in grid]


def time_decode(codec: DRMCodec, people: int, repeats: int) -> dict:
    joints_3d, uv = scene(CAMERA, placements(people, np.random.default_rng(people)))
    cfg = codec.config
    letterbox = Letterbox.fit(CAMERA.width, CAMERA.height, cfg.input_width, cfg.input_height)
    targets = codec.encode(*input_ground_truth(CAMERA, joints_3d, uv, letterbox))
    maps = {k: targets[k] for k in ("center", "offsets", "root_depth", "rel_depth", "root_to_center")}
    found = len(codec.decode(maps, CAMERA, letterbox))  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        codec.decode(maps, CAMERA, letterbox)
        times.append(time.perf_counter() - start)
    return {"people": people, "found": found, "median_ms": 1e3 * float(np.median(times)),
            "p90_ms": 1e3 * float(np.percentile(times, 90)), "repeats": repeats}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "decode.json")
    args = parser.parse_args(argv)
    codec = DRMCodec(CodecConfig())
    results = [time_decode(codec, people, args.repeats) for people in (1, 3, 20)]
    for r in results:
        print(f"{r['people']:2d} people ({r['found']} found): median {r['median_ms']:.2f} ms, "
              f"p90 {r['p90_ms']:.2f} ms per decode")
    cfg = codec.config
    report = {"input": f"{cfg.input_width}x{cfg.input_height}", "camera": f"{CAMERA.width}x{CAMERA.height}",
              "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
              "results": results}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
