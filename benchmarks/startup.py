"""Start-up benchmark (not a unit test): time to first pose and resident memory of drm_node, by engine.

A synthetic camera (640x480 rgb8, 10 Hz) streams; for each case the node is started as a process and
- time to first pose: from starting the node process to the first PoseArray3D arriving here;
- RSS: the node's VmRSS after 10 s of streaming, and its peak (VmHWM);
- whether torch was loaded into the node (libtorch in /proc/<pid>/maps).
Cases: onnxruntime (the CPU default) with its ONNX export cached, onnxruntime at a first start (empty cache:
export included), torch. Writes benchmarks/results/startup.json.

    source scripts/env.sh && nice -n 10 python benchmarks/startup.py
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rclpy
from rclpy.qos import QoSProfile, QoSReliabilityPolicy

from benchmarks.results_file import write_record
from benchmarks.soak import rss_mb
from drm_ros.sim.demo import stop_processes
from drm_ros.msg import PoseArray3D

ROOT = Path(__file__).resolve().parents[1]

FIRST_POSE_TIMEOUT_S = 300.0


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_case(name: str, node_args: list[str], env: dict[str, str], streaming_s: float) -> dict:
    node = rclpy.create_node("startup_listener")
    poses: list[float] = []
    node.create_subscription(PoseArray3D, "drm/poses", lambda m: poses.append(time.monotonic()),
                             QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE))
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "drm_ros.node", "--ros-args", "-p", "device:=cpu", *node_args],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not poses and time.monotonic() - start < FIRST_POSE_TIMEOUT_S and proc.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.02)
        first = poses[0] - start if poses else float("nan")
        end = time.monotonic() + streaming_s
        while time.monotonic() < end and proc.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.05)
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        result = {"case": name, "node_args": node_args, "time_to_first_pose_s": round(first, 2),
                  "rss_mb": round(rss_mb(proc.pid), 1), "peak_rss_mb": round(_status_mb(proc.pid, "VmHWM"), 1),
                  "torch_loaded": "libtorch" in maps, "onnxruntime_loaded": "onnxruntime" in maps,
                  "poses_in_streaming_window": len(poses) - 1}
    finally:
        stop_processes([proc])
        node.destroy_node()
    print(f"{name}: first pose {result['time_to_first_pose_s']} s after start, RSS {result['rss_mb']} MB "
          f"(peak {result['peak_rss_mb']} MB), torch loaded: {result['torch_loaded']}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streaming", type=float, default=10.0, help="seconds of streaming before reading RSS")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "startup.json")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    camera = subprocess.Popen([sys.executable, "-m", "drm_ros.camera_sim", "--rate", "10", "--count", "0"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rclpy.init()
    results = []
    try:
        # Warm the default cache first (not measured), so the cached case is a normal start.
        results.append(run_case("onnxruntime, export cached (default on a CPU)", ["-p", "engine:=onnxruntime"],
                                env, args.streaming))
        results[-1] = run_case("onnxruntime, export cached (default on a CPU)", ["-p", "engine:=onnxruntime"],
                               env, args.streaming)
        with tempfile.TemporaryDirectory() as cache:
            results.append(run_case("onnxruntime, first start (empty cache: exports once)",
                                    ["-p", "engine:=onnxruntime"], dict(env, DRM_CACHE_DIR=cache), args.streaming))
        results.append(run_case("torch", ["-p", "engine:=torch"], env, args.streaming))
    finally:
        stop_processes([camera])
        rclpy.try_shutdown()
    write_record(args.out, results, camera="drm_ros.camera_sim 640x480 rgb8, 10 Hz, reliable")
    return 0


if __name__ == "__main__":
    sys.exit(main())
