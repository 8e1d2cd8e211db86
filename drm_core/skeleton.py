"""Joint sets the project meets, and explicit mappings between them.

The model uses MPI15 (SMAP's 15 joints, pelvis root): it is the subset that MuPoTS-3D and CMU Panoptic
both evaluate, every 3D training set covers it, and COCO supervises 12 of its joints directly plus pelvis
and neck as combinations of its own joints.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    """A named joint set: joint order, root joint, left/right pairs and bones for drawing."""

    name: str
    joint_names: tuple[str, ...]
    root: int
    flip_pairs: tuple[tuple[int, int], ...]
    bones: tuple[tuple[int, int], ...]

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, joint_name: str) -> int:
        return self.joint_names.index(joint_name)

    def flip_index(self) -> np.ndarray:
        """Joint permutation that swaps left and right (apply after mirroring the image)."""
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def non_root(self) -> np.ndarray:
        """Indices of all joints but the root, in order (the root-relative depth channels)."""
        return np.array([j for j in range(self.num_joints) if j != self.root], dtype=np.int64)


def _pairs(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Left/right pairs found by the 'l_'/'r_' name prefixes."""
    out = []
    for i, n in enumerate(names):
        if n.startswith("l_") and "r_" + n[2:] in names:
            out.append((i, names.index("r_" + n[2:])))
    return tuple(out)


def _bones(names: tuple[str, ...], named: list[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    return tuple((names.index(a), names.index(b)) for a, b in named)


_LIMBS = [(f"{s}_{a}", f"{s}_{b}") for s in "lr" for a, b in
          [("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")]]

MPI15_NAMES = ("neck", "head_top", "pelvis", "l_shoulder", "l_elbow", "l_wrist", "l_hip", "l_knee",
               "l_ankle", "r_shoulder", "r_elbow", "r_wrist", "r_hip", "r_knee", "r_ankle")
MPI15 = Skeleton("mpi15", MPI15_NAMES, root=2, flip_pairs=_pairs(MPI15_NAMES),
                 bones=_bones(MPI15_NAMES, [("neck", "head_top"), ("neck", "pelvis"),
                                            ("neck", "l_shoulder"), ("neck", "r_shoulder"),
                                            ("pelvis", "l_hip"), ("pelvis", "r_hip")] + _LIMBS))

# MuCo-3DHP as 3DMPPE distributes it; MuPoTS-3D uses its first 17 joints.
MUCO21_NAMES = ("head_top", "thorax", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow",
                "l_wrist", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis", "spine",
                "head", "r_hand", "l_hand", "r_toe", "l_toe")
_MUCO_BONES = [("head_top", "head"), ("head", "thorax"), ("thorax", "spine"), ("spine", "pelvis"),
               ("thorax", "l_shoulder"), ("thorax", "r_shoulder"), ("pelvis", "l_hip"),
               ("pelvis", "r_hip")] + _LIMBS
MUCO21 = Skeleton("muco21", MUCO21_NAMES, root=14, flip_pairs=_pairs(MUCO21_NAMES),
                  bones=_bones(MUCO21_NAMES, _MUCO_BONES + [("l_wrist", "l_hand"), ("r_wrist", "r_hand"),
                                                            ("l_ankle", "l_toe"), ("r_ankle", "r_toe")]))
MUPOTS17_NAMES = MUCO21_NAMES[:17]
MUPOTS17 = Skeleton("mupots17", MUPOTS17_NAMES, root=14, flip_pairs=_pairs(MUPOTS17_NAMES),
                    bones=_bones(MUPOTS17_NAMES, _MUCO_BONES))

# CMU Panoptic body19 (the order of its hdPose3d_stage1_coco19 files).
PANOPTIC19_NAMES = ("neck", "nose", "pelvis", "l_shoulder", "l_elbow", "l_wrist", "l_hip", "l_knee",
                    "l_ankle", "r_shoulder", "r_elbow", "r_wrist", "r_hip", "r_knee", "r_ankle", "l_eye",
                    "l_ear", "r_eye", "r_ear")
PANOPTIC19 = Skeleton("panoptic19", PANOPTIC19_NAMES, root=2, flip_pairs=_pairs(PANOPTIC19_NAMES),
                      bones=_bones(PANOPTIC19_NAMES, [("neck", "nose"), ("neck", "pelvis"),
                                                      ("neck", "l_shoulder"), ("neck", "r_shoulder"),
                                                      ("pelvis", "l_hip"), ("pelvis", "r_hip"),
                                                      ("nose", "l_eye"), ("nose", "r_eye"),
                                                      ("l_eye", "l_ear"), ("r_eye", "r_ear")] + _LIMBS))

COCO17_NAMES = ("nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow",
                "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle")
COCO17 = Skeleton("coco17", COCO17_NAMES, root=-1, flip_pairs=_pairs(COCO17_NAMES),
                  bones=_bones(COCO17_NAMES, [("l_shoulder", "r_shoulder"), ("l_hip", "r_hip"),
                                              ("l_shoulder", "l_hip"), ("r_shoulder", "r_hip"),
                                              ("nose", "l_eye"), ("nose", "r_eye"), ("l_eye", "l_ear"),
                                              ("r_eye", "r_ear")] + _LIMBS))


@dataclass(frozen=True)
class JointMapping:
    """Target joints as weighted sums of source joints: target = W @ source.

    A target joint is labelled only when every source joint it draws on is; a target row of zeros is a
    joint the source does not have (its visibility is 0 and its coordinates are 0).
    """

    source: Skeleton
    target: Skeleton
    weights: np.ndarray = field(repr=False)  # (J_target, J_source)

    def apply(self, joints: np.ndarray, visibility: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map (..., J_source, D) joints and (..., J_source) visibility to the target joint set.

        Visibility follows the COCO convention (0 unlabelled, 1 labelled but occluded, 2 visible); a
        combined joint takes the lowest visibility of its sources.
        """
        mapped = np.einsum("ts,...sd->...td", self.weights, joints)
        used = self.weights != 0  # (T, S)
        vis = np.where(used, visibility[..., None, :].astype(np.int16), np.iinfo(np.int16).max).min(axis=-1)
        vis = np.where(used.any(axis=1), vis, 0).astype(visibility.dtype)
        mapped = np.where(vis[..., None] > 0, mapped, 0.0)
        return mapped, vis


def _select(source: Skeleton, target: Skeleton, rename: dict[str, str] | None = None) -> JointMapping:
    """Mapping that copies joints by name (target name -> source name via `rename`)."""
    rename = rename or {}
    w = np.zeros((target.num_joints, source.num_joints))
    for t, name in enumerate(target.joint_names):
        src = rename.get(name, name)
        if src in source.joint_names:
            w[t, source.index(src)] = 1.0
    return JointMapping(source, target, w)


def _coco_to_mpi15() -> JointMapping:
    """COCO -> MPI15 as SMAP builds it: pelvis = mid-hip, neck = mid-shoulder + 0.185 (mid-shoulder -
    mid-hip), head top unlabelled."""
    m = _select(COCO17, MPI15)
    w = m.weights.copy()
    c = COCO17.index
    w[MPI15.index("pelvis"), [c("l_hip"), c("r_hip")]] = 0.5
    w[MPI15.index("neck"), [c("l_shoulder"), c("r_shoulder")]] = 0.5 * 1.185
    w[MPI15.index("neck"), [c("l_hip"), c("r_hip")]] = -0.5 * 0.185
    return JointMapping(COCO17, MPI15, w)


MAPPINGS_TO_MPI15: dict[str, JointMapping] = {
    "muco21": _select(MUCO21, MPI15, {"neck": "thorax"}),
    "mupots17": _select(MUPOTS17, MPI15, {"neck": "thorax"}),
    # Panoptic has no head top; its nose is not a head top, so that joint stays unlabelled.
    "panoptic19": _select(PANOPTIC19, MPI15),
    "coco17": _coco_to_mpi15(),
    "mpi15": _select(MPI15, MPI15),
}


def to_mpi15(skeleton: Skeleton) -> JointMapping:
    """The mapping from `skeleton` to the model's joint set; KeyError names the unknown skeleton."""
    try:
        return MAPPINGS_TO_MPI15[skeleton.name]
    except KeyError:
        raise KeyError(f"no mapping from joint set {skeleton.name!r} to mpi15") from None
