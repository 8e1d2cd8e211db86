"""The records that flow between drm_core's pieces: a training Sample and the decoded Poses3D."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drm_core.camera import Camera

# Visibility follows COCO: 0 unlabelled, 1 labelled but occluded, 2 labelled and visible.
UNLABELLED, OCCLUDED, VISIBLE = 0, 1, 2


@dataclass
class Sample:
    """One image with all its people in the model's joint set (MPI15).

    joints_2d_px: (P, J, 2) pixels in `image`; joints_3d_m: (P, J, 3) camera frame, metres, or None for
    2D-only data (COCO); visibility: (P, J) int8 as above. `camera` belongs to `image`. joints_rel_m: (P, J, 3)
    metres, each person's joints relative to its root in the camera's axes, NaN where unknown, or None: a
    teacher's root-relative 3D, which supervises relative depth only, for people without joints_3d_m.
    """

    image: np.ndarray  # H x W x 3, uint8, RGB
    camera: Camera
    joints_2d_px: np.ndarray
    joints_3d_m: np.ndarray | None
    visibility: np.ndarray
    dataset: str
    image_id: str = ""
    meta: dict = field(default_factory=dict)
    joints_rel_m: np.ndarray | None = None

    @property
    def has_3d(self) -> bool:
        return self.joints_3d_m is not None

    @property
    def num_people(self) -> int:
        return int(self.joints_2d_px.shape[0])


@dataclass
class Poses3D:
    """Decoded people of one image: metric 3D in the camera optical frame and pixels in the source image.

    joints_cam_m: (P, J, 3); joints_uv_px: (P, J, 2); joint_conf: (P, J) in [0, 1]; scores: (P,).
    Every value is finite: a joint the model could not see still carries its estimate, with low confidence.
    """

    joints_cam_m: np.ndarray
    joints_uv_px: np.ndarray
    joint_conf: np.ndarray
    scores: np.ndarray
    joint_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @classmethod
    def empty(cls, joint_names: tuple[str, ...]) -> "Poses3D":
        j = len(joint_names)
        return cls(np.zeros((0, j, 3)), np.zeros((0, j, 2)), np.zeros((0, j)), np.zeros(0), joint_names)
