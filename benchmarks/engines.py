"""Per-frame cost of the node's pipeline on this machine, engine against engine, in one run.

Times, on one synthetic 640x480 frame: image message -> RGB, letterbox (preprocess), the engine (torch with 1
and with all threads, onnxruntime), decoding, and the PoseArray3D + MarkerArray messages. Prints the medians and
the ratios to torch, writes benchmarks/results/engines.json and a bar chart engines.png.
    source scripts/env.sh && python benchmarks/engines.py [--repeats 30] [--model M.pt] [--device cpu]
"""
from __future__ import annotations

from pathlib import Path

import argparse
import json
import platform
import time
from typing import Callable

import numpy as np
import torch

from drm_core.predictor import load_predictor
from drm_ros.sim.camera_sim import SyntheticCamera
from drm_ros.frame.image_conversion import image_to_rgb
from drm_ros.frame.intrinsics import camera_from_info
from drm_ros.frame.markers import MarkerOptions, pose_markers
from drm_ros.frame.pose_messages import poses_to_msg

ROOT = Path(__file__).resolve().parents[1]



def median_ms(work: Callable[[], object], repeats: int) -> float:
    work()  # warm-up: first-call allocations and lazy initialisation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--model", default=None, help="checkpoint; default: the shipped model")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "engines.json")
    args = parser.parse_args(argv)

    image, info, _ = SyntheticCamera().frame(0)
    camera = camera_from_info(info)
    rgb = image_to_rgb(image)
    threads = torch.get_num_threads()
    variants = [("torch", 1), ("torch", threads), ("onnxruntime", threads)]
    rows = []
    for engine, n in variants:
        torch.set_num_threads(n)  # onnxruntime keeps its own pool (all cores)
        predictor = load_predictor(args.model, engine, args.device)
        batch, letterbox = predictor.preprocess(rgb, camera)
        maps = {k: v[0] for k, v in predictor.engine(batch).items()}
        poses = predictor.codec.decode(maps, camera, letterbox)
        rows.append({
            "engine": predictor.engine.description + ("" if engine == "onnxruntime" else f", {n} thread(s)"),
            "input": list(predictor.input_size),
            "convert_ms": median_ms(lambda: image_to_rgb(image), args.repeats),
            "preprocess_ms": median_ms(lambda: predictor.preprocess(rgb, camera), args.repeats),
            "engine_ms": median_ms(lambda: predictor.engine(batch), args.repeats),
            "decode_ms": median_ms(lambda: predictor.codec.decode(maps, camera, letterbox), args.repeats),
            "messages_ms": median_ms(lambda: (poses_to_msg(poses, image.header, predictor.skeleton),
                                              pose_markers(poses, image.header, predictor.skeleton, MarkerOptions())),
                                     args.repeats),
            "people": len(poses)})
    torch.set_num_threads(threads)
    reference = rows[1]["engine_ms"]
    for row in rows:
        row["total_ms"] = sum(v for k, v in row.items() if k.endswith("_ms"))
        row["engine_vs_torch_all_threads"] = row["engine_ms"] / reference
        print(f"{row['engine']:<34} engine {row['engine_ms']:7.1f} ms ({row['engine_vs_torch_all_threads']:.2f}x)"
              f"  whole frame {row['total_ms']:7.1f} ms  (convert {row['convert_ms']:.2f}, letterbox "
              f"{row['preprocess_ms']:.2f}, decode {row['decode_ms']:.2f}, messages {row['messages_ms']:.2f})")
    result = {"machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
              "date": time.strftime("%Y-%m-%d %H:%M"), "repeats": args.repeats, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    plot(rows, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = ["convert_ms", "preprocess_ms", "engine_ms", "decode_ms", "messages_ms"]
    fig, ax = plt.subplots(figsize=(9, 2.8))
    left = np.zeros(len(rows))
    for part in parts:
        values = np.array([r[part] for r in rows])
        ax.barh([r["engine"] for r in rows], values, left=left, label=part.removesuffix("_ms"))
        left += values
    ax.set_xlabel("milliseconds per frame (median)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_title("drm_node per-frame cost by engine, 640x480 image")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
