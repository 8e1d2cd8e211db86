"""Soak benchmark (not a unit test): a synthetic camera at 30 Hz into the node for 2 minutes.

Prints processed FPS, dropped frames, latency p50/p95 (image stamp to PoseArray3D arrival) and the node's
memory growth; writes benchmarks/results/soak.json. Run through the project's environment:
    source scripts/env.sh && python benchmarks/soak.py [--seconds 120] [--rate 30]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from rclpy.time import Time

from drm_ros.msg import PoseArray3D

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring (model load, caches)")
    parser.add_argument("--node-args", default="", help="extra --ros-args for the node, e.g. '-p engine:=onnxruntime'")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "soak.json")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    node = subprocess.Popen([sys.executable, "-m", "drm_ros.node", "--ros-args", *args.node_args.split()], env=env)
    total = args.warmup + args.seconds + 5
    camera = subprocess.Popen([sys.executable, "-m", "drm_ros.camera_sim", "--rate", str(args.rate),
                               "--count", str(int(args.rate * (total + 30)))], env=env)
    rclpy.init()
    me = rclpy.create_node("soak")
    reliable = QoSProfile(depth=50, reliability=QoSReliabilityPolicy.RELIABLE)
    arrivals: list[tuple[float, float]] = []  # (monotonic arrival, latency ms)
    diagnostics: list[DiagnosticArray] = []

    def on_poses(msg: PoseArray3D) -> None:
        latency = (me.get_clock().now() - Time.from_msg(msg.header.stamp)).nanoseconds / 1e6
        arrivals.append((time.monotonic(), latency))

    me.create_subscription(PoseArray3D, "drm/poses", on_poses, reliable)
    me.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, reliable)
    start = time.monotonic()
    try:
        while not arrivals and time.monotonic() - start < 120:  # wait for the first result
            rclpy.spin_once(me, timeout_sec=0.1)
        t0 = time.monotonic() + args.warmup
        while time.monotonic() < t0:
            rclpy.spin_once(me, timeout_sec=0.05)
        rss_start, diag_start = rss_mb(node.pid), len(diagnostics)
        t1 = t0 + args.seconds
        next_print = t0
        while time.monotonic() < t1:
            rclpy.spin_once(me, timeout_sec=0.05)
            if time.monotonic() >= next_print:
                next_print += 5.0
                print(f"{time.monotonic() - t0:6.1f} / {args.seconds:.0f} s, {len(arrivals)} results", flush=True)
        rss_end = rss_mb(node.pid)
        for _ in range(30):  # one more diagnostics message for the counters
            rclpy.spin_once(me, timeout_sec=0.05)
    finally:
        camera.terminate()
        node.terminate()
        for proc in (camera, node):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    window = [lat for t, lat in arrivals if t0 <= t < t1]
    first = {kv.key: kv.value for kv in diagnostics[diag_start].status[0].values} if len(diagnostics) > diag_start \
        else {}
    last = {kv.key: kv.value for kv in diagnostics[-1].status[0].values} if diagnostics else {}
    result = {
        "seconds": args.seconds, "camera_rate_hz": args.rate, "processed_fps": len(window) / args.seconds,
        "received_in_window": int(last.get("received", 0)) - int(first.get("received", 0)) if first else None,
        "dropped_in_window": int(last.get("dropped_frames", 0)) - int(first.get("dropped_frames", 0)) if first
        else None,
        "latency_p50_ms": float(np.percentile(window, 50)) if window else None,
        "latency_p95_ms": float(np.percentile(window, 95)) if window else None,
        "node_rss_start_mb": rss_start, "node_rss_end_mb": rss_end, "memory_growth_mb": rss_end - rss_start,
        "engine": last.get("engine"), "node_args": args.node_args,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    print()
    for key, value in result.items():
        print(f"{key:>20}: {value:.1f}" if isinstance(value, float) else f"{key:>20}: {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    me.destroy_node()
    rclpy.try_shutdown()
    return 0 if window else 1


if __name__ == "__main__":
    sys.exit(main())
