"""The demo's bird's-eye picture from PoseArray3D messages (no processes)."""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from drm_core.pose_types import Poses3D
from drm_core.skeleton import MPI15
from drm_ros.frame.pose_messages import poses_to_msg
from drm_ros.sim.demo import plot_birds_eye


def test_birds_eye_png_from_the_last_messages(tmp_path):
    history = []
    for i in range(10):
        xyz = np.zeros((2, 15, 3)) + [[[-1.0 + 0.1 * i, 0, 4]], [[1.0, 0, 6 - 0.1 * i]]]
        poses = Poses3D(xyz, np.zeros((2, 15, 2)), np.ones((2, 15)), np.ones(2), MPI15.joint_names)
        header = Header(stamp=Time(sec=100, nanosec=i * 100_000_000), frame_id="cam")
        history.append(poses_to_msg(poses, header, MPI15, [3, 5], np.array([[1.0, 0, 0], [0, 0, -1.0]])))
    info = CameraInfo(width=640, height=480, k=[400.0, 0, 320, 0, 400, 240, 0, 0, 1])
    plot_birds_eye(history, info, tmp_path / "birds_eye.png")
    plot_birds_eye(history[:1], None, tmp_path / "no_info.png")  # before any CameraInfo: no field of view
    assert (tmp_path / "birds_eye.png").stat().st_size > 5000 and (tmp_path / "no_info.png").exists()
