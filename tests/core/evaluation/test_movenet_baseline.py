"""MoveNet itself beside the model in real-image reports: the report rows, and the baseline on a real photo."""
from __future__ import annotations

import numpy as np
import pytest

from drm_core.camera import Camera
from drm_core.evaluation.real_images import RealImageResult
from drm_core.evaluation.real_report import Baseline, markdown
from drm_core.model.movenet_weights import FETCH_COMMAND
from drm_core.pose_types import Sample
from drm_core.skeleton import MPI15
from tests.movenet_cache import TF_REFERENCE, USER_CACHE, user_weights_source


def _result(recall: float, fp: float) -> RealImageResult:
    nan = float("nan")
    return RealImageResult(frames=4, gt_people=10, matched=int(recall * 10), predictions=12,
                           false_positives=int(fp * 4), recall=recall, fp_per_image=fp, mean_oks_matched=nan,
                           people_3d=0, matched_3d=0, mpjpe_mm_mean=nan, mpjpe_mm_median=nan,
                           root_error_m_median=nan, root_error_by_distance={}, loose_3d={
                               "people": 0, "mpjpe_mm_median": nan, "root_error_m_median": nan,
                               "root_error_m_median_3_7": nan})


def test_the_report_puts_the_baseline_beside_the_model():
    md = markdown(_result(0.8, 0.25), "t", {}, None, None, Baseline("MoveNet (input 320x256)", _result(0.6, 0.5)))
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Against MoveNet (input 320x256)"))
    assert lines[start + 4] == "| this model | 80.0 % | 0.25 | - |"
    assert lines[start + 5] == "| MoveNet (input 320x256) | 60.0 % | 0.50 | - |"
    assert "Against" not in markdown(_result(0.8, 0.25), "t", {}, None, None)


def test_movenet_finds_the_footballer_in_source_pixels():
    weights = user_weights_source()
    if weights is None:
        pytest.skip(f"MoveNet weights are not in the cache {USER_CACHE}: run `{FETCH_COMMAND}`")
    from drm_core.evaluation.movenet_baseline import MoveNetBaseline

    image = np.load(TF_REFERENCE)["messi5_256/input"][0]
    big = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)  # 512x320: the letterbox must scale back by 2
    camera = Camera(np.array([[400.0, 0, 256], [0, 400.0, 160], [0, 0, 1]]), big.shape[1], big.shape[0])
    sample = Sample(big, camera, np.zeros((0, MPI15.num_joints, 2)), None, np.zeros((0, MPI15.num_joints)), "t")
    at_input = MoveNetBaseline((256, 160), weights=str(weights))(
        Sample(image, camera, sample.joints_2d_px, None, sample.visibility, "t"))
    at_twice = MoveNetBaseline((256, 160), weights=str(weights))(sample)
    assert len(at_input) >= 1 and at_input.scores[0] > 0.5
    assert np.all(np.isnan(at_input.joints_cam_m))  # no 3D
    # The same people, in the pixels of the image given: twice the coordinates for the twice-as-large image.
    np.testing.assert_allclose(at_twice.joints_uv_px[0], 2 * at_input.joints_uv_px[0] + 0.5, atol=2.0)
