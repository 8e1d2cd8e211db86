"""Soak benchmark (not a unit test): a synthetic camera at 30 Hz into drm_node for 2 minutes.

Prints and writes to benchmarks/results/soak.json: processed FPS, frames dropped (replaced in the node's
one-slot mailbox, or never received), latency p50/p95 from image stamp to PoseArray3D arrival, and the node's
memory (VmRSS from /proc/<pid>/status) at the start and end of the measured window, sampled every 10 s between.
Run through the project's environment:
    source scripts/env.sh && python benchmarks/soak.py [--seconds 120] [--rate 30] [--node-args "-p device:=cpu"]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from rclpy.time import Time

from drm_ros.sim.demo import stop_processes
from drm_ros.msg import PoseArray3D

ROOT = Path(__file__).resolve().parents[1]

FIRST_RESULT_TIMEOUT_S = 180.0


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MiB (NaN once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _values(diag: DiagnosticArray) -> dict[str, str]:
    return {kv.key: kv.value for kv in diag.status[0].values}


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="measured window")
    parser.add_argument("--rate", type=float, default=30.0, help="camera rate (Hz)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds after the first result before measuring")
    parser.add_argument("--node-args", default="", help="extra --ros-args for the node, e.g. '-p engine:=onnxruntime'")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "soak.json")
    return parser.parse_args()


def _start_processes(args: argparse.Namespace) -> list[subprocess.Popen]:
    """The node (first) and the synthetic camera, as separate processes talking over DDS."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return [
        subprocess.Popen([sys.executable, "-m", "drm_ros.node", "--ros-args", *shlex.split(args.node_args)], env=env),
        subprocess.Popen([sys.executable, "-m", "drm_ros.camera_sim", "--rate", str(args.rate), "--count", "0",
                          "--width", str(args.width), "--height", str(args.height)], env=env),
    ]


@dataclass
class _Measurement:
    """What the listener saw: results and diagnostics with their monotonic arrival, the node's memory, and the
    measured window [t0, t1)."""

    arrivals: list[tuple[float, float]] = field(default_factory=list)  # (monotonic arrival, latency ms)
    diagnostics: list[tuple[float, DiagnosticArray]] = field(default_factory=list)
    rss_samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds into the window, MiB)
    t0: float = 0.0
    t1: float = 0.0

    def latencies(self) -> list[float]:
        return [lat for t, lat in self.arrivals if self.t0 <= t < self.t1]


def _measure(me, processes: list[subprocess.Popen], args: argparse.Namespace) -> _Measurement:
    """Wait for the first result, warm up, then listen for args.seconds sampling the node's memory every 10 s.
    Raises RuntimeError when a process exits or no result comes."""
    node = processes[0]
    m = _Measurement()
    reliable = QoSProfile(depth=50, reliability=QoSReliabilityPolicy.RELIABLE)

    def on_poses(msg: PoseArray3D) -> None:
        m.arrivals.append((time.monotonic(),
                           (me.get_clock().now() - Time.from_msg(msg.header.stamp)).nanoseconds / 1e6))

    me.create_subscription(PoseArray3D, "drm/poses", on_poses, reliable)
    me.create_subscription(DiagnosticArray, "/diagnostics", lambda d: m.diagnostics.append((time.monotonic(), d)),
                           reliable)

    def spin_until(deadline: float, stop_early=lambda: False) -> None:
        while time.monotonic() < deadline and not stop_early():
            rclpy.spin_once(me, timeout_sec=0.05)
            if any(p.poll() is not None for p in processes):
                raise RuntimeError(f"{'the node' if node.poll() is not None else 'the camera'} exited early")

    spin_until(time.monotonic() + FIRST_RESULT_TIMEOUT_S, lambda: bool(m.arrivals))
    if not m.arrivals:
        raise RuntimeError(f"no result within {FIRST_RESULT_TIMEOUT_S:.0f} s")
    spin_until(time.monotonic() + args.warmup)
    m.t0 = t0 = time.monotonic()
    m.rss_samples.append((0.0, rss_mb(node.pid)))
    while (now := time.monotonic()) < t0 + args.seconds:
        spin_until(min(now + 10.0, t0 + args.seconds))
        m.rss_samples.append((round(time.monotonic() - t0, 1), rss_mb(node.pid)))
        print(f"{time.monotonic() - t0:6.1f} / {args.seconds:.0f} s: {len(m.arrivals)} results, "
              f"node RSS {m.rss_samples[-1][1]:.0f} MiB", flush=True)
    m.t1 = time.monotonic()
    spin_until(m.t1 + 1.5)  # one more diagnostics message, for the counters at the end of the window
    return m


def _result(args: argparse.Namespace, m: _Measurement) -> dict:
    """soak.json: rates, drops from the node's diagnostics counters over the window, latency, memory."""
    window = m.latencies()
    before = [d for t, d in m.diagnostics if t <= m.t0]
    after = [d for t, d in m.diagnostics if t >= m.t1]
    first, last = (_values(before[-1]) if before else None), (_values(after[0]) if after else None)

    def delta(key: str) -> int | None:
        return int(last[key]) - int(first[key]) if first and last else None

    published = int(args.rate * args.seconds)  # the camera keeps its schedule (it catches up when late)
    received = delta("received")
    rss = m.rss_samples
    return {
        "seconds": args.seconds, "camera_rate_hz": args.rate, "image_size": [args.width, args.height],
        "processed_fps": len(window) / args.seconds,
        "camera_frames_in_window": published,
        "received_in_window": received,
        "dropped_in_node": delta("dropped_frames"),  # replaced by a newer frame before inference (by design)
        # never reached the node: lost in transport (best effort, depth 1) or the camera fell behind its schedule
        "not_received": published - received if received is not None else None,
        "bad_frames": delta("bad_frames"),
        "latency_p50_ms": float(np.percentile(window, 50)) if window else None,
        "latency_p95_ms": float(np.percentile(window, 95)) if window else None,
        "node_rss_start_mb": rss[0][1], "node_rss_end_mb": rss[-1][1],
        "memory_growth_mb": rss[-1][1] - rss[0][1],
        "rss_samples_mb": rss,
        "engine": last.get("engine") if last else None, "node_args": args.node_args,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def main() -> int:
    args = _parse_args()
    processes = _start_processes(args)
    rclpy.init()
    me = rclpy.create_node("soak")
    try:
        measured = _measure(me, processes, args)
    except (RuntimeError, KeyboardInterrupt) as err:
        print(f"soak: stopped: {err}", file=sys.stderr)
        stop_processes(processes)
        me.destroy_node()
        rclpy.try_shutdown()
        return 1
    finally:
        stop_processes(processes)
    result = _result(args, measured)
    print()
    for key, value in result.items():
        if key != "rss_samples_mb":
            print(f"{key:>24}: {value:.1f}" if isinstance(value, float) else f"{key:>24}: {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    me.destroy_node()
    rclpy.try_shutdown()
    return 0 if measured.latencies() else 1


if __name__ == "__main__":
    sys.exit(main())
