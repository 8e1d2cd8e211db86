"""MuPoTS-3D metrics (3DPCK relative / absolute / root, AUC), with the official evaluation's rules.

Rules follow the official MATLAB evaluation as SMAP ships it (zju3dv/SMAP lib/eval/mupots_smap.m and
util_smap/) and its Python port (isarandi/metrabs src/eval_scripts/eval_mupots.py):
- predictions are matched to valid ground-truth people per frame (matching.match_mupots, 40 px);
- matched predictions optionally get the ground truth's bone lengths, walking out from the predicted root
  (`rescale_to_gt_bones`); the official numbers use it, because MuPoTS' 3D ground truth (`univ_annot3`)
  is a height-normalised skeleton. Turn it off where the ground truth is metric and the bone lengths are
  part of what is measured (our synthetic data);
- 3DPCK counts joints with error < 150 mm over 14 joints; AUC is the mean 3DPCK over 0, 5, ..., 150 mm;
- every figure is computed per sequence, then averaged over sequences;
- "matched people" skips unmatched ground truth; "all people" counts it with every joint failed.
PCK_root (DRM's and SMAP's column) is the pelvis alone, absolute, at 150 mm.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np

from drm_core.evaluation.matching import match_mupots
from drm_core.skeleton import MPI15, Skeleton

ROOT = MPI15.root  # pelvis, index 2
# The 14 evaluated joints: MuPoTS-17 indices 0..13 (head_top, thorax, r/l shoulder, elbow, wrist, r/l hip,
# knee, ankle); its pelvis (14), spine (15) and head (16) are not evaluated. In MPI15 that is every joint
# but the pelvis.
EVAL_JOINTS = MPI15.non_root()
PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = np.arange(0.0, 151.0, 5.0)  # 31 thresholds


@dataclass
class FrameRecord:
    """One evaluated image: predictions and ground truth in MPI15 order, in the same image's pixels.

    pred_cam_m (P, J, 3) and gt_cam_m (G, J, 3): camera frame, metres; pred_uv_px (P, J, 2) and
    gt_uv_px (G, J, 2): pixels; gt_valid (G,): people that count; gt_joint_mask (G, J): labelled joints
    (used by the Panoptic metrics; MuPoTS evaluates every one of its 14 joints).
    """

    sequence: str
    pred_cam_m: np.ndarray
    pred_uv_px: np.ndarray
    gt_cam_m: np.ndarray
    gt_uv_px: np.ndarray
    gt_valid: np.ndarray | None = None
    gt_joint_mask: np.ndarray | None = None
    image_id: str = ""

    def __post_init__(self) -> None:
        where = f"frame {self.image_id!r} of sequence {self.sequence!r}"
        self.pred_cam_m = _shaped(self.pred_cam_m, 3, "pred_cam_m", where)
        self.pred_uv_px = _shaped(self.pred_uv_px, 2, "pred_uv_px", where)
        self.gt_cam_m = _shaped(self.gt_cam_m, 3, "gt_cam_m", where)
        self.gt_uv_px = _shaped(self.gt_uv_px, 2, "gt_uv_px", where)
        if self.pred_cam_m.shape[:2] != self.pred_uv_px.shape[:2]:
            raise ValueError(f"{where}: pred_cam_m {self.pred_cam_m.shape} and pred_uv_px "
                             f"{self.pred_uv_px.shape} disagree on people or joints")
        if self.gt_cam_m.shape[:2] != self.gt_uv_px.shape[:2]:
            raise ValueError(f"{where}: gt_cam_m {self.gt_cam_m.shape} and gt_uv_px {self.gt_uv_px.shape} "
                             "disagree on people or joints")
        num_gt = len(self.gt_cam_m)
        self.gt_valid = (np.ones(num_gt, bool) if self.gt_valid is None else np.asarray(self.gt_valid, bool))
        if self.gt_valid.shape != (num_gt,):
            raise ValueError(f"{where}: gt_valid must have shape ({num_gt},), got {self.gt_valid.shape}")
        self.gt_joint_mask = (np.ones((num_gt, MPI15.num_joints), bool) if self.gt_joint_mask is None
                              else np.asarray(self.gt_joint_mask, bool))
        if self.gt_joint_mask.shape != (num_gt, MPI15.num_joints):
            raise ValueError(f"{where}: gt_joint_mask must have shape ({num_gt}, {MPI15.num_joints}), "
                             f"got {self.gt_joint_mask.shape}")


def _shaped(a: np.ndarray, dims: int, name: str, where: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        a = a.reshape(0, MPI15.num_joints, dims)
    if a.ndim != 3 or a.shape[1:] != (MPI15.num_joints, dims):
        raise ValueError(f"{where}: {name} must have shape (people, {MPI15.num_joints}, {dims}) in MPI15 "
                         f"order, got {a.shape}")
    return a


def _bone_tree(skeleton: Skeleton) -> list[tuple[int, int]]:
    """(child, parent) pairs walking out from the root, each parent placed before its children."""
    neighbours = defaultdict(list)
    for a, b in skeleton.bones:
        neighbours[a].append(b)
        neighbours[b].append(a)
    order, seen, queue = [], {skeleton.root}, [skeleton.root]
    while queue:
        parent = queue.pop(0)
        for child in neighbours[parent]:
            if child not in seen:
                seen.add(child)
                order.append((child, parent))
                queue.append(child)
    if len(seen) != skeleton.num_joints:
        raise ValueError(f"the bones of {skeleton.name} do not connect every joint to the root")
    return order


def rescale_to_gt_bones(pred: np.ndarray, gt: np.ndarray, skeleton: Skeleton = MPI15) -> np.ndarray:
    """Predicted poses (N, J, 3) with the ground truth's bone lengths and the predicted bone directions.

    The official `mpii_map_to_gt_bone_lengths.m`: starting from the predicted root (kept in place), each
    joint is re-placed at its (already re-placed) parent plus the predicted bone vector scaled to the ground
    truth's length. With 15 joints SMAP links thorax directly to pelvis (no spine), as MPI15's neck-pelvis
    bone does. A predicted bone of zero length has no direction: its joint lands on its parent.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    out = pred.copy()
    for child, parent in _bone_tree(skeleton):
        vec = pred[:, child] - pred[:, parent]
        length = np.linalg.norm(vec, axis=-1)
        gt_length = np.linalg.norm(gt[:, child] - gt[:, parent], axis=-1)
        scale = np.divide(gt_length, length, out=np.zeros_like(length), where=length > 0)
        out[:, child] = out[:, parent] + vec * scale[:, None]
    return out


@dataclass
class PCKSet:
    """3DPCK (%) at 150 mm and AUC (%) over 0..150 mm, averaged over sequences, for one set of people."""

    pck_rel: float
    pck_abs: float
    pck_root: float
    auc_rel: float
    auc_abs: float


@dataclass
class MuPoTSResult:
    """MuPoTS-style metrics; curves are sequence-averaged 3DPCK (%) at `thresholds_mm`, matched people."""

    matched: PCKSet
    all_people: PCKSet
    mpjpe_rel_mm: float  # matched people, 14 joints, sequence-averaged
    mpjpe_abs_mm: float
    root_error_mm: float
    recall: float  # matched / annotated ground-truth people, all sequences pooled
    num_annotated: int
    num_matched: int
    rescale_bones: bool
    thresholds_mm: np.ndarray
    pck_rel_curve: np.ndarray
    pck_abs_curve: np.ndarray
    per_sequence: dict[str, dict[str, float]]
    # Matched people's root depths (one entry per match), for the Fig. 4 style scatter.
    root_depth_gt_m: np.ndarray = field(repr=False)
    root_depth_pred_m: np.ndarray = field(repr=False)

    def to_dict(self, include_points: bool = False) -> dict:
        """Plain dict (NaN where a figure is undefined; write_report writes those as null); the per-person
        root depths only when `include_points`."""
        out = {
            "benchmark": "mupots",
            "matched": asdict(self.matched),
            "all_people": asdict(self.all_people),
            "mpjpe_rel_mm": self.mpjpe_rel_mm,
            "mpjpe_abs_mm": self.mpjpe_abs_mm,
            "root_error_mm": self.root_error_mm,
            "recall": self.recall,
            "num_annotated": self.num_annotated,
            "num_matched": self.num_matched,
            "rescale_bones": self.rescale_bones,
            "thresholds_mm": self.thresholds_mm.tolist(),
            "pck_rel_curve": self.pck_rel_curve.tolist(),
            "pck_abs_curve": self.pck_abs_curve.tolist(),
            "per_sequence": self.per_sequence,
        }
        if include_points:
            out["root_depth_gt_m"] = self.root_depth_gt_m.tolist()
            out["root_depth_pred_m"] = self.root_depth_pred_m.tolist()
        return out


@dataclass
class _SequenceErrors:
    """Errors (mm) of one sequence's matched people, and how many valid people it annotates."""

    rel: list = field(default_factory=list)   # (14,) per matched person
    abs: list = field(default_factory=list)   # (14,)
    root: list = field(default_factory=list)  # scalar
    num_annotated: int = 0


def _pck_curve(errors_mm: np.ndarray, thresholds_mm: np.ndarray) -> np.ndarray:
    """Percentage of errors strictly below each threshold (NaN errors fail), over all entries."""
    return 100.0 * (errors_mm.reshape(-1, 1) < thresholds_mm.reshape(1, -1)).mean(axis=0)


def _sequence_metrics(seq: _SequenceErrors) -> dict[str, float]:
    """Matched and all-people metrics of one sequence; matched figures are NaN when nobody matched."""
    n_matched = len(seq.root)
    out: dict[str, float] = {"num_annotated": seq.num_annotated, "num_matched": n_matched}
    nan_curve = np.full(len(AUC_THRESHOLDS_MM), np.nan)
    for kind, errors in (("rel", seq.rel), ("abs", seq.abs), ("root", seq.root)):
        errs = np.asarray(errors, dtype=np.float64)
        curve = _pck_curve(errs, AUC_THRESHOLDS_MM) if n_matched else nan_curve
        pck = float(_pck_curve(errs, np.array([PCK_THRESHOLD_MM]))[0]) if n_matched else np.nan
        frac = n_matched / seq.num_annotated  # unmatched people have every joint failed
        out[f"pck_{kind}"] = pck
        out[f"all_pck_{kind}"] = pck * frac if n_matched else 0.0
        mean_key = "root_error_mm" if kind == "root" else f"mpjpe_{kind}_mm"
        out[mean_key] = float(errs.mean()) if n_matched else np.nan
        if kind != "root":
            out[f"auc_{kind}"] = float(curve.mean())
            out[f"all_auc_{kind}"] = float(curve.mean()) * frac if n_matched else 0.0
            out[f"curve_{kind}"] = curve
    return out


def evaluate_mupots(records: list[FrameRecord], rescale_bones: bool = True) -> MuPoTSResult:
    """MuPoTS-3D metrics of per-frame records (see the module docstring for every rule)."""
    sequences: dict[str, _SequenceErrors] = defaultdict(_SequenceErrors)
    depth_gt, depth_pred = [], []
    for rec in records:
        seq = sequences[rec.sequence]
        seq.num_annotated += int(rec.gt_valid.sum())
        matching = match_mupots(rec.gt_uv_px, rec.pred_uv_px, rec.gt_valid)
        gt_idx = np.flatnonzero(matching >= 0)
        if len(gt_idx) == 0:
            continue
        gt_mm = rec.gt_cam_m[gt_idx] * 1000.0
        pred_mm = rec.pred_cam_m[matching[gt_idx]] * 1000.0
        if rescale_bones:
            pred_mm = rescale_to_gt_bones(pred_mm, gt_mm)
        err_abs = np.linalg.norm(pred_mm - gt_mm, axis=-1)
        centred = (pred_mm - pred_mm[:, ROOT:ROOT + 1]) - (gt_mm - gt_mm[:, ROOT:ROOT + 1])
        err_rel = np.linalg.norm(centred, axis=-1)
        seq.abs.extend(err_abs[:, EVAL_JOINTS])
        seq.rel.extend(err_rel[:, EVAL_JOINTS])
        seq.root.extend(err_abs[:, ROOT])
        depth_gt.extend(gt_mm[:, ROOT, 2] / 1000.0)
        depth_pred.extend(pred_mm[:, ROOT, 2] / 1000.0)

    per_seq = {name: _sequence_metrics(s) for name, s in sorted(sequences.items()) if s.num_annotated > 0}
    if not per_seq:
        raise ValueError("no valid ground-truth person in any of the records: nothing to evaluate")

    def mean(key: str) -> float:
        """Average over sequences; matched figures skip sequences where nobody was matched."""
        vals = np.array([m[key] for m in per_seq.values()], dtype=np.float64)
        return float(np.nanmean(vals)) if np.any(np.isfinite(vals)) else float("nan")

    def mean_curve(key: str) -> np.ndarray:
        curves = np.array([m[key] for m in per_seq.values()])
        ok = np.isfinite(curves).all(axis=1)
        return curves[ok].mean(axis=0) if ok.any() else np.full(len(AUC_THRESHOLDS_MM), np.nan)

    num_annotated = sum(s.num_annotated for s in sequences.values())
    num_matched = sum(len(s.root) for s in sequences.values())
    return MuPoTSResult(
        matched=PCKSet(mean("pck_rel"), mean("pck_abs"), mean("pck_root"), mean("auc_rel"), mean("auc_abs")),
        all_people=PCKSet(mean("all_pck_rel"), mean("all_pck_abs"), mean("all_pck_root"), mean("all_auc_rel"),
                          mean("all_auc_abs")),
        mpjpe_rel_mm=mean("mpjpe_rel_mm"), mpjpe_abs_mm=mean("mpjpe_abs_mm"), root_error_mm=mean("root_error_mm"),
        recall=num_matched / num_annotated, num_annotated=num_annotated, num_matched=num_matched,
        rescale_bones=rescale_bones, thresholds_mm=AUC_THRESHOLDS_MM.copy(),
        pck_rel_curve=mean_curve("curve_rel"), pck_abs_curve=mean_curve("curve_abs"),
        per_sequence={name: {k: v for k, v in m.items() if not k.startswith("curve_")}
                      for name, m in per_seq.items()},
        root_depth_gt_m=np.asarray(depth_gt, dtype=np.float64),
        root_depth_pred_m=np.asarray(depth_pred, dtype=np.float64),
    )
