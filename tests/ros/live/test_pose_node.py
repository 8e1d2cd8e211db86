"""The node in a real process, fed over DDS on localhost by a camera process (tests/ros/node_peers.py):
headers, people, geometry, agreement with the offline predictor and evaluation, bad input, parameters.
Also the node's parts that need no DDS: the newest-frame mailbox, the statistics and the parameter rules."""
from __future__ import annotations

from pathlib import Path
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from drm_core.camera import Camera, project
from drm_core.evaluation.evaluate import record_of
from drm_core.evaluation.mupots import evaluate_mupots
from drm_core.assets import DEFAULT_MODEL_PATH
from drm_core.predictor import load_predictor
from drm_core.tracking import Tracker
from drm_ros.sim.camera_sim import CameraSimConfig, SyntheticCamera
from drm_ros.frame.image_conversion import image_to_rgb
from drm_ros.frame.intrinsics import camera_from_info
from drm_ros.live.latest_frame import LatestFrame
from drm_ros.live.params import PARAMETERS, NodeParams, validate
from drm_ros.live.frame_stats import FrameStats
from tests.conftest import make_ros_env
from tests.ros.node_peers import PARAMETER_CHANGES, script
from tests.paths import ROOT

INPUT = (256, 160)  # small network input: the whole module runs in well under a minute on 2 cores
DECODING = {"score_threshold": 0.05, "max_people": 5}
NODE_ARGS = ["-p", "image_qos:=reliable", "-p", "device:=cpu", "-p", f"input_width:={INPUT[0]}",
             "-p", f"input_height:={INPUT[1]}"] + [a for k, v in DECODING.items() for a in ("-p", f"{k}:={v}")]


def _node(env, *params: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "drm_ros.node", "--ros-args", *NODE_ARGS, *params], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A private copy of the shipped model: the node and the offline predictor must read the same weights."""
    path = tmp_path_factory.mktemp("model") / "model.pt"
    shutil.copy(DEFAULT_MODEL_PATH, path)
    return path


@pytest.fixture(scope="module")
def session(tmp_path_factory, model, offline):
    """Run the scripted camera against the node once; the tests below read the outcome. The node runs the
    default engine (onnxruntime on this CPU) from the export `offline` made and cached."""
    env = make_ros_env()
    out = tmp_path_factory.mktemp("node") / "peer.json"
    node = _node(env, "-p", f"model_path:={model}")
    try:
        peer = subprocess.run([sys.executable, "-m", "tests.ros.node_peers", str(out), "90"], cwd=ROOT, env=env,
                              timeout=120, capture_output=True, text=True)
        alive = node.poll() is None
    finally:
        node.terminate()
        try:
            log = node.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            node.kill()
            log = node.communicate()[0]
    assert peer.returncode == 0, peer.stdout + peer.stderr + log
    assert alive, f"the node died during the session:\n{log}"
    return json.loads(out.read_text()), log


@pytest.fixture(scope="module")
def offline(model):
    return load_predictor(model, "auto", "cpu", INPUT, **DECODING)


def test_every_valid_frame_is_answered_and_no_bad_one(session):
    result, log = session
    steps = script()
    assert [s["label"] for s in result["steps"]] == [s.label for s in steps]
    for step, outcome in zip(steps, result["steps"]):
        assert outcome["answered"] == step.valid, f"{step.label}: answered={outcome['answered']}\n{log[-4000:]}"
    valid = [s for s in steps if s.valid]
    assert [tuple(p["stamp"]) for p in result["poses"]] == \
        [(s.image.header.stamp.sec, s.image.header.stamp.nanosec) for s in valid]
    # Each cause of a dropped frame is named in the log, and every bad frame is counted, none lost as dropped.
    for words in ["no valid CameraInfo for frame 'camera_optical_frame'", "step 959 is less than",
                  "data holds 230300 bytes", "empty, 0x240", "unknown encoding 'rgb9000'",
                  "is 160x120 but its CameraInfo is for 320x240", "CameraInfo refused", "K must be a finite"]:
        assert words in log, f"{words!r} not in the node's log:\n{log}"
    diagnostics = result["diagnostics"]
    assert int(diagnostics["bad_frames"]) == len(steps) - len(valid)
    assert int(diagnostics["processed"]) == len(valid) and int(diagnostics["received"]) == len(steps)
    assert diagnostics["dropped_frames"] == "0" and diagnostics["device"] == "cpu"
    assert diagnostics["engine"].startswith("onnxruntime CPU") and float(diagnostics["latency_p50_ms"]) > 0
    # The node ran the export the offline predictor had cached (and said so, through its ROS log).
    assert re.search(r"\[drm_node\]: .*model.pt: using its cached ONNX export", log), log[:3000]


def test_headers_are_the_images_and_markers_match(session):
    result, _ = session
    valid = [s for s in script() if s.valid]
    assert len(result["markers"]) == len(valid)
    for step, poses, markers in zip(valid, result["poses"], result["markers"]):
        header = step.image.header
        assert poses["frame_id"] == header.frame_id and poses["stamp"] == [header.stamp.sec, header.stamp.nanosec]
        assert markers["headers"] == [[header.stamp.sec, header.stamp.nanosec, header.frame_id]], step.label
        assert poses["skeleton"] == "mpi15" and len(poses["joint_names"]) == 15 and len(poses["bones"]) == 28


def test_poses_equal_the_offline_predictor_and_reproject_through_the_camera_info(session, offline):
    result, _ = session
    people_seen = 0
    trackers: dict[str, Tracker] = {}  # the node tracks people per camera (frame_id)
    for step, poses in zip([s for s in script() if s.valid], result["poses"]):
        camera = camera_from_info(step.used_info)
        expected = offline.predict(image_to_rgb(step.image), camera)
        assert len(poses["people"]) == len(expected), step.label
        stamp = step.image.header.stamp
        tracker = trackers.setdefault(step.image.header.frame_id, Tracker(root=offline.skeleton.root))
        assert poses["ids"] == tracker.update(expected, stamp.sec + stamp.nanosec * 1e-9).ids.tolist(), step.label
        if not len(expected):
            continue
        people_seen += len(expected)
        got = np.array(poses["people"])  # (P, J, 6): x y z u v confidence
        # Every published 3D joint projects through the CameraInfo (distortion included) onto its pixel.
        reprojected = project(got[..., :3].reshape(-1, 3), camera).reshape(got.shape[:2] + (2,))
        assert np.abs(reprojected - got[..., 3:5]).max() < 0.5, step.label
        np.testing.assert_allclose(got[..., :3], expected.joints_cam_m, atol=1e-4, err_msg=step.label)
        np.testing.assert_allclose(got[..., 3:5], expected.joints_uv_px, atol=1e-3, err_msg=step.label)
        np.testing.assert_allclose(np.array(poses["roots"]), expected.joints_cam_m[:, offline.skeleton.root], atol=1e-4)
    assert people_seen > 0, "the model found nobody in any frame: the checks above proved nothing"
    assert any(s.used_info.header.frame_id == "another_camera" for s in script() if s.valid)


def test_error_against_ground_truth_equals_the_offline_evaluation(session, offline):
    result, _ = session
    scored = [(s, p) for s, p in zip([s for s in script() if s.valid], result["poses"]) if s.sample is not None]
    node_records, offline_records = [], []
    for step, poses in scored:
        got = np.array(poses["people"]).reshape(-1, 15, 6)
        node_records.append(record_of(step.sample, SimpleNamespace(joints_cam_m=got[..., :3],
                                                                   joints_uv_px=got[..., 3:5])))
        offline_records.append(record_of(step.sample, offline.predict(step.sample.image, step.sample.camera)))
    node, ref = evaluate_mupots(node_records), evaluate_mupots(offline_records)
    assert ref.num_matched > 0
    assert node.num_matched == ref.num_matched
    for key in ("mpjpe_abs_mm", "mpjpe_rel_mm", "root_error_mm"):
        assert abs(getattr(node, key) - getattr(ref, key)) < 0.5, key  # mm


def test_parameter_changes_are_validated_while_running(session):
    result, _ = session
    changes = result["parameter_changes"]
    assert [(c["name"], c["successful"]) for c in changes] == [(n, ok) for n, _, ok in PARAMETER_CHANGES]
    assert "score_threshold=-1.0 must lie in [0, 1]" in changes[0]["reason"]
    assert "read-only" in changes[1]["reason"] or "read only" in changes[1]["reason"].lower(), changes[1]


def test_compressed_camera_sim_stream_with_fallback_intrinsics(tmp_path, model, offline):
    """The camera simulator's CLI (PNG CompressedImage, ground truth file) into the node with its default
    best-effort QoS, no CameraInfo and fallback intrinsics: every answer equals the offline predictor's."""
    env = make_ros_env()
    fallback = {"fallback_fx": 300.0, "fallback_fy": 310.0, "fallback_cx": 160.0, "fallback_cy": 118.0}
    node = subprocess.Popen(
        [sys.executable, "-m", "drm_ros.node", "--ros-args", "-p", "device:=cpu", "-p", f"model_path:={model}",
         "-p", f"input_width:={INPUT[0]}", "-p", f"input_height:={INPUT[1]}", "-p", "compressed:=true",
         "-p", "camera_info_topic:=no_camera_info", *[a for k, v in {**DECODING, **fallback}.items()
                                                       for a in ("-p", f"{k}:={v}")]],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, truth = tmp_path / "poses.json", tmp_path / "truth.jsonl"
    listener = subprocess.Popen([sys.executable, "-m", "tests.ros.node_peers", "--listen", str(out), "3", "60"],
                                cwd=ROOT, env=env)
    camera = subprocess.Popen([sys.executable, "-m", "drm_ros.camera_sim", "--compressed", "png", "--width", "320",
                               "--height", "240", "--seed", "5", "--scenes", "3", "--distortion-prob", "0",
                               "--rate", "5", "--count", "100", "--wait-subscriber", "40", "--ground-truth",
                               str(truth)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        listener.wait(timeout=90)
    finally:
        for proc in (camera, node):
            proc.terminate()
        camera_log, node_log = camera.communicate(timeout=20)[0], node.communicate(timeout=20)[0]
    assert camera.returncode == 0, camera_log
    assert "CompressedImage '/image/compressed'" in node_log
    assert "QoS best effort, reliable while all publishers are, depth 1" in node_log  # image_qos 'auto'
    assert "fallback fx, fy, cx, cy = (300.0, 310.0, 160.0, 118.0)" in node_log
    records = {tuple(r["stamp"]): r for r in map(json.loads, truth.read_text().splitlines())}
    poses = json.loads(out.read_text())["poses"]
    assert len(poses) == 3, node_log
    sim = SyntheticCamera(CameraSimConfig(320, 240, seed=5, distortion_prob=0.0))
    camera_k = Camera(np.array([[300.0, 0, 160.0], [0, 310.0, 118.0], [0, 0, 1]]), 320, 240)
    for msg in poses:
        record = records[tuple(msg["stamp"])]  # every answer is of a frame the camera sent
        assert msg["frame_id"] == record["frame_id"] == "camera_optical_frame"
        sample = sim.sample(int(record["image_id"].rsplit("-", 1)[1]))
        np.testing.assert_allclose(record["joints_3d_m"], sample.joints_3d_m)
        np.testing.assert_allclose(record["K"], sample.camera.K)
        expected = offline.predict(sample.image, camera_k)  # PNG is lossless: the very same pixels
        got = np.array(msg["people"]).reshape(-1, 15, 6)
        np.testing.assert_allclose(got[..., :3], expected.joints_cam_m, atol=1e-4)


def test_missing_model_exits_non_zero_naming_the_path(ros_env, tmp_path):
    missing = tmp_path / "no_such_model.pt"
    node = _node(ros_env, "-p", f"model_path:={missing}")
    log = node.communicate(timeout=60)[0]
    assert node.returncode != 0 and str(missing) in log, log


def test_bad_parameters_at_start_are_refused_with_reasons(ros_env):
    node = _node(ros_env, "-p", "engine:=foo", "-p", "score_threshold:=-0.5", "-p", "input_width:=100")
    log = node.communicate(timeout=60)[0]
    assert node.returncode != 0, log
    for reason in ["engine='foo' must be one of auto, torch, onnxruntime", "score_threshold=-0.5 must lie in [0, 1]",
                   "input_width=100 must be 0 (the model's own) or a positive multiple of 32"]:
        assert reason in log, log


# --- no DDS ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, value, words", [
    ("engine", "foo", "must be one of"), ("device", "gpu", "must be one of"), ("input_height", 100, "multiple of 32"),
    ("input_width", -32, "multiple of 32"), ("score_threshold", -0.1, "[0, 1]"), ("score_threshold", float("nan"),
                                                                                  "[0, 1]"),
    ("max_people", 0, "1..100"), ("image_qos", "best", "must be one of"), ("image_topic", "", "non-empty"),
    ("fallback_fx", -5.0, "positive focal"), ("model_path", "/no/such/model.pt", "/no/such/model.pt"),
    ("marker_line_width", 0.0, "positive size")])
def test_validate_refuses_bad_values_with_a_reason(name, value, words):
    reason = validate(name, value)
    assert reason is not None and words in reason and name in reason


def test_defaults_and_params_file_are_valid():
    assert all(validate(name, spec[0]) is None for name, spec in PARAMETERS.items())
    params = yaml.safe_load((ROOT / "config" / "drm_node.yaml").read_text())["drm_node"]["ros__parameters"]
    assert params == {name: spec[0] for name, spec in PARAMETERS.items()}
    assert NodeParams.from_values(params).fallback is None
    with pytest.raises(ValueError, match="set both or neither"):
        NodeParams.from_values({**params, "input_width": 320})
    with pytest.raises(ValueError, match="fallback_fx and fallback_fy must both be positive"):
        NodeParams.from_values({**params, "fallback_cx": 160.0})


def test_latest_frame_keeps_only_the_newest_and_counts_the_rest():
    box: LatestFrame[int] = LatestFrame()
    assert box.take(timeout=0.01) is None
    assert [box.put(i) for i in range(3)] == [False, True, True]
    assert box.take(timeout=0.01) == 2 and box.dropped == 2 and box.take(timeout=0.01) is None
    # A slow consumer against a fast producer: it sees increasing items only, and taken + dropped = put.
    seen: list[int] = []

    def consume():
        while (item := box.take(timeout=1.0)) is not None:
            seen.append(item)
            time.sleep(0.002)

    worker = threading.Thread(target=consume)
    worker.start()
    for i in range(100, 400):
        box.put(i)
        time.sleep(0.0002)
    time.sleep(0.05)
    box.close()
    worker.join(timeout=5)
    assert not worker.is_alive() and seen[-1] == 399 and seen == sorted(set(seen))
    assert len(seen) + box.dropped - 2 == 300 and box.dropped > 2


def test_frame_stats_rates_and_latency_percentiles():
    stats = FrameStats()
    start = time.monotonic()
    latencies = [10.0, 20.0, 30.0, 40.0, 100.0]
    for _ in range(10):
        stats.received()
    for latency in latencies:
        stats.processed(latency)
    stats.bad()
    snap = stats.snapshot(dropped=4, now=start + 2.0)
    assert snap.received == 10 and snap.processed == 5 and snap.bad == 1 and snap.dropped == 4
    assert abs(snap.input_rate_hz - 10 / 2.0) < 0.1 and abs(snap.processed_rate_hz - 5 / 2.0) < 0.1
    assert snap.latency_p50_ms == np.percentile(latencies, 50) and snap.latency_p95_ms == np.percentile(latencies, 95)
    later = stats.snapshot(dropped=4, now=start + 3.0)  # a new window: nothing arrived since
    assert later.input_rate_hz == 0 and later.received == 10
    assert dict(later.key_values())["bad_frames"] == "1"
