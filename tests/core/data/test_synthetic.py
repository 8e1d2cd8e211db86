"""The synthetic scene generator: determinism, exact geometry, visibility read off the rendering, plausible
bodies, config ranges respected, people actually drawn, and the writer CLI."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from drm_core.camera import Camera, backproject, project, undistort_pixels
from drm_core.data import body as B
from drm_core.data.render import Person, render_people, sample_appearance
from drm_core.data.synthetic import SyntheticConfig, SyntheticDataset
from drm_core.data.write_synthetic import main as write_main
from drm_core.skeleton import MPI15
from drm_core.pose_types import OCCLUDED, UNLABELLED, VISIBLE

SMALL = SyntheticConfig(sizes=((192, 144), (160, 160)), people=(1, 6), seed=3)


def _assert_same(a, b) -> None:
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.joints_3d_m, b.joints_3d_m)
    np.testing.assert_array_equal(a.joints_2d_px, b.joints_2d_px)
    np.testing.assert_array_equal(a.visibility, b.visibility)
    np.testing.assert_array_equal(a.camera.K, b.camera.K)
    np.testing.assert_array_equal(a.camera.dist, b.camera.dist)


def test_same_seed_and_index_give_identical_samples_and_others_differ():
    first, again = SyntheticDataset(SMALL, 10), SyntheticDataset(SMALL, 10)
    _assert_same(first[4], again[4])
    _assert_same(first[4], first[4])
    _assert_same(first[-1], first[9])
    other_index, other_seed = first[5], SyntheticDataset(SyntheticConfig(**{**SMALL.__dict__, "seed": 4}), 10)[4]
    for other in (other_index, other_seed):
        same_shape = other.image.shape == first[4].image.shape
        assert not (same_shape and np.array_equal(other.image, first[4].image))
        assert other.joints_3d_m.shape != first[4].joints_3d_m.shape or \
            not np.allclose(other.joints_3d_m, first[4].joints_3d_m)
    with pytest.raises(IndexError, match="10"):
        first[10]


@pytest.mark.parametrize("distortion_prob", [0.0, 1.0])
def test_2d_joints_are_the_projection_of_3d(distortion_prob):
    data = SyntheticDataset(SyntheticConfig(sizes=((160, 120),), people=(1, 5), distortion_prob=distortion_prob,
                                            seed=11), 6)
    for i in range(len(data)):
        s = data[i]
        assert s.camera.has_distortion == bool(distortion_prob)
        assert s.dataset == "synthetic" and s.image.dtype == np.uint8
        assert s.image.shape == (s.camera.height, s.camera.width, 3)
        assert s.joints_3d_m.shape == (s.num_people, MPI15.num_joints, 3)
        assert s.visibility.shape == (s.num_people, MPI15.num_joints) and s.visibility.dtype == np.int8
        uv = project(s.joints_3d_m.reshape(-1, 3), s.camera).reshape(s.joints_2d_px.shape)
        np.testing.assert_allclose(s.joints_2d_px, uv, atol=1e-6, rtol=0)
        # The lens stays invertible where joints are labelled: undistorting gives the pinhole projection.
        labelled = s.visibility > 0
        pinhole = Camera(s.camera.K, s.camera.width, s.camera.height)
        ideal = project(s.joints_3d_m[labelled], pinhole)
        np.testing.assert_allclose(undistort_pixels(s.joints_2d_px[labelled], s.camera), ideal, atol=1e-3)


def _standing_person(camera: Camera, u: float, v: float, depth: float, rng: np.random.Generator) -> Person:
    shape = B.body_shape(1.75)
    local = B.forward_kinematics(shape, B.sample_pose(rng, "standing"))
    root = backproject(np.array([[u, v]]), np.array([depth]), camera)[0]
    return Person(local + root, shape, sample_appearance(rng))


def test_visibility_marks_people_behind_others_and_outside_joints_occluded():
    camera = Camera(np.array([[300.0, 0, 159.5], [0, 300, 119.5], [0, 0, 1]]), 320, 240)
    rng = np.random.default_rng(0)
    near = _standing_person(camera, 160, 130, 3.0, rng)
    far = _standing_person(camera, 160, 130, 6.0, rng)      # same pixel, twice as far: inside near's outline
    cut = _standing_person(camera, -10, 120, 4.0, rng)      # pelvis left of the image
    behind = Person(near.joints - [0, 0, 4.0], near.shape, near.appearance)  # z < 0: behind the camera
    image = np.full((240, 320, 3), 90, dtype=np.uint8)
    people = [far, cut, near, behind]
    result = render_people(image, camera, people)
    vis = result.visibility
    assert vis.shape == (4, MPI15.num_joints)
    assert np.all(vis[2] == VISIBLE)                      # nothing is in front of the near person
    assert np.all(vis[3] == UNLABELLED)
    # The far person's torso joints lie on the near person's torso: occluded.
    torso = [B.NECK, B.PELVIS, B.L_SH, B.R_SH, B.L_HIP, B.R_HIP]
    assert np.all(vis[0, torso] == OCCLUDED)
    # And occlusion is exactly "another person was drawn last at the joint's pixel".
    for p, person in enumerate(people[:3]):
        px = np.round(project(person.joints, camera)).astype(int)
        inside = (px[:, 0] >= 0) & (px[:, 0] < 320) & (px[:, 1] >= 0) & (px[:, 1] < 240)
        assert np.all(vis[p, ~inside] == OCCLUDED)  # outside the image: labelled occluded, as MuCo does
        owner = result.ids[px[inside, 1], px[inside, 0]]
        expect = np.where((owner == 0) | (owner == p + 1), VISIBLE, OCCLUDED)
        np.testing.assert_array_equal(vis[p, inside], expect)
    cut_px = project(cut.joints, camera)
    assert (cut_px[:, 0] < -0.5).sum() >= 4 and np.all(vis[1] > 0)  # partly outside, every joint labelled
    assert not np.all(image == 90)


def test_bone_lengths_and_heights_are_human():
    rng = np.random.default_rng(5)
    lengths = {(a, b): [] for a, b in MPI15.bones}
    for _ in range(300):
        shape = B.sample_shape(rng)
        assert 1.0 <= shape.height <= 1.95
        joints = B.forward_kinematics(shape, B.sample_pose(rng))
        for (a, b), length in zip(MPI15.bones, B.bone_lengths(joints)):
            lengths[(a, b)].append(length)
        # Left and right limbs of one body are equally long.
        lr = B.bone_lengths(joints)
        names = [(MPI15.joint_names[a], MPI15.joint_names[b]) for a, b in MPI15.bones]
        for k, (na, nb) in enumerate(names):
            if na.startswith("l_") or nb.startswith("l_"):
                mirror = names.index((na.replace("l_", "r_"), nb.replace("l_", "r_")))
                assert lr[k] == pytest.approx(lr[mirror], abs=1e-9)
    ranges = {("neck", "head_top"): (0.17, 0.45), ("neck", "pelvis"): (0.25, 0.65),
              ("neck", "l_shoulder"): (0.09, 0.26), ("pelvis", "l_hip"): (0.05, 0.15),
              ("l_shoulder", "l_elbow"): (0.15, 0.40), ("l_elbow", "l_wrist"): (0.12, 0.32),
              ("l_hip", "l_knee"): (0.19, 0.55), ("l_knee", "l_ankle"): (0.19, 0.55)}
    for (na, nb), (lo, hi) in ranges.items():
        got = np.array(lengths[(MPI15.index(na), MPI15.index(nb))])
        assert lo <= got.min() and got.max() <= hi, (na, nb, got.min(), got.max())
    # A neutral body is as tall as asked, and a child's legs are relatively shorter.
    for height in (1.0, 1.5, 1.9):
        shape = B.body_shape(height)
        j = B.forward_kinematics(shape, B.Pose(arm_abd=(0.0, 0.0), hip_abd=(0.0, 0.0), elbow=(0.0, 0.0)))
        assert j[:, 1].max() - j[:, 1].min() + shape.ankle_height == pytest.approx(height, abs=1e-9)
    child, adult = B.body_shape(1.1), B.body_shape(1.8)
    assert (child.thigh + child.shin) / child.height < (adult.thigh + adult.shin) / adult.height
    assert child.head / child.height > adult.head / adult.height


def test_pose_kinds_stay_within_joint_limits():
    rng = np.random.default_rng(1)
    for kind in B.POSE_KINDS:
        for _ in range(20):
            pose = B.sample_pose(rng, kind)
            for name, (lo, hi) in B.JOINT_LIMITS.items():
                v = np.atleast_1d(getattr(pose, name))
                assert np.all((v >= lo - 1e-12) & (v <= hi + 1e-12)), (kind, name, v)
    with pytest.raises(ValueError, match="dancing"):
        B.sample_pose(rng, "dancing")


def test_people_counts_depths_and_feet_follow_the_config():
    config = SyntheticConfig(sizes=((160, 120),), people=(2, 4), depth_range_m=(2.0, 5.0), seed=21)
    data = SyntheticDataset(config, 12)
    counts = []
    for i in range(len(data)):
        scene, _, _ = data.scene(i)
        counts.append(len(scene.people))
        roots = np.array([p.joints[MPI15.root, 2] for p in scene.people])
        assert np.all((roots >= 2.0 - 1e-9) & (roots <= 5.0 + 1e-9))
        floor_xz = []
        for p in scene.people:
            world = p.joints @ scene.world_to_camera  # camera -> world
            sole = max(world[[B.L_AN, B.R_AN], 1].max() + p.shape.ankle_height,
                       world[[B.L_KN, B.R_KN], 1].max() + p.shape.r_shin)
            assert sole == pytest.approx(scene.camera_height, abs=1e-6)  # standing on the floor
            floor_xz.append(world[MPI15.root, [0, 2]])
        d = np.linalg.norm(np.array(floor_xz)[:, None] - np.array(floor_xz)[None], axis=-1)
        assert np.all(d[~np.eye(len(d), dtype=bool)] >= config.min_separation_m - 1e-9)
        # The first person is mostly in view.
        uv = project(scene.people[0].joints, scene.camera)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] <= 159) & (uv[:, 1] >= 0) & (uv[:, 1] <= 119)
        assert inside.sum() >= 10
    assert min(counts) >= 2 and max(counts) <= 4 and len(set(counts)) > 1


def test_people_are_drawn_over_the_background():
    data = SyntheticDataset(SyntheticConfig(sizes=((192, 144),), people=(2, 5), seed=8), 4)
    differ, total = 0, 0
    for i in range(len(data)):
        s, bg = data[i], data.render(i, draw_people=False)
        assert s.image.std() > 5.0
        uv = np.round(s.joints_2d_px[s.visibility == VISIBLE]).astype(int)
        assert len(uv) > 0
        diff = np.abs(s.image.astype(int) - bg.image.astype(int)).sum(axis=-1)
        differ += int(np.sum(diff[uv[:, 1], uv[:, 0]] > 0))
        total += len(uv)
        assert (diff > 0).mean() > 0.01
    assert differ >= 0.9 * total


def test_validation_preset_is_held_out_and_valid():
    train, val = SyntheticConfig(), SyntheticConfig.validation()
    assert val.seed != train.seed and val.sizes != train.sizes and val.focal_range != train.focal_range
    s = SyntheticDataset(val, 2)[1]
    assert (s.camera.width, s.camera.height) in val.sizes and s.num_people >= 1
    with pytest.raises(ValueError, match="depth_range_m"):
        SyntheticConfig(depth_range_m=(5.0, 2.0))


def test_writer_cli_writes_images_annotations_and_contact_sheet(tmp_path):
    write_main([str(tmp_path / "out"), "--count", "2", "--seed", "1", "--contact-sheet", str(tmp_path / "cs.jpg")])
    ann = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert ann["joint_names"] == list(MPI15.joint_names) and len(ann["images"]) == 2
    rec = ann["images"][1]
    assert (tmp_path / "out" / rec["file_name"]).is_file() and (tmp_path / "cs.jpg").is_file()
    ref = SyntheticDataset(SyntheticConfig(seed=1), 2)[1]
    np.testing.assert_allclose([p["joints_3d_m"] for p in rec["people"]], ref.joints_3d_m)


def test_generation_speed_is_reported():
    data = SyntheticDataset(SyntheticConfig(sizes=((640, 480),), people=(5, 5), seed=2), 6)
    data[0]
    t = time.perf_counter()
    for i in range(1, 6):
        data[i]
    print(f"\nsynthetic 640x480, 5 people: {(time.perf_counter() - t) / 5 * 1000:.1f} ms/sample")
