"""Transport benchmark (not a unit test): camera-sized rgb8 images from a separate process into the node.

For each publisher reliability (best effort, reliable), a publisher process sends W x H rgb8 frames at RATE Hz
for SECONDS, and
- inference off: a subscriber process with the QoS the node's image_qos 'auto' settles to for that publisher
  (drm_ros.live.pose_node.image_qos, depth 1) counts the frames reaching its callback -> fraction delivered;
- inference on: the real node (`python -m drm_ros.node`, defaults, fallback intrinsics) -> PoseArray3D
  messages per second (its processed rate) and the frames its diagnostics counted as received.
Both in the environment of scripts/env.sh (FASTDDS_DEFAULT_PROFILES_FILE = config/fastdds_large_images.xml in
every process). Writes JSON to benchmarks/results/ and prints one line per case.

    source scripts/env.sh && nice -n 10 python benchmarks/transport.py [--seconds 60] [--rate 30]
        [--width 1920 --height 1080] [--modes off on] [--out benchmarks/results/transport_1080p.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.results_file import write_record

ROOT = Path(__file__).resolve().parents[1]

MATCH_TIMEOUT_S = 180.0  # a first node start may export the model to ONNX
SETTLE_S = 3.0  # the node's 'auto' subscription follows a publisher's reliability within a second


def publish(width: int, height: int, reliability: str, rate: float, seconds: float) -> int:
    """The publisher process: wait for a subscriber, settle, send frames at `rate`; print what was sent."""
    import numpy as np
    import rclpy
    from rclpy.qos import QoSProfile, QoSReliabilityPolicy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("transport_camera")
    qos = QoSProfile(depth=5, reliability=QoSReliabilityPolicy.RELIABLE if reliability == "reliable"
                     else QoSReliabilityPolicy.BEST_EFFORT)
    pub = node.create_publisher(Image, "image", qos)
    deadline = time.monotonic() + MATCH_TIMEOUT_S
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(SETTLE_S)
    pixels = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    msg = Image(width=width, height=height, encoding="rgb8", step=width * 3, data=pixels.tobytes())
    msg.header.frame_id = "camera"
    start = time.monotonic()
    sent = 0
    while (now := time.monotonic()) - start < seconds:
        msg.header.stamp = node.get_clock().now().to_msg()
        pub.publish(msg)
        sent += 1
        time.sleep(max(0.0, start + sent / rate - time.monotonic()))
    elapsed = time.monotonic() - start
    time.sleep(2.0)  # the last frames still in flight
    print(json.dumps({"sent": sent, "publish_seconds": elapsed, "publish_rate_hz": sent / elapsed}), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def count(reliability: str, seconds: float, inference: bool) -> int:
    """The measuring process: frames at a subscription callback (inference off), or the node's answers."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile, QoSReliabilityPolicy
    from sensor_msgs.msg import Image

    from drm_ros.msg import PoseArray3D
    from drm_ros.live.pose_node import image_qos

    rclpy.init()
    node = rclpy.create_node("transport_counter")
    arrivals: list[float] = []
    diagnostics: list[DiagnosticArray] = []
    reliable = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
    if inference:
        node.create_subscription(PoseArray3D, "drm/poses", lambda m: arrivals.append(time.monotonic()), reliable)
        node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, reliable)
    else:
        node.create_subscription(Image, "image", lambda m: arrivals.append(time.monotonic()),
                                 image_qos("auto", 1, publishers_reliable=reliability == "reliable"))
    deadline = time.monotonic() + MATCH_TIMEOUT_S + SETTLE_S + seconds + 10.0
    while time.monotonic() < deadline and not (arrivals and time.monotonic() - arrivals[-1] > 5.0):
        rclpy.spin_once(node, timeout_sec=0.05)
    values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values} if diagnostics else {}
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
    print(json.dumps({"arrived": len(arrivals), "arrival_rate_hz": (len(arrivals) - 1) / span if span > 0 else 0.0,
                      "node_received": int(values.get("received", -1)) if values else None,
                      "node_lost_in_transport": int(values.get("lost_in_transport", -1)) if values else None}),
          flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def run_case(width: int, height: int, reliability: str, rate: float, seconds: float, inference: bool) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    me = [sys.executable, str(Path(__file__).resolve())]
    node = subprocess.Popen([sys.executable, "-m", "drm_ros.node", "--ros-args", "-p", "device:=cpu", "-p",
                             "fallback_fx:=1000.0", "-p", "fallback_fy:=1000.0", "-p", f"fallback_cx:={width / 2}",
                             "-p", f"fallback_cy:={height / 2}"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL) if inference else None
    counter = subprocess.Popen(me + ["--count", reliability, str(seconds), str(int(inference))], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, text=True)
    publisher = subprocess.run(me + ["--publish", str(width), str(height), reliability, str(rate), str(seconds)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, timeout=MATCH_TIMEOUT_S + 600)
    counted = json.loads(counter.communicate(timeout=120)[0].strip().splitlines()[-1])
    if node is not None:
        node.terminate()
        node.wait(timeout=30)
    sent = json.loads(publisher.stdout.strip().splitlines()[-1])
    result = {"width": width, "height": height, "publisher": reliability, "inference": inference,
              "rate_hz": rate, "seconds": seconds, **sent, **counted}
    if inference:
        result["processed_rate_hz"] = counted["arrived"] / sent["publish_seconds"]
    else:
        result["delivered_fraction"] = counted["arrived"] / max(sent["sent"], 1)
    return result


def main() -> int:
    if sys.argv[1:2] == ["--publish"]:
        w, h, rel, rate, seconds = sys.argv[2:7]
        return publish(int(w), int(h), rel, float(rate), float(seconds))
    if sys.argv[1:2] == ["--count"]:
        return count(sys.argv[2], float(sys.argv[3]), sys.argv[4] == "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--reliabilities", nargs="+", default=["best_effort", "reliable"])
    parser.add_argument("--modes", nargs="+", default=["off", "on"], help="inference off and/or on")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "transport_1080p.json")
    args = parser.parse_args()
    results = []
    for mode in args.modes:
        for reliability in args.reliabilities:
            r = run_case(args.width, args.height, reliability, args.rate, args.seconds, mode == "on")
            results.append(r)
            what = (f"delivered {r['arrived']}/{r['sent']} = {100 * r['delivered_fraction']:.1f} %"
                    if mode == "off" else f"node processed {r['processed_rate_hz']:.1f} frames/s "
                                          f"(received {r['node_received']}/{r['sent']})")
            print(f"{args.width}x{args.height} rgb8, {reliability} publisher at {r['publish_rate_hz']:.1f} of "
                  f"{args.rate:g} Hz for {r['publish_seconds']:.0f} s, inference {mode}: {what}", flush=True)
    write_record(args.out, results, dds_profile=os.environ.get("FASTDDS_DEFAULT_PROFILES_FILE", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
