"""Bag replay: real rosbag2 files (both storages) written with rosbags, replayed through a model (in this process
or in a real one), read back; damaged bags, skipped frames, an interrupted replay, and the metrics through the
bag path against drm_core's direct evaluation."""
from __future__ import annotations

from pathlib import Path
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from builtin_interfaces.msg import Time
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from sensor_msgs.msg import Image
from visualization_msgs.msg import Marker, MarkerArray

from drm_core.checkpoint import save_checkpoint
from drm_core.codec import CodecConfig
from drm_core.data.synthetic_walk import SyntheticWalk, WalkConfig
from drm_core.evaluation.mupots import FrameRecord, evaluate_mupots
from drm_core.model import ModelConfig, build_model
from drm_core.predictor import load_predictor
from drm_core.skeleton import MPI15
from drm_core.tracking import Tracker
from drm_core.pose_types import Poses3D
from drm_ros.sim.camera_sim import CameraSimConfig, SyntheticCamera
from drm_ros.frame.image_conversion import image_to_rgb
from drm_ros.frame.intrinsics import camera_from_info
from drm_ros.frame.markers import colour_of
from drm_ros.frame.pose_messages import poses_to_msg
from drm_ros.msg import PoseArray3D
from drm_ros.bag.record import RecordOptions, record
from drm_ros.bag.schema import MARKERS_TOPIC, POSES_TOPIC, POSES_TYPE, drm_typestore
from drm_ros.bag.replay import main as replay_main
from tests.paths import ROOT

FRAMES = 3
INPUT = ("256", "160")
IMAGE_TOPIC, INFO_TOPIC = "/camera/image_raw", "/camera/camera_info"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A random-initialised small model (the replay must equal the predictor, whatever the weights)."""
    path = tmp_path_factory.mktemp("model") / "small.pt"
    torch.manual_seed(0)  # weights that find people in these frames (some random draws find nobody)
    return save_checkpoint(path, build_model(ModelConfig.small()), CodecConfig(input_width=256, input_height=160))


def _write_bag(path: Path, storage: StoragePlugin = StoragePlugin.SQLITE3, compressed: str = "",
               frames: int = FRAMES, extra=None) -> list:
    """`frames` synthetic frames: Image, then its CameraInfo at the same bag time (the replay must still pair
    them), and ground-truth poses. `extra(writer, connections)` may add more. Returns [(image, info, sample)]."""
    store = drm_typestore()
    cam = SyntheticCamera(CameraSimConfig(width=320, height=240, seed=5, people=(1, 2), distortion_prob=0.5,
                                          compressed=compressed))
    image_type = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    out = []
    with Writer(path, version=9, storage_plugin=storage) as writer:
        c_img = writer.add_connection(IMAGE_TOPIC, image_type, typestore=store)
        c_info = writer.add_connection(INFO_TOPIC, "sensor_msgs/msg/CameraInfo", typestore=store)
        c_gt = writer.add_connection("/ground_truth/poses", POSES_TYPE, typestore=store)
        for i in range(frames):
            image, info, sample = cam.frame(i % 4, Time(sec=1000 + i, nanosec=5))
            t_ns = (1000 + i) * 10**9 + 5
            writer.write(c_img, t_ns, serialize_message(image))
            writer.write(c_info, t_ns, serialize_message(info))
            people = len(sample.joints_3d_m)
            gt = Poses3D(sample.joints_3d_m, sample.joints_2d_px, np.ones((people, 15)), np.ones(people),
                         MPI15.joint_names)
            writer.write(c_gt, t_ns, serialize_message(poses_to_msg(gt, image.header, MPI15)))
            out.append((image, info, sample))
        if extra:
            extra(writer, {"image": c_img, "info": c_info})
    return out


def _replay(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drm_ros.replay", *args, "--device", "cpu"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, **kwargs)


def _read(bag: Path) -> dict[str, list[tuple[int, str, bytes]]]:
    """topic -> [(bag time, type, raw)] of a bag."""
    out: dict[str, list] = {}
    with Reader(bag) as reader:
        for conn, t, raw in reader.messages():
            out.setdefault(conn.topic, []).append((t, conn.msgtype, raw))
    return out


@pytest.mark.parametrize("storage, compressed, out_storage",
                         [(StoragePlugin.MCAP, "", "mcap"), (StoragePlugin.SQLITE3, "png", "sqlite3")],
                         ids=["mcap-image", "sqlite3-compressed-png"])
def test_replay_round_trips_images_poses_and_markers(tmp_path, model, capsys, storage, compressed, out_storage):
    frames = _write_bag(tmp_path / "bag", storage, compressed)
    # In this process (torch is loaded already); the error tests below run the command as a process.
    code = replay_main([str(tmp_path / "bag"), "--out", str(tmp_path / "out"), "--model", str(model),
                        "--input-size", *INPUT, "--device", "cpu", "--storage", out_storage])
    assert code == 0, capsys.readouterr().err
    assert "MPJPE abs" in capsys.readouterr().out
    out = tmp_path / "out"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == summary["processed"] == summary["ground_truth_frames"] == FRAMES, summary
    assert summary["skipped"] == {} and summary["skipped_frames"] == [] and summary["input_size"] == [256, 160]
    assert summary["metrics"]["num_annotated"] == sum(len(s.joints_3d_m) for _, _, s in frames)
    for name in ("mupots_report.md", "report.md", "contact_sheet.jpg", "per_frame.png"):
        assert (out / name).is_file(), name
    assert "## Tracking and label-free quality" in (out / "report.md").read_text()

    topics = _read(out / "bag")
    image_type = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    assert {t: v[0][1] for t, v in topics.items()} == {
        IMAGE_TOPIC: image_type, INFO_TOPIC: "sensor_msgs/msg/CameraInfo", POSES_TOPIC: POSES_TYPE,
        MARKERS_TOPIC: "visualization_msgs/msg/MarkerArray"}
    image_times = [(1000 + i) * 10**9 + 5 for i in range(FRAMES)]
    for topic in topics:  # one of each per image, at the image's bag time
        assert [t for t, _, _ in topics[topic]] == image_times, topic
    recorded = _read(tmp_path / "bag")
    for topic in (IMAGE_TOPIC, INFO_TOPIC):  # the input messages, byte for byte
        assert [raw for _, _, raw in topics[topic]] == [raw for _, _, raw in recorded[topic]]

    predictor = load_predictor(str(model), device="cpu", input_size=(256, 160))
    tracker = Tracker(root=MPI15.root)
    written = [deserialize_message(raw, PoseArray3D) for _, _, raw in topics[POSES_TOPIC]]
    markers = [deserialize_message(raw, MarkerArray) for _, _, raw in topics[MARKERS_TOPIC]]
    store = drm_typestore()  # the bag is readable without ROS too: rosbags with the types from msg/*.msg
    assert [len(store.deserialize_cdr(raw, POSES_TYPE).people) for _, _, raw in topics[POSES_TOPIC]] == \
        [len(msg.people) for msg in written]
    assert summary["people_per_frame"] == [len(msg.people) for msg in written] and sum(summary["people_per_frame"])
    for (image, info, _), msg, marker in zip(frames, written, markers):
        assert msg.header.stamp == image.header.stamp and msg.header.frame_id == image.header.frame_id
        offline = predictor.predict(image_to_rgb(image), camera_from_info(info))
        ids = tracker.update(offline, image.header.stamp.sec + image.header.stamp.nanosec * 1e-9).ids
        assert [p.id for p in msg.people] == ids.tolist()  # track ids, as the node publishes them
        got = np.array([[[k.position.x, k.position.y, k.position.z] for k in p.keypoints] for p in msg.people])
        np.testing.assert_allclose(got.reshape(offline.joints_cam_m.shape), offline.joints_cam_m, rtol=1e-5,
                                   atol=1e-4)
        bones = [m for m in marker.markers if m.type == Marker.LINE_LIST]
        assert [m.id for m in bones] == ids.tolist()
        for m in bones:  # colours follow the track (float32 on the wire)
            expected = colour_of(m.id)
            np.testing.assert_allclose([m.color.r, m.color.g, m.color.b], [expected.r, expected.g, expected.b],
                                       rtol=1e-6)


def test_every_skipped_frame_is_listed_with_its_reason(tmp_path, model):
    """A good frame, an Image that claims 640x480 rgb8 with 30 bytes, an image of a camera without CameraInfo,
    a corrupt record, a good frame: each bad one listed with bag time, stamp and the node's own error text."""
    bad_times = {}

    def extra(writer, conn):
        short = Image(height=480, width=640, encoding="rgb8", step=640 * 3, data=bytes(30))
        short.header.stamp, short.header.frame_id = Time(sec=2000, nanosec=1), "camera_optical_frame"
        writer.write(conn["image"], 2000 * 10**9 + 1, serialize_message(short))
        other = Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(48))
        other.header.stamp, other.header.frame_id = Time(sec=2001, nanosec=0), "no_info_camera"
        writer.write(conn["image"], 2001 * 10**9, serialize_message(other))
        writer.write(conn["image"], 2002 * 10**9, b"\x00\x01\x00\x00garbage")
        bad_times.update(short=2000 * 10**9 + 1, other=2001 * 10**9, corrupt=2002 * 10**9)

    _write_bag(tmp_path / "bag", StoragePlugin.MCAP, frames=2, extra=extra)
    proc = _replay(str(tmp_path / "bag"), "--out", str(tmp_path / "out"), "--model", str(model),
                   "--input-size", *INPUT)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames"] == 5 and summary["processed"] == 2
    skipped = {f["bag_time_ns"]: f for f in summary["skipped_frames"]}
    assert set(skipped) == set(bad_times.values())
    short, other, corrupt = (skipped[bad_times[k]] for k in ("short", "other", "corrupt"))
    assert short["reason"] == "BadImageError" and short["stamp"] == "2000.000000001" and "30" in short["message"]
    assert other["reason"] == "MissingIntrinsicsError" and "no_info_camera" in other["message"]
    assert corrupt["reason"] == "CorruptMessage" and corrupt["stamp"] is None
    assert summary["skipped"] == {"BadImageError": 1, "MissingIntrinsicsError": 1, "CorruptMessage": 1}
    for entry in skipped.values():  # on stderr as they happen, with the same text
        assert f"(bag time {entry['bag_time_ns'] / 1e9:.6f} s" in proc.stderr and entry["message"] in proc.stderr
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Skipped frames" in report and short["message"] in report
    topics = _read(tmp_path / "out" / "bag")
    assert len(topics[POSES_TOPIC]) == 2 and len(topics[IMAGE_TOPIC]) == 4  # the corrupt record is not copied


@pytest.mark.parametrize("damage", ["truncate-sqlite3", "truncate-mcap", "missing", "topic"])
def test_damaged_or_missing_bag_or_topic_fails_clearly_with_a_report(tmp_path, damage):
    storage = StoragePlugin.MCAP if damage == "truncate-mcap" else StoragePlugin.SQLITE3
    _write_bag(tmp_path / "bag", storage)
    target, extra = tmp_path / "bag", []
    if damage.startswith("truncate"):
        data = next(f for f in target.iterdir() if f.suffix in (".db3", ".mcap"))
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])
    elif damage == "missing":
        target = tmp_path / "nope"
    else:
        extra = ["--image-topic", "/camera/image_rect"]
    proc = _replay(str(target), "--out", str(tmp_path / "out"), *extra)
    assert proc.returncode == 1 and "error:" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (target.name if damage != "topic" else "/camera/image_rect") in proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())  # valid JSON, saying why
    assert summary["error"] in proc.stderr and summary["processed"] == 0
    assert summary["error"] in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_with_valid_partial_outputs(tmp_path, model, sig):
    _write_bag(tmp_path / "bag", StoragePlugin.MCAP, frames=120)
    proc = subprocess.Popen([sys.executable, "-m", "drm_ros.replay", str(tmp_path / "bag"), "--out",
                             str(tmp_path / "out"), "--model", str(model), "--input-size", *INPUT, "--device", "cpu",
                             "--engine", "torch"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "out" / "bag").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(1.0)  # a few frames in
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert f"{sig.name}: stopping after this frame" in stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["interrupted"] is True and 0 < summary["processed"] < 120, summary["processed"]
    topics = _read(tmp_path / "out" / "bag")  # the bag was closed properly: it opens and reads
    assert len(topics[POSES_TOPIC]) == len(topics[MARKERS_TOPIC]) == summary["processed"]
    assert "Interrupted" in (tmp_path / "out" / "report.md").read_text()


def test_metrics_through_the_bag_equal_direct_evaluation(tmp_path, capsys):
    """A synthetic walk recorded with drm_ros.record, replayed with the shipped model (random weights match
    nobody here): the same metrics as drm_core evaluating the predictor's output on the same frames directly,
    and the identities of the ground truth arrive."""
    config = WalkConfig(frames=6, fps=10.0)
    summary_rec = record("synthetic-walk", tmp_path / "walk", RecordOptions(start_time_s=500.0, synthetic_frames=6,
                                                                            seed=config.scene.seed))
    assert summary_rec["frames"] == summary_rec["ground_truth_frames"] == 6
    assert replay_main([str(tmp_path / "walk"), "--out", str(tmp_path / "out"), "--engine", "torch",
                        "--input-size", *INPUT, "--device", "cpu"]) == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())

    walk = SyntheticWalk(config)
    predictor = load_predictor(None, "torch", "cpu", (256, 160))
    records = []
    for i in range(len(walk)):
        sample = walk[i]
        poses = predictor.predict(sample.image, sample.camera)
        records.append(FrameRecord("camera_optical_frame", poses.joints_cam_m, poses.joints_uv_px,
                                   sample.joints_3d_m, sample.joints_2d_px, image_id=str(i)))
    direct = evaluate_mupots(records, rescale_bones=False).to_dict()
    got = summary["metrics"]
    assert got["num_matched"] == direct["num_matched"] > 0 and got["num_annotated"] == direct["num_annotated"]
    for key in ("mpjpe_abs_mm", "mpjpe_rel_mm", "root_error_mm", "recall"):
        assert got[key] == pytest.approx(direct[key], rel=1e-5, abs=1e-3), key
    for key in ("pck_rel", "pck_abs", "pck_root"):
        assert got["matched"][key] == pytest.approx(direct["matched"][key], abs=1e-6), key
    identity = summary["identity"]
    assert identity["gt_people"] == len({p for i in range(len(walk)) for p in walk.people(i)[0]})
