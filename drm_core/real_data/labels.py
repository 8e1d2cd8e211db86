"""From the BlazePose teacher's raw candidates to labels: COCO-17 joints, the filters that drop bad
candidates (pose flag, joint confidence, shape, duplicates), and people triangulated across a calibrated rig.

BlazePose's 33 landmarks hold all 17 COCO joints, so the labels are COCO-17 and the existing COCO -> MPI15
mapping supervises the model (pelvis = mid-hip, neck from shoulders and hips, head top unlabelled): no joint
is invented here.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from drm_core.real_data.triangulation import CalibratedView, dlt, triangulate
from drm_core.skeleton import COCO17

# COCO-17 order: nose, eyes (l, r), ears (l, r), shoulders, elbows, wrists, hips, knees, ankles.
BLAZEPOSE_TO_COCO17 = np.array([0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28])
LIMBS = np.arange(5, 17)  # the 12 limb joints of COCO-17
_C = COCO17.index
TORSO = np.array([_C("l_shoulder"), _C("r_shoulder"), _C("l_hip"), _C("r_hip")])
_SEGMENTS = [(_C(f"{s}_{a}"), _C(f"{s}_{b}")) for s in "lr" for a, b in
             [("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")]]


@dataclass
class FilterConfig:
    min_flag: float = 0.5  # the landmarker's "a person is in this crop" probability
    min_limb_confidence: float = 0.5  # mean teacher visibility over the 12 limb joints
    visible: float = 0.5  # joint visibility at or above: COCO v=2
    occluded: float = 0.2  # at or above (and below `visible`): v=1, labelled but occluded; below: unlabelled
    min_height_px: float = 40.0  # the teacher finds nothing reliable smaller (full-resolution pixels)
    max_segment_to_torso: float = 1.4  # any limb segment longer than this x torso: a blended or broken pose
    max_torso_tilt_deg: float = 50.0  # the footage shows standing / walking people; lying shapes are litter
    duplicate_dist: float = 0.15  # mean limb-joint distance / torso length below which two candidates are one


@dataclass
class Person:
    """One teacher candidate in COCO-17: xy (17, 2) full-resolution pixels, conf (17,) teacher visibility,
    world (17, 3) the landmarker's metric 3D (metres, hip-centred, camera axes) or None from an older teacher."""

    xy: np.ndarray
    conf: np.ndarray
    flag: float
    det_score: float
    world: np.ndarray | None = None

    @classmethod
    def from_teacher(cls, entry: dict) -> "Person":
        lm = np.asarray(entry["landmarks"], np.float64)[BLAZEPOSE_TO_COCO17]
        world = entry.get("world")
        world = None if world is None else np.asarray(world, np.float64)[BLAZEPOSE_TO_COCO17]
        return cls(lm[:, :2], np.minimum(lm[:, 3], lm[:, 4]), float(entry["flag"]), float(entry["det_score"]),
                   world)

    def torso_length(self) -> float:
        return float(np.linalg.norm(self.xy[TORSO[:2]].mean(0) - self.xy[TORSO[2:]].mean(0)))

    def visibility(self, cfg: FilterConfig, width: int, height: int) -> np.ndarray:
        """COCO visibility (0, 1, 2) from the teacher's confidence; joints outside the image are unlabelled."""
        inside = ((self.xy >= 0) & (self.xy <= [width - 1, height - 1])).all(axis=1)
        v = np.where(self.conf >= cfg.visible, 2, np.where(self.conf >= cfg.occluded, 1, 0))
        return np.where(inside, v, 0).astype(np.int64)

    @property
    def score(self) -> float:
        return self.flag * float(self.conf[LIMBS].mean())


def rejection(p: Person, cfg: FilterConfig) -> str | None:
    """Why a candidate is not a usable person (None: keep it)."""
    if p.flag < cfg.min_flag:
        return "pose_flag"
    if p.conf[LIMBS].mean() < cfg.min_limb_confidence:
        return "low_confidence"
    if np.ptp(p.xy[:, 1]) < cfg.min_height_px:
        return "too_small"
    torso = p.xy[TORSO[2:]].mean(0) - p.xy[TORSO[:2]].mean(0)  # shoulders -> hips, image y down
    length = float(np.linalg.norm(torso))
    if length < 1e-6 or np.degrees(np.arccos(np.clip(torso[1] / length, -1, 1))) > cfg.max_torso_tilt_deg:
        return "shape"
    segments = [np.linalg.norm(p.xy[a] - p.xy[b]) for a, b in _SEGMENTS]
    if max(segments) > cfg.max_segment_to_torso * length:
        return "shape"
    return None


def select_people(candidates: list[Person], cfg: FilterConfig, counts: dict[str, int]) -> list[Person]:
    """Filtered candidates with duplicates (the same person found in two tiles) merged, best score first;
    `counts` gains one count per rejection reason."""
    kept: list[Person] = []
    for p in sorted(candidates, key=lambda q: -q.score):
        why = rejection(p, cfg)
        if why is None:
            for q in kept:
                d = np.linalg.norm(p.xy[LIMBS] - q.xy[LIMBS], axis=1).mean()
                if d < cfg.duplicate_dist * max(q.torso_length(), 1e-6):
                    why = "duplicate"
                    break
        if why is None:
            kept.append(p)
        else:
            counts[why] = counts.get(why, 0) + 1
    return kept


def static_mask(boxes_xyxy: np.ndarray, frames: np.ndarray, min_iou: float = 0.8,
                min_fraction: float = 0.5) -> np.ndarray:
    """(M,) True for boxes that sit still: the same place (IoU >= min_iou) in at least min_fraction of the
    clip's frames. A still camera's false positives (litter, a mannequin, a skeleton model) do that; people
    walk. boxes_xyxy (M, 4) from all frames of one clip, frames (M,) the frame of each."""
    n_frames = len(np.unique(frames))
    if n_frames < 10:  # too few frames to tell standing still from never moving
        return np.zeros(len(boxes_xyxy), bool)
    b = np.asarray(boxes_xyxy, np.float64)
    x0 = np.maximum(b[:, None, 0], b[None, :, 0])
    y0 = np.maximum(b[:, None, 1], b[None, :, 1])
    x1 = np.minimum(b[:, None, 2], b[None, :, 2])
    y1 = np.minimum(b[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iou = inter / np.maximum(area[:, None] + area[None, :] - inter, 1e-9)
    out = np.zeros(len(b), bool)
    for i in range(len(b)):
        out[i] = len(np.unique(frames[iou[i] >= min_iou])) >= max(2, min_fraction * n_frames)
    return out


@dataclass
class RigConfig:
    assoc_max_px: float = 40.0  # mean torso reprojection error for one person's views to count as one person
    joint_max_px: float = 30.0  # per-joint reprojection limit, full resolution (1.6 % of pose2sim's 1920 px)
    min_views: int = 3


@dataclass
class RigPerson:
    """A person triangulated across the rig: world joints (17, 3), which joints succeeded, per-joint per-view
    reprojection errors (17, V) and the teacher candidate index in each view (-1: not seen there)."""

    world: np.ndarray
    ok: np.ndarray
    errors_px: np.ndarray
    members: tuple[int, ...]
    stats: dict = field(default_factory=dict)


def _torso_error(views: list[CalibratedView], people: list[Person | None]) -> float:
    used = [i for i, p in enumerate(people) if p is not None]
    errs = []
    for j in TORSO:
        uv = np.array([people[i].xy[j] for i in used])
        X = dlt([views[i] for i in used], uv)
        for i, p in zip(used, uv):
            if views[i].to_camera(X)[2] <= 0:
                return np.inf
            errs.append(np.linalg.norm(views[i].project(X[None])[0] - p))
    return float(np.mean(errs))


def associate(views: list[CalibratedView], per_view: list[list[Person]], cfg: RigConfig) -> list[tuple[int, ...]]:
    """Greedy cross-view matching over candidate tuples (one person or none per view, at least min_views
    seen) whose torso triangulates within assoc_max_px: the tuple seen in the most views, then with the lowest
    mean reprojection error, is a person; repeat on the rest. More views first, because dropping a view always
    lowers a least-squares residual. Exhaustive over tuples, cheap for the few people of a rig frame."""
    options = [[-1] + list(range(len(ps))) for ps in per_view]
    scored = []
    for combo in itertools.product(*options):
        if sum(c >= 0 for c in combo) < cfg.min_views:
            continue
        err = _torso_error(views, [per_view[v][c] if c >= 0 else None for v, c in enumerate(combo)])
        if err <= cfg.assoc_max_px:
            scored.append((-sum(c >= 0 for c in combo), err, combo))
    chosen: list[tuple[int, ...]] = []
    for _, _, combo in sorted(scored):
        if all(c < 0 or all(c != other[v] for other in chosen) for v, c in enumerate(combo)):
            chosen.append(combo)
    return chosen


def triangulate_person(views: list[CalibratedView], per_view: list[list[Person]], combo: tuple[int, ...],
                       fcfg: FilterConfig, rcfg: RigConfig) -> RigPerson:
    """Each joint from the views that saw the person with confidence >= fcfg.visible, reprojection-filtered."""
    world = np.zeros((COCO17.num_joints, 3))
    ok = np.zeros(COCO17.num_joints, bool)
    errors = np.full((COCO17.num_joints, len(views)), np.nan)
    for j in range(COCO17.num_joints):
        uv = np.zeros((len(views), 2))
        valid = np.zeros(len(views), bool)
        for v, c in enumerate(combo):
            if c >= 0:
                uv[v] = per_view[v][c].xy[j]
                valid[v] = per_view[v][c].conf[j] >= fcfg.visible
        t = triangulate(views, uv, valid, rcfg.joint_max_px, rcfg.min_views)
        if t.ok:
            world[j], ok[j], errors[j] = t.point, True, t.errors_px
    return RigPerson(world, ok, errors, combo)
