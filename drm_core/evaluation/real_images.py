"""Metrics on real images: does the model find real people, and how good are their poses?

All four metrics use the 12 limb joints (shoulders, elbows, wrists, hips, knees, ankles), the joints every
labeller agrees on (no head top in COCO, no neck in most teachers):
- recall at OKS >= 0.5: a ground-truth person counts as found when a prediction matches it. OKS is COCO's
  (pycocotools cocoeval.computeOks): mean over the person's labelled limb joints of exp(-d^2 / (2 s^2 k^2)),
  with k = 2 sigma_j (COCO's per-joint sigmas) and s^2 the person's area. The area is the area (w x h, pixels^2)
  of the person's ground-truth box: the reader's box when it gives one (sample.meta["boxes_xywh"], COCO "bbox",
  of non-zero size; real_build's is the tight box of the teacher's 17 COCO keypoints), else the tight box around
  the person's labelled 2D joints (all joints, not only the limbs). COCO uses the segmentation area, usually about
  half of the box, so these OKS are more lenient than COCO's for the same pixel error.
- false positives per image: predictions matched to no ground-truth person. Matching is COCO's: predictions in
  order of score, each takes the still unmatched ground-truth person with the highest OKS, if that OKS >= 0.5.
- hip-centred MPJPE (mm) of the matched people with 3D ground truth: both skeletons centred on their own
  mid-hip (mean of left and right hip), mean 3D distance over the ground truth's labelled limb joints (a joint
  whose 3D label is exactly (0, 0, 0), the readers' mark for "no 3D", is left out; both hips need 3D).
- absolute mid-hip error (m) of the same people: distance between predicted and true mid-hip in the camera
  frame, reported by bins of the true mid-hip's distance from the camera centre, with the median per bin.
Both 3D errors are also given, apart, for a loose match (OKS >= 0.1, the same greedy rule), so that a model whose
2D is still poor has 3D figures to follow.

Ground-truth people with no labelled limb joint cannot be scored by OKS and are left out of every count (a
prediction on such a person counts as a false positive). Joints are looked up by name, so predictions in MPI15
(the model's joints) or COCO17 both work.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from drm_core.skeleton import MPI15
from drm_core.pose_types import Sample

LIMB_JOINTS = ("l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
               "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle")
# pycocotools cocoeval.py Params.kpt_oks_sigmas for these joints (COCO order .79 .79 .72 .72 .62 .62 ...) / 10.
_COCO_SIGMAS = {"shoulder": 0.079, "elbow": 0.072, "wrist": 0.062, "hip": 0.107, "knee": 0.087, "ankle": 0.089}
LIMB_SIGMAS = np.array([_COCO_SIGMAS[name[2:]] for name in LIMB_JOINTS])
OKS_THRESHOLD = 0.5
# A second, loose match (about 2 k sqrt(area) from every joint: roughly on the person) for the 3D metrics only,
# so that a model whose 2D is still poor has 3D figures to follow; always reported apart from the main ones.
LOOSE_OKS_THRESHOLD = 0.1
DISTANCE_EDGES_M = (3.0, 5.0, 7.0)  # bins <3, 3-5, 5-7, >=7 m; the goal's 3-7 m is reported too
_HIPS = (LIMB_JOINTS.index("l_hip"), LIMB_JOINTS.index("r_hip"))

PredictFn = Callable[[Sample], Any]  # returns an object with joints_uv_px, joints_cam_m, scores, joint_names


def limb_joints(joints: np.ndarray, joint_names: tuple[str, ...]) -> np.ndarray:
    """(..., 12, D) limb joints of (..., J, D) joints named `joint_names`; KeyError names a missing joint."""
    missing = [n for n in LIMB_JOINTS if n not in joint_names]
    if missing:
        raise KeyError(f"joint set {joint_names} lacks the limb joints {missing}")
    return np.asarray(joints)[..., [joint_names.index(n) for n in LIMB_JOINTS], :]


def gt_areas_px2(sample: Sample) -> np.ndarray:
    """(G,) area of each ground-truth person's box in pixels^2 (see the module docstring)."""
    areas = np.zeros(sample.num_people)
    for g, (uv, vis) in enumerate(zip(sample.joints_2d_px, sample.visibility)):
        pts = uv[vis > 0]
        if len(pts):
            w, h = pts.max(axis=0) - pts.min(axis=0)
            areas[g] = w * h
    boxes = sample.meta.get("boxes_xywh")
    if boxes is not None:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(boxes) != sample.num_people:
            raise ValueError(f"sample {sample.image_id!r}: {len(boxes)} boxes for {sample.num_people} people")
        given = boxes[:, 2] * boxes[:, 3]
        areas = np.where(given > 0, given, areas)  # an empty box (a reader's default) falls back to the joints
    return areas


def oks(gt_uv_px: np.ndarray, gt_labelled: np.ndarray, areas_px2: np.ndarray, pred_uv_px: np.ndarray) -> np.ndarray:
    """(G, P) COCO object keypoint similarity over the limb joints; NaN for a person with no labelled joint.

    gt_uv_px (G, 12, 2), gt_labelled (G, 12) bool, areas_px2 (G,), pred_uv_px (P, 12, 2).
    """
    gt_uv, pred_uv = np.asarray(gt_uv_px, float), np.asarray(pred_uv_px, float)
    labelled = np.asarray(gt_labelled, bool)
    d2 = np.sum((gt_uv[:, None] - pred_uv[None]) ** 2, axis=-1)  # (G, P, 12)
    k2 = (2 * LIMB_SIGMAS) ** 2
    e = d2 / k2 / (np.asarray(areas_px2, float)[:, None, None] + np.spacing(1)) / 2  # as cocoeval.computeOks
    per_joint = np.where(labelled[:, None], np.exp(-e), 0.0)
    count = labelled.sum(axis=1)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, per_joint.sum(axis=-1) / count, np.nan)


def match_by_oks(similarity: np.ndarray, scores: np.ndarray, threshold: float = OKS_THRESHOLD) -> np.ndarray:
    """(G,) the prediction matched to each ground-truth person, -1 if none (COCO's greedy rule).

    Predictions in descending score order (stable, so ties keep their order) each take the unmatched person
    with the highest OKS, when that OKS >= threshold. similarity (G, P); NaN rows never match.
    """
    sim = np.nan_to_num(np.asarray(similarity, float), nan=-1.0)
    matched = np.full(sim.shape[0], -1, dtype=np.int64)
    for p in np.argsort(-np.asarray(scores, float), kind="stable"):
        free = np.where(matched < 0, sim[:, p], -1.0)
        if len(free) and free.max() >= threshold:
            matched[int(np.argmax(free))] = p
    return matched


@dataclass
class PersonScore:
    """One ground-truth person: its OKS match and, with 3D ground truth, the 3D errors."""

    gt_index: int
    pred_index: int  # -1: missed
    oks: float  # with its match; nan when missed
    has_3d: bool
    mpjpe_mm: float = float("nan")  # hip-centred, over its labelled limb joints
    root_error_m: float = float("nan")  # mid-hip
    distance_m: float = float("nan")  # of the true mid-hip from the camera centre
    loose_mpjpe_mm: float = float("nan")  # the same two errors with the loose match (LOOSE_OKS_THRESHOLD)
    loose_root_error_m: float = float("nan")


@dataclass
class FrameScore:
    image_id: str
    source: str
    num_predictions: int
    people: list[PersonScore]
    false_positives: int


def _mid_hip(limbs_3d: np.ndarray) -> np.ndarray:
    return limbs_3d[..., list(_HIPS), :].mean(axis=-2)


def _errors_3d(pred: np.ndarray, gt: np.ndarray, labelled: np.ndarray) -> tuple[float, float]:
    """(hip-centred MPJPE in mm over the labelled joints, mid-hip error in m) of one person's 12 limb joints."""
    pred_root, gt_root = _mid_hip(pred), _mid_hip(gt)
    err = np.linalg.norm((pred - pred_root) - (gt - gt_root), axis=-1)
    return float(1000.0 * err[labelled].mean()), float(np.linalg.norm(pred_root - gt_root))


def score_frame(sample: Sample, prediction: Any) -> FrameScore:
    """Match the predictions of one frame to its people and compute each person's errors."""
    names = tuple(getattr(prediction, "joint_names", MPI15.joint_names))
    pred_uv = limb_joints(prediction.joints_uv_px, names)
    pred_xyz = limb_joints(prediction.joints_cam_m, names)
    scores = np.asarray(prediction.scores, float)
    gt_uv = limb_joints(sample.joints_2d_px, MPI15.joint_names)
    gt_vis = limb_joints(sample.visibility[..., None], MPI15.joint_names)[..., 0] > 0
    scorable = np.flatnonzero(gt_vis.any(axis=1))
    sim = oks(gt_uv[scorable], gt_vis[scorable], gt_areas_px2(sample)[scorable], pred_uv)
    matched = match_by_oks(sim, scores)
    loose = match_by_oks(sim, scores, LOOSE_OKS_THRESHOLD)
    gt_xyz = None if sample.joints_3d_m is None else limb_joints(sample.joints_3d_m, MPI15.joint_names)
    # A labelled joint whose 3D is exactly the camera centre has no 3D label (a triangulation that failed).
    gt_vis_3d = None if gt_xyz is None else gt_vis & np.any(gt_xyz != 0, axis=-1)
    people = []
    for k, g in enumerate(scorable):
        p = int(matched[k])
        has_3d = gt_vis_3d is not None and bool(gt_vis_3d[g, list(_HIPS)].all())
        person = PersonScore(int(g), p, float(sim[k, p]) if p >= 0 else float("nan"), has_3d)
        if has_3d:
            person.distance_m = float(np.linalg.norm(_mid_hip(gt_xyz[g])))
            if p >= 0:
                person.mpjpe_mm, person.root_error_m = _errors_3d(pred_xyz[p], gt_xyz[g], gt_vis_3d[g])
            if loose[k] >= 0:
                person.loose_mpjpe_mm, person.loose_root_error_m = _errors_3d(pred_xyz[loose[k]], gt_xyz[g],
                                                                              gt_vis_3d[g])
        people.append(person)
    source = str(sample.meta.get("clip", sample.meta.get("source", sample.dataset)))
    return FrameScore(sample.image_id, source, len(scores), people, int(len(scores) - (matched >= 0).sum()))


def distance_bin(distance_m: float, edges: tuple[float, ...] = DISTANCE_EDGES_M) -> str:
    """The label of the distance bin ('<3 m', '3-5 m', ..., '>=7 m')."""
    if distance_m < edges[0]:
        return f"<{edges[0]:g} m"
    for low, high in zip(edges, edges[1:]):
        if distance_m < high:
            return f"{low:g}-{high:g} m"
    return f">={edges[-1]:g} m"


@dataclass
class RealImageResult:
    """Totals over a set of frames; `by_source` holds the same totals per source video or camera (the reader's
    sample.meta "clip", else its "source", else the dataset name)."""

    frames: int
    gt_people: int
    matched: int
    predictions: int
    false_positives: int
    recall: float  # matched / gt_people
    fp_per_image: float
    mean_oks_matched: float
    people_3d: int  # scorable people with 3D ground truth
    matched_3d: int
    mpjpe_mm_mean: float
    mpjpe_mm_median: float
    root_error_m_median: float
    root_error_by_distance: dict[str, dict[str, float]]  # bin -> {people, median_m, mean_m}
    loose_3d: dict[str, float]  # people, mpjpe_mm_median, root_error_m_median, root_error_m_median_3_7 (loose match)
    by_source: dict[str, "RealImageResult"] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "by_source"}
        out["by_source"] = {k: v.as_dict() for k, v in self.by_source.items()}
        return out


def _stats(values: list[float]) -> tuple[float, float]:
    return (float(np.mean(values)), float(np.median(values))) if values else (float("nan"), float("nan"))


def summarise(frames: list[FrameScore], edges: tuple[float, ...] = DISTANCE_EDGES_M,
              per_source: bool = True) -> RealImageResult:
    """RealImageResult of scored frames (per source too, when per_source)."""
    people = [p for f in frames for p in f.people]
    matched = [p for p in people if p.pred_index >= 0]
    with_3d = [p for p in matched if p.has_3d]
    fps = sum(f.false_positives for f in frames)
    mpjpe_mean, mpjpe_median = _stats([p.mpjpe_mm for p in with_3d])
    bins: dict[str, list[float]] = {distance_bin(d, edges): [] for d in [edges[0] - 1, *edges]}
    goal = f"{edges[0]:g}-{edges[-1]:g} m"
    bins[goal] = []
    for p in with_3d:
        bins[distance_bin(p.distance_m, edges)].append(p.root_error_m)
        if edges[0] <= p.distance_m < edges[-1]:
            bins[goal].append(p.root_error_m)
    loose = [p for p in people if p.has_3d and np.isfinite(p.loose_mpjpe_mm)]
    near = [p.loose_root_error_m for p in loose if edges[0] <= p.distance_m < edges[-1]]
    loose_3d = {"people": len(loose), "mpjpe_mm_median": _stats([p.loose_mpjpe_mm for p in loose])[1],
                "root_error_m_median": _stats([p.loose_root_error_m for p in loose])[1],
                "root_error_m_median_3_7": _stats(near)[1]}
    by_distance = {}
    for label, errors in bins.items():
        mean, median = _stats(errors)
        by_distance[label] = {"people": len(errors), "median_m": median, "mean_m": mean}
    result = RealImageResult(
        frames=len(frames), gt_people=len(people), matched=len(matched),
        predictions=sum(f.num_predictions for f in frames), false_positives=fps,
        recall=len(matched) / len(people) if people else float("nan"),
        fp_per_image=fps / len(frames) if frames else float("nan"),
        mean_oks_matched=_stats([p.oks for p in matched])[0],
        people_3d=sum(p.has_3d for p in people), matched_3d=len(with_3d),
        mpjpe_mm_mean=mpjpe_mean, mpjpe_mm_median=mpjpe_median,
        root_error_m_median=_stats([p.root_error_m for p in with_3d])[1],
        root_error_by_distance=by_distance, loose_3d=loose_3d)
    if per_source:
        for source in sorted({f.source for f in frames}):
            result.by_source[source] = summarise([f for f in frames if f.source == source], edges, False)
    return result


def evaluate_real(predict: PredictFn, samples: Iterable[Sample] | Any, max_samples: int | None = None,
                  on_frame: Callable[[int, Sample, Any, FrameScore], None] | None = None,
                  progress: bool = True) -> tuple[RealImageResult, list[FrameScore]]:
    """Run `predict` over the samples (a Dataset or any iterable) and score every frame.

    on_frame(index, sample, prediction, score) sees each frame as it is scored (the contact sheet keeps a few).
    """
    total = len(samples) if hasattr(samples, "__len__") else None
    if max_samples is not None:
        total = max_samples if total is None else min(total, max_samples)
    items = (samples[i] for i in range(total)) if hasattr(samples, "__getitem__") and total is not None \
        else iter(samples)
    frames: list[FrameScore] = []
    for index, sample in enumerate(tqdm(items, total=total, desc="real images", disable=not progress)):
        if total is not None and index >= total:
            break
        prediction = predict(sample)
        frame = score_frame(sample, prediction)
        frames.append(frame)
        if on_frame is not None:
            on_frame(index, sample, prediction, frame)
    return summarise(frames), frames
