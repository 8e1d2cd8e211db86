"""RViz markers for decoded poses: for eyes only (the PoseArray3D message is the interface)."""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from drm_core.skeleton import Skeleton
from drm_core.types import Poses3D


@dataclass(frozen=True)
class MarkerOptions:
    line_width_m: float = 0.03
    joint_size_m: float = 0.06
    text: bool = True
    min_confidence: float = 0.1  # joints below this are left out of the drawing (and bones touching them)
    namespace: str = "drm"


def colour_of(person_id: int) -> ColorRGBA:
    """A stable, distinct colour per id: golden-ratio steps around the hue circle."""
    r, g, b = colorsys.hsv_to_rgb((person_id * 0.618033988749895) % 1.0, 0.85, 0.95)
    return ColorRGBA(r=r, g=g, b=b, a=1.0)


def _point(xyz) -> Point:
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def pose_markers(poses: Poses3D, header, skeleton: Skeleton, options: MarkerOptions = MarkerOptions()) -> MarkerArray:
    """DELETEALL, then per person a skeleton LINE_LIST, a joint SPHERE_LIST and a text label, in `header`'s frame."""
    out = MarkerArray()
    out.markers.append(Marker(header=header, ns=options.namespace, action=Marker.DELETEALL))
    for pid in range(len(poses)):
        xyz, conf = poses.joints_cam_m[pid], poses.joint_conf[pid]
        seen = conf >= options.min_confidence
        colour = colour_of(pid)
        bones = Marker(header=header, ns=f"{options.namespace}/skeleton", id=pid, type=Marker.LINE_LIST,
                       action=Marker.ADD, color=colour)
        bones.pose.orientation.w = 1.0
        bones.scale.x = options.line_width_m
        for a, b in skeleton.bones:
            if seen[a] and seen[b]:
                bones.points += [_point(xyz[a]), _point(xyz[b])]
        joints = Marker(header=header, ns=f"{options.namespace}/joints", id=pid, type=Marker.SPHERE_LIST,
                        action=Marker.ADD, color=colour, points=[_point(p) for p in xyz[seen]])
        joints.pose.orientation.w = 1.0
        joints.scale.x = joints.scale.y = joints.scale.z = options.joint_size_m
        out.markers += [bones, joints]
        if options.text:
            top = xyz[:, 1].argmin()  # y points down: the highest joint
            label = Marker(header=header, ns=f"{options.namespace}/label", id=pid, type=Marker.TEXT_VIEW_FACING,
                           action=Marker.ADD, color=colour,
                           text=f"#{pid} {poses.scores[pid]:.2f} {xyz[skeleton.root, 2]:.1f} m")
            label.pose.position = _point(xyz[top] - [0.0, 0.25, 0.0])
            label.pose.orientation.w = 1.0
            label.scale.z = 0.15
            out.markers.append(label)
    return out
