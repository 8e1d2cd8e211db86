"""Figures of a tracked sequence that need no labels, and id switches against ground-truth identities.

Label-free (for recordings without ground truth):
- bone-length stability: per track, each bone's coefficient of variation (std / mean) over the track's frames,
  averaged over bones; a rigid body has 0 %;
- joint jitter: the frame-to-frame acceleration |x[t+1] - 2 x[t] + x[t-1]| / dt^2 of every joint, over
  consecutive observations of a track (dt the mean of the two steps; pairs with uneven steps are skipped);
- track fragmentation: tracks, their lengths, tracks shorter than `short_track_frames`;
- frames with nobody;
- speed per track: the median over a track's frames of the speed the tracker reported (|velocity|, m/s).
With ground truth: id switches (a ground-truth person matched to a different track id than the last time it
was matched) and fragments (distinct track ids per ground-truth person); speed and heading error of the
reported velocity against the ground-truth velocity (motion_errors).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class TrackFrame:
    """One frame of a tracked sequence: time in seconds, track ids (P,) and joints (P, J, 3) in metres; the
    tracker's root velocities (P, 3) in m/s when known."""

    t_s: float
    ids: np.ndarray
    joints_m: np.ndarray
    velocities_m_s: np.ndarray | None = None


@dataclass
class TemporalResult:
    frames: int
    frames_with_nobody: int
    tracks: int
    mean_track_frames: float
    short_tracks: int  # shorter than short_track_frames
    bone_cv_percent_median: float | None  # median over tracks of the mean bone-length CV
    bone_cv_percent_per_track: dict[int, float]
    jitter_m_s2_median: float | None
    jitter_m_s2_p95: float | None
    jitter_per_frame_m_s2: list[float | None]  # median acceleration of the frame's joints (None: not measurable)
    speed_m_s_per_track: dict[int, float] = field(default_factory=dict)  # median reported speed

    def to_dict(self) -> dict:
        out = asdict(self)
        out["bone_cv_percent_per_track"] = {str(k): v for k, v in self.bone_cv_percent_per_track.items()}
        out["speed_m_s_per_track"] = {str(k): v for k, v in self.speed_m_s_per_track.items()}
        return out


def temporal_metrics(frames: list[TrackFrame], bones: tuple[tuple[int, int], ...], short_track_frames: int = 5,
                     min_track_frames: int = 5, max_step_ratio: float = 1.5) -> TemporalResult:
    """The label-free figures of `frames` (in time order); see the module docstring."""
    per_track: dict[int, list[tuple[int, float, np.ndarray]]] = defaultdict(list)
    speeds: dict[int, list[float]] = defaultdict(list)
    for f, frame in enumerate(frames):
        for tid, joints in zip(np.asarray(frame.ids).tolist(), frame.joints_m):
            per_track[int(tid)].append((f, frame.t_s, np.asarray(joints, float)))
        if frame.velocities_m_s is not None:
            for tid, v in zip(np.asarray(frame.ids).tolist(), np.asarray(frame.velocities_m_s, float)):
                speeds[int(tid)].append(float(np.linalg.norm(v)))
    a_idx, b_idx = np.array([a for a, _ in bones]), np.array([b for _, b in bones])
    bone_cv: dict[int, float] = {}
    accelerations: list[float] = []
    per_frame: dict[int, list[float]] = defaultdict(list)
    for tid, obs in per_track.items():
        joints = np.stack([o[2] for o in obs])
        if len(obs) >= min_track_frames:
            lengths = np.linalg.norm(joints[:, a_idx] - joints[:, b_idx], axis=-1)  # (T, B)
            bone_cv[tid] = float(np.mean(lengths.std(axis=0) / np.maximum(lengths.mean(axis=0), 1e-6)) * 100)
        for k in range(1, len(obs) - 1):
            (f0, t0, _), (f1, t1, _), (f2, t2, _) = obs[k - 1], obs[k], obs[k + 1]
            if f1 - f0 != 1 or f2 - f1 != 1:  # consecutive frames only (a gap is not jitter)
                continue
            d0, d1 = t1 - t0, t2 - t1
            if min(d0, d1) <= 0 or max(d0, d1) / min(d0, d1) > max_step_ratio:
                continue
            dt = (d0 + d1) / 2
            acc = np.linalg.norm(joints[k + 1] - 2 * joints[k] + joints[k - 1], axis=-1) / dt ** 2
            accelerations.extend(acc.tolist())
            per_frame[f1].extend(acc.tolist())
    lengths = [len(o) for o in per_track.values()]
    return TemporalResult(
        frames=len(frames), frames_with_nobody=sum(1 for f in frames if len(f.ids) == 0), tracks=len(per_track),
        mean_track_frames=float(np.mean(lengths)) if lengths else 0.0,
        short_tracks=sum(1 for n in lengths if n < short_track_frames),
        bone_cv_percent_median=float(np.median(list(bone_cv.values()))) if bone_cv else None,
        bone_cv_percent_per_track=bone_cv,
        jitter_m_s2_median=float(np.median(accelerations)) if accelerations else None,
        jitter_m_s2_p95=float(np.percentile(accelerations, 95)) if accelerations else None,
        jitter_per_frame_m_s2=[float(np.median(per_frame[f])) if per_frame.get(f) else None
                               for f in range(len(frames))],
        speed_m_s_per_track={tid: float(np.median(v)) for tid, v in sorted(speeds.items())})


@dataclass
class IdentityResult:
    id_switches: int
    fragments: int  # sum over ground-truth people of the distinct track ids they were matched to
    gt_people: int
    matched_observations: int

    def to_dict(self) -> dict:
        return asdict(self)


def id_switches(matches: list[dict[int, int]]) -> IdentityResult:
    """Id switches of a sequence: `matches` has, per frame, {ground-truth identity: matched track id}
    (unmatched people left out). A switch is a person's track id differing from the one it last had."""
    last: dict[int, int] = {}
    seen: dict[int, set[int]] = defaultdict(set)
    switches = observations = 0
    for frame in matches:
        for gt_id, track_id in frame.items():
            observations += 1
            if gt_id in last and last[gt_id] != track_id:
                switches += 1
            last[gt_id] = track_id
            seen[gt_id].add(track_id)
    return IdentityResult(switches, sum(len(s) for s in seen.values()), len(seen), observations)


@dataclass
class MotionResult:
    """Reported velocity against ground truth, over matched observations of confirmed tracks.

    Speed error: | |v| - |v_gt| | (m/s). Heading error: the angle between v and v_gt seen from above (their x
    and z components in the camera frame; y is down), degrees, counted where both speeds reach
    `min_heading_speed_m_s` (a heading of a standstill is undefined)."""

    observations: int
    speed_error_m_s_median: float | None
    speed_error_m_s_p90: float | None
    heading_error_deg_median: float | None
    heading_observations: int
    per_track: dict[int, dict]  # track id -> {frames, gt_speed_m_s, speed_m_s, speed_error_m_s, heading_error_deg}

    def to_dict(self) -> dict:
        out = asdict(self)
        out["per_track"] = {str(k): v for k, v in self.per_track.items()}
        return out


def heading_error_deg(v: np.ndarray, v_gt: np.ndarray) -> float:
    """Angle in degrees between two velocities seen from above (x, z of the camera frame), in [0, 180]."""
    a = np.arctan2(v[2], v[0]) - np.arctan2(v_gt[2], v_gt[0])
    return float(abs(np.degrees((a + np.pi) % (2 * np.pi) - np.pi)))


def motion_errors(observations: list[tuple[int, np.ndarray, np.ndarray]],
                  min_heading_speed_m_s: float = 0.1) -> MotionResult:
    """Speed and heading errors of `observations`: (track id, reported velocity (3,), ground-truth velocity (3,))."""
    per: dict[int, list[tuple[float, float, float, float | None]]] = defaultdict(list)
    speed_err, heading = [], []
    for tid, v, v_gt in observations:
        v, v_gt = np.asarray(v, float), np.asarray(v_gt, float)
        s, s_gt = float(np.linalg.norm(v)), float(np.linalg.norm(v_gt))
        h = None
        if min(np.hypot(v[0], v[2]), np.hypot(v_gt[0], v_gt[2])) >= min_heading_speed_m_s:
            h = heading_error_deg(v, v_gt)
            heading.append(h)
        speed_err.append(abs(s - s_gt))
        per[int(tid)].append((s, s_gt, abs(s - s_gt), h))

    def median(values):
        return float(np.median(values)) if len(values) else None

    tracks = {tid: {"frames": len(rows), "speed_m_s": median([r[0] for r in rows]),
                    "gt_speed_m_s": median([r[1] for r in rows]), "speed_error_m_s": median([r[2] for r in rows]),
                    "heading_error_deg": median([r[3] for r in rows if r[3] is not None])}
              for tid, rows in sorted(per.items())}
    return MotionResult(len(speed_err), median(speed_err),
                        float(np.percentile(speed_err, 90)) if speed_err else None, median(heading), len(heading),
                        tracks)
