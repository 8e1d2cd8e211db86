"""The tracker's velocity, state and age in PoseArray3D, velocity arrows in the markers, REP 155 TF frames, and
the frame pipeline passing them through (coasting tracks only when asked)."""
from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from drm_core.body_frames import body_frames, rotation_of_quaternion
from drm_core.pose_types import Poses3D
from drm_core.skeleton import MPI15
from drm_core.tracking import COASTING, CONFIRMED, TENTATIVE
from drm_ros.frame.markers import MarkerOptions, pose_markers
from drm_ros.frame.pose_messages import poses_to_msg
from drm_ros.frame.tf_frames import body_transforms
from drm_ros.msg import Person3D, PoseArray3D
from tests.core.test_body_frames import _standing

HEADER = Header(stamp=Time(sec=1234, nanosec=567), frame_id="camera_optical_frame")


def _poses(people: int) -> Poses3D:
    xyz = np.stack([_standing() + [1.2 * p, 0, 0] for p in range(people)])
    uv = xyz[..., :2] / xyz[..., 2:] * 300.0 + [32.0, 24.0]  # a pinhole view of them
    return Poses3D(xyz, uv, np.full((people, 15), 0.9), np.full(people, 0.8), MPI15.joint_names)


def test_states_match_the_message_constants():
    assert (TENTATIVE, CONFIRMED, COASTING) == (Person3D.STATE_TENTATIVE, Person3D.STATE_CONFIRMED,
                                                Person3D.STATE_COASTING)


def test_velocity_state_and_age_go_into_the_message_and_survive_serialisation():
    velocities = np.array([[1.0, 0.0, -0.5], [0.0, 0.1, 0.2], [-1.5, 0.0, 0.0]])
    msg = poses_to_msg(_poses(3), HEADER, MPI15, [7, 8, 9], velocities, [CONFIRMED, TENTATIVE, COASTING],
                       [2.5, 0.0, 1.25])
    back = deserialize_message(serialize_message(msg), PoseArray3D)
    got = [([p.velocity.x, p.velocity.y, p.velocity.z], p.state, p.age_s) for p in back.people]
    assert got == [([1.0, 0.0, -0.5], 1, 2.5), ([0.0, 0.1, 0.2], 0, 0.0), ([-1.5, 0.0, 0.0], 2, 1.25)]
    plain = poses_to_msg(_poses(1), HEADER, MPI15)  # without the tracker: zeros and tentative
    assert (plain.people[0].velocity.x, plain.people[0].state, plain.people[0].age_s) == (0.0, 0, 0.0)
    with pytest.raises(ValueError, match="2 velocities for 3 people"):
        poses_to_msg(_poses(3), HEADER, MPI15, [1, 2, 3], velocities[:2])


def test_velocity_arrows_start_at_the_root_and_span_one_second_of_motion():
    velocities = np.array([[1.0, 0.0, -0.5], [0.02, 0.0, 0.0]])  # the second is below min_speed_m_s: no arrow
    poses = _poses(2)
    markers = pose_markers(poses, HEADER, MPI15, MarkerOptions(), [3, 4], velocities).markers
    arrows = [m for m in markers if m.type == Marker.ARROW and m.action == Marker.ADD]
    assert [(m.ns, m.id) for m in arrows] == [("drm/velocity", 3)]
    start, end = ([p.x, p.y, p.z] for p in arrows[0].points)
    np.testing.assert_allclose(start, poses.joints_cam_m[0, MPI15.root])
    np.testing.assert_allclose(end, poses.joints_cam_m[0, MPI15.root] + velocities[0])
    assert arrows[0].header == HEADER
    assert not [m for m in pose_markers(poses, HEADER, MPI15, ids=[3, 4]).markers[1:] if m.type == Marker.ARROW]


def test_tf_frames_only_for_confirmed_people_rooted_at_the_published_root():
    msg = poses_to_msg(_poses(3), HEADER, MPI15, [5, 6, 7], np.zeros((3, 3)), [CONFIRMED, TENTATIVE, CONFIRMED],
                       [1.0, 0.1, 2.0])
    transforms = body_transforms(msg, MPI15)
    bodies = [t for t in transforms if t.child_frame_id.startswith("body_")]
    assert [t.child_frame_id for t in bodies] == ["body_5", "body_7"]
    assert len(transforms) == 2 * len(body_frames(_standing()))
    for body, person in zip(bodies, [msg.people[0], msg.people[2]]):
        assert body.header.frame_id == "camera_optical_frame" and body.header.stamp == HEADER.stamp
        t = body.transform.translation
        assert [t.x, t.y, t.z] == [person.root.x, person.root.y, person.root.z]
        r = body.transform.rotation
        np.testing.assert_allclose(rotation_of_quaternion([r.x, r.y, r.z, r.w]),
                                   [[0, 1, 0], [0, 0, -1], [-1, 0, 0]], atol=1e-9)  # columns X, Y, Z
    links = [t for t in transforms if t.header.frame_id == "body_5"]
    assert {t.child_frame_id for t in links} >= {"head_5", "torso_5", "l_shoulder_5", "r_ankle_5"}


class _ScriptedPredictor:
    """Stands in for the model: returns the next scripted Poses3D for every image."""

    skeleton = MPI15

    def __init__(self, script: list[Poses3D]):
        self.script = list(script)

    def predict(self, rgb, camera) -> Poses3D:
        return self.script.pop(0)


@pytest.mark.parametrize("coasting", [False, True])
def test_the_pipeline_publishes_velocity_state_and_age_and_coasting_tracks_only_when_asked(coasting):
    from drm_ros.frame.image_conversion import rgb_to_image
    from drm_ros.frame.intrinsics import IntrinsicsStore
    from drm_ros.frame.pipeline import FramePipeline

    one = _poses(1)
    walking = [Poses3D(one.joints_cam_m + [0.15 * i, 0, 0], one.joints_uv_px + [0.15 * i * 300 / 4, 0], one.joint_conf,
                       one.scores, one.joint_names) for i in range(4)]
    script = walking + [Poses3D.empty(MPI15.joint_names)]
    pipeline = FramePipeline(_ScriptedPredictor(script), IntrinsicsStore(False, (300.0, 300.0, 32.0, 24.0)),
                             publish_coasting=coasting)
    results = []
    for i in range(len(script)):
        image = rgb_to_image(np.zeros((48, 64, 3), np.uint8), header=Header(stamp=Time(sec=10, nanosec=100_000_000 * i),
                                                                    frame_id="cam"))
        results.append(pipeline.process(image))
    people = [r.poses_msg.people for r in results]
    assert [p[0].state for p in people[:4]] == [TENTATIVE, TENTATIVE, CONFIRMED, CONFIRMED]
    assert people[3][0].age_s == pytest.approx(0.3)
    assert people[3][0].velocity.x == pytest.approx(1.5) and people[3][0].velocity.z == pytest.approx(0.0, abs=1e-9)
    assert any(m.type == Marker.ARROW and m.action == Marker.ADD for m in results[3].markers_msg.markers)
    assert len(results[4].poses) == 0 and results[4].tracked.coasting.states.tolist() == [COASTING]
    if coasting:  # the unseen person, moved on at 1.5 m/s, confidences 0
        (ghost,) = people[4]
        assert ghost.state == COASTING and ghost.id == people[3][0].id
        assert ghost.root.x == pytest.approx(people[3][0].root.x + 0.15)
        assert all(k.confidence == 0 for k in ghost.keypoints)
    else:
        assert people[4] == []
