"""RViz markers for decoded poses: for eyes only (the PoseArray3D message is the interface).

One MarkerArray per image: a DELETEALL first (so people who left the view disappear), then per person a
LINE_LIST of bones, a SPHERE_LIST of joints and a TEXT_VIEW_FACING label "#id score distance m", all in the
person's colour and with the image's header. Joints whose confidence is below `min_confidence` are skipped,
and so are the bones that touch them: a guessed joint drawn like a seen one would mislead the eye. Given the
tracker's velocities, an ARROW per person moving faster than `min_speed_m_s` starts at the root and ends where
the person will be in `velocity_arrow_s` at that velocity.
"""
from __future__ import annotations

import colorsys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from drm_core.skeleton import Skeleton
from drm_core.pose_types import Poses3D

GOLDEN_RATIO = 0.618033988749895


@dataclass(frozen=True)
class MarkerOptions:
    line_width_m: float = 0.03
    joint_size_m: float = 0.06
    text: bool = True
    min_confidence: float = 0.1  # joints below this are skipped, with the bones that touch them
    lifetime_s: float = 0.0  # 0: until the next DELETEALL (the next image's markers)
    namespace: str = "drm"
    text_height_m: float = 0.15
    text_above_m: float = 0.25  # label height above the highest drawn joint
    velocity_arrow_s: float = 1.0  # arrow length: the distance covered in this time
    min_speed_m_s: float = 0.1  # slower people get no arrow (a standing person's velocity is noise)


def colour_of(person_id: int) -> ColorRGBA:
    """A stable colour per id, distinct from its neighbours: golden-ratio steps around the hue circle."""
    r, g, b = colorsys.hsv_to_rgb((person_id * GOLDEN_RATIO) % 1.0, 0.85, 0.95)
    return ColorRGBA(r=r, g=g, b=b, a=1.0)


def _point(xyz) -> Point:
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def _marker(header: Header, ns: str, pid: int, kind: int, colour: ColorRGBA, lifetime: Duration) -> Marker:
    marker = Marker(header=header, ns=ns, id=pid, type=kind, action=Marker.ADD, color=colour, lifetime=lifetime)
    marker.pose.orientation.w = 1.0  # points are in the header's frame as they are
    return marker


def pose_markers(poses: Poses3D, header: Header, skeleton: Skeleton,
                 options: MarkerOptions = MarkerOptions(), ids: Sequence[int] | None = None,
                 velocities_m_s: np.ndarray | None = None) -> MarkerArray:
    """DELETEALL, then per person a bone LINE_LIST, a joint SPHERE_LIST, (options.text) a label and, with
    `velocities_m_s` (P, 3), a velocity ARROW for people faster than options.min_speed_m_s.

    With `ids` (track ids) marker ids, colours and labels follow the person across frames; without, the
    decoding order."""
    out = MarkerArray()
    # Empty ns: RViz 2 then deletes every marker of the display; a named ns would delete only that ns.
    out.markers.append(Marker(header=header, ns="", id=0, action=Marker.DELETEALL))
    seconds = max(options.lifetime_s, 0.0)
    lifetime = Duration(sec=int(seconds), nanosec=int(round((seconds % 1.0) * 1e9)) % 10**9)
    ns = options.namespace
    if ids is not None and len(ids) != len(poses):
        raise ValueError(f"{len(ids)} ids for {len(poses)} people")
    if velocities_m_s is not None and len(velocities_m_s) != len(poses):
        raise ValueError(f"{len(velocities_m_s)} velocities for {len(poses)} people")
    for index in range(len(poses)):
        pid = int(ids[index]) if ids is not None else index
        xyz, conf = poses.joints_cam_m[index], poses.joint_conf[index]
        seen = conf >= options.min_confidence
        colour = colour_of(pid)
        bones = _marker(header, f"{ns}/bones", pid, Marker.LINE_LIST, colour, lifetime)
        bones.scale.x = options.line_width_m
        bones.points = [_point(xyz[j]) for a, b in skeleton.bones if seen[a] and seen[b] for j in (a, b)]
        joints = _marker(header, f"{ns}/joints", pid, Marker.SPHERE_LIST, colour, lifetime)
        joints.scale.x = joints.scale.y = joints.scale.z = options.joint_size_m
        joints.points = [_point(p) for p in xyz[seen]]
        out.markers += [bones, joints]
        if options.text:
            drawn = xyz[seen] if seen.any() else xyz
            top = drawn[drawn[:, 1].argmin()]  # y points down in the optical frame: the highest joint
            root = xyz[skeleton.root]
            label = _marker(header, f"{ns}/labels", pid, Marker.TEXT_VIEW_FACING, colour, lifetime)
            label.text = f"#{pid} {poses.scores[index]:.2f} {float(np.linalg.norm(root)):.1f} m"
            label.pose.position = _point(top - np.array([0.0, options.text_above_m, 0.0]))
            label.scale.z = options.text_height_m
            out.markers.append(label)
        velocity = None if velocities_m_s is None else np.asarray(velocities_m_s[index], float)
        if velocity is not None and np.linalg.norm(velocity) >= options.min_speed_m_s:
            root = xyz[skeleton.root]
            arrow = _marker(header, f"{ns}/velocity", pid, Marker.ARROW, colour, lifetime)
            arrow.points = [_point(root), _point(root + velocity * options.velocity_arrow_s)]
            # shaft diameter, head diameter, head length
            arrow.scale.x, arrow.scale.y, arrow.scale.z = options.line_width_m * 1.5, options.line_width_m * 3, 0.1
            out.markers.append(arrow)
    return out
