"""The bird's-eye view renders tracks, arrows, ground truth and the field of view without pyplot state."""
from __future__ import annotations

import math

import numpy as np
import pytest

from drm_core.birds_eye import BirdsEyeTrack, birds_eye_figure, field_of_view, save_birds_eye


def test_field_of_view_of_a_centred_camera_is_symmetric():
    left, right = field_of_view(np.array([[320.0, 0, 319.5], [0, 320, 239.5], [0, 0, 1]]), 640)
    assert left == pytest.approx(right) == pytest.approx(math.atan(1.0))


def test_figure_shows_every_track_and_keeps_metres_square(tmp_path):
    tracks = [BirdsEyeTrack(3, np.array([[-1.0, 4.0], [-0.5, 4.1]]), np.array([1.5, 0.2]), (1, 0, 0)),
              BirdsEyeTrack(8, np.array([[2.0, 6.0]]), None)]
    truth = [BirdsEyeTrack(0, np.array([[-1.0, 4.0], [0.0, 4.0]]))]
    fig = birds_eye_figure(tracks, field_of_view(np.array([[300.0, 0, 160], [0, 300, 120], [0, 0, 1]]), 320),
                           ground_truth=truth)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "#3" in texts and "#8" in texts and "1.5 m/s" in texts
    assert ax.get_aspect() == 1.0 and ax.get_ylim()[1] >= 7.0
    path = save_birds_eye(tmp_path / "b.png", tracks)
    assert path.stat().st_size > 1000
