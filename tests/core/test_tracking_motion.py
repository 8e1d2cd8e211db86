"""What the tracker tells a robot besides ids: root velocity, track state and age, coasting tracks."""
from __future__ import annotations

import numpy as np
import pytest

from drm_core.data.synthetic_walk import SyntheticWalk, WalkConfig
from drm_core.pose_types import Poses3D
from drm_core.skeleton import MPI15
from drm_core.tracking import COASTING, CONFIRMED, TENTATIVE, Tracker, TrackerConfig

ROOT = MPI15.root


def _poses(xyz: np.ndarray, uv: np.ndarray) -> Poses3D:
    n = len(xyz)
    return Poses3D(xyz, uv, np.ones((n, 15)), np.ones(n), MPI15.joint_names)


def test_velocity_follows_the_ground_truth_of_a_fast_walk_with_depth_noise():
    walk = SyntheticWalk(WalkConfig(frames=40, fps=10.0, speed_m_s=(1.0, 2.0)))
    tracker = Tracker()
    rng = np.random.default_rng(0)
    errors = []
    for i in range(len(walk)):
        ids, xyz, uv = walk.people(i)
        noisy = xyz * (1 + rng.normal(0, 0.02, (len(ids), 1, 1)))  # 2 % depth scale noise per person and frame
        tracked = tracker.update(_poses(noisy, uv + rng.normal(0, 2, uv.shape)), walk.time_s(i))
        truth = walk.velocities(ids)
        for k, tid in enumerate(tracked.ids):
            if tracked.states[k] == CONFIRMED and tracked.ages_s[k] >= 1.0:
                errors.append(abs(np.linalg.norm(tracked.velocities_m_s[k]) - np.linalg.norm(truth[k])))
    assert len(errors) > 30
    assert np.median(errors) < 0.2, np.median(errors)
    assert np.all(np.linalg.norm(walk.velocities(range(len(walk.scene.people))), axis=1) >= 1.0)


def test_states_ages_and_velocity_of_one_person_walking_at_a_constant_velocity():
    tracker = Tracker(TrackerConfig(confirm_frames=3))
    base = np.random.default_rng(1).normal(0, 0.3, (15, 3)) + [0, 0, 5]
    uv = np.random.default_rng(2).uniform(100, 300, (15, 2))
    velocity = np.array([1.2, 0.0, -0.5])
    states, ages = [], []
    for i in range(6):
        t = 10.0 + 0.1 * i
        out = tracker.update(_poses(base[None] + velocity * 0.1 * i, uv[None]), t)
        states.append(int(out.states[0]))
        ages.append(float(out.ages_s[0]))
        assert out.coasting is not None and len(out.coasting.poses) == 0
    assert states == [TENTATIVE, TENTATIVE, CONFIRMED, CONFIRMED, CONFIRMED, CONFIRMED]
    np.testing.assert_allclose(ages, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5], atol=1e-9)
    np.testing.assert_allclose(out.velocities_m_s[0], velocity, atol=1e-9)  # a line fit is exact on a line


def test_a_person_unseen_for_a_moment_is_coasting_at_their_velocity_then_back_with_the_same_id():
    tracker = Tracker()
    base = np.zeros((15, 3)) + [0, 0, 4]
    uv = np.tile([[200.0, 150.0]], (15, 1)) + np.arange(15)[:, None]
    velocity = np.array([1.0, 0.0, 0.0])
    for i in range(5):
        first = tracker.update(_poses(base[None] + velocity * 0.1 * i, uv[None]), 0.1 * i)
    track_id = int(first.ids[0])
    hidden = tracker.update(Poses3D.empty(MPI15.joint_names), 0.7)
    assert len(hidden.poses) == 0
    coasting = hidden.coasting
    assert coasting.ids.tolist() == [track_id] and coasting.states.tolist() == [COASTING]
    np.testing.assert_allclose(coasting.poses.joints_cam_m[0, ROOT], base[ROOT] + velocity * 0.7, atol=1e-9)
    assert np.all(coasting.poses.joint_conf == 0) and coasting.poses.scores[0] == 0
    assert coasting.ages_s[0] == pytest.approx(0.7)
    both = hidden.with_coasting()
    assert both.ids.tolist() == [track_id] and both.states.tolist() == [COASTING]
    back = tracker.update(_poses(base[None] + velocity * 0.8, uv[None]), 0.8)
    assert back.ids.tolist() == [track_id] and back.states.tolist() == [CONFIRMED]
    assert len(back.coasting.poses) == 0
    gone = tracker.update(Poses3D.empty(MPI15.joint_names), 2.0)  # unseen for over max_age_s: dead
    assert len(gone.coasting.poses) == 0


def test_tracked_poses_without_motion_fields_default_to_new_tentative_tracks():
    from drm_core.tracking import TrackedPoses

    tracked = TrackedPoses(_poses(np.zeros((2, 15, 3)), np.zeros((2, 15, 2))), np.array([4, 5]))
    assert tracked.velocities_m_s.shape == (2, 3) and tracked.states.tolist() == [TENTATIVE] * 2
    assert tracked.with_coasting().ids.tolist() == [4, 5]
    with pytest.raises(ValueError, match="confirm_frames"):
        TrackerConfig(confirm_frames=0)
