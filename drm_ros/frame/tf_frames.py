"""TF frames of tracked people (REP 155): per confirmed person of a PoseArray3D, a `body_<id>` frame parented to
the image's frame_id and its link frames (`head_<id>`, `torso_<id>`, `l_shoulder_<id>`, ...) parented to it,
stamped with the image's stamp. The geometry is drm_core.body_frames'; this module only makes the messages.

tf2_msgs (TFMessage) comes with every ROS install but not with the PyPI wheels: `tf_message_type()` imports it
when it can and says why not otherwise, so the node can log once and carry on without TF.
"""
from __future__ import annotations

import numpy as np
from geometry_msgs.msg import TransformStamped

from drm_core.body_frames import body_frames, quaternion_xyzw
from drm_core.skeleton import Skeleton
from drm_ros.msg import Person3D, PoseArray3D


def tf_message_type() -> tuple[type | None, str]:
    """(tf2_msgs.msg.TFMessage, "") when importable, else (None, why)."""
    try:
        from tf2_msgs.msg import TFMessage
    except ImportError as err:
        return None, f"tf2_msgs is not importable ({err})"
    return TFMessage, ""


def frame_name(link: str, person_id: int) -> str:
    """`body_3`, `head_3`, ...: REP 155's `<frame>_<body id>` with the track id as the body id."""
    return f"{link}_{person_id}"


def person_transforms(msg: PoseArray3D, person: Person3D, skeleton: Skeleton) -> list[TransformStamped]:
    """The body frame and link frames of one person of `msg` (empty when no orientation can be read)."""
    joints = np.array([[k.position.x, k.position.y, k.position.z] for k in person.keypoints]).reshape(-1, 3)
    frames = body_frames(joints, skeleton)
    if frames is None:
        return []
    out = []
    for frame in frames:
        t = TransformStamped()
        t.header.stamp = msg.header.stamp
        t.header.frame_id = msg.header.frame_id if frame.parent is None else frame_name(frame.parent, person.id)
        t.child_frame_id = frame_name(frame.name, person.id)
        t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = \
            (float(v) for v in frame.translation)
        q = quaternion_xyzw(frame.rotation)
        t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z, t.transform.rotation.w = \
            (float(v) for v in q)
        out.append(t)
    return out


def body_transforms(msg: PoseArray3D, skeleton: Skeleton) -> list[TransformStamped]:
    """Transforms of every confirmed person of `msg` (tentative and coasting tracks get none)."""
    if list(msg.joint_names) != list(skeleton.joint_names):
        raise ValueError(f"message joints {list(msg.joint_names)} are not skeleton {skeleton.name}'s")
    return [t for person in msg.people if person.state == Person3D.STATE_CONFIRMED
            for t in person_transforms(msg, person, skeleton)]
