"""Records the node's PoseArray3D and /tf side by side, in a process of its own (for the TF output test).

python -m tests.ros.tf_peer OUT_JSON COUNT TIMEOUT_S
Stops once COUNT pose messages with a confirmed person have their TFMessage too; writes, per such stamp, the
people (id, state, root, joints) and every transform of that stamp. Needs tf2_msgs importable.
"""
from __future__ import annotations

import json
import sys
import time

import rclpy
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from tf2_msgs.msg import TFMessage

from drm_ros.msg import Person3D, PoseArray3D
from tests.ros.spin import spin_until

RELIABLE = QoSProfile(depth=100, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.VOLATILE)


def _stamp(header) -> tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


def main(out_json: str, count: int, timeout_s: float) -> int:
    rclpy.init()
    node = rclpy.create_node("tf_peer")
    poses: dict[tuple[int, int], PoseArray3D] = {}
    transforms: dict[tuple[int, int], list] = {}

    def on_poses(msg: PoseArray3D) -> None:
        if any(p.state == Person3D.STATE_CONFIRMED for p in msg.people):
            poses[_stamp(msg.header)] = msg

    def on_tf(msg: TFMessage) -> None:
        for t in msg.transforms:
            transforms.setdefault(_stamp(t.header), []).append(t)

    node.create_subscription(PoseArray3D, "drm/poses", on_poses, RELIABLE)
    node.create_subscription(TFMessage, "/tf", on_tf, RELIABLE)
    done = lambda: len(set(poses) & set(transforms)) >= count  # noqa: E731
    spin_until(node, done, time.monotonic() + timeout_s, period_s=0.05)
    spin_until(node, lambda: False, time.monotonic() + 0.5)  # the TF of the last stamp may still be on its way
    records = []
    for stamp in sorted(set(poses) & set(transforms)):
        msg = poses[stamp]
        records.append({
            "stamp": list(stamp), "frame_id": msg.header.frame_id,
            "people": [{"id": p.id, "state": p.state, "root": [p.root.x, p.root.y, p.root.z],
                        "joints": [[k.position.x, k.position.y, k.position.z] for k in p.keypoints]}
                       for p in msg.people],
            "transforms": [{"parent": t.header.frame_id, "child": t.child_frame_id,
                            "t": [t.transform.translation.x, t.transform.translation.y, t.transform.translation.z],
                            "q": [t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z,
                                  t.transform.rotation.w]} for t in transforms[stamp]]})
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(records, f)
    node.destroy_node()
    rclpy.shutdown()
    return 0 if done() else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
