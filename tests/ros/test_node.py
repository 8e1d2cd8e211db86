"""The node in a real process, fed by a camera process over DDS on localhost: outputs, geometry, bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from builtin_interfaces.msg import Time

from drm_core.camera import project
from drm_core.predictor import DEFAULT_MODEL_PATH, load_predictor
from drm_ros.conversions import camera_from_info, image_to_rgb
from tests.conftest import make_ros_env
from tests.ros.node_peers import DISTORTION, scripted_frames

ROOT = Path(__file__).resolve().parents[2]
NODE_ARGS = ["-p", "image_qos:=reliable", "-p", "device:=cpu", "-p", "max_people:=5", "-p", "score_threshold:=0.05"]


def _node(ros_env, *params: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "drm_ros.node", "--ros-args", *NODE_ARGS, *params], cwd=ROOT,
                            env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Run the scripted camera against the node once; every test reads the outcome."""
    env = make_ros_env()
    out = tmp_path_factory.mktemp("node") / "peer.json"
    node = _node(env)
    try:
        peer = subprocess.run([sys.executable, "-m", "tests.ros.node_peers", str(out), "120"], cwd=ROOT, env=env,
                              timeout=150)
        assert peer.returncode == 0
        assert node.poll() is None, "the node died during the session"
    finally:
        node.terminate()
        log = node.communicate(timeout=20)[0]
    return json.loads(out.read_text()), log


def test_every_valid_frame_is_answered_and_no_bad_one(session):
    result, log = session
    for step in result["steps"]:
        expect = step["label"].startswith("valid")
        assert step["answered"] == expect, f"{step['label']}: answered={step['answered']}\n{log[-3000:]}"
    stamps = [tuple(p["stamp"]) for p in result["poses"]]
    assert stamps == [tuple(s["stamp"]) for s in result["steps"] if s["label"].startswith("valid")]
    # Errors are throttled per cause, so the log names the first bad image; the counters count them all.
    assert "step 1439 is less than" in log and "CameraInfo of frame 'camera_optical_frame' refused" in log, log
    assert result["diagnostics"]["bad_frames"] == "4" and result["diagnostics"]["processed"] == str(len(stamps))
    assert result["diagnostics"]["engine"].startswith("torch on cpu")


def test_header_and_geometry_and_offline_agreement(session):
    result, _ = session
    valid = [s for s in scripted_frames() if s[0].startswith("valid")]
    info = valid[0][2]
    camera = camera_from_info(info)
    assert np.allclose(camera.dist, DISTORTION)
    predictor = load_predictor(None, device="cpu", max_people=5, score_threshold=0.05)
    people_seen = 0
    for (label, image, _, _), poses in zip(valid, result["poses"]):
        assert poses["frame_id"] == image.header.frame_id
        assert poses["stamp"] == [image.header.stamp.sec, image.header.stamp.nanosec]
        offline = predictor.predict(image_to_rgb(image), camera)
        assert len(poses["people"]) == len(offline), label
        if not len(offline):
            continue
        people_seen += len(offline)
        got = np.array(poses["people"])  # (P, J, 6): x y z u v confidence
        # Every published 3D joint projects through the CameraInfo (distortion included) onto its pixel.
        reprojected = project(got[..., :3].reshape(-1, 3), camera).reshape(got.shape[:2] + (2,))
        assert np.abs(reprojected - got[..., 3:5]).max() < 0.5, label
        # The node gives what the offline predictor gives on the same frame (so the same 3D error to GT).
        np.testing.assert_allclose(got[..., :3], offline.joints_cam_m, atol=1e-3, err_msg=label)
        np.testing.assert_allclose(got[..., 3:5], offline.joints_uv_px, atol=1e-2, err_msg=label)
    assert people_seen > 0, "the model found nobody in any frame: the checks above proved nothing"


def test_missing_model_exits_non_zero_naming_the_path(ros_env, tmp_path):
    missing = tmp_path / "no_such_model.pt"
    node = _node(ros_env, "-p", f"model_path:={missing}")
    log = node.communicate(timeout=60)[0]
    assert node.returncode != 0 and "no_such_model.pt" in log


@pytest.mark.parametrize("param, reason", [("engine:=foo", "engine"), ("input_width:=100", "multiple of 32"),
                                           ("score_threshold:=-0.5", "[0, 1]")])
def test_bad_parameters_are_refused_with_a_reason(ros_env, param, reason):
    node = _node(ros_env, "-p", param)
    log = node.communicate(timeout=60)[0]
    assert node.returncode != 0 and reason in log, log


def test_shipped_model_exists_and_is_small():
    assert DEFAULT_MODEL_PATH.is_file() and DEFAULT_MODEL_PATH.stat().st_size <= 20 * 2**20
