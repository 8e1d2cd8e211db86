"""Person tracking: ids that stay with a person across frames (births, deaths, short occlusions).

Each frame's people are associated with the live tracks by a cost that adds two gated distances, each
divided by its gate:
- the 3D root (pelvis) against the track's constant-velocity prediction, with the depth axis down-weighted
  (monocular depth is the noisiest coordinate);
- the 2D pose: mean pixel distance of the joints both sides are confident of, against the track's predicted
  pixels, divided by the person's size in the image (bounding-box diagonal).
A pair beyond either gate cannot match. Gates widen with the time a track has gone unseen, so a person hidden
for a moment (occlusion, a missed detection) gets their id back. The assignment is optimal (Hungarian, via
scipy) when scipy is installed and greedy by increasing cost otherwise. An unmatched person starts a new track
(birth); a track unseen for longer than `max_age_s` ends (death). Ids are never reused.
Optional per-track One-Euro smoothing (drm_core.smoothing, off by default) filters the output joints.

What a robot reads per person besides the id (TrackedPoses): the root velocity (m/s, camera frame: the slope of
a least-squares line through the track's raw roots of the last `velocity_window_s`, steadier than a
frame-to-frame difference of monocular depth), the track's state (tentative until seen in `confirm_frames`
images, then confirmed) and its age (seconds since its first detection). Tracks alive but unseen in a frame
are returned apart, as coasting: their last joints moved by that velocity, with confidence 0.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from drm_core.skeleton import MPI15
from drm_core.smoothing import OneEuroConfig, OneEuroFilter
from drm_core.pose_types import Poses3D

try:  # optional: scipy is not a dependency of the project
    from scipy.optimize import linear_sum_assignment
except ImportError:  # pragma: no cover - depends on the environment
    linear_sum_assignment = None

# Track states, the values of drm_ros/msg/Person3D's STATE_* constants.
TENTATIVE, CONFIRMED, COASTING = 0, 1, 2
STATE_NAMES = {TENTATIVE: "tentative", CONFIRMED: "confirmed", COASTING: "coasting"}


@dataclass(frozen=True)
class TrackerConfig:
    # Gates wide enough for monocular depth noise: on the shipped model's replay of the 60-frame synthetic walk
    # (benchmarks/results/replay/) 2 m / 0.25 / 1.0 left 9 tracks for 3 people where 1 m / 0.5 / 0.5 left 17,
    # with the same id switches; on ground truth plus noise both keep every id.
    max_root_distance_m: float = 2.0  # 3D gate after prediction (depth counted at depth_weight)
    depth_weight: float = 0.25
    max_pose_distance: float = 1.0  # 2D gate: mean joint distance as a fraction of the person's image size
    gate_growth_per_s: float = 1.0  # gates grow by this fraction of themselves per second unseen
    max_age_s: float = 1.0  # a track unseen this long ends
    min_confidence: float = 0.3  # joints used for the 2D distance
    velocity_smoothing: float = 0.5  # weight of the newest velocity measurement (0..1]
    max_dt_s: float = 0.5  # longest step a velocity is measured over (longer: velocity decays to zero)
    confirm_frames: int = 3  # a track is confirmed once seen in this many images
    # The reported velocity's line fit spans this long: longer is steadier but lags a change of pace more, and
    # a track that jumped to another person keeps a wrong velocity longer. On the shipped model's replay of the
    # synthetic walk at 1-2 m/s the median speed error was 0.27 m/s at 0.5 s, 0.43 at 1 s and 0.72 at 2 s.
    velocity_window_s: float = 0.5

    def __post_init__(self) -> None:
        if min(self.max_root_distance_m, self.max_pose_distance, self.max_age_s, self.velocity_window_s) <= 0 or \
                not 0 < self.velocity_smoothing <= 1 or self.depth_weight < 0 or self.gate_growth_per_s < 0 or \
                self.confirm_frames < 1:
            raise ValueError(f"TrackerConfig: gates, max_age_s and velocity_window_s must be positive, "
                             f"velocity_smoothing in (0, 1], depth_weight and gate_growth_per_s non-negative, "
                             f"confirm_frames >= 1; got {self}")


@dataclass
class _Track:
    id: int
    root: np.ndarray  # (3,) metres
    uv: np.ndarray  # (J, 2) pixels
    conf: np.ndarray  # (J,)
    t: float  # last seen, seconds
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))
    velocity_uv: np.ndarray = field(default_factory=lambda: np.zeros(2))
    hits: int = 1
    smoother: OneEuroFilter | None = None
    xyz: np.ndarray | None = None  # (J, 3) last output joints, for coasting
    born_t: float = 0.0
    history: deque = field(default_factory=deque)  # (t, root) of the velocity window

    def observe(self, t: float, root: np.ndarray, window_s: float) -> None:
        self.history.append((t, root.copy()))
        while self.history and t - self.history[0][0] > window_s:
            self.history.popleft()

    def fitted_velocity(self) -> np.ndarray:
        """Slope of the least-squares line through the window's roots (m/s); zero with one observation."""
        if len(self.history) < 2:
            return np.zeros(3)
        t = np.array([h[0] for h in self.history])
        roots = np.stack([h[1] for h in self.history])
        dt = t - t.mean()
        denom = float(dt @ dt)
        return dt @ (roots - roots.mean(axis=0)) / denom if denom > 0 else np.zeros(3)


def _assign(cost: np.ndarray) -> list[tuple[int, int]]:
    """(row, col) pairs of finite cost: optimal with scipy, else greedy by increasing cost."""
    if cost.size == 0:
        return []
    if linear_sum_assignment is not None:
        big = 1e6
        rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, big))
        return [(int(r), int(c)) for r, c in zip(rows, cols) if np.isfinite(cost[r, c])]
    pairs, used_r, used_c = [], set(), set()
    for flat in np.argsort(cost, axis=None, kind="stable"):
        r, c = divmod(int(flat), cost.shape[1])
        if not np.isfinite(cost[r, c]):
            break
        if r not in used_r and c not in used_c:
            pairs.append((r, c))
            used_r.add(r)
            used_c.add(c)
    return pairs


@dataclass
class TrackedPoses:
    """A frame's people with their track ids (same order); poses smoothed when smoothing is on.

    velocities_m_s: (P, 3) root velocity, camera frame; states: (P,) uint8 (TENTATIVE, CONFIRMED, COASTING);
    ages_s: (P,) seconds since each track's first detection. `coasting` holds the tracks alive but not seen in
    this frame (state COASTING, predicted joints, confidences and scores 0), apart from the detected people."""

    poses: Poses3D
    ids: np.ndarray  # (P,) int64
    velocities_m_s: np.ndarray | None = None  # None: zeros
    states: np.ndarray | None = None  # None: all TENTATIVE
    ages_s: np.ndarray | None = None  # None: zeros
    coasting: "TrackedPoses | None" = None

    def __post_init__(self) -> None:
        n = len(self.poses)
        if self.velocities_m_s is None:
            self.velocities_m_s = np.zeros((n, 3))
        if self.states is None:
            self.states = np.full(n, TENTATIVE, dtype=np.uint8)
        if self.ages_s is None:
            self.ages_s = np.zeros(n)

    def with_coasting(self) -> "TrackedPoses":
        """The detected people followed by the coasting tracks, as one TrackedPoses."""
        c = self.coasting
        if c is None or len(c.poses) == 0:
            return TrackedPoses(self.poses, self.ids, self.velocities_m_s, self.states, self.ages_s)
        p, q = self.poses, c.poses
        poses = Poses3D(np.concatenate([p.joints_cam_m, q.joints_cam_m]), np.concatenate([p.joints_uv_px,
                        q.joints_uv_px]), np.concatenate([p.joint_conf, q.joint_conf]),
                        np.concatenate([p.scores, q.scores]), p.joint_names)
        return TrackedPoses(poses, np.concatenate([self.ids, c.ids]),
                            np.concatenate([self.velocities_m_s, c.velocities_m_s]),
                            np.concatenate([self.states, c.states]), np.concatenate([self.ages_s, c.ages_s]))


class Tracker:
    """Call update(poses, t_s) once per frame, in time order; it returns each person's track id."""

    def __init__(self, config: TrackerConfig = TrackerConfig(), root: int = MPI15.root,
                 smoothing: OneEuroConfig | None = None):
        self.config = config
        self.root = root
        self.smoothing = smoothing
        self.tracks: list[_Track] = []
        self._next_id = 0
        self._last_t: float | None = None

    def reset(self) -> None:
        """Forget every track (ids keep counting up, so an id is never reused)."""
        self.tracks = []
        self._last_t = None

    def _cost(self, poses: Poses3D, t: float) -> np.ndarray:
        c = self.config
        cost = np.full((len(self.tracks), len(poses)), np.inf)
        scale = np.array([1.0, 1.0, c.depth_weight])
        roots = poses.joints_cam_m[:, self.root]
        sizes = [max(float(np.linalg.norm(np.ptp(uv, axis=0))), 1.0) for uv in poses.joints_uv_px]
        for i, track in enumerate(self.tracks):
            dt = t - track.t
            grow = 1.0 + c.gate_growth_per_s * dt
            root_pred = track.root + track.velocity * min(dt, c.max_dt_s)
            uv_pred = track.uv + track.velocity_uv * min(dt, c.max_dt_s)
            d3 = np.linalg.norm((roots - root_pred) * scale, axis=-1) / (c.max_root_distance_m * grow)
            for j in range(len(poses)):
                both = (poses.joint_conf[j] >= c.min_confidence) & (track.conf >= c.min_confidence)
                if not both.any():
                    both = np.ones_like(both)
                d2 = np.linalg.norm(poses.joints_uv_px[j][both] - uv_pred[both], axis=-1).mean() / sizes[j]
                d2 /= c.max_pose_distance * grow
                if d3[j] <= 1.0 and d2 <= 1.0:
                    cost[i, j] = d3[j] + d2
        return cost

    def update(self, poses: Poses3D, t_s: float) -> TrackedPoses:
        """Associate this frame's `poses` (taken at time t_s, seconds) with the tracks; new people get new ids."""
        c = self.config
        if self._last_t is not None and t_s < self._last_t:  # time went back (a bag restarted): start over
            self.reset()
        self._last_t = t_s
        self.tracks = [tr for tr in self.tracks if t_s - tr.t <= c.max_age_s]  # deaths
        ids = np.full(len(poses), -1, dtype=np.int64)
        xyz_out, uv_out = poses.joints_cam_m.copy(), poses.joints_uv_px.copy()
        pairs = _assign(self._cost(poses, t_s)) if len(poses) and self.tracks else []
        for ti, pi in pairs:
            track = self.tracks[ti]
            dt = t_s - track.t
            root, uv = poses.joints_cam_m[pi, self.root], poses.joints_uv_px[pi]
            if 0 < dt <= c.max_dt_s:
                a = c.velocity_smoothing
                track.velocity = (1 - a) * track.velocity + a * (root - track.root) / dt
                track.velocity_uv = (1 - a) * track.velocity_uv + a * (uv - track.uv).mean(axis=0) / dt
            else:
                track.velocity, track.velocity_uv = np.zeros(3), np.zeros(2)
            track.root, track.uv, track.conf, track.t = root.copy(), uv.copy(), poses.joint_conf[pi].copy(), t_s
            track.hits += 1
            track.observe(t_s, root, c.velocity_window_s)
            ids[pi] = track.id
        for pi in np.flatnonzero(ids < 0):  # births
            track = _Track(self._next_id, poses.joints_cam_m[pi, self.root].copy(), poses.joints_uv_px[pi].copy(),
                           poses.joint_conf[pi].copy(), t_s,
                           smoother=OneEuroFilter(self.smoothing) if self.smoothing else None, born_t=t_s)
            track.observe(t_s, track.root, c.velocity_window_s)
            self._next_id += 1
            self.tracks.append(track)
            ids[pi] = track.id
        if self.smoothing:
            by_id = {tr.id: tr for tr in self.tracks}
            for pi, tid in enumerate(ids):
                xyz_out[pi], uv_out[pi] = by_id[int(tid)].smoother(poses.joints_cam_m[pi], poses.joints_uv_px[pi],
                                                                   t_s)
            poses = Poses3D(xyz_out, uv_out, poses.joint_conf, poses.scores, poses.joint_names)
        by_id = {tr.id: tr for tr in self.tracks}
        seen = [by_id[int(tid)] for tid in ids]
        for track, xyz in zip(seen, poses.joints_cam_m):
            track.xyz = xyz.copy()
        detected = TrackedPoses(
            poses, ids, np.array([tr.fitted_velocity() for tr in seen]).reshape(-1, 3),
            np.array([CONFIRMED if tr.hits >= c.confirm_frames else TENTATIVE for tr in seen], dtype=np.uint8),
            np.array([t_s - tr.born_t for tr in seen], dtype=float))
        detected.coasting = self._coasting(t_s, set(ids.tolist()), poses.joint_names)
        return detected

    def _coasting(self, t_s: float, seen: set[int], joint_names: tuple[str, ...]) -> TrackedPoses:
        """The live tracks not seen at t_s, moved at their velocity since they were last seen."""
        tracks = [tr for tr in self.tracks if tr.id not in seen and tr.xyz is not None]
        if not tracks:
            return TrackedPoses(Poses3D.empty(joint_names), np.zeros(0, dtype=np.int64))
        velocity = np.array([tr.fitted_velocity() for tr in tracks])
        dt = np.array([t_s - tr.t for tr in tracks])
        xyz = np.stack([tr.xyz for tr in tracks]) + (velocity * dt[:, None])[:, None, :]
        uv = np.stack([tr.uv + tr.velocity_uv * min(d, self.config.max_dt_s) for tr, d in zip(tracks, dt)])
        n, j = len(tracks), len(joint_names)
        return TrackedPoses(Poses3D(xyz, uv, np.zeros((n, j)), np.zeros(n), joint_names),
                            np.array([tr.id for tr in tracks], dtype=np.int64), velocity,
                            np.full(n, COASTING, dtype=np.uint8), np.array([t_s - tr.born_t for tr in tracks]))
