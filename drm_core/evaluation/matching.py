"""Assigning predicted people to ground-truth people, by each benchmark's own rule.

Both functions return, for every ground-truth person g, the index of its prediction or -1 (unmatched).
Pixels are in the evaluated image; joints in MPI15 order (drm_core.skeleton) unless `joints` says otherwise.
"""
from __future__ import annotations

import numpy as np

from drm_core.skeleton import MPI15, Skeleton


def mupots_match_joints(skeleton: Skeleton) -> np.ndarray:
    """The joints MuPoTS matches on, as indices into `skeleton`: its joints 2..14 (1-based, MATLAB) =
    thorax..l_ankle, every joint but head top, pelvis, spine and head (13 joints; MPI15's thorax is "neck")."""
    return np.array([j for j, n in enumerate(skeleton.joint_names)
                     if n not in ("head_top", "pelvis", "spine", "head")], dtype=np.int64)


MUPOTS_MATCH_JOINTS = mupots_match_joints(MPI15)
MUPOTS_MATCH_THRESHOLD_PX = 40.0
PANOPTIC_MATCH_THRESHOLD_PX = 30.0


def _check_uv(name: str, uv: np.ndarray, num_joints: int | None = None) -> np.ndarray:
    uv = np.asarray(uv, dtype=np.float64)
    if uv.ndim != 3 or uv.shape[2] != 2 or (num_joints is not None and uv.shape[1] != num_joints):
        raise ValueError(f"{name} must have shape (people, joints, 2), got {uv.shape}")
    return uv


def match_mupots(gt_uv_px: np.ndarray, pred_uv_px: np.ndarray, gt_valid: np.ndarray | None = None,
                 threshold_px: float = MUPOTS_MATCH_THRESHOLD_PX,
                 joints: np.ndarray = MUPOTS_MATCH_JOINTS) -> np.ndarray:
    """The MuPoTS-3D identity matching: (G,) prediction index per ground-truth person, -1 if unmatched.

    From the official MATLAB evaluation (`mpii_multiperson_get_identity_matching.m`, as shipped in
    zju3dv/SMAP lib/eval/util_smap and ported to Python in isarandi/metrabs eval_mupots.py `match_poses`):
    for each valid ground-truth person in order, among the predictions not yet taken, pick the one with the
    most matching joints, a joint matching when |du| < 40 px and |dv| < 40 px; the first such prediction
    wins ties, and a best count of zero leaves the person unmatched. A predicted joint at exactly (0, 0) is
    "not predicted" there and never matches. gt_uv_px (G, J, 2), pred_uv_px (P, J, 2).
    """
    gt_uv = _check_uv("gt_uv_px", gt_uv_px)
    pred_uv = _check_uv("pred_uv_px", pred_uv_px, gt_uv.shape[1])
    valid = np.ones(len(gt_uv), bool) if gt_valid is None else np.asarray(gt_valid, bool)
    if valid.shape != (len(gt_uv),):
        raise ValueError(f"gt_valid must have shape ({len(gt_uv)},), got {valid.shape}")
    matching = np.full(len(gt_uv), -1, dtype=np.int64)
    if len(pred_uv) == 0:
        return matching
    gt_j, pred_j = gt_uv[:, joints], pred_uv[:, joints]
    pred_labelled = np.any(pred_j != 0, axis=-1)  # (P, J')
    # close[g, p, j]: joint j of prediction p lies in the 40 px box around ground truth g (NaN never does).
    close = np.all(np.abs(gt_j[:, None] - pred_j[None]) < threshold_px, axis=-1) & pred_labelled[None]
    counts = close.sum(axis=-1)  # (G, P)
    taken = np.zeros(len(pred_uv), bool)
    for g in np.flatnonzero(valid):
        score = np.where(taken, 0, counts[g])
        best = int(np.argmax(score))  # first maximum, as MATLAB's max
        if score[best] > 0:
            matching[g] = best
            taken[best] = True
    return matching


def match_panoptic(gt_root_uv_px: np.ndarray, pred_root_uv_px: np.ndarray, gt_valid: np.ndarray | None = None,
                   threshold_px: float = PANOPTIC_MATCH_THRESHOLD_PX) -> np.ndarray:
    """SMAP's CMU Panoptic matching: (G,) prediction index per ground-truth person, -1 if unmatched.

    From zju3dv/SMAP lib/eval/test_util_panoptic.py `register_pred`: greedy on the 2D distance between root
    (pelvis) pixels; repeatedly the closest remaining (ground truth, prediction) pair with distance < 30 px is
    matched when neither side is taken yet. gt_root_uv_px (G, 2), pred_root_uv_px (P, 2).
    """
    gt = np.asarray(gt_root_uv_px, dtype=np.float64).reshape(-1, 2)
    pred = np.asarray(pred_root_uv_px, dtype=np.float64).reshape(-1, 2)
    valid = np.ones(len(gt), bool) if gt_valid is None else np.asarray(gt_valid, bool)
    if valid.shape != (len(gt),):
        raise ValueError(f"gt_valid must have shape ({len(gt)},), got {valid.shape}")
    matching = np.full(len(gt), -1, dtype=np.int64)
    if len(gt) == 0 or len(pred) == 0:
        return matching
    dist = np.linalg.norm(gt[:, None] - pred[None], axis=-1)
    dist[~valid] = np.inf
    taken = np.zeros(len(pred), bool)
    # A stable sort of the row-major pairs visits ties in the order SMAP's np.where does.
    for flat in np.argsort(dist, axis=None, kind="stable"):
        g, p = divmod(int(flat), len(pred))
        if not dist[g, p] < threshold_px:
            break
        if matching[g] < 0 and not taken[p]:
            matching[g] = p
            taken[p] = True
    return matching
