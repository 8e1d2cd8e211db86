"""Coordinate frames of a person from their 3D joints, in the convention of REP 155 (ROS4HRI): no ROS here.

The body frame (`body`): origin at the root joint (the pelvis, the mid-hip), X forward (out of the chest), Y to
the person's left, Z up along the torso; right-handed. Y is the direction from the right hip to the left hip
(the shoulders when the hips coincide); Z is the pelvis-to-neck direction with its Y part removed; X = Y x Z.
Z is "up" for the body, not against gravity: the camera's tilt is unknown here, and a person bending over
tilts their Z with them.

Link frames, each parented to the body frame (the names follow ROS4HRI's human model as far as it could be
inferred; each is published as `<link>_<id>`):
- `torso`: at the mid-point of pelvis and neck, the body's orientation;
- `head`: at the mid-point of neck and head top, Z from neck to head top;
- `l_shoulder`, `r_shoulder`, `l_elbow`, `r_elbow`, `l_wrist`, `r_wrist`, `l_hip`, `r_hip`, `l_knee`, `r_knee`,
  `l_ankle`, `r_ankle`: at that joint, Z along the limb segment that hangs from it, pointing back up to the
  joint (upper arm for the shoulder, forearm for elbow and wrist, thigh for the hip, shin for knee and ankle),
  so that in a standing pose with hanging arms every Z points up like the body's.
Every link's X is the body's X with its Z part removed (the body's Z when that vanishes).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drm_core.skeleton import MPI15, Skeleton

EPS = 1e-6

# link: (origin: joint name or pair averaged, segment (from, to) whose direction is the link's Z; None: body Z)
LINKS: dict[str, tuple[tuple[str, ...], tuple[str, str] | None]] = {
    "torso": (("pelvis", "neck"), None),
    "head": (("neck", "head_top"), ("neck", "head_top")),
    **{f"{s}_{joint}": ((f"{s}_{joint}",), (f"{s}_{lower}", f"{s}_{upper}"))
       for s in "lr" for joint, lower, upper in [("shoulder", "elbow", "shoulder"), ("elbow", "wrist", "elbow"),
                                                  ("wrist", "wrist", "elbow"), ("hip", "knee", "hip"),
                                                  ("knee", "ankle", "knee"), ("ankle", "ankle", "knee")]},
}
REQUIRED = ("pelvis", "neck", "head_top", "l_hip", "r_hip", "l_shoulder", "r_shoulder")


@dataclass(frozen=True)
class BodyFrame:
    """One frame: its translation and rotation (columns: its X, Y, Z axes) in its parent's coordinates."""

    name: str  # "body" or a link name of LINKS
    parent: str | None  # None: the camera frame the joints are in; "body" for links
    translation: np.ndarray  # (3,) metres
    rotation: np.ndarray  # (3, 3), orthonormal, det +1


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    return v / n if n > EPS and np.isfinite(n) else None


def _orthonormal(axis: np.ndarray, hint: np.ndarray) -> np.ndarray | None:
    """`hint` with its part along unit `axis` removed, normalised (None when it vanishes)."""
    return _unit(hint - (hint @ axis) * axis)


def _check(skeleton: Skeleton) -> None:
    missing = [n for n in REQUIRED if n not in skeleton.joint_names]
    if missing:
        raise ValueError(f"body frames need the joints {REQUIRED}; skeleton {skeleton.name} lacks {missing}")


def body_rotation(joints_m: np.ndarray, skeleton: Skeleton = MPI15) -> np.ndarray | None:
    """The body frame's axes (columns X forward, Y left, Z up) in the joints' frame; None when the hips and
    shoulders coincide or the torso lies along them (no orientation can be read)."""
    _check(skeleton)
    j = {name: np.asarray(joints_m[i], float) for i, name in enumerate(skeleton.joint_names)}
    left = _unit(j["l_hip"] - j["r_hip"])
    if left is None:
        left = _unit(j["l_shoulder"] - j["r_shoulder"])
    if left is None:
        return None
    up = _orthonormal(left, j["neck"] - j["pelvis"])
    if up is None:
        return None
    return np.column_stack([np.cross(left, up), left, up])


def body_frames(joints_m: np.ndarray, skeleton: Skeleton = MPI15) -> list[BodyFrame] | None:
    """The body frame (parent: the joints' frame) then every link of LINKS (parent: the body frame), or None
    when the body's orientation cannot be read (see body_rotation)."""
    rotation = body_rotation(joints_m, skeleton)
    if rotation is None:
        return None
    j = {name: np.asarray(joints_m[i], float) for i, name in enumerate(skeleton.joint_names)}
    origin = j[skeleton.joint_names[skeleton.root]]
    frames = [BodyFrame("body", None, origin.copy(), rotation)]
    for link, (at, segment) in LINKS.items():
        position = np.mean([j[name] for name in at], axis=0)
        z = _unit(j[segment[1]] - j[segment[0]]) if segment else None
        if z is None:
            link_rotation = rotation
        else:
            x = _orthonormal(z, rotation[:, 0])
            if x is None:
                x = _orthonormal(z, rotation[:, 2])
            link_rotation = np.column_stack([x, np.cross(z, x), z])
        frames.append(BodyFrame(link, "body", rotation.T @ (position - origin), rotation.T @ link_rotation))
    return frames


def quaternion_xyzw(rotation: np.ndarray) -> np.ndarray:
    """The unit quaternion (x, y, z, w) of a rotation matrix, w >= 0 (Shepperd's method: stable everywhere)."""
    m = np.asarray(rotation, float)
    trace = np.trace(m)
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = np.array([(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s])
    else:
        i = int(np.argmax(np.diag(m)))
        k, l = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[k, k] - m[l, l])
        q = np.zeros(4)
        q[i] = 0.25 * s
        q[k] = (m[k, i] + m[i, k]) / s
        q[l] = (m[l, i] + m[i, l]) / s
        q[3] = (m[l, k] - m[k, l]) / s
    q /= np.linalg.norm(q)
    return q if q[3] >= 0 else -q


def rotation_of_quaternion(q_xyzw: np.ndarray) -> np.ndarray:
    """The rotation matrix of a unit quaternion (x, y, z, w)."""
    x, y, z, w = np.asarray(q_xyzw, float) / np.linalg.norm(q_xyzw)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
