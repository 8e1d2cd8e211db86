"""REP 155 body frames from joints: origin, axes, handedness, links, degenerate bodies, quaternions."""
from __future__ import annotations

import numpy as np
import pytest

from drm_core.body_frames import LINKS, body_frames, body_rotation, quaternion_xyzw, rotation_of_quaternion
from drm_core.skeleton import COCO17, MPI15


def _standing(facing_camera: bool = True) -> np.ndarray:
    """A person 4 m in front of the camera (optical frame: x right, y down, z forward), arms hanging."""
    side = 1.0 if facing_camera else -1.0  # facing the camera, their left is the image's right (+x)
    named = {"pelvis": (0, 0, 0), "neck": (0, -0.55, 0), "head_top": (0, -0.8, 0),
             "l_hip": (0.1 * side, 0, 0), "r_hip": (-0.1 * side, 0, 0),
             "l_knee": (0.1 * side, 0.45, 0), "r_knee": (-0.1 * side, 0.45, 0),
             "l_ankle": (0.1 * side, 0.9, 0), "r_ankle": (-0.1 * side, 0.9, 0),
             "l_shoulder": (0.2 * side, -0.5, 0), "r_shoulder": (-0.2 * side, -0.5, 0),
             "l_elbow": (0.22 * side, -0.2, 0), "r_elbow": (-0.22 * side, -0.2, 0),
             "l_wrist": (0.22 * side, 0.05, 0), "r_wrist": (-0.22 * side, 0.05, 0)}
    return np.array([named[n] for n in MPI15.joint_names], float) + [0.5, 0.3, 4.0]


def test_body_frame_of_a_person_facing_the_camera():
    joints = _standing()
    frames = body_frames(joints)
    body = frames[0]
    assert body.name == "body" and body.parent is None
    np.testing.assert_allclose(body.translation, joints[MPI15.root])
    x, y, z = body.rotation.T
    np.testing.assert_allclose(x, [0, 0, -1], atol=1e-12)  # forward: out of the chest, towards the camera
    np.testing.assert_allclose(y, [1, 0, 0], atol=1e-12)  # their left: the image's right
    np.testing.assert_allclose(z, [0, -1, 0], atol=1e-12)  # up: against the optical frame's y
    assert np.linalg.det(body.rotation) == pytest.approx(1.0)


def test_turned_away_the_forward_axis_points_away_from_the_camera():
    x = body_rotation(_standing(facing_camera=False))[:, 0]
    np.testing.assert_allclose(x, [0, 0, 1], atol=1e-12)


def test_a_rotated_and_moved_body_rotates_its_frame_with_it():
    rng = np.random.default_rng(3)
    q = rng.normal(size=4)
    turn = rotation_of_quaternion(q)
    joints = _standing()
    moved = (joints - joints[MPI15.root]) @ turn.T + [1.0, -0.2, 6.0]
    np.testing.assert_allclose(body_rotation(moved), turn @ body_rotation(joints), atol=1e-9)
    np.testing.assert_allclose(body_frames(moved)[0].translation, [1.0, -0.2, 6.0], atol=1e-12)


def test_links_sit_on_their_joints_and_point_up_in_a_standing_pose():
    joints = _standing()
    frames = {f.name: f for f in body_frames(joints)}
    assert set(frames) == {"body", *LINKS}
    body = frames["body"]
    for name, frame in frames.items():
        if name == "body":
            continue
        assert frame.parent == "body"
        assert np.linalg.det(frame.rotation) == pytest.approx(1.0)
        np.testing.assert_allclose(frame.rotation.T @ frame.rotation, np.eye(3), atol=1e-12)
        # a standing pose with hanging arms: every link is upright like the body (Z up, X forward)
        np.testing.assert_allclose(frame.rotation[:, 2], [0, 0, 1], atol=0.1)
        position = body.rotation @ frame.translation + body.translation  # back into the camera frame
        if name in MPI15.joint_names:
            np.testing.assert_allclose(position, joints[MPI15.index(name)], atol=1e-12)
    np.testing.assert_allclose(body.rotation @ frames["head"].translation + body.translation,
                               (joints[MPI15.index("neck")] + joints[MPI15.index("head_top")]) / 2, atol=1e-12)


def test_degenerate_bodies_have_no_frame_and_other_skeletons_are_refused():
    flat = np.zeros((15, 3))
    assert body_frames(flat) is None
    joints = _standing()
    joints[MPI15.index("neck")] = joints[MPI15.index("pelvis")] + (joints[MPI15.index("l_hip")] -
                                                                   joints[MPI15.index("r_hip")])  # torso along hips
    assert body_rotation(joints) is None
    with pytest.raises(ValueError, match="lacks"):
        body_frames(np.zeros((17, 3)), COCO17)


def test_quaternions_round_trip_including_half_turns():
    rng = np.random.default_rng(0)
    rotations = [rotation_of_quaternion(rng.normal(size=4)) for _ in range(50)]
    rotations += [np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, 1.0, -1.0]), np.diag([-1.0, -1.0, 1.0])]
    for r in rotations:
        q = quaternion_xyzw(r)
        assert np.linalg.norm(q) == pytest.approx(1.0) and q[3] >= 0
        np.testing.assert_allclose(rotation_of_quaternion(q), r, atol=1e-12)
