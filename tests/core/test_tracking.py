"""Tracking on a synthetic walk with ground-truth identities: crossings, a short occlusion, births and deaths."""
from __future__ import annotations

import numpy as np
import pytest

from drm_core.data.synthetic_walk import SyntheticWalk, WalkConfig
from drm_core.evaluation.temporal import TrackFrame, id_switches, temporal_metrics
from drm_core.skeleton import MPI15
from drm_core.smoothing import OneEuroConfig, OneEuroFilter
from drm_core.tracking import Tracker, TrackerConfig
from drm_core.pose_types import Poses3D

ROOT = MPI15.root


def _detections(walk: SyntheticWalk, index: int, rng: np.random.Generator, hide: set[int] = frozenset(),
                depth_noise_m: float = 0.15, pixel_noise: float = 3.0) -> tuple[np.ndarray, Poses3D]:
    """What a detector would report: ground truth with noise (per person depth error, per joint pixel error),
    in shuffled order, without the identities in `hide`."""
    ids, xyz, uv = walk.people(index)
    keep = np.array([i not in hide for i in ids], bool)
    ids, xyz, uv = ids[keep], xyz[keep].copy(), uv[keep].copy()
    xyz *= (1 + rng.normal(0, depth_noise_m / 4, (len(ids), 1, 1)))  # a scale error: whole body moves in depth
    xyz += rng.normal(0, 0.02, xyz.shape)
    uv += rng.normal(0, pixel_noise, uv.shape)
    order = rng.permutation(len(ids))
    n = len(ids)
    return ids[order], Poses3D(xyz[order], uv[order], np.ones((n, 15)), np.ones(n), MPI15.joint_names)


def _crossings(walk: SyntheticWalk) -> int:
    """Pairs of people whose image order (pelvis column) flips while both are in view."""
    last: dict[tuple[int, int], bool] = {}
    flips = 0
    for i in range(len(walk)):
        ids, _, uv = walk.people(i)
        for a in range(len(ids)):
            for b in range(a + 1, len(ids)):
                key, left = (int(ids[a]), int(ids[b])), bool(uv[a, ROOT, 0] < uv[b, ROOT, 0])
                flips += key in last and last[key] != left
                last[key] = left
    return flips


def _run(walk: SyntheticWalk, tracker: Tracker, hidden: dict[int, set[int]], seed: int = 0):
    rng = np.random.default_rng(seed)
    matches, frames = [], []
    for i in range(len(walk)):
        gt_ids, poses = _detections(walk, i, rng, hidden.get(i, set()))
        tracked = tracker.update(poses, walk.time_s(i))
        matches.append({int(g): int(t) for g, t in zip(gt_ids, tracked.ids)})
        frames.append(TrackFrame(walk.time_s(i), tracked.ids, tracked.poses.joints_cam_m))
    return matches, frames


def test_ids_survive_crossings_and_a_short_occlusion():
    walk = SyntheticWalk(WalkConfig(frames=60, fps=10.0))
    assert _crossings(walk) >= 2, "the test sequence must contain crossings"
    # Person 0 hidden for 4 frames (0.4 s) right where it crosses person 1 (a real occlusion's timing).
    crossing = next(i for i in range(1, 60) if _order_flipped(walk, i, 0, 1))
    hidden = {i: {0} for i in range(crossing - 2, crossing + 2)}
    matches, frames = _run(walk, Tracker(), hidden)
    result = id_switches(matches)
    assert result.gt_people == 3
    assert result.id_switches == 0, matches
    assert result.fragments == 3  # one track per person, the occluded one included
    assert all(0 not in matches[i] for i in hidden)  # it really was hidden


def _order_flipped(walk: SyntheticWalk, i: int, a: int, b: int) -> bool:
    def order(k):
        ids, _, uv = walk.people(k)
        where = {int(p): uv[n, ROOT, 0] for n, p in enumerate(ids)}
        return None if a not in where or b not in where else where[a] < where[b]
    before, now = order(i - 1), order(i)
    return before is not None and now is not None and before != now


def test_a_track_hidden_too_long_dies_and_the_person_is_born_again():
    walk = SyntheticWalk(WalkConfig(frames=40, fps=10.0))
    hidden = {i: {1} for i in range(10, 25)}  # 1.5 s > max_age_s = 1.0
    matches, _ = _run(walk, Tracker(TrackerConfig(max_age_s=1.0)), hidden)
    before = {m[1] for m in matches[:10] if 1 in m}
    after = {m[1] for m in matches[25:] if 1 in m}
    assert len(before) == len(after) == 1 and before != after  # a new id: ids are never reused
    assert id_switches(matches).id_switches == 1


def test_the_greedy_fallback_keeps_ids_too(monkeypatch):
    import drm_core.tracking as tracking

    monkeypatch.setattr(tracking, "linear_sum_assignment", None)  # as in an environment without scipy
    walk = SyntheticWalk(WalkConfig(frames=60, fps=10.0))
    matches, _ = _run(walk, Tracker(), {}, seed=3)
    assert id_switches(matches).id_switches == 0


def test_without_the_2d_and_3d_cues_ids_do_switch():
    """The test can fail: a tracker whose gates ignore motion (no velocity) and only look at a tiny 2D gate
    loses people at every crossing of this sequence."""
    walk = SyntheticWalk(WalkConfig(frames=60, fps=10.0))
    weak = TrackerConfig(max_pose_distance=0.02, max_root_distance_m=0.05, velocity_smoothing=1e-6)
    matches, _ = _run(walk, Tracker(weak), {})
    result = id_switches(matches)
    assert result.fragments > 3


def test_smoothing_reduces_jitter_and_keeps_bone_lengths():
    walk = SyntheticWalk(WalkConfig(frames=60, fps=10.0))
    _, raw = _run(walk, Tracker(), {}, seed=1)
    _, smooth = _run(walk, Tracker(smoothing=OneEuroConfig()), {}, seed=1)
    raw_m = temporal_metrics(raw, MPI15.bones)
    smooth_m = temporal_metrics(smooth, MPI15.bones)
    assert smooth_m.jitter_m_s2_median < 0.7 * raw_m.jitter_m_s2_median
    assert raw_m.tracks == smooth_m.tracks == 3 and raw_m.frames_with_nobody == 0
    assert raw_m.bone_cv_percent_median > 0


def test_one_euro_lag_matches_its_statement():
    config = OneEuroConfig(min_cutoff_hz=1.0, beta=0.0)
    assert config.lag_s() == pytest.approx(1 / (2 * np.pi), rel=1e-9)
    f = OneEuroFilter(config)
    # A step from 0 to 1 m at 100 Hz: after one time constant the output has covered 1 - 1/e of the step.
    f(np.zeros((1, 3)), np.zeros((1, 2)), 0.0)
    t, out = 0.0, 0.0
    while out < 1 - np.exp(-1):
        t += 0.01
        out = f(np.ones((1, 3)), np.ones((1, 2)), t)[0][0, 0]
    assert t == pytest.approx(config.lag_s(), abs=0.02)


def test_temporal_metrics_on_hand_made_tracks():
    bones = ((0, 1),)
    frames = []
    for k in range(6):
        j = np.array([[[0.0, 0, 1 + 0.1 * k ** 2], [0.0, 1.0 + (0.1 if k == 3 else 0.0), 1]]])  # acc 0.2 m/frame^2
        frames.append(TrackFrame(k * 0.5, np.array([7]), j))
    frames.append(TrackFrame(3.0, np.zeros(0, int), np.zeros((0, 2, 3))))
    m = temporal_metrics(frames, bones)
    assert m.frames == 7 and m.frames_with_nobody == 1 and m.tracks == 1 and m.short_tracks == 0
    lengths = np.array([1, 1, 1, 1.1, 1, 1])
    expected_len = np.hypot(lengths, 1 - (1 + 0.1 * np.arange(6) ** 2))
    assert m.bone_cv_percent_per_track[7] == pytest.approx(expected_len.std() / expected_len.mean() * 100)
    assert m.jitter_per_frame_m_s2[6] is None and m.jitter_per_frame_m_s2[0] is None
    # Joint 0 accelerates 0.2 m per frame^2 = 0.8 m/s^2 at dt = 0.5 s.
    assert min(v for v in m.jitter_per_frame_m_s2 if v is not None) >= 0.0
    assert id_switches([{0: 1}, {0: 1}, {0: 2}, {}, {0: 2}, {0: 1}]).id_switches == 2
