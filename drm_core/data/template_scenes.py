"""Small hand-made scenes with exact ground truth: one template person placed at given pixels and depths.

The codec, predictor and data tests check against them, and scripts/bench_decode.py times decoding on them."""
from __future__ import annotations

import numpy as np

from drm_core.camera import Camera, Letterbox, backproject, project
from drm_core.skeleton import MPI15

# A standing person in MPI15 order, pelvis at the origin, metres, camera optical axes (y down).
TEMPLATE_M = np.array([
    [0.0, -0.50, 0.00],   # neck
    [0.0, -0.78, 0.02],   # head_top
    [0.0, 0.00, 0.00],    # pelvis
    [0.18, -0.47, 0.03], [0.25, -0.20, 0.08], [0.28, 0.05, 0.15],   # l_shoulder, l_elbow, l_wrist
    [0.10, 0.02, 0.00], [0.12, 0.45, 0.05], [0.12, 0.88, 0.10],     # l_hip, l_knee, l_ankle
    [-0.18, -0.47, -0.03], [-0.25, -0.20, -0.10], [-0.27, 0.05, -0.2],  # r_shoulder, r_elbow, r_wrist
    [-0.10, 0.02, 0.00], [-0.12, 0.45, -0.06], [-0.12, 0.88, -0.12],   # r_hip, r_knee, r_ankle
])
assert TEMPLATE_M.shape == (MPI15.num_joints, 3)


def person_at(camera: Camera, root_uv: tuple[float, float], depth_m: float, scale: float = 1.0,
              yaw_rad: float = 0.0) -> np.ndarray:
    """(J, 3) joints of a template person whose pelvis projects to `root_uv` at `depth_m`."""
    root = backproject(np.array([root_uv]), np.array([depth_m]), camera)[0]
    c, s = np.cos(yaw_rad), np.sin(yaw_rad)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return root + scale * TEMPLATE_M @ rot.T


def scene(camera: Camera, placements: list[tuple[float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """3D joints (P, J, 3) and distorted pixels (P, J, 2) of people placed at (u, v, depth)."""
    joints_3d = np.stack([person_at(camera, (u, v), z, yaw_rad=0.3 * i) for i, (u, v, z) in enumerate(placements)])
    uv = project(joints_3d.reshape(-1, 3), camera).reshape(len(placements), -1, 2)
    return joints_3d, uv


def input_ground_truth(camera: Camera, joints_3d: np.ndarray, uv: np.ndarray,
                       letterbox: Letterbox) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The encode() arguments for a source-image scene seen through `letterbox`."""
    vis = np.full(uv.shape[:2], 2, dtype=np.int8)
    return letterbox.to_input(uv), vis, joints_3d, letterbox.input_K(camera.K)
