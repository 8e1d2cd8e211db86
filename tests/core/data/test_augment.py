"""Augmentation keeps geometry true: projecting the new 3D with the new camera gives the new 2D, and the
image content moves with the joints."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from drm_core.camera import Camera, project
from drm_core.data.augment import AugmentConfig, AugmentParams, apply_params, augment
from drm_core.skeleton import MPI15
from drm_core.pose_types import Sample
from drm_core.data.template_scenes import scene

W, H = 200, 160
K = np.array([[180.0, 0.0, 104.5], [0.0, 172.0, 77.0], [0.0, 0.0, 1.0]])  # fx != fy, off-centre
PINHOLE = Camera(K, W, H)
PLUMB_BOB = Camera(K, W, H, np.array([-0.12, 0.05, 0.001, -0.0015, 0.0]))
RATIONAL = Camera(K, W, H, np.array([-0.1, 0.03, -0.002, 0.0012, 0.0, 0.01, 0.0, 0.002]), "rational_polynomial")
FISHEYE = Camera(K, W, H, np.array([0.05, -0.01, 0.002, 0.0]), "equidistant")
GEOMETRY_ONLY = dict(brightness=0.0, contrast=0.0, saturation=0.0)
TRANSFORMS = {
    "scale": AugmentConfig(scale_range=(0.6, 1.5), max_translate=0, max_rotation_deg=0, flip_prob=0, **GEOMETRY_ONLY),
    "translate": AugmentConfig(scale_range=(1, 1), max_translate=0.2, max_rotation_deg=0, flip_prob=0,
                               **GEOMETRY_ONLY),
    "rotate": AugmentConfig(scale_range=(1, 1), max_translate=0, max_rotation_deg=45, flip_prob=0, **GEOMETRY_ONLY),
    "flip": AugmentConfig(scale_range=(1, 1), max_translate=0, max_rotation_deg=0, flip_prob=1.0, **GEOMETRY_ONLY),
    "all": AugmentConfig(scale_range=(0.6, 1.5), max_translate=0.2, max_rotation_deg=45, flip_prob=0.5),
}


def _sample(camera: Camera, image: np.ndarray | None = None) -> Sample:
    joints_3d, uv = scene(camera, [(70.0, 90.0, 3.0), (140.0, 80.0, 4.5)])
    vis = np.full(uv.shape[:2], 2, dtype=np.int8)
    vis[1, MPI15.index("head_top")] = 0  # an unlabelled joint must stay unlabelled and zero
    joints_3d[1, MPI15.index("head_top")] = 0.0
    uv[1, MPI15.index("head_top")] = 0.0
    if image is None:
        image = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    return Sample(image=image, camera=camera, joints_2d_px=uv, joints_3d_m=joints_3d, visibility=vis,
                  dataset="test")


def _projection_error(s: Sample) -> float:
    labelled = s.visibility > 0
    uv = project(s.joints_3d_m[labelled], s.camera)
    return float(np.abs(uv - s.joints_2d_px[labelled]).max())


@pytest.mark.parametrize("undistort", [False, True], ids=["keep_lens", "undistort"])
@pytest.mark.parametrize("camera", [PINHOLE, PLUMB_BOB, RATIONAL, FISHEYE], ids=["pinhole", "plumb_bob", "rational",
                                                                                 "equidistant"])
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_projection_of_new_3d_is_new_2d(name, camera, undistort):
    sample = _sample(camera)
    assert _projection_error(sample) < 1e-6
    rng = np.random.default_rng(1)
    moved = 0.0
    config = dataclasses.replace(TRANSFORMS[name], undistort=undistort)
    for _ in range(40):
        out = augment(sample, rng, config)
        # Inference sees the distorted image, so training keeps the lens unless told to undistort.
        assert out.camera.has_distortion == (camera.has_distortion and not undistort)
        if not undistort:
            assert out.camera.distortion_model == camera.distortion_model
        assert _projection_error(out) < 1e-3
        assert out.image.shape == sample.image.shape
        head = MPI15.index("head_top")
        assert out.visibility[1, head] == 0 and np.all(out.joints_3d_m[1, head] == 0)
        moved = max(moved, float(np.abs(out.joints_2d_px - sample.joints_2d_px).max()))
    assert moved > 5.0  # the transform really did something


def test_rotation_keeps_depth_and_turns_about_optical_axis():
    sample = _sample(PINHOLE)
    out = apply_params(sample, AugmentParams(rotation_deg=90.0))
    np.testing.assert_allclose(out.joints_3d_m[..., 2], sample.joints_3d_m[..., 2])
    np.testing.assert_allclose(out.joints_3d_m[..., 0], -sample.joints_3d_m[..., 1], atol=1e-12)
    np.testing.assert_allclose(out.camera.K, K)


def test_flip_swaps_left_and_right():
    sample = _sample(PINHOLE)
    out = apply_params(sample, AugmentParams(flip=True))
    for side, other in (("l_wrist", "r_wrist"), ("r_knee", "l_knee"), ("l_shoulder", "r_shoulder")):
        a, b = MPI15.index(side), MPI15.index(other)
        np.testing.assert_allclose(out.joints_3d_m[:, a], sample.joints_3d_m[:, b] * [-1, 1, 1])
        np.testing.assert_allclose(out.joints_2d_px[:, a, 0], W - 1 - sample.joints_2d_px[:, b, 0])
    # the template faces the camera with its left shoulder at +X; the mirrored person still does
    root, ls = MPI15.index("pelvis"), MPI15.index("l_shoulder")
    assert sample.joints_3d_m[0, ls, 0] > sample.joints_3d_m[0, root, 0]
    assert out.joints_3d_m[0, ls, 0] > out.joints_3d_m[0, root, 0]
    assert out.camera.cx == pytest.approx(W - 1 - K[0, 2]) and out.camera.fx == pytest.approx(K[0, 0])


def _dot_image(uv: np.ndarray) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    blob = 255 * np.exp(-((xx - uv[0]) ** 2 + (yy - uv[1]) ** 2) / (2 * 1.5 ** 2))
    return np.repeat(blob[..., None], 3, axis=2).round().astype(np.uint8)


def _centroid(image: np.ndarray) -> np.ndarray:
    w = image[..., 0].astype(np.float64)
    yy, xx = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    return np.array([(w * xx).sum(), (w * yy).sum()]) / w.sum()


@pytest.mark.parametrize("camera", [PINHOLE, PLUMB_BOB], ids=["pinhole", "plumb_bob"])
def test_image_content_moves_with_the_joints(camera):
    joint = MPI15.index("l_wrist")
    base = _sample(camera)
    sample = _sample(camera, _dot_image(base.joints_2d_px[0, joint]))
    assert np.linalg.norm(_centroid(sample.image) - sample.joints_2d_px[0, joint]) < 0.05
    rng = np.random.default_rng(3)
    config = dataclasses.replace(TRANSFORMS["all"], **GEOMETRY_ONLY, pad_value=0)
    checked = 0
    for _ in range(30):
        out = augment(sample, rng, config)
        j = MPI15.flip_index()[joint] if out.meta["augment"]["flip"] else joint
        uv = out.joints_2d_px[0, j]
        if not (8 < uv[0] < W - 9 and 8 < uv[1] < H - 9):
            continue  # the dot left the image
        assert np.linalg.norm(_centroid(out.image) - uv) < 1.0
        checked += 1
    assert checked >= 15


def test_colour_jitter_touches_pixels_only():
    sample = _sample(PINHOLE)
    out = apply_params(sample, AugmentParams(brightness=1.2, contrast=0.8, saturation=0.7))
    np.testing.assert_allclose(out.joints_2d_px, sample.joints_2d_px, atol=1e-9)
    np.testing.assert_allclose(out.joints_3d_m, sample.joints_3d_m, atol=1e-12)
    np.testing.assert_allclose(out.camera.K, sample.camera.K, atol=1e-12)
    assert np.abs(out.image.astype(int) - sample.image).mean() > 5


def test_2d_only_sample_moves_like_its_3d_twin():
    with_3d = _sample(PINHOLE)
    only_2d = dataclasses.replace(with_3d, joints_3d_m=None)
    for seed in range(5):
        a = augment(with_3d, np.random.default_rng(seed), TRANSFORMS["all"])
        b = augment(only_2d, np.random.default_rng(seed), TRANSFORMS["all"])
        assert b.joints_3d_m is None
        np.testing.assert_allclose(b.joints_2d_px, a.joints_2d_px)
        np.testing.assert_allclose(b.camera.K, a.camera.K)


def test_same_seed_same_result():
    sample = _sample(PINHOLE)
    a = augment(sample, np.random.default_rng(7))
    b = augment(sample, np.random.default_rng(7))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.joints_2d_px, b.joints_2d_px)


def test_joints_moved_out_of_the_image_stay_labelled_as_occluded():
    sample = _sample(PINHOLE)
    out = apply_params(sample, AugmentParams(translate_px=(-120.0, 0.0)))  # shift left: person 0 leaves
    outside = out.joints_2d_px[..., 0] < 0
    labelled = sample.visibility > 0
    assert outside[labelled].sum() >= 10
    assert np.all(out.visibility[outside & labelled] == 1)  # occluded, not dropped
    np.testing.assert_array_equal(out.joints_3d_m[labelled], sample.joints_3d_m[labelled])  # 3D kept exactly
    assert np.all(out.visibility[~outside & labelled] == 2)
    assert _projection_error(out) < 1e-6
