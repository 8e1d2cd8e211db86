"""drm_ros.playback in a process of its own: a recorded bag arrives in a live graph (this test's subscriber, and the
real drm_node answering it with tracked poses)."""
from __future__ import annotations

from pathlib import Path
import json
import re
import subprocess
import sys
import time

import numpy as np
import rclpy
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from drm_core.data.synthetic_walk import SyntheticWalk, WalkConfig
from drm_core.predictor import load_predictor
from drm_core.tracking import Tracker
from drm_ros.msg import PoseArray3D
from drm_ros.bag.record import RecordOptions, record
from tests.ros.node_peers import poses_json
from tests.ros.spin import spin_until
from tests.paths import ROOT

FRAMES = 4
FPS = 10.0


def _bag(tmp_path: Path) -> Path:
    record("synthetic-walk", tmp_path / "walk", RecordOptions(start_time_s=50.0, synthetic_frames=FRAMES, fps=FPS))
    return tmp_path / "walk"


def test_playback_publishes_every_message_at_the_recorded_rate(tmp_path, ros_env, monkeypatch):
    bag = _bag(tmp_path)
    for key, value in ros_env.items():  # this process's subscriber on the same private domain
        monkeypatch.setenv(key, value)
    rclpy.init()
    node = rclpy.create_node("playback_listener")
    got: dict[str, list] = {"image": [], "info": [], "gt": []}
    qos = QoSProfile(depth=20, reliability=QoSReliabilityPolicy.RELIABLE)
    node.create_subscription(Image, "/renamed/image", got["image"].append, qos)
    node.create_subscription(CameraInfo, "/camera/camera_info", got["info"].append, qos)
    node.create_subscription(PoseArray3D, "/ground_truth/poses", got["gt"].append, qos)
    player = subprocess.Popen([sys.executable, "-m", "drm_ros.playback", str(bag), "--rate", "0.5",
                               "--remap", "/camera/image_raw:=/renamed/image", "--wait-subscribers", "60"],
                              cwd=ROOT, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        spin_until(node, lambda: all(len(v) == FRAMES for v in got.values()), time.monotonic() + 90)
        log = player.communicate(timeout=60)[0]
    finally:
        if player.poll() is None:
            player.kill()
        node.destroy_node()
        rclpy.try_shutdown()
    assert player.returncode == 0, log
    assert {k: len(v) for k, v in got.items()} == {"image": FRAMES, "info": FRAMES, "gt": FRAMES}, log
    stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in got["image"]]
    assert stamps == [(m.header.stamp.sec, m.header.stamp.nanosec) for m in got["info"]]
    assert stamps == sorted(stamps) and stamps[0] == (50, 0)  # the recorded stamps, in order
    # Recorded 0.1 s apart, played at half speed: the player spent (FRAMES - 1) * 0.2 s from first to last.
    played_s = float(re.search(r"in ([0-9.]+) s, at most", log).group(1))
    assert played_s >= (FRAMES - 1) * 0.2 - 0.01, log
    assert "/renamed/image: 4" in log and "published 12 messages" in log


def test_a_bag_played_into_the_running_node_comes_back_as_tracked_poses(tmp_path, ros_env):
    bag = _bag(tmp_path)
    out = tmp_path / "poses.json"
    node = subprocess.Popen(
        [sys.executable, "-m", "drm_ros.node", "--ros-args", "-p", "image_topic:=/camera/image_raw",
         "-p", "camera_info_topic:=/camera/camera_info", "-p", "image_qos:=reliable", "-p", "engine:=torch",
         "-p", "device:=cpu", "-p", "input_width:=256", "-p", "input_height:=160"],
        cwd=ROOT, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    listener = subprocess.Popen([sys.executable, "-m", "tests.ros.node_peers", "--listen", str(out), str(FRAMES),
                                 "60"], cwd=ROOT, env=ros_env)
    try:
        # A quarter of the recorded speed: the node has time for each frame (its one-slot mailbox drops a frame
        # that a newer one replaces, which can happen while its first inference warms up).
        player = subprocess.run([sys.executable, "-m", "drm_ros.playback", str(bag), "--rate", "0.25",
                                 "--topics", "/camera/image_raw", "/camera/camera_info", "--wait-subscribers", "90"],
                                cwd=ROOT, env=ros_env, capture_output=True, text=True, timeout=150)
        listener.wait(timeout=120)
    finally:
        for proc in (listener, node):
            if proc.poll() is None:
                proc.terminate()
        node_log = node.communicate(timeout=30)[0]
    assert player.returncode == 0, player.stdout + player.stderr
    poses = json.loads(out.read_text())["poses"]
    answered = [round(p["stamp"][1] / 1e8) for p in poses]  # frame index from the stamp (50 s + i / 10 s)
    assert len(poses) >= FRAMES - 1 and answered == sorted(answered), node_log
    assert [p["stamp"] for p in poses] == [[50, i * 100_000_000] for i in answered]
    # The node's ids are track ids: those of drm_core's tracker over the offline predictor on the same frames.
    predictor = load_predictor(None, "torch", "cpu", (256, 160))
    tracker = Tracker(root=predictor.skeleton.root)
    walk = SyntheticWalk(WalkConfig(frames=FRAMES, fps=FPS))
    for i, msg in zip(answered, poses):  # the frames the node answered, in order, as its tracker saw them
        sample = walk[i]
        tracked = tracker.update(predictor.predict(sample.image, sample.camera), 50.0 + i / FPS)
        assert msg["ids"] == tracked.ids.tolist(), (i, msg["ids"], tracked.ids)
        np.testing.assert_allclose(np.array(msg["people"])[..., :3].reshape(-1, 15, 3),
                                   tracked.poses.joints_cam_m, atol=1e-4)
    # The replay runs the node's frame pipeline: its PoseArray3D messages equal the node's, field by field, on the
    # frames the node answered from the first one without a gap (a skipped frame changes what a tracker saw).
    replayed = _replayed_poses(bag, tmp_path / "replay")
    contiguous = [i for n, i in enumerate(answered) if i == n]
    assert contiguous, answered
    for i in contiguous:
        _assert_same_message(poses[i], replayed[i])


def _replayed_poses(bag: Path, out: Path) -> list[dict]:
    """The PoseArray3D messages drm_ros.replay writes for `bag`, with the node's engine and input size."""
    from rclpy.serialization import deserialize_message
    from rosbags.rosbag2 import Reader

    from drm_ros.bag.replay import ReplayOptions, replay
    from drm_ros.bag.schema import POSES_TOPIC

    summary = replay(bag, out, ReplayOptions(engine="torch", device="cpu", input_size=(256, 160), copy_images=False))
    assert summary["processed"] == FRAMES, summary
    with Reader(out / "bag") as reader:
        connections = [c for c in reader.connections if c.topic == POSES_TOPIC]
        return [poses_json(deserialize_message(raw, PoseArray3D)) for _, _, raw in reader.messages(connections)]


def _assert_same_message(live: dict, offline: dict) -> None:
    assert live.keys() == offline.keys()
    for field in live:
        if field in ("scores", "roots", "people"):
            np.testing.assert_allclose(np.array(live[field], float), np.array(offline[field], float), rtol=1e-5,
                                       atol=1e-5, err_msg=field)
        else:
            assert live[field] == offline[field], field
