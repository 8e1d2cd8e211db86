"""Bag replay: a real rosbag2 written with rosbags, replayed through a model in a real process, read back."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from builtin_interfaces.msg import Time
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from drm_core.checkpoint import save_checkpoint
from drm_core.codec import CodecConfig
from drm_core.model import ModelConfig, build_model
from drm_core.predictor import load_predictor
from drm_core.skeleton import MPI15
from drm_core.types import Poses3D
from drm_ros.camera_sim import CameraSimConfig, SyntheticCamera
from drm_ros.conversions import image_to_rgb
from drm_ros.intrinsics import camera_from_info
from drm_ros.messages import poses_to_msg
from drm_ros.msg import PoseArray3D
from drm_ros.replay import POSES_TOPIC, POSES_TYPE, drm_typestore
from drm_ros.replay import main as replay_main

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 3
INPUT = ("256", "160")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A random-initialised small model (the replay must equal the predictor, whatever the weights)."""
    path = tmp_path_factory.mktemp("model") / "small.pt"
    torch.manual_seed(0)  # weights that find people in these frames (some random draws find nobody)
    return save_checkpoint(path, build_model(ModelConfig.small()), CodecConfig(input_width=256, input_height=160))


def _write_bag(path: Path, storage: StoragePlugin = StoragePlugin.SQLITE3, compressed: str = "") -> list:
    """FRAMES synthetic frames: Image, then its CameraInfo at the same bag time (the replay must still pair
    them), and ground-truth poses. Returns [(image, info, sample)]."""
    store = drm_typestore()
    cam = SyntheticCamera(CameraSimConfig(width=320, height=240, seed=5, people=(1, 2), distortion_prob=0.5,
                                          compressed=compressed))
    image_type = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    frames = []
    with Writer(path, version=9, storage_plugin=storage) as writer:
        c_img = writer.add_connection("/camera/image_raw", image_type, typestore=store)
        c_info = writer.add_connection("/camera/camera_info", "sensor_msgs/msg/CameraInfo", typestore=store)
        c_gt = writer.add_connection("/ground_truth/poses", POSES_TYPE, typestore=store)
        for i in range(FRAMES):
            image, info, sample = cam.frame(i, Time(sec=1000 + i, nanosec=5))
            t_ns = (1000 + i) * 10**9 + 5
            writer.write(c_img, t_ns, serialize_message(image))
            writer.write(c_info, t_ns, serialize_message(info))
            people = len(sample.joints_3d_m)
            gt = Poses3D(sample.joints_3d_m, sample.joints_2d_px, np.ones((people, 15)), np.ones(people),
                         MPI15.joint_names)
            writer.write(c_gt, t_ns, serialize_message(poses_to_msg(gt, image.header, MPI15)))
            frames.append((image, info, sample))
    return frames


def _replay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drm_ros.replay", *args, "--device", "cpu"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("storage, compressed", [(StoragePlugin.MCAP, ""), (StoragePlugin.SQLITE3, "png")],
                         ids=["mcap-image", "sqlite3-compressed-png"])
def test_replay_writes_the_predictor_poses_and_a_report(tmp_path, model, capsys, storage, compressed):
    frames = _write_bag(tmp_path / "bag", storage, compressed)
    # In this process (torch is loaded already); the error tests below run the command as a process.
    code = replay_main([str(tmp_path / "bag"), "--out", str(tmp_path / "out"), "--model", str(model),
                        "--input-size", *INPUT, "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    assert "MPJPE abs" in capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames"] == summary["processed"] == summary["ground_truth_frames"] == FRAMES, summary
    assert summary["skipped"] == {} and summary["input_size"] == [256, 160]
    assert summary["metrics"]["num_annotated"] == sum(len(s.joints_3d_m) for _, _, s in frames)
    assert (tmp_path / "out" / "mupots_report.md").is_file()

    predictor = load_predictor(str(model), device="cpu", input_size=(256, 160))
    with Reader(tmp_path / "out" / "poses") as reader:
        assert [(c.topic, c.msgtype) for c in reader.connections] == [(POSES_TOPIC, POSES_TYPE)]
        raws = [(t, raw) for _, t, raw in reader.messages()]
    written = [(t, deserialize_message(raw, PoseArray3D)) for t, raw in raws]
    assert len(written) == FRAMES
    # The bag is readable without ROS too: rosbags with the types registered from msg/*.msg.
    store = drm_typestore()
    assert [len(store.deserialize_cdr(raw, POSES_TYPE).people) for _, raw in raws] == \
        [len(msg.people) for _, msg in written]
    assert summary["people_per_frame"] == [len(msg.people) for _, msg in written] and sum(summary["people_per_frame"])
    for (image, info, _), (t_ns, msg) in zip(frames, written):
        assert msg.header.stamp == image.header.stamp and msg.header.frame_id == image.header.frame_id
        assert t_ns == image.header.stamp.sec * 10**9 + image.header.stamp.nanosec
        offline = predictor.predict(image_to_rgb(image), camera_from_info(info))
        assert len(msg.people) == len(offline)
        got = np.array([[[k.position.x, k.position.y, k.position.z] for k in p.keypoints] for p in msg.people])
        np.testing.assert_allclose(got.reshape(offline.joints_cam_m.shape), offline.joints_cam_m, rtol=1e-5,
                                   atol=1e-4)


@pytest.mark.parametrize("damage", ["truncate", "missing", "topic"])
def test_damaged_or_missing_bag_or_topic_fails_clearly(tmp_path, damage):
    _write_bag(tmp_path / "bag")
    target, extra = tmp_path / "bag", []
    if damage == "truncate":
        db = next(target.glob("*.db3"))
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])
    elif damage == "missing":
        target = tmp_path / "nope"
    else:
        extra = ["--image-topic", "/camera/image_rect"]
    proc = _replay(str(target), "--out", str(tmp_path / "out"), *extra)
    assert proc.returncode == 1 and proc.stderr.startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert (target.name if damage != "topic" else "/camera/image_rect") in proc.stderr
