"""Photometric augmentation changes pixels only: labels, camera and 3D stay exactly as they were, except that a
joint under an occluding patch becomes occluded."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from drm_core.camera import Camera
from drm_core.data.photometric import (Occluder, PhotometricConfig, PhotometricParams, apply_photometric,
                                       photometric)
from drm_core.skeleton import MPI15
from drm_core.pose_types import OCCLUDED, VISIBLE, Sample
from drm_core.data.template_scenes import scene

W, H = 200, 160
CAMERA = Camera(np.array([[180.0, 0.0, 100.0], [0.0, 180.0, 80.0], [0.0, 0.0, 1.0]]), W, H)
ALWAYS = PhotometricConfig(hue_prob=1, white_balance_prob=1, gamma_prob=1, blur_prob=1, noise_prob=1, jpeg_prob=1,
                           downscale_prob=1, occluder_prob=1)


def _sample(image: np.ndarray | None = None) -> Sample:
    joints_3d, uv = scene(CAMERA, [(70.0, 90.0, 3.0), (140.0, 80.0, 4.5)])
    vis = np.full(uv.shape[:2], VISIBLE, np.int8)
    if image is None:  # smooth content, so blur and compression change it only a little
        yy, xx = np.mgrid[0:H, 0:W]
        image = np.stack([xx * 255 // W, yy * 255 // H, (xx + yy) * 255 // (W + H)], axis=-1).astype(np.uint8)
    return Sample(image, CAMERA, uv, joints_3d, vis, "test", "0")


def test_off_is_the_identity():
    sample = _sample()
    out = photometric(sample, np.random.default_rng(0), PhotometricConfig.off())
    assert np.array_equal(out.image, sample.image)
    assert np.array_equal(out.visibility, sample.visibility)


@pytest.mark.parametrize("seed", range(5))
def test_labels_and_camera_stay_true_and_the_draw_is_reproducible(seed):
    sample = _sample()
    out = photometric(sample, np.random.default_rng(seed), ALWAYS)
    again = photometric(sample, np.random.default_rng(seed), ALWAYS)
    assert np.array_equal(out.image, again.image)
    assert out.image.shape == sample.image.shape and out.image.dtype == np.uint8
    assert not np.array_equal(out.image, sample.image)
    assert np.array_equal(out.joints_2d_px, sample.joints_2d_px)
    assert np.array_equal(out.joints_3d_m, sample.joints_3d_m)
    assert out.camera is sample.camera
    # Only visible -> occluded, and only where a patch was drawn.
    changed = out.visibility != sample.visibility
    assert np.all(out.visibility[changed] == OCCLUDED)
    assert len(out.meta["photometric"]["occluders"]) >= 1
    # Each change is mild: the picture is still the same picture.
    diff = np.abs(out.image.astype(int) - sample.image.astype(int))
    assert np.median(diff) < 60


def test_occluder_covers_its_box_and_occludes_the_joints_under_it():
    sample = _sample()
    wrist = sample.joints_2d_px[0, MPI15.index("l_wrist")]
    x0, y0 = int(wrist[0]) - 3, int(wrist[1]) - 3
    box = (x0, y0, x0 + 7, y0 + 7)
    params = PhotometricParams(occluders=[Occluder(box, "colour", (255, 0, 255))])
    out = apply_photometric(sample, params)
    assert np.all(out.image[y0:y0 + 7, x0:x0 + 7] == (255, 0, 255))
    outside = np.ones((H, W), bool)
    outside[y0:y0 + 7, x0:x0 + 7] = False
    assert np.array_equal(out.image[outside], sample.image[outside])
    inside = ((sample.joints_2d_px[..., 0] >= box[0]) & (sample.joints_2d_px[..., 0] < box[2])
              & (sample.joints_2d_px[..., 1] >= box[1]) & (sample.joints_2d_px[..., 1] < box[3]))
    assert inside[0, MPI15.index("l_wrist")]
    assert np.array_equal(out.visibility == OCCLUDED, inside)
    assert sample.image[y0, x0].tolist() != [255, 0, 255]  # the input was not written to


def test_unlabelled_joints_stay_unlabelled_under_a_patch():
    sample = _sample()
    sample.visibility[0, :] = 0
    out = apply_photometric(sample, PhotometricParams(occluders=[Occluder((0, 0, W, H), "noise")]))
    assert np.all(out.visibility[0] == 0) and np.all(out.visibility[1] == OCCLUDED)


def test_texture_patch_copies_another_part_of_the_picture():
    sample = _sample()
    out = apply_photometric(sample, PhotometricParams(occluders=[Occluder((10, 20, 40, 50), "texture",
                                                                          source_px=(100, 60))]))
    assert np.array_equal(out.image[20:50, 10:40], sample.image[60:90, 100:130])


def test_hue_turns_red_towards_green():
    red = np.zeros((H, W, 3), np.uint8)
    red[..., 0] = 255
    out = apply_photometric(_sample(red), PhotometricParams(hue_deg=120.0))
    r, g, b = out.image[H // 2, W // 2].astype(int)
    assert g > 200 and r < 40 and b < 40


def test_gamma_and_gain_move_grey_levels_the_right_way():
    grey = np.full((H, W, 3), 128, np.uint8)
    darker = apply_photometric(_sample(grey), PhotometricParams(gamma=1.5)).image
    assert darker.max() < 128
    warm = apply_photometric(_sample(grey), PhotometricParams(channel_gain=(1.1, 1.0, 0.9))).image[0, 0]
    assert warm[0] > 128 and warm[1] == 128 and warm[2] < 128


def test_blur_noise_jpeg_and_low_resolution_keep_the_mean():
    checker = ((np.indices((H, W)).sum(axis=0) // 4) % 2 * 255).astype(np.uint8)
    sample = _sample(np.repeat(checker[..., None], 3, axis=-1))
    for params in (PhotometricParams(blur_sigma_px=1.5), PhotometricParams(motion_length_px=7, motion_angle_deg=30),
                   PhotometricParams(noise_sigma=8.0), PhotometricParams(jpeg_quality=30),
                   PhotometricParams(downscale=0.4)):
        out = apply_photometric(sample, params, seed=3).image
        assert abs(out.mean() - sample.image.mean()) < 6, params
        assert not np.array_equal(out, sample.image), params
    blurred = apply_photometric(sample, PhotometricParams(blur_sigma_px=1.5)).image
    assert blurred.std() < 0.5 * sample.image.std()
    noisy = apply_photometric(_sample(np.full((H, W, 3), 128, np.uint8)), PhotometricParams(noise_sigma=8.0)).image
    assert noisy.std() == pytest.approx(8.0, rel=0.1)


@pytest.mark.parametrize("bad", [dict(blur_prob=1.5), dict(jpeg_quality=(50, 120)), dict(gamma_range=(0.0, 1.2)),
                                 dict(noise_sigma=(5.0, 2.0)), dict(downscale_range=(0.5, 1.5))])
def test_bad_config_is_refused(bad):
    with pytest.raises(ValueError, match="PhotometricConfig"):
        dataclasses.replace(PhotometricConfig(), **bad)
