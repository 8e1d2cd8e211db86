"""drm_core's Poses3D -> drm_ros/PoseArray3D, with the source image's header."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import Header

from drm_core.skeleton import Skeleton
from drm_core.pose_types import Poses3D
from drm_ros.msg import Keypoint3D, Person3D, PoseArray3D


def _point(xyz) -> Point:
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def poses_to_msg(poses: Poses3D, header: Header, skeleton: Skeleton,
                 ids: Sequence[int] | None = None, velocities_m_s: np.ndarray | None = None,
                 states: Sequence[int] | None = None, ages_s: Sequence[float] | None = None) -> PoseArray3D:
    """Every person of `poses` with the image's `header` (stamp and frame_id copied, never now()).

    Person ids are `ids` (track ids from drm_core.tracking, stable across frames) or, without them, the
    decoding order (best score first); root is the skeleton's root joint (the pelvis); bones are the
    skeleton's joint index pairs, flattened. The tracker's root velocity (P, 3), state and age per person go
    into velocity, state and age_s (zero, STATE_TENTATIVE and 0 when not given).
    """
    if tuple(poses.joint_names) != tuple(skeleton.joint_names):
        raise ValueError(f"poses have joints {poses.joint_names}, skeleton {skeleton.name} has {skeleton.joint_names}")
    if ids is not None and len(ids) != len(poses):
        raise ValueError(f"{len(ids)} ids for {len(poses)} people")
    for name, values in (("velocities", velocities_m_s), ("states", states), ("ages", ages_s)):
        if values is not None and len(values) != len(poses):
            raise ValueError(f"{len(values)} {name} for {len(poses)} people")
    msg = PoseArray3D(header=header, skeleton=skeleton.name, joint_names=list(skeleton.joint_names),
                      bones=[int(i) for bone in skeleton.bones for i in bone])
    for pid in range(len(poses)):
        xyz, uv, conf = poses.joints_cam_m[pid], poses.joints_uv_px[pid], poses.joint_conf[pid]
        keypoints = [Keypoint3D(position=_point(xyz[j]), u=float(uv[j, 0]), v=float(uv[j, 1]),
                                confidence=float(conf[j])) for j in range(len(xyz))]
        person = Person3D(id=int(ids[pid]) if ids is not None else pid, score=float(poses.scores[pid]),
                          root=_point(xyz[skeleton.root]), keypoints=keypoints)
        if velocities_m_s is not None:
            v = velocities_m_s[pid]
            person.velocity = Vector3(x=float(v[0]), y=float(v[1]), z=float(v[2]))
        if states is not None:
            person.state = int(states[pid])
        if ages_s is not None:
            person.age_s = float(ages_s[pid])
        msg.people.append(person)
    return msg
