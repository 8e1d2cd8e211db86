"""RViz markers of decoded poses: layout, header, colours, geometry, low-confidence joints."""
from __future__ import annotations

import itertools

import numpy as np
from builtin_interfaces.msg import Time
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from drm_core.skeleton import MPI15
from drm_core.pose_types import Poses3D
from drm_ros.frame.markers import MarkerOptions, colour_of, pose_markers

HEADER = Header(stamp=Time(sec=1234, nanosec=567), frame_id="camera_optical_frame")


def _poses(people: int, seed: int = 0) -> Poses3D:
    rng = np.random.default_rng(seed)
    xyz = rng.normal(0.0, 0.4, (people, 15, 3)) + np.array([0.0, 0.0, 4.0])
    xyz[:, :, 0] += np.arange(people)[:, None] * 1.5  # side by side
    return Poses3D(xyz, rng.uniform(0, 640, (people, 15, 2)), np.full((people, 15), 0.9),
                   np.linspace(0.9, 0.5, people), MPI15.joint_names)


def _xyz(points) -> np.ndarray:
    return np.array([[p.x, p.y, p.z] for p in points]).reshape(-1, 3)


def test_layout_counts_deleteall_first_and_header_copied():
    markers = pose_markers(_poses(3), HEADER, MPI15).markers
    assert len(markers) == 1 + 3 * 3
    assert markers[0].action == Marker.DELETEALL and markers[0].ns == ""  # "": every ns of the display
    assert all(m.action == Marker.ADD for m in markers[1:])
    types = [m.type for m in markers[1:]]
    assert types.count(Marker.LINE_LIST) == types.count(Marker.SPHERE_LIST) == types.count(Marker.TEXT_VIEW_FACING) == 3
    for m in markers:
        assert m.header.frame_id == "camera_optical_frame" and m.header.stamp == HEADER.stamp
    assert len({(m.ns, m.id) for m in markers}) == len(markers)  # RViz rejects duplicate (ns, id) pairs
    without_text = pose_markers(_poses(3), HEADER, MPI15, MarkerOptions(text=False)).markers
    assert len(without_text) == 1 + 2 * 3
    assert len(pose_markers(_poses(0), HEADER, MPI15).markers) == 1  # nobody: just clear the view


def test_line_list_pairs_are_the_bones_and_spheres_the_joints():
    poses = _poses(2, seed=3)
    markers = pose_markers(poses, HEADER, MPI15, MarkerOptions(line_width_m=0.05, joint_size_m=0.08)).markers
    for pid in range(2):
        bones = next(m for m in markers if m.type == Marker.LINE_LIST and m.id == pid)
        expected = np.array([poses.joints_cam_m[pid][[a, b]] for a, b in MPI15.bones]).reshape(-1, 3)
        np.testing.assert_allclose(_xyz(bones.points), expected)
        assert bones.scale.x == 0.05
        joints = next(m for m in markers if m.type == Marker.SPHERE_LIST and m.id == pid)
        np.testing.assert_allclose(_xyz(joints.points), poses.joints_cam_m[pid])
        assert joints.scale.x == joints.scale.y == joints.scale.z == 0.08


def test_label_names_id_score_distance_above_the_head():
    poses = _poses(2, seed=1)
    labels = [m for m in pose_markers(poses, HEADER, MPI15).markers if m.type == Marker.TEXT_VIEW_FACING]
    for pid, label in enumerate(labels):
        distance = np.linalg.norm(poses.joints_cam_m[pid, MPI15.root])
        assert label.text == f"#{pid} {poses.scores[pid]:.2f} {distance:.1f} m"
        assert label.pose.position.y < poses.joints_cam_m[pid, :, 1].min()  # above (y down) every joint


def test_colours_stable_per_id_and_distinct():
    first = pose_markers(_poses(3, seed=0), HEADER, MPI15).markers
    second = pose_markers(_poses(5, seed=9), HEADER, MPI15).markers
    for pid in range(3):
        colours = {(m.color.r, m.color.g, m.color.b, m.color.a) for m in first + second if m.id == pid and m.ns}
        assert len(colours) == 1  # bones, joints and label of one id, in both arrays
    rgb = np.array([[c.r, c.g, c.b] for c in map(colour_of, range(12))])
    closest = min(np.linalg.norm(a - b) for a, b in itertools.combinations(rgb, 2))
    assert closest > 0.1, closest
    assert all(colour_of(i).a == 1.0 for i in range(12))


def test_low_confidence_joints_and_their_bones_are_skipped():
    poses = _poses(1)
    weak = MPI15.joint_names.index("l_wrist")
    poses.joint_conf[0, weak] = 0.05
    markers = pose_markers(poses, HEADER, MPI15, MarkerOptions(min_confidence=0.1, lifetime_s=0.5)).markers
    bones = next(m for m in markers if m.type == Marker.LINE_LIST)
    joints = next(m for m in markers if m.type == Marker.SPHERE_LIST)
    kept = [bone for bone in MPI15.bones if weak not in bone]
    assert len(kept) < len(MPI15.bones)
    np.testing.assert_allclose(_xyz(bones.points), poses.joints_cam_m[0][np.ravel(kept)])
    np.testing.assert_allclose(_xyz(joints.points), np.delete(poses.joints_cam_m[0], weak, axis=0))
    assert all(m.lifetime.sec == 0 and m.lifetime.nanosec == 500_000_000 for m in markers[1:])
