"""CMU Panoptic metrics as SMAP computes them (zju3dv/SMAP lib/eval/test_util_panoptic.py `eval_3d`).

Predictions are matched to ground truth greedily on the 2D pelvis distance (< 30 px,
matching.match_panoptic). Over matched people:
- RtError: absolute 3D error of the pelvis, mm (DRM Table 4);
- MPJPE: mean error of the pelvis-aligned poses over the labelled non-pelvis joints, mm (the pelvis is left
  out because its aligned error is zero by construction). Panoptic has no head top, so FrameRecord's
  gt_joint_mask marks which joints count.
Each figure is a mean over matched people per activity; the overall figure is the mean over activities, as
the paper's Table 4 "Mean" is the mean of its four activity columns.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from drm_core.evaluation.matching import match_panoptic
from drm_core.evaluation.mupots import ROOT, FrameRecord
from drm_core.skeleton import MPI15

ACTIVITIES = ("haggling", "mafia", "ultimatum", "pizza")


def activity_of(sequence: str) -> str:
    """The Table 4 activity a Panoptic sequence name belongs to ('160422_haggling1' -> 'haggling');
    names that contain none of them stay as they are."""
    low = sequence.lower()
    for activity in ACTIVITIES:
        if activity in low:
            return activity
    return sequence


@dataclass
class PanopticResult:
    """RtError and MPJPE (mm) per activity and their mean over activities."""

    rt_error_mm: dict[str, float]
    mpjpe_mm: dict[str, float]
    num_annotated: dict[str, int]
    num_matched: dict[str, int]
    mean_rt_error_mm: float
    mean_mpjpe_mm: float
    recall: float
    root_depth_gt_m: np.ndarray = field(repr=False)
    root_depth_pred_m: np.ndarray = field(repr=False)

    def to_dict(self, include_points: bool = False) -> dict:
        """JSON-ready dict; the per-person root depths only when `include_points`."""
        out = {"benchmark": "panoptic", "rt_error_mm": self.rt_error_mm, "mpjpe_mm": self.mpjpe_mm,
               "num_annotated": self.num_annotated, "num_matched": self.num_matched,
               "mean_rt_error_mm": self.mean_rt_error_mm, "mean_mpjpe_mm": self.mean_mpjpe_mm,
               "recall": self.recall}
        if include_points:
            out["root_depth_gt_m"] = self.root_depth_gt_m.tolist()
            out["root_depth_pred_m"] = self.root_depth_pred_m.tolist()
        return out


def evaluate_panoptic(records: list[FrameRecord]) -> PanopticResult:
    """RtError and MPJPE of per-frame records; a record's sequence name gives its activity."""
    rt = defaultdict(list)
    joint_err = defaultdict(list)
    annotated = defaultdict(int)
    depth_gt, depth_pred = [], []
    for rec in records:
        if rec.skeleton.name != MPI15.name:  # ROOT and the joint mask below are MPI15's
            raise ValueError(f"Panoptic metrics take MPI15 records; frame {rec.image_id!r} is {rec.skeleton.name}")
        act = activity_of(rec.sequence)
        valid = rec.gt_valid & rec.gt_joint_mask[:, ROOT]  # SMAP skips people whose pelvis is unlabelled
        annotated[act] += int(valid.sum())
        matching = match_panoptic(rec.gt_uv_px[:, ROOT], rec.pred_uv_px[:, ROOT], valid)
        for g in np.flatnonzero(matching >= 0):
            gt_mm = rec.gt_cam_m[g] * 1000.0
            pred_mm = rec.pred_cam_m[matching[g]] * 1000.0
            rt[act].append(float(np.linalg.norm(pred_mm[ROOT] - gt_mm[ROOT])))
            aligned = np.linalg.norm((pred_mm - pred_mm[ROOT]) - (gt_mm - gt_mm[ROOT]), axis=-1)
            counted = rec.gt_joint_mask[g].copy()
            counted[ROOT] = False
            joint_err[act].extend(aligned[counted])
            depth_gt.append(gt_mm[ROOT, 2] / 1000.0)
            depth_pred.append(pred_mm[ROOT, 2] / 1000.0)
    if not annotated or sum(annotated.values()) == 0:
        raise ValueError("no valid ground-truth person with a labelled pelvis in the records: nothing to evaluate")

    acts = sorted(annotated, key=lambda a: (ACTIVITIES.index(a) if a in ACTIVITIES else len(ACTIVITIES), a))
    rt_error = {a: float(np.mean(rt[a])) if rt[a] else float("nan") for a in acts}
    mpjpe = {a: float(np.mean(joint_err[a])) if joint_err[a] else float("nan") for a in acts}

    def mean(values: dict[str, float]) -> float:
        finite = [v for v in values.values() if np.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")

    num_matched = {a: len(rt[a]) for a in acts}
    return PanopticResult(
        rt_error_mm=rt_error, mpjpe_mm=mpjpe, num_annotated={a: annotated[a] for a in acts},
        num_matched=num_matched, mean_rt_error_mm=mean(rt_error), mean_mpjpe_mm=mean(mpjpe),
        recall=sum(num_matched.values()) / sum(annotated.values()),
        root_depth_gt_m=np.asarray(depth_gt, dtype=np.float64),
        root_depth_pred_m=np.asarray(depth_pred, dtype=np.float64))
