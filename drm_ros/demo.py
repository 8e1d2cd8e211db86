"""The README's main job. Until the node lands this checks the built messages end to end over DDS."""
from __future__ import annotations

import sys
import time

import rclpy

from drm_ros.msg import Keypoint3D, Person3D, PoseArray3D


def main() -> int:
    rclpy.init()
    node = rclpy.create_node("drm_demo")
    got: list[PoseArray3D] = []
    node.create_subscription(PoseArray3D, "/drm/poses", got.append, 10)
    pub = node.create_publisher(PoseArray3D, "/drm/poses", 10)
    msg = PoseArray3D(skeleton="mpi15", joint_names=["pelvis"])
    msg.header.frame_id = "camera_optical_frame"
    msg.people = [Person3D(id=0, score=1.0, keypoints=[Keypoint3D(u=1.0, v=2.0, confidence=1.0)])]
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        pub.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()
    print(f"PoseArray3D over DDS: {'ok' if got else 'NOT received'}")
    return 0 if got else 1


if __name__ == "__main__":
    sys.exit(main())
