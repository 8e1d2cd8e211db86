"""drm_ros.record: real video files and image folders written here with OpenCV, real calibration files, the bag read
back with rosbags; bad input fails with a message naming what and where."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from drm_core.data.synthetic_walk import SyntheticWalk, WalkConfig
from drm_ros.frame.image_conversion import image_to_rgb
from drm_ros.msg import PoseArray3D
from drm_ros.bag.record import RecordOptions, camera_from_qca, record
from tests.paths import ROOT

W, H = 160, 120
K = [[150.0, 0.0, 79.5], [0.0, 152.0, 60.0], [0.0, 0.0, 1.0]]
DIST = [-0.1, 0.01, 0.001, -0.002, 0.0]

# The layout of a Qualisys calibration as pose2sim ships it (Demo_*/calibration/Calib.qca.txt): sensor units of
# 1/64 pixel, principal point relative to the video field of view.
QCA = """<?xml version='1.0' encoding='ASCII'?>
<calibration created="test" type="regular">
  <cameras>
    <camera active="1" avg-residual="0.4" model="none" serial="cam01" viewrotation="0">
      <fov_video bottom="1919" left="0" right="1087" top="0"/>
      <transform r11="1" r12="0" r13="0" r21="0" r22="1" r23="0" r31="0" r32="0" r33="1" x="0" y="0" z="0"/>
      <intrinsic centerPointU="34110.3" centerPointV="60680.8" focalLengthU="107599.7" focalLengthV="107588.8"
        focallength="9.3" radialDistortion1="-0.046" radialDistortion2="0.14" radialDistortion3="0"
        sensorMaxU="69568" sensorMaxV="122816" sensorMinU="0" sensorMinV="0" skew="0"
        tangentalDistortion1="0.0006" tangentalDistortion2="0.0007"/>
    </camera>
    <camera active="1" avg-residual="0.4" model="none" serial="cam02" viewrotation="0">
      <fov_video bottom="{b}" left="16" right="{r}" top="8"/>
      <transform r11="1" r12="0" r13="0" r21="0" r22="1" r23="0" r31="0" r32="0" r33="1" x="0" y="0" z="0"/>
      <intrinsic centerPointU="{cu}" centerPointV="{cv}" focalLengthU="{fu}" focalLengthV="{fv}"
        radialDistortion1="0" radialDistortion2="0" radialDistortion3="0" skew="0"
        tangentalDistortion1="0" tangentalDistortion2="0"/>
    </camera>
  </cameras>
</calibration>
""".format(b=8 + H - 1, r=16 + W - 1, cu=(16 + 79.5) * 64, cv=(8 + 60.0) * 64, fu=150.0 * 64, fv=152.0 * 64)


def _frames(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    frames = []
    for i in range(n):  # smooth content (video codecs keep it well) that changes per frame
        img = np.zeros((H, W, 3), np.uint8)
        img[:] = rng.integers(0, 255, 3)
        cv2.circle(img, (20 + 15 * i, 60), 18, (255, 255, 255), -1)
        frames.append(img)
    return frames


def _camera_yaml(path: Path) -> Path:
    path.write_text(yaml.safe_dump({
        "image_width": W, "image_height": H, "camera_name": "test",
        "camera_matrix": {"rows": 3, "cols": 3, "data": sum(K, [])},
        "distortion_model": "plumb_bob", "distortion_coefficients": {"rows": 1, "cols": 5, "data": DIST},
        "rectification_matrix": {"rows": 3, "cols": 3, "data": [1, 0, 0, 0, 1, 0, 0, 0, 1]},
        "projection_matrix": {"rows": 3, "cols": 4, "data": [150, 0, 79.5, 0, 0, 152, 60, 0, 0, 0, 1, 0]}}))
    return path


def _read(bag: Path) -> dict[str, list]:
    types = {"sensor_msgs/msg/Image": Image, "sensor_msgs/msg/CompressedImage": CompressedImage,
             "sensor_msgs/msg/CameraInfo": CameraInfo, "drm_ros/msg/PoseArray3D": PoseArray3D}
    out: dict[str, list] = {}
    with Reader(bag) as reader:
        for conn, t, raw in reader.messages():
            out.setdefault(conn.topic, []).append((t, deserialize_message(raw, types[conn.msgtype])))
    return out


def test_image_folder_with_a_camera_info_yaml(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    frames = _frames(4)
    for i, img in enumerate(frames):
        cv2.imwrite(str(folder / f"frame_{i:03d}.png"), img[..., ::-1])
    (folder / "notes.txt").write_text("not an image")
    summary = record(str(folder), tmp_path / "bag", RecordOptions(fps=5.0, start_time_s=100.0,
                                                                   camera_info=_camera_yaml(tmp_path / "cam.yaml")))
    assert summary["frames"] == 4 and summary["storage"] == "mcap" and not summary["interrupted"]
    assert [p.suffix for p in (tmp_path / "bag").iterdir() if p.name != "metadata.yaml"] == [".mcap"]
    topics = _read(tmp_path / "bag")
    assert set(topics) == {"/camera/image_raw", "/camera/camera_info"}
    times = [t for t, _ in topics["/camera/image_raw"]]
    assert times == [100 * 10**9 + i * 200_000_000 for i in range(4)] == [t for t, _ in topics["/camera/camera_info"]]
    for (t, image), (_, info), expected in zip(topics["/camera/image_raw"], topics["/camera/camera_info"], frames):
        assert image.header == info.header and image.header.stamp.sec * 10**9 + image.header.stamp.nanosec == t
        np.testing.assert_array_equal(image_to_rgb(image), expected)  # PNG -> rgb8: the very pixels
        np.testing.assert_allclose(np.reshape(info.k, (3, 3)), K)
        np.testing.assert_allclose(info.d, DIST)
        assert (info.width, info.height, info.distortion_model) == (W, H, "plumb_bob")


def test_video_with_a_qualisys_calibration_and_compressed_output(tmp_path):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (W, H))
    frames = _frames(6)
    for img in frames:
        writer.write(img[..., ::-1].copy())
    writer.release()
    qca = tmp_path / "Calib.qca.txt"
    qca.write_text(QCA)
    summary = record(str(video), tmp_path / "bag", RecordOptions(start_time_s=10.0, qca=qca, qca_camera="cam02",
                                                                  compressed="jpeg", every=2, storage="sqlite3"))
    assert summary["frames"] == 3 and summary["image_topic"] == "/camera/image_raw/compressed"
    assert [p.suffix for p in (tmp_path / "bag").iterdir() if p.name != "metadata.yaml"] == [".db3"]
    topics = _read(tmp_path / "bag")
    images, infos = topics["/camera/image_raw/compressed"], topics["/camera/camera_info"]
    # The video's own 25 fps; every second frame.
    assert [t for t, _ in images] == [10 * 10**9 + k * 80_000_000 for k in range(3)]
    for (_, image), expected in zip(images, frames[::2]):
        assert image.format == "jpeg"
        assert np.abs(image_to_rgb(image).astype(int) - expected).mean() < 8  # two lossy codecs
    np.testing.assert_allclose(np.reshape(infos[0][1].k, (3, 3)), K, atol=1e-6)


def test_qca_reads_pose2sim_units():
    """cam01 of the pose2sim layout: /64 throughout, principal point minus the field of view's corner."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.qca.txt"
        path.write_text(QCA)
        cam = camera_from_qca(path)
        assert (cam.width, cam.height) == (1088, 1920)
        assert cam.fx == pytest.approx(107599.7 / 64) and cam.cy == pytest.approx(60680.8 / 64)
        np.testing.assert_allclose(cam.dist[:4], np.array([-0.046, 0.14, 0.0006, 0.0007]) / 64)
        with pytest.raises(ValueError, match="no camera with serial 'cam09'.*cam01"):
            camera_from_qca(path, "cam09")


def test_synthetic_walk_carries_ground_truth_with_identities(tmp_path):
    summary = record("synthetic-walk", tmp_path / "bag", RecordOptions(start_time_s=0.5, synthetic_frames=5))
    assert summary["frames"] == summary["ground_truth_frames"] == 5
    topics = _read(tmp_path / "bag")
    walk = SyntheticWalk(WalkConfig(frames=5))
    for i, ((t, gt), (_, image)) in enumerate(zip(topics["/ground_truth/poses"], topics["/camera/image_raw"])):
        ids, joints, _ = walk.people(i)
        assert gt.header == image.header and [p.id for p in gt.people] == ids.tolist()
        got = np.array([[[k.position.x, k.position.y, k.position.z] for k in p.keypoints] for p in gt.people])
        np.testing.assert_allclose(got.reshape(joints.shape), joints)


@pytest.mark.parametrize("args, words", [
    (["nothing_here.avi"], "no such file or folder"),
    (["{folder}"], "give exactly one of --camera-info, --qca or --hfov-deg"),
    (["{folder}", "--camera-info", "{yaml}", "--hfov-deg", "60"], "got --camera-info, --hfov-deg"),
    (["{folder}", "--qca", "{yaml}"], "not a readable Qualisys .qca.txt"),
    (["{big}", "--camera-info", "{yaml}"], "the intrinsics are for 160x120 images, the frames are 320x240"),
])
def test_bad_input_fails_naming_what_and_where(tmp_path, args, words):
    folder, big = tmp_path / "images", tmp_path / "big"
    folder.mkdir()
    big.mkdir()
    cv2.imwrite(str(folder / "a.png"), _frames(1)[0])
    cv2.imwrite(str(big / "a.png"), np.zeros((240, 320, 3), np.uint8))
    values = {"folder": folder, "big": big, "yaml": _camera_yaml(tmp_path / "cam.yaml")}
    argv = [a.format(**values) for a in args]
    proc = subprocess.run([sys.executable, "-m", "drm_ros.record", *argv, "--out", str(tmp_path / "bag")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("error:") and words in proc.stderr, proc.stderr


def test_a_dataset_sequence_read_by_drm_core_with_its_ground_truth(tmp_path):
    """MuPoTS-3D in its real file format (the readers' fixture): each image's own camera, and ground truth of
    the valid people only, in the reader's MPI15 metres."""
    from drm_core.data.registry import open_dataset
    from tests.core.data.test_readers import _coco_style_3d

    path, root, _ = _coco_style_3d(tmp_path, mupots=True)
    summary = record("dataset", tmp_path / "bag", RecordOptions(start_time_s=1.0, dataset="mupots",
                                                                 annotations=str(path), image_root=str(root),
                                                                 sequence="TS3"))
    assert summary["frames"] == summary["ground_truth_frames"] == 2
    topics = _read(tmp_path / "bag")
    reader = open_dataset({"name": "mupots", "annotations": str(path), "image_root": str(root)})
    for i, ((_, image), (_, info), (_, gt)) in enumerate(zip(topics["/camera/image_raw"], topics["/camera/camera_info"],
                                                             topics["/ground_truth/poses"])):
        sample = reader[i]
        np.testing.assert_array_equal(image_to_rgb(image), sample.image)
        np.testing.assert_allclose(np.reshape(info.k, (3, 3)), sample.camera.K)
        valid = np.flatnonzero(sample.meta["gt_valid"])
        assert [p.id for p in gt.people] == valid.tolist() == [0]
        got = np.array([[[k.position.x, k.position.y, k.position.z] for k in p.keypoints] for p in gt.people])
        np.testing.assert_allclose(got.reshape(-1, 15, 3), sample.joints_3d_m[valid])
    with pytest.raises(ValueError, match="no image of sequence 'TS9'"):
        record("dataset", tmp_path / "bag2", RecordOptions(dataset="mupots", annotations=str(path),
                                                           image_root=str(root), sequence="TS9"))
