"""The camera side of the node tests, in a process of its own: publishes a scripted sequence of good and bad
Image/CameraInfo messages and records every PoseArray3D the node sends back.

python -m tests.ros.node_peers OUT_JSON TIMEOUT_S
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CameraInfo

from drm_ros.camera_sim import FRAME_ID, SyntheticCamera
from drm_ros.msg import PoseArray3D

DISTORTION = [-0.08, 0.02, 0.001, -0.0005, 0.0]
SEED, FRAMES, WIDTH, HEIGHT = 3, 3, 480, 360
RELIABLE = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)


def scripted_frames():
    """(label, image or None, camera_info or None, expect_poses) in publishing order. Stamps are unique."""
    cam = SyntheticCamera(SEED, WIDTH, HEIGHT, frames=FRAMES)
    steps = []
    sec = 100

    def frame(i):
        nonlocal sec
        sec += 1
        image, info, _ = cam.frame(i, Time(sec=sec, nanosec=123))
        info.d = DISTORTION
        return image, info

    image, info = frame(0)
    steps.append(("valid 0", image, info, True))
    for label, change in [("wrong step", lambda m: setattr(m, "step", m.step - 1)),
                          ("short data", lambda m: setattr(m, "data", m.data[: len(m.data) // 2])),
                          ("zero width", lambda m: setattr(m, "width", 0)),
                          ("unknown encoding", lambda m: setattr(m, "encoding", "rgb9000"))]:
        bad, _ = frame(0)
        change(bad)
        steps.append((label, bad, None, False))
        good, _ = frame(1)
        steps.append((f"valid after {label}", good, None, True))
    _, nan_info = frame(0)
    nan_info.k = [float("nan")] + list(nan_info.k[1:])
    good, _ = frame(2)
    steps.append(("valid after NaN K", good, nan_info, True))
    _, other = frame(0)
    other.header.frame_id = "another_camera"
    other.k = [1.0, 0, 10, 0, 1.0, 10, 0, 0, 1]
    good, _ = frame(1)
    steps.append(("valid after CameraInfo of another frame", good, other, True))
    return steps


def to_json(msg: PoseArray3D) -> dict:
    return {"stamp": [msg.header.stamp.sec, msg.header.stamp.nanosec], "frame_id": msg.header.frame_id,
            "joint_names": list(msg.joint_names),
            "people": [[[k.position.x, k.position.y, k.position.z, k.u, k.v, k.confidence] for k in p.keypoints]
                       for p in msg.people]}


def main(out_json: str, timeout_s: float) -> int:
    rclpy.init()
    node = rclpy.create_node("camera_peer")
    image_pub = node.create_publisher(__import__("sensor_msgs.msg").msg.Image, "image", RELIABLE)
    info_pub = node.create_publisher(CameraInfo, "camera_info", RELIABLE)
    received: list[PoseArray3D] = []
    node.create_subscription(PoseArray3D, "drm/poses", received.append, RELIABLE)
    diagnostics: list[DiagnosticArray] = []
    node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, RELIABLE)
    deadline = time.monotonic() + timeout_s

    def spin_until(cond, seconds):
        end = min(deadline, time.monotonic() + seconds)
        while not cond() and time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)

    # Wait for the node to subscribe (it loads its model first).
    spin_until(lambda: image_pub.get_subscription_count() > 0 and info_pub.get_subscription_count() > 0, timeout_s)
    log = []
    for label, image, info, expect in scripted_frames():
        if info is not None:
            info_pub.publish(info)
            spin_until(lambda: False, 0.3)  # let the CameraInfo land before the image
        before = len(received)
        image_pub.publish(image)
        spin_until(lambda: len(received) > before, 30.0 if expect else 1.0)
        log.append({"label": label, "stamp": [image.header.stamp.sec, image.header.stamp.nanosec],
                    "answered": len(received) > before})
    count = len(diagnostics)
    spin_until(lambda: len(diagnostics) > count, 3.0)  # the node's counters after the whole script
    values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values} if diagnostics else {}
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump({"steps": log, "poses": [to_json(m) for m in received], "diagnostics": values}, f)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
