"""Bag replay: a real rosbag2 written with rosbags, replayed through the model, read back."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, Writer

import drm_ros.msg as drm_msgs
from drm_core.predictor import load_predictor
from drm_core.skeleton import MPI15
from drm_core.types import Poses3D
from drm_ros.camera_sim import SyntheticCamera
from drm_ros.conversions import camera_from_info, image_to_rgb, poses_to_msg
from drm_ros.replay import POSES_TYPE, drm_typestore

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 3


def _write_bag(path: Path) -> list:
    """Images, CameraInfos and ground-truth poses of FRAMES synthetic frames; returns the image messages."""
    store = drm_typestore()
    cam = SyntheticCamera(seed=5, width=400, height=300, frames=FRAMES)
    images = []
    with Writer(path, version=9) as writer:
        c_img = writer.add_connection("/camera/image_raw", "sensor_msgs/msg/Image", typestore=store)
        c_info = writer.add_connection("/camera/camera_info", "sensor_msgs/msg/CameraInfo", typestore=store)
        c_gt = writer.add_connection("/ground_truth/poses", POSES_TYPE, typestore=store)
        for i in range(FRAMES):
            stamp = Time(sec=1000 + i, nanosec=5)
            image, info, sample = cam.frame(i, stamp)
            t_ns = (1000 + i) * 10**9 + 5
            writer.write(c_info, t_ns, serialize_message(info))
            writer.write(c_img, t_ns, serialize_message(image))
            gt = Poses3D(sample.joints_3d_m, sample.joints_2d_px, np.ones(sample.visibility.shape),
                         np.ones(sample.num_people), tuple(f"j{j}" for j in range(15)))
            writer.write(c_gt, t_ns, serialize_message(poses_to_msg(gt, image.header, MPI15, drm_msgs)))
            images.append((image, info))
    return images


def _replay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drm_ros.replay", *args, "--device", "cpu"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_replay_writes_the_predictor_poses_and_a_report(tmp_path):
    frames = _write_bag(tmp_path / "bag")
    proc = _replay(str(tmp_path / "bag"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames"] == summary["processed"] == FRAMES and summary["ground_truth_frames"] == FRAMES
    assert (tmp_path / "out" / "mupots_report.md").is_file()
    predictor = load_predictor(None, device="cpu")
    with Reader(tmp_path / "out" / "poses") as reader:
        written = [(t, deserialize_message(raw, drm_msgs.PoseArray3D)) for _, t, raw in reader.messages()]
    assert len(written) == FRAMES
    for (image, info), (t_ns, msg) in zip(frames, written):
        assert msg.header.stamp == image.header.stamp and msg.header.frame_id == image.header.frame_id
        assert t_ns == image.header.stamp.sec * 10**9 + image.header.stamp.nanosec
        offline = predictor.predict(image_to_rgb(image), camera_from_info(info))
        assert len(msg.people) == len(offline)
        got = np.array([[[k.position.x, k.position.y, k.position.z] for k in p.keypoints] for p in msg.people])
        np.testing.assert_allclose(got.reshape(offline.joints_cam_m.shape), offline.joints_cam_m, atol=1e-3)


@pytest.mark.parametrize("damage", ["truncate", "missing"])
def test_damaged_or_missing_bag_fails_clearly(tmp_path, damage):
    _write_bag(tmp_path / "bag")
    if damage == "truncate":
        db = next((tmp_path / "bag").glob("*.db3"))
        db.write_bytes(db.read_bytes()[:3000])
        target = tmp_path / "bag"
    else:
        target = tmp_path / "nope"
    proc = _replay(str(target), "--out", str(tmp_path / "out"))
    assert proc.returncode != 0 and "error:" in proc.stderr and str(target.name) in proc.stderr, proc.stderr
