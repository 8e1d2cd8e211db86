"""Cameras: projection agrees with OpenCV, back-projection inverts it, letterbox keeps geometry."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from drm_core.camera import Camera, InvalidCameraError, Letterbox, backproject, project

K = np.array([[610.0, 0.0, 331.0], [0.0, 605.0, 243.0], [0.0, 0.0, 1.0]])
LENSES = {
    "pinhole": ("plumb_bob", np.zeros(5)),
    "plumb_bob": ("plumb_bob", np.array([-0.21, 0.08, 0.0012, -0.0008, -0.01])),
    "rational_polynomial": ("rational_polynomial", np.array([0.3, -0.1, 0.001, 0.002, 0.01, 0.6, -0.05, 0.02])),
    "equidistant": ("equidistant", np.array([0.05, -0.01, 0.003, -0.001])),
}


def _points(n: int = 200) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform([-1.2, -0.9, 1.0], [1.2, 0.9, 8.0], size=(n, 3))


def _opencv_projection(points: np.ndarray, model: str, dist: np.ndarray) -> np.ndarray:
    zero = np.zeros(3)
    if model == "equidistant":
        return cv2.fisheye.projectPoints(points.reshape(-1, 1, 3), zero, zero, K, dist)[0].reshape(-1, 2)
    return cv2.projectPoints(points, zero, zero, K, dist)[0].reshape(-1, 2)


@pytest.mark.parametrize("lens", sorted(LENSES))
def test_backprojection_roundtrip_agrees_with_opencv(lens):
    model, dist = LENSES[lens]
    camera = Camera(K, 640, 480, dist=dist, distortion_model=model)
    points = _points()
    uv = _opencv_projection(points, model, dist)
    np.testing.assert_allclose(project(points, camera), uv, atol=1e-9)
    recovered = backproject(uv, points[:, 2], camera)
    assert np.abs(_opencv_projection(recovered, model, dist) - uv).max() < 1e-4
    assert np.abs(recovered - points).max() < 1e-5


@pytest.mark.parametrize("bad_K", [np.zeros((3, 3)), np.diag([600.0, 0.0, 1.0]),
                                   np.array([[np.nan, 0, 1], [0, 1, 1], [0, 0, 1]])])
def test_unusable_intrinsics_are_refused(bad_K):
    with pytest.raises(InvalidCameraError):
        Camera(bad_K, 640, 480)


@pytest.mark.parametrize("last_row", [(0, 0, 2.0), (0, 0, 0.5), (1e-3, 0, 1), (0, -2.0, 1), (0, 0, 1 + 1e-6)])
def test_a_K_whose_last_row_is_not_0_0_1_is_refused(last_row):
    K = np.array([[600.0, 0, 320], [0, 600.0, 240], last_row])
    with pytest.raises(InvalidCameraError, match="not a pinhole camera matrix: its last row"):
        Camera(K, 640, 480)
    K[2] = (0, 0, 1)
    assert Camera(K, 640, 480).fx == 600.0  # the same matrix with the right last row is good


def test_unknown_distortion_model_is_refused():
    with pytest.raises(InvalidCameraError, match="unknown distortion model"):
        Camera(K, 640, 480, dist=np.zeros(5), distortion_model="kannala")


def test_letterbox_moves_pixels_and_intrinsics_together():
    camera = Camera(K, 640, 480)
    lb = Letterbox.fit(640, 480, 832, 512)
    points = _points()
    uv_input = lb.to_input(project(points, camera))
    np.testing.assert_allclose(project(points, Camera(lb.input_K(K), 832, 512)), uv_input, atol=1e-9)
    np.testing.assert_allclose(lb.to_source(uv_input), project(points, camera), atol=1e-9)
    assert lb.scale == pytest.approx(512 / 480)


def test_letterbox_warp_puts_a_marked_pixel_where_the_affine_says():
    image = np.zeros((480, 640, 3), np.uint8)
    image[100:110, 200:210] = 255
    lb = Letterbox.fit(640, 480, 416, 256)
    warped = lb.warp(image)
    assert warped.shape == (256, 416, 3)
    ys, xs = np.nonzero(warped[..., 0] > 200)
    centre = lb.to_input(np.array([204.5, 104.5]))
    assert abs(xs.mean() - centre[0]) < 0.6 and abs(ys.mean() - centre[1]) < 0.6
    assert warped[0, 0, 0] == 128  # padding is mid-grey


def test_letterbox_anti_aliases_every_real_shrink_alike():
    """Training crops (shrunk ~0.6x) and camera frames (~0.3x) both get a pre-blur that grows smoothly with the
    shrink, so the network sees one filter (a threshold at 0.5 once blurred only validation-sized images)."""
    sigma = {s: Letterbox.fit(round(640 / s), round(400 / s), 640, 400).blur_sigma for s in (1.0, 0.6, 0.51, 0.49, 0.3)}
    assert sigma[1.0] == 0.0 and sigma[0.6] > 0.2
    assert abs(sigma[0.51] - sigma[0.49]) < 0.05 and sigma[0.3] > sigma[0.49]
    stripes = np.zeros((640, 960, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes alias into a false pattern without the blur
    lb = Letterbox.fit(960, 640, 384, 256)  # 0.4x
    plain = cv2.warpAffine(stripes, lb.matrix, (lb.input_width, lb.input_height), flags=cv2.INTER_LINEAR)
    assert lb.warp(stripes)[10:-10, 10:-10].std() < 0.5 * plain[10:-10, 10:-10].std()
