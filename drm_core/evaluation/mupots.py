"""MuPoTS-3D metrics (3DPCK relative / absolute / root, AUC), scored as the official evaluation scores them.

The official evaluation is the dataset's MATLAB code: mpii_mupots_multiperson_eval.m with mpii_get_joints
('relevant'), mpii_multiperson_get_identity_matching.m, mpii_map_to_gt_bone_lengths.m and
mpii_compute_3d_pck.m (read in public copies: 3DMPPE's data/MuPoTS, SMAP's lib/eval and its modified
mupots_smap.m, isarandi/metrabs' Python port eval_mupots.py). Its rules, and where ours follow them:

- Joint sets. Records are in the dataset's own 17 joints (MUPOTS17: head_top, thorax, r/l shoulder, elbow,
  wrist, r/l hip, knee, ankle, pelvis, spine, head; the MuPoTS reader's path) or in MPI15 (synthetic data,
  the ROS replay). A model that predicts MPI15 is scored on MuPoTS after `mpi15_to_mupots17`:
  spine = midpoint of pelvis and thorax, head = midpoint of thorax and head top (PRED15_RULE says why that
  choice costs nothing and changes nothing else).
- Valid people (annot.mat's isValidFrame, the json's is_valid): only those count. Invalid people are left
  out before matching, so they are neither counted nor matchable (a prediction lying on one stays free).
- Matching (matching.match_mupots): per frame, each valid ground-truth person in order takes the free
  prediction with the most joints within 40 px in both x and y, over the 13 joints thorax..l_ankle.
- Ground truth 3D: `univ_annot3` (the height-normalised "universal" skeleton) for relative and absolute
  figures alike; the MuPoTS reader hands it over when its json has it and says which field it used.
- Root: relative figures centre both poses at their own pelvis; absolute ones use camera coordinates. Bone
  rescaling keeps the predicted pelvis, so it never changes the root error.
- Bone rescaling (mpii_map_to_gt_bone_lengths.m): starting from the predicted pelvis, each joint is placed at
  its (already placed) parent plus the predicted bone vector scaled to the ground truth's bone length. Which
  tree it walks is the scoring (`SCORINGS`):
  * "official": the dataset's 17-joint tree (mpii_get_joints' parents, 1-based
    [2 16 2 3 4 2 6 7 15 9 10 15 12 13 15 15 2]): pelvis -> spine -> thorax; head top and head hang from the
    thorax; shoulders from the thorax, hips from the pelvis. Needs 17-joint records (the spine's ground truth).
  * "smap15": SMAP's modified script (o1(2) = 15): thorax straight to the pelvis, no spine or head; works on
    MPI15 or 17-joint records. The thorax lands |thorax - pelvis| from the pelvis instead of
    |spine - pelvis| + |thorax - spine|, which moves every upper-body joint.
  * "metric": no rescaling, for metric ground truth whose bone lengths are part of what is measured
    (our synthetic data).
  A predicted bone of zero length has no direction: its joint lands on its parent (metrabs' port does the
  same; the MATLAB code would divide by zero and fail that joint and its children).
- 3DPCK: errors strictly below 150 mm over the 14 joints head_top, thorax, shoulders, elbows, wrists, hips,
  knees, ankles (mpii_get_pck_auc_joint_groups; pelvis, spine and head are not scored). AUC: the mean 3DPCK
  over the 31 thresholds 0, 5, ..., 150 mm (mpii_compute_3d_pck.m), also strict.
- Averages: every figure pools one sequence's people and joints (the MATLAB code's per-sequence table), then
  figures are averaged over sequences (the MATLAB code stops at the table; the mean over sequences is what
  the Python ports report).
- "Matched people" (EVALUATION_MODE 1) skips unmatched ground truth; "all people" (mode 0) counts it with
  every joint failed.
- PCK_root is not in the official code: it is DRM's and SMAP's column, the pelvis alone, absolute, 150 mm.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np

from drm_core.evaluation.matching import match_mupots, mupots_match_joints
from drm_core.skeleton import MPI15, MUPOTS17, Skeleton

ROOT = MPI15.root  # pelvis of MPI15 records (the Panoptic metrics' records)
PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = np.arange(0.0, 151.0, 5.0)  # 31 thresholds
NOT_SCORED = ("pelvis", "spine", "head")  # of the dataset's 17 joints, the 3 that 3DPCK leaves out

# Bone trees as (child, parent) names in the official safe_traversal_order [15 16 2 1 17 3 ... 14] (root
# dropped); any order that places parents first gives the same result. MPI15 calls the thorax "neck".
_LIMBS = tuple((c, p) for s in "rl" for c, p in ((f"{s}_shoulder", "thorax"), (f"{s}_elbow", f"{s}_shoulder"),
                                                  (f"{s}_wrist", f"{s}_elbow"))) + \
    tuple((c, p) for s in "rl" for c, p in ((f"{s}_hip", "pelvis"), (f"{s}_knee", f"{s}_hip"),
                                             (f"{s}_ankle", f"{s}_knee")))
BONE_TREES: dict[str, tuple[tuple[str, str], ...]] = {
    "mupots17": (("spine", "pelvis"), ("thorax", "spine"), ("head_top", "thorax"), ("head", "thorax")) + _LIMBS,
    "mpi15": (("thorax", "pelvis"), ("head_top", "thorax")) + _LIMBS,
}
_ALIASES = {"thorax": "neck"}

SCORINGS = {
    "official": "official MuPoTS-3D (bone lengths rescaled to the ground truth's along the dataset's 17-joint "
                "tree: pelvis -> spine -> thorax, head top from the thorax)",
    "smap15": "SMAP's 15-joint variant (bone lengths rescaled along MPI15's tree: thorax straight to the pelvis)",
    "metric": "no bone rescaling (metric ground truth: bone lengths are part of what is measured)",
}
_TREE_OF_SCORING = {"official": "mupots17", "smap15": "mpi15", "metric": None}

PRED15_RULE = ("15-joint predictions scored on 17 joints: spine = midpoint of pelvis and thorax, head = "
               "midpoint of thorax and head top. Any spine on that segment gives the same score (both bones "
               "point along pelvis -> thorax, so the thorax lands |spine bone| + |thorax bone| from the "
               "pelvis); the head is neither scored, matched nor anyone's parent.")


def _index(skeleton: Skeleton, name: str) -> int:
    """Index of `name` in `skeleton`, trying its MPI15 alias (thorax = neck); KeyError names both."""
    for candidate in (name, _ALIASES.get(name)):
        if candidate in skeleton.joint_names:
            return skeleton.index(candidate)
    raise KeyError(f"joint set {skeleton.name} has no joint {name!r}")


def scored_joints(skeleton: Skeleton) -> np.ndarray:
    """The 14 joints 3DPCK scores, as indices into `skeleton` (MPI15: all but the pelvis)."""
    return np.array([j for j, n in enumerate(skeleton.joint_names) if n not in NOT_SCORED], dtype=np.int64)


EVAL_JOINTS = scored_joints(MPI15)


def bone_tree(name: str, skeleton: Skeleton) -> list[tuple[int, int]]:
    """The (child, parent) index pairs of tree `name` ("mupots17" or "mpi15") in `skeleton`, parents first."""
    if name not in BONE_TREES:
        raise ValueError(f"unknown bone tree {name!r}; known: {', '.join(BONE_TREES)}")
    try:
        return [(_index(skeleton, c), _index(skeleton, p)) for c, p in BONE_TREES[name]]
    except KeyError as e:
        raise ValueError(f"bone tree {name!r} cannot walk {skeleton.name} records: {e.args[0]}") from None


def rescale_to_gt_bones(pred: np.ndarray, gt: np.ndarray, skeleton: Skeleton = MPI15,
                        tree: str | None = None) -> np.ndarray:
    """Predicted poses (N, J, 3) with the ground truth's bone lengths and the predicted bone directions.

    mpii_map_to_gt_bone_lengths.m along `tree` (default: "mupots17" for MUPOTS17 records, "mpi15"
    otherwise); the root stays where it was predicted. See the module docstring.
    """
    tree = tree or ("mupots17" if skeleton.name == MUPOTS17.name else "mpi15")
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    out = pred.copy()
    for child, parent in bone_tree(tree, skeleton):
        vec = pred[:, child] - pred[:, parent]
        length = np.linalg.norm(vec, axis=-1)
        gt_length = np.linalg.norm(gt[:, child] - gt[:, parent], axis=-1)
        scale = np.divide(gt_length, length, out=np.zeros_like(length), where=length > 0)
        out[:, child] = out[:, parent] + vec * scale[:, None]
    return out


def _mpi15_to_mupots17_weights() -> np.ndarray:
    """(17, 15): MuPoTS joints as weighted sums of MPI15 joints, by name, spine and head by PRED15_RULE."""
    w = np.zeros((MUPOTS17.num_joints, MPI15.num_joints))
    halves = {"spine": ("pelvis", "thorax"), "head": ("thorax", "head_top")}
    for j, name in enumerate(MUPOTS17.joint_names):
        for source in halves.get(name, (name, name)):
            w[j, _index(MPI15, source)] += 0.5
    return w


_MPI15_TO_MUPOTS17 = _mpi15_to_mupots17_weights()


def mpi15_to_mupots17(joints: np.ndarray) -> np.ndarray:
    """(..., 15, D) MPI15 joints -> (..., 17, D) in the dataset's order, spine and head by PRED15_RULE."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim < 2 or joints.shape[-2] != MPI15.num_joints:
        raise ValueError(f"expected MPI15 joints (..., {MPI15.num_joints}, D), got {joints.shape}")
    return np.einsum("ts,...sd->...td", _MPI15_TO_MUPOTS17, joints)


@dataclass
class FrameRecord:
    """One evaluated image: predictions and ground truth in one joint set (`skeleton`), the image's pixels.

    pred_cam_m (P, J, 3) and gt_cam_m (G, J, 3): camera frame, metres; pred_uv_px (P, J, 2) and
    gt_uv_px (G, J, 2): pixels; gt_valid (G,): people that count; gt_joint_mask (G, J): labelled joints
    (used by the Panoptic metrics; MuPoTS scores every one of its 14 joints). skeleton: MPI15 or MUPOTS17.
    gt_source / pred_source: where the ground truth 3D came from and how the predictions were brought to
    `skeleton`, for the report (empty: nothing to say).
    """

    sequence: str
    pred_cam_m: np.ndarray
    pred_uv_px: np.ndarray
    gt_cam_m: np.ndarray
    gt_uv_px: np.ndarray
    gt_valid: np.ndarray | None = None
    gt_joint_mask: np.ndarray | None = None
    image_id: str = ""
    skeleton: Skeleton = MPI15
    gt_source: str = ""
    pred_source: str = ""

    def __post_init__(self) -> None:
        where = f"frame {self.image_id!r} of sequence {self.sequence!r}"
        j = self.skeleton.num_joints
        self.pred_cam_m = _shaped(self.pred_cam_m, 3, "pred_cam_m", where, self.skeleton)
        self.pred_uv_px = _shaped(self.pred_uv_px, 2, "pred_uv_px", where, self.skeleton)
        self.gt_cam_m = _shaped(self.gt_cam_m, 3, "gt_cam_m", where, self.skeleton)
        self.gt_uv_px = _shaped(self.gt_uv_px, 2, "gt_uv_px", where, self.skeleton)
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
        self.gt_joint_mask = (np.ones((num_gt, j), bool) if self.gt_joint_mask is None
                              else np.asarray(self.gt_joint_mask, bool))
        if self.gt_joint_mask.shape != (num_gt, j):
            raise ValueError(f"{where}: gt_joint_mask must have shape ({num_gt}, {j}), "
                             f"got {self.gt_joint_mask.shape}")


def _shaped(a: np.ndarray, dims: int, name: str, where: str, skeleton: Skeleton) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    j = skeleton.num_joints
    if a.size == 0:
        a = a.reshape(0, j, dims)
    if a.ndim != 3 or a.shape[1:] != (j, dims):
        raise ValueError(f"{where}: {name} must have shape (people, {j}, {dims}) in {skeleton.name.upper()} "
                         f"order, got {a.shape}")
    return a


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
    scoring: str  # a key of SCORINGS
    joint_set: str  # the records' skeleton name
    gt_source: str  # where the ground truth 3D came from ("" when the records do not say)
    pred_source: str  # how predictions were brought to the joint set ("" when they were in it)
    thresholds_mm: np.ndarray
    pck_rel_curve: np.ndarray
    pck_abs_curve: np.ndarray
    per_sequence: dict[str, dict[str, float]]
    # Matched people's root depths (one entry per match), for the Fig. 4 style scatter.
    root_depth_gt_m: np.ndarray = field(repr=False)
    root_depth_pred_m: np.ndarray = field(repr=False)

    @property
    def rescale_bones(self) -> bool:
        return self.scoring != "metric"

    @property
    def scoring_description(self) -> str:
        return SCORINGS[self.scoring]

    def to_dict(self, include_points: bool = False) -> dict:
        """Plain dict (NaN where a figure is undefined; write_report writes those as null); the per-person
        root depths only when `include_points`."""
        out = {
            "benchmark": "mupots",
            "scoring": self.scoring,
            "scoring_description": self.scoring_description,
            "joint_set": self.joint_set,
            "gt_source": self.gt_source,
            "pred_source": self.pred_source,
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


def _resolve_scoring(skeleton: Skeleton, scoring: str | None, rescale_bones: bool) -> str:
    """The scoring name: `scoring` if given, else "official" for 17-joint records and "smap15" for MPI15
    records (the only tree 15 joints allow); rescale_bones=False is "metric"."""
    if scoring is None:
        scoring = ("official" if skeleton.name == MUPOTS17.name else "smap15") if rescale_bones else "metric"
    elif not rescale_bones and scoring != "metric":
        raise ValueError(f"rescale_bones=False contradicts scoring={scoring!r}; pass one of them")
    if scoring not in SCORINGS:
        raise ValueError(f"unknown MuPoTS scoring {scoring!r}; known: {', '.join(SCORINGS)}")
    tree = _TREE_OF_SCORING[scoring]
    if tree is not None:
        bone_tree(tree, skeleton)  # raises when the records lack the tree's joints (official on MPI15)
    return scoring


def _joined(values: set[str]) -> str:
    return "; ".join(sorted(v for v in values if v))


def evaluate_mupots(records: list[FrameRecord], scoring: str | None = None,
                    rescale_bones: bool = True) -> MuPoTSResult:
    """MuPoTS-3D metrics of per-frame records, all in one joint set (see the module docstring for every rule).

    scoring: "official" (17-joint records), "smap15" or "metric" (SCORINGS); None picks "official" for
    MUPOTS17 records and "smap15" for MPI15 ones. rescale_bones=False is the same as scoring="metric".
    """
    if not records:
        raise ValueError("no records to evaluate")
    skeleton = records[0].skeleton
    for rec in records:
        if rec.skeleton.name != skeleton.name:
            raise ValueError(f"records mix joint sets {skeleton.name} and {rec.skeleton.name} "
                             f"(frame {rec.image_id!r}); evaluate one joint set at a time")
    scoring = _resolve_scoring(skeleton, scoring, rescale_bones)
    tree = _TREE_OF_SCORING[scoring]
    root, scored, match_joints = skeleton.root, scored_joints(skeleton), mupots_match_joints(skeleton)

    sequences: dict[str, _SequenceErrors] = defaultdict(_SequenceErrors)
    depth_gt, depth_pred = [], []
    for rec in records:
        seq = sequences[rec.sequence]
        seq.num_annotated += int(rec.gt_valid.sum())
        matching = match_mupots(rec.gt_uv_px, rec.pred_uv_px, rec.gt_valid, joints=match_joints)
        gt_idx = np.flatnonzero(matching >= 0)
        if len(gt_idx) == 0:
            continue
        gt_mm = rec.gt_cam_m[gt_idx] * 1000.0
        pred_mm = rec.pred_cam_m[matching[gt_idx]] * 1000.0
        if tree is not None:
            pred_mm = rescale_to_gt_bones(pred_mm, gt_mm, skeleton, tree)
        err_abs = np.linalg.norm(pred_mm - gt_mm, axis=-1)
        centred = (pred_mm - pred_mm[:, root:root + 1]) - (gt_mm - gt_mm[:, root:root + 1])
        err_rel = np.linalg.norm(centred, axis=-1)
        seq.abs.extend(err_abs[:, scored])
        seq.rel.extend(err_rel[:, scored])
        seq.root.extend(err_abs[:, root])
        depth_gt.extend(gt_mm[:, root, 2] / 1000.0)
        depth_pred.extend(pred_mm[:, root, 2] / 1000.0)

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
        scoring=scoring, joint_set=skeleton.name, gt_source=_joined({r.gt_source for r in records}),
        pred_source=_joined({r.pred_source for r in records}), thresholds_mm=AUC_THRESHOLDS_MM.copy(),
        pck_rel_curve=mean_curve("curve_rel"), pck_abs_curve=mean_curve("curve_abs"),
        per_sequence={name: {k: v for k, v in m.items() if not k.startswith("curve_")}
                      for name, m in per_seq.items()},
        root_depth_gt_m=np.asarray(depth_gt, dtype=np.float64),
        root_depth_pred_m=np.asarray(depth_pred, dtype=np.float64),
    )
