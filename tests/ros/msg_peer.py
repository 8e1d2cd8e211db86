"""A PoseArray3D publisher or subscriber in a process of its own (for the DDS round-trip test).

python -m tests.ros.msg_peer publish TOPIC SEED TIMEOUT_S
python -m tests.ros.msg_peer subscribe TOPIC OUT_JSON TIMEOUT_S
Both sides build the expected message from SEED with `reference_message`, so the test compares field by field.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np
import rclpy
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

from drm_ros.msg import Keypoint3D, Person3D, PoseArray3D
from tests.ros.spin import spin_until

QOS = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.VOLATILE)


def reference_message(seed: int, people: int = 4, joints: int = 15) -> PoseArray3D:
    """A message with every field set to seed-dependent values that are exact in their wire types."""
    rng = np.random.default_rng(seed)
    msg = PoseArray3D()
    msg.header.stamp.sec = int(rng.integers(0, 2**31 - 1))
    msg.header.stamp.nanosec = int(rng.integers(0, 10**9))
    msg.header.frame_id = f"camera_{seed}_optical_frame"
    msg.skeleton = "mpi15"
    msg.joint_names = [f"joint_{j}_é" for j in range(joints)]  # non-ASCII survives too
    msg.bones = [int(b) for b in rng.integers(0, joints, size=2 * (joints - 1))]
    for p in range(people):
        person = Person3D()
        person.id = int(rng.integers(-5, 1000))
        person.score = float(np.float32(rng.random()))
        person.root.x, person.root.y, person.root.z = (float(v) for v in rng.normal(size=3))
        for _ in range(joints):
            kp = Keypoint3D()
            kp.position.x, kp.position.y, kp.position.z = (float(v) for v in rng.normal(scale=5, size=3))
            kp.u, kp.v = (float(np.float32(v)) for v in rng.uniform(-100, 2000, size=2))
            kp.confidence = float(np.float32(rng.random()))
            person.keypoints.append(kp)
        person.velocity.x, person.velocity.y, person.velocity.z = (float(v) for v in rng.normal(scale=2, size=3))
        person.state = int(rng.integers(0, 3))
        person.age_s = float(np.float32(rng.uniform(0, 100)))
        msg.people.append(person)
    return msg


def to_dict(msg: PoseArray3D) -> dict:
    """Every field of the message as plain JSON (floats written with repr, so exact)."""
    def point(p):
        return [p.x, p.y, p.z]
    return {
        "stamp": [msg.header.stamp.sec, msg.header.stamp.nanosec], "frame_id": msg.header.frame_id,
        "skeleton": msg.skeleton, "joint_names": list(msg.joint_names), "bones": [int(b) for b in msg.bones],
        "people": [{"id": p.id, "score": p.score, "root": point(p.root),
                    "keypoints": [[*point(k.position), k.u, k.v, k.confidence] for k in p.keypoints],
                    "velocity": point(p.velocity), "state": p.state, "age_s": p.age_s}
                   for p in msg.people],
    }


def publish(topic: str, seed: int, timeout_s: float) -> int:
    rclpy.init()
    node = rclpy.create_node("msg_peer_publisher")
    pub = node.create_publisher(PoseArray3D, topic, QOS)
    msg = reference_message(seed)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:  # keep sending until the test stops us or time runs out
        pub.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()
    return 0


def subscribe(topic: str, out_json: str, timeout_s: float) -> int:
    rclpy.init()
    node = rclpy.create_node("msg_peer_subscriber")
    received: list[PoseArray3D] = []
    node.create_subscription(PoseArray3D, topic, received.append, QOS)
    spin_until(node, lambda: bool(received), time.monotonic() + timeout_s, period_s=0.1)
    if received:
        with open(out_json, "w", encoding="utf-8") as f:
            json.dump(to_dict(received[0]), f)
    node.destroy_node()
    rclpy.shutdown()
    return 0 if received else 3


if __name__ == "__main__":
    mode, topic, arg, timeout = sys.argv[1:5]
    sys.exit(publish(topic, int(arg), float(timeout)) if mode == "publish" else subscribe(topic, arg, float(timeout)))
