"""CameraInfo -> Camera (K and D, P for rectified images, ROI and binning) and the per-frame_id store:
bad intrinsics refused and never used, other frames kept apart, sizes checked, fallback intrinsics."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo

from drm_core.camera import InvalidCameraError, project
from drm_ros.frame.intrinsics import IntrinsicsMismatchError, IntrinsicsStore, MissingIntrinsicsError, camera_from_info

K = np.array([[500.0, 0.0, 321.5], [0.0, 505.0, 239.0], [0.0, 0.0, 1.0]])
D = [-0.12, 0.03, 0.001, -0.002, 0.0]
POINTS = np.array([[0.3, -0.2, 3.0], [-1.0, 0.5, 4.0], [0.0, 0.0, 2.0], [1.2, 0.9, 5.0]])


def _info(frame_id: str = "cam", k=K, d=D, width: int = 640, height: int = 480, sec: int = 1,
          model: str = "plumb_bob") -> CameraInfo:
    info = CameraInfo(width=width, height=height, distortion_model=model)
    info.header.frame_id, info.header.stamp.sec = frame_id, sec
    info.k = np.asarray(k, dtype=float).ravel().tolist()
    info.d = list(d)
    info.p = np.hstack([np.asarray(k) * [[0.9], [0.9], [1.0]], np.zeros((3, 1))]).ravel().tolist()
    return info


def test_raw_camera_projects_like_opencv_with_the_distortion():
    camera = camera_from_info(_info())
    assert (camera.width, camera.height, camera.distortion_model) == (640, 480, "plumb_bob")
    expected, _ = cv2.projectPoints(POINTS, np.zeros(3), np.zeros(3), K, np.array(D))
    np.testing.assert_allclose(project(POINTS, camera), expected.reshape(-1, 2), atol=1e-9)


def test_rectified_camera_uses_p_without_distortion():
    camera = camera_from_info(_info(), use_rectified=True)
    np.testing.assert_allclose(camera.K, K * [[0.9], [0.9], [1.0]])
    assert not camera.has_distortion


def test_empty_distortion_model_means_none_and_fisheye_is_equidistant():
    assert not camera_from_info(_info(d=[], model="")).has_distortion
    assert camera_from_info(_info(d=[0.1, 0.01, 0.0, 0.0], model="fisheye")).distortion_model == "equidistant"


def test_roi_and_binning_follow_the_published_image():
    info = _info()
    info.roi.x_offset, info.roi.y_offset, info.roi.width, info.roi.height = 100, 60, 400, 300
    info.binning_x = info.binning_y = 2
    camera = camera_from_info(info)
    assert (camera.width, camera.height) == (200, 150)
    full = project(POINTS, camera_from_info(_info()))
    np.testing.assert_allclose(project(POINTS, camera), (full - [100, 60]) / 2, atol=1e-9)


@pytest.mark.parametrize("change, words", [
    (dict(k=np.zeros((3, 3))), "zero or singular"), (dict(k=np.diag([500.0, 0.0, 1.0])), "zero or singular"),
    (dict(k=K * [[1], [1], [0]]), "zero or singular"),
    (dict(k=K * [[1], [1], [2]]), "last row is [0.0, 0.0, 2.0], not [0, 0, 1]"),
    (dict(k=np.where(K == 500.0, np.nan, K)), "finite"),
    (dict(d=[np.nan, 0, 0, 0, 0]), "not finite"), (dict(model="kannala"), "unknown distortion model"),
    (dict(d=[0.1, 0.2, 0.3]), "3 distortion coefficients"), (dict(width=0), "size must be positive")])
def test_unusable_camera_info_is_refused_naming_the_frame(change, words):
    with pytest.raises(InvalidCameraError, match="CameraInfo of frame 'cam'") as err:
        camera_from_info(_info(**change))
    assert words in str(err.value)


def test_store_keeps_frames_apart_and_never_uses_a_refused_info():
    store = IntrinsicsStore()
    with pytest.raises(MissingIntrinsicsError, match="no valid CameraInfo for frame 'cam'"):
        store.camera_for("cam", 640, 480)
    good = store.update(_info(sec=1))
    with pytest.raises(InvalidCameraError):
        store.update(_info(k=np.zeros((3, 3)), sec=2))
    store.update(_info("left", k=K * [[2], [2], [1]], d=[0] * 5, width=320, height=240, sec=3))
    assert store.frame_ids() == ["cam", "left"]
    assert store.camera_for("cam", 640, 480, (2, 0)) is good  # the refused one (stamp 2) left no trace
    assert store.camera_for("left", 320, 240).fx == 1000.0
    with pytest.raises(MissingIntrinsicsError, match="'right'"):
        store.camera_for("right", 640, 480)


def test_store_matches_the_stamp_else_takes_the_newest():
    store = IntrinsicsStore(keep=3)
    for sec in range(1, 6):
        store.update(_info(k=K * [[sec], [sec], [1]], sec=sec))
    assert store.camera_for("cam", 640, 480, (4, 0)).fx == 2000.0
    assert store.camera_for("cam", 640, 480, (1, 0)).fx == 2500.0  # forgotten (keep=3): the newest
    assert store.camera_for("cam", 640, 480).fx == 2500.0


def test_image_size_mismatch_is_refused_not_rescaled():
    store = IntrinsicsStore()
    store.update(_info())
    with pytest.raises(IntrinsicsMismatchError, match="image of frame 'cam' is 320x240 but its CameraInfo is for "
                                                      "640x480"):
        store.camera_for("cam", 320, 240)


def test_fallback_intrinsics_serve_frames_without_camera_info():
    store = IntrinsicsStore(fallback=(400.0, 410.0, 160.0, 120.0))
    camera = store.camera_for("any", 320, 240)
    np.testing.assert_array_equal(camera.K, [[400.0, 0, 160.0], [0, 410.0, 120.0], [0, 0, 1]])
    assert (camera.width, camera.height, camera.has_distortion) == (320, 240, False)
    store.update(_info("any"))  # a real CameraInfo wins once it arrives
    assert store.camera_for("any", 640, 480).fx == 500.0


def test_rectified_store_uses_p():
    store = IntrinsicsStore(use_rectified=True)
    store.update(_info())
    assert store.camera_for("cam", 640, 480).fx == pytest.approx(450.0)
