"""The node's optional TF output (publish_tf) with real processes: a stand-in tf2_msgs package (ROS 2's
TFMessage definition; tf2_msgs is not on PyPI) is built with colcon like the project's own messages, the node
and a listener import it, and the body_<id> frames on /tf are checked against the PoseArray3D of the same image:
origin at the published root within 1 mm, REP 155 axes (X forward out of the chest, Y left, Z up), right-handed.
Without tf2_msgs the node says so once and runs on."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from drm_core.body_frames import rotation_of_quaternion
from drm_core.predictor import DEFAULT_MODEL_PATH
from drm_core.skeleton import MPI15
from drm_ros.msg import Person3D
from tests.conftest import make_ros_env
from tests.paths import ROOT

STAND_IN = ROOT / "tests" / "ros" / "stand_in" / "tf2_msgs"
NODE_ARGS = ["-p", "device:=cpu", "-p", "input_width:=256", "-p", "input_height:=160", "-p", "score_threshold:=0.05",
             "-p", "max_people:=5"]


@pytest.fixture(scope="session")
def tf2_msgs_prefix(tmp_path_factory) -> Path:
    """The stand-in tf2_msgs built with colcon into a fresh install prefix (about 15-30 s)."""
    base = tmp_path_factory.mktemp("tf2_msgs")
    log = base / "colcon.log"
    with log.open("w") as out:
        result = subprocess.run(
            ["colcon", "--log-base", str(base / "log"), "build", "--merge-install", "--base-paths", str(STAND_IN),
             "--build-base", str(base / "build"), "--install-base", str(base / "install"),
             "--event-handlers", "console_cohesion-", "summary-", "--cmake-args",
             f"-DPython3_EXECUTABLE={sys.executable}", "-DBUILD_TESTING=OFF"],
            stdout=out, stderr=subprocess.STDOUT, timeout=300)
    assert result.returncode == 0, log.read_text()[-3000:]
    return base / "install"


def _with_prefix(env: dict[str, str], prefix: Path) -> dict[str, str]:
    """`env` with the prefix's Python package, shared libraries and ament index first."""
    site = prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    env = dict(env)
    for name, path in [("PYTHONPATH", site), ("LD_LIBRARY_PATH", prefix / "lib"), ("AMENT_PREFIX_PATH", prefix)]:
        env[name] = f"{path}{os.pathsep}{env[name]}" if env.get(name) else str(path)
    return env


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "model.pt"
    shutil.copy(DEFAULT_MODEL_PATH, path)
    return path


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        return proc.communicate(timeout=20)[0] or ""
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[0] or ""


def test_body_frames_on_tf_follow_rep_155_and_the_published_roots(tmp_path, tf2_msgs_prefix, model):
    env = _with_prefix(make_ros_env(), tf2_msgs_prefix)
    out = tmp_path / "tf.json"
    node = subprocess.Popen([sys.executable, "-m", "drm_ros.node", "--ros-args", *NODE_ARGS, "-p",
                             f"model_path:={model}", "-p", "publish_tf:=true"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    listener = subprocess.Popen([sys.executable, "-m", "tests.ros.tf_peer", str(out), "3", "150"], cwd=ROOT, env=env)
    # One scene over and over: the same people in every image, so their tracks are confirmed from the third.
    camera = subprocess.Popen([sys.executable, "-m", "drm_ros.camera_sim", "--width", "320", "--height", "240",
                               "--seed", "5", "--scenes", "1", "--people", "2", "3", "--distortion-prob", "0",
                               "--rate", "5", "--count", "0", "--wait-subscriber", "60"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        listener.wait(timeout=180)
    finally:
        camera_log, node_log = _stop(camera), _stop(node)
        if listener.poll() is None:
            listener.kill()
    assert listener.returncode == 0, node_log + camera_log
    assert "TF body frames on '/tf'" in node_log, node_log
    records = json.loads(out.read_text())
    assert len(records) >= 3
    for record in records:
        by_child = {t["child"]: t for t in record["transforms"]}
        confirmed = [p for p in record["people"] if p["state"] == Person3D.STATE_CONFIRMED]
        assert confirmed
        bodies = {c for c in by_child if c.startswith("body_")}
        assert bodies == {f"body_{p['id']}" for p in confirmed}  # confirmed tracks only
        for person in confirmed:
            body = by_child[f"body_{person['id']}"]
            assert body["parent"] == record["frame_id"] == "camera_optical_frame"
            np.testing.assert_allclose(body["t"], person["root"], atol=1e-3)
            x, y, z = rotation_of_quaternion(body["q"]).T
            joints = {n: np.array(v) for n, v in zip(MPI15.joint_names, person["joints"])}
            hips, torso = joints["l_hip"] - joints["r_hip"], joints["neck"] - joints["pelvis"]
            assert np.dot(y, hips) > 0.99 * np.linalg.norm(hips)  # Y: the person's left
            assert abs(np.dot(x, hips)) < 1e-6 and abs(np.dot(z, hips)) < 1e-6
            assert np.dot(z, torso) > 0  # Z: up the torso
            np.testing.assert_allclose(np.cross(y, z), x, atol=1e-6)  # right-handed: X = Y x Z, out of the chest
            assert np.dot(x, np.cross(hips, torso)) > 0
            for link in ("torso", "head", "l_shoulder", "r_knee"):
                assert by_child[f"{link}_{person['id']}"]["parent"] == f"body_{person['id']}"
            # a link's origin, taken back through the body frame, is where its joint was published
            shoulder = by_child[f"l_shoulder_{person['id']}"]["t"]
            np.testing.assert_allclose(rotation_of_quaternion(body["q"]) @ shoulder + body["t"],
                                       joints["l_shoulder"], atol=1e-3)


def test_without_tf2_msgs_the_node_says_so_once_and_runs_on(ros_env, model):
    from drm_ros.frame.tf_frames import tf_message_type

    if tf_message_type()[0] is not None:
        pytest.skip("tf2_msgs is installed here (a ROS install): nothing to miss")
    node = subprocess.Popen([sys.executable, "-m", "drm_ros.node", "--ros-args", *NODE_ARGS, "-p",
                             f"model_path:={model}", "-p", "publish_tf:=true"], cwd=ROOT, env=ros_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and node.poll() is None:
        line = node.stdout.readline()
        lines.append(line)
        if "DRM on " in line:  # the start-up line comes after the TF check
            break
    alive = node.poll() is None
    log = "".join(lines) + _stop(node)
    assert alive, log
    assert log.count("publish_tf is true but tf2_msgs is not importable") == 1, log
    assert "ros-<distro>-tf2-msgs" in log
