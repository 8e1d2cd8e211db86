"""Speed and heading errors of reported velocities against ground truth; speed per track without labels."""
from __future__ import annotations

import numpy as np
import pytest

from drm_core.evaluation.temporal import TrackFrame, heading_error_deg, motion_errors, temporal_metrics
from drm_core.skeleton import MPI15


def test_heading_error_is_the_angle_seen_from_above():
    assert heading_error_deg(np.array([1.0, 0, 0]), np.array([0.0, 0, 1])) == pytest.approx(90)
    assert heading_error_deg(np.array([1.0, 5.0, 0]), np.array([1.0, 0, 0])) == pytest.approx(0)  # y is ignored
    assert heading_error_deg(np.array([-1.0, 0, 0.01]), np.array([1.0, 0, 0])) == pytest.approx(179.43, abs=0.01)


def test_motion_errors_per_track_and_overall():
    obs = [(1, np.array([1.2, 0, 0]), np.array([1.0, 0, 0])), (1, np.array([0.0, 0, 1.0]), np.array([1.0, 0, 0])),
           (2, np.array([0.0, 0, 0.05]), np.array([1.5, 0, 0]))]  # too slow for a heading
    result = motion_errors(obs)
    assert result.observations == 3 and result.heading_observations == 2
    assert result.speed_error_m_s_median == pytest.approx(0.2)
    assert result.heading_error_deg_median == pytest.approx(45)
    assert result.per_track[2]["heading_error_deg"] is None
    assert result.per_track[1]["frames"] == 2 and result.per_track[2]["speed_error_m_s"] == pytest.approx(1.45)
    assert motion_errors([]).speed_error_m_s_median is None


def test_speed_per_track_is_the_median_reported_speed():
    joints = np.zeros((1, 15, 3))
    frames = [TrackFrame(0.1 * i, np.array([4]), joints, np.array([[0.0, 0, 0.5 * i]])) for i in range(5)]
    result = temporal_metrics(frames, MPI15.bones)
    assert result.speed_m_s_per_track == {4: pytest.approx(1.0)}
    assert result.to_dict()["speed_m_s_per_track"] == {"4": pytest.approx(1.0)}
    assert temporal_metrics([TrackFrame(0.0, np.array([1]), joints)], MPI15.bones).speed_m_s_per_track == {}
