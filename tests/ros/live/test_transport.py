"""Camera-sized images reach the node from another process over DDS with its defaults, and the node
says so loudly when they do not.

Real processes: `python -m drm_ros.node` with default parameters (image_qos 'auto') and a publisher process
(tests/ros/node_peers.py --stream) sending rgb8 frames with their CameraInfo, slower than the node's rate, so
every frame must come back as a PoseArray3D. The environment is scripts/env.sh's, which sets
FASTDDS_DEFAULT_PROFILES_FILE=config/fastdds_large_images.xml for every process; one case removes it from the
publisher's process, as for a camera driver started outside this project.
"""
from __future__ import annotations

from pathlib import Path
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import make_ros_env
from tests.paths import ROOT

FRAMES, PERIOD_S = 4, 0.8  # a handful, slower than the node's rate (its 1080p frame takes ~0.1-0.3 s here)
NODE_ARGS = ["-p", "device:=cpu"]


def start_node(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "drm_ros.node", "--ros-args", *NODE_ARGS, *args], cwd=ROOT,
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def stop_node(proc: subprocess.Popen, log: Path) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    text = log.read_text()
    assert proc.returncode == 0 and "Traceback" not in text, text[-3000:]
    return text


def stream(env: dict[str, str], out: Path, width: int, height: int, reliability: str, count: int = FRAMES,
           wait_s: float = 30.0) -> dict:
    peer = subprocess.run([sys.executable, "-m", "tests.ros.node_peers", "--stream", str(out), str(width), str(height),
                           reliability, str(count), str(PERIOD_S), str(wait_s)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert peer.returncode == 0, peer.stdout + peer.stderr
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """One node with default parameters for the module: (its environment, its log file)."""
    env = make_ros_env()
    log = tmp_path_factory.mktemp("node") / "node.log"
    proc = start_node(env, log)
    yield env, log
    stop_node(proc, log)


@pytest.mark.parametrize("width, height", [(1920, 1080), (1280, 720)])
@pytest.mark.parametrize("reliability", ["best_effort", "reliable"])
def test_every_hd_frame_arrives_from_either_kind_of_publisher(node, tmp_path, width, height, reliability):
    env, _ = node
    result = stream(env, tmp_path / "peer.json", width, height, reliability)
    answered = {tuple(s) for s in result["answered"]}
    missing = [s for s in result["sent"] if tuple(s) not in answered]
    assert not missing, f"{len(missing)} of {len(result['sent'])} frames never answered: {missing}"


def test_a_reliable_camera_without_the_profile_still_delivers_hd(node, tmp_path):
    """A driver started outside this project (no FASTDDS_DEFAULT_PROFILES_FILE): 'auto' turns reliable."""
    env, log = node
    bare = {k: v for k, v in env.items() if k != "FASTDDS_DEFAULT_PROFILES_FILE"}
    result = stream(bare, tmp_path / "peer.json", 1920, 1080, "reliable")
    assert len({tuple(s) for s in result["answered"]}) == len(result["sent"]) == FRAMES
    assert "are all reliable: subscribing reliable" in log.read_text()
    assert any(d["values"].get("image_subscription") == "reliable" for d in result["diagnostics"])


def test_a_publisher_whose_frames_never_arrive_turns_the_diagnostics_warn(node, tmp_path):
    """A publisher that sends nothing stands for one whose frames are all lost (1080p best effort from a
    process without the profile: Fast DDS dropped most, none or all of them in different runs here)."""
    env, log = node
    result = stream(env, tmp_path / "peer.json", 1920, 1080, "best_effort", count=0, wait_s=6.0)
    warned = [d for d in result["diagnostics"] if d["level"] == 1 and "but no image for" in d["message"]]
    assert warned, [d["message"] for d in result["diagnostics"]]
    assert warned[-1]["values"]["image_publishers"] == "1"
    text = log.read_text()
    assert "but no image for" in text and "FASTDDS_DEFAULT_PROFILES_FILE" in text


def test_an_incompatible_publisher_is_reported(tmp_path):
    """image_qos 'reliable' and a best-effort camera: the QoS event is logged and the diagnostics WARN."""
    env = make_ros_env()
    log = tmp_path / "node.log"
    proc = start_node(env, log, "-p", "image_qos:=reliable")
    try:
        result = stream(env, tmp_path / "peer.json", 320, 240, "best_effort", count=4, wait_s=1.5)
    finally:
        text = stop_node(proc, log)
    assert result["answered"] == []
    assert "offers a QoS incompatible with this node's reliable subscription (policy RELIABILITY" in text, text
    assert any(d["level"] == 1 and "incompatible" in d["message"] for d in result["diagnostics"]), \
        [d["message"] for d in result["diagnostics"]]
