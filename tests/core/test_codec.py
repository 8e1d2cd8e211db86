"""decode(encode(ground truth)) gives the ground truth back, for many scenes and cameras."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from drm_core.camera import Camera, Letterbox, project
from drm_core.codec import CodecConfig, DRMCodec
from drm_core.skeleton import MPI15

from drm_core.data.template_scenes import input_ground_truth, scene

CAMERAS = {
    "vga": Camera(np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]]), 640, 480),
    "wide_offcentre": Camera(np.array([[350.0, 0, 700], [0, 360, 300], [0, 0, 1]]), 1280, 720),
    "tele_distorted": Camera(np.array([[1500.0, 0, 950], [0, 1480, 560], [0, 0, 1]]), 1920, 1080,
                             dist=np.array([-0.12, 0.05, 0.001, -0.0005, 0.0])),
}


def _grid(camera: Camera, rows: int, cols: int, rng: np.random.Generator) -> list[tuple[float, float, float]]:
    us = np.linspace(0.12, 0.88, cols) * camera.width
    vs = np.linspace(0.35, 0.6, rows) * camera.height
    return [(u, v, rng.uniform(3.0, 9.0)) for v in vs for u in us]


def _maps_from_targets(targets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What a perfect network would output: the targets themselves."""
    return {k: targets[k] for k in ("center", "offsets", "root_depth", "rel_depth", "root_to_center")}


def _roundtrip(camera: Camera, placements, config: CodecConfig = CodecConfig()):
    codec = DRMCodec(config)
    joints_3d, uv = scene(camera, placements)
    letterbox = Letterbox.fit(camera.width, camera.height, config.input_width, config.input_height)
    targets = codec.encode(*input_ground_truth(camera, joints_3d, uv, letterbox))
    poses = codec.decode(_maps_from_targets(targets), camera, letterbox)
    return joints_3d, uv, poses, letterbox


def _assert_matches(joints_3d, uv, poses, letterbox, stride=4):
    assert len(poses) == len(joints_3d)
    for gt3, gt2 in zip(joints_3d, uv):
        i = int(np.argmin(np.abs(poses.joints_cam_m[:, MPI15.root] - gt3[MPI15.root]).sum(-1)))
        assert np.abs(poses.joints_uv_px[i] - gt2).max() <= stride / letterbox.scale
        assert np.abs(poses.joints_cam_m[i] - gt3).max() < 0.01


@pytest.mark.parametrize("camera_name", sorted(CAMERAS))
@pytest.mark.parametrize("rows,cols", [(1, 1), (1, 5), (4, 5)])
def test_roundtrip_recovers_people(camera_name, rows, cols):
    camera = CAMERAS[camera_name]
    placements = _grid(camera, rows, cols, np.random.default_rng(rows * 10 + cols))
    _assert_matches(*_roundtrip(camera, placements))


def test_roundtrip_overlapping_people_at_different_depths():
    camera = CAMERAS["vga"]
    # The second person stands right behind the first, shifted a little: their bodies overlap in the image.
    placements = [(300.0, 260.0, 3.0), (340.0, 250.0, 6.0), (250.0, 240.0, 8.0)]
    _assert_matches(*_roundtrip(camera, placements))


def test_roundtrip_people_cut_by_the_image_border():
    camera = CAMERAS["wide_offcentre"]
    placements = [(5.0, 360.0, 3.0), (1275.0, 400.0, 4.0), (640.0, 700.0, 5.0)]
    joints_3d, uv, poses, letterbox = _roundtrip(camera, placements)
    _assert_matches(joints_3d, uv, poses, letterbox)
    assert (uv[..., 0] < 0).any() and (uv[..., 0] >= camera.width).any()


def test_focal_length_scales_root_depth_and_keeps_relative_depth():
    """Same pixels, focal length times s: decoded root depth times s, relative depths unchanged."""
    codec = DRMCodec(CodecConfig(input_width=320, input_height=256))
    cam = CAMERAS["vga"]
    joints_3d, uv = scene(cam, [(320.0, 240.0, 4.0)])
    lb = Letterbox.fit(cam.width, cam.height, 320, 256)
    maps = {k: v for k, v in codec.encode(*input_ground_truth(cam, joints_3d, uv, lb)).items()}
    base = codec.decode(maps, cam, lb)
    s = 1.7
    K2 = cam.K.copy()
    K2[0, 0] *= s
    K2[1, 1] *= s
    scaled = codec.decode(maps, cam.with_K(K2), lb)
    root = MPI15.root
    np.testing.assert_allclose(scaled.joints_cam_m[0, root, 2], s * base.joints_cam_m[0, root, 2], rtol=1e-9)
    rel_base = base.joints_cam_m[0, :, 2] - base.joints_cam_m[0, root, 2]
    rel_scaled = scaled.joints_cam_m[0, :, 2] - scaled.joints_cam_m[0, root, 2]
    np.testing.assert_allclose(rel_scaled, rel_base, atol=1e-9)
    np.testing.assert_allclose(scaled.joints_uv_px, base.joints_uv_px)


def test_decoded_3d_projects_onto_decoded_pixels_with_distortion():
    camera = CAMERAS["tele_distorted"]
    _, _, poses, _ = _roundtrip(camera, _grid(camera, 2, 3, np.random.default_rng(1)))
    reproj = project(poses.joints_cam_m.reshape(-1, 3), camera).reshape(poses.joints_uv_px.shape)
    assert np.abs(reproj - poses.joints_uv_px).max() < 1e-4


def test_two_dimensional_samples_carry_no_depth_weight():
    codec = DRMCodec(CodecConfig(input_width=320, input_height=256))
    cam = CAMERAS["vga"]
    joints_3d, uv = scene(cam, [(320.0, 240.0, 4.0), (150.0, 240.0, 6.0)])
    lb = Letterbox.fit(cam.width, cam.height, 320, 256)
    uv_in, vis, _, K_in = input_ground_truth(cam, joints_3d, uv, lb)
    t = codec.encode(uv_in, vis, None, K_in)
    for key in ("root_depth_weight", "rel_depth_weight", "dapl_weight"):
        assert t[key].sum() == 0
    assert t["offset_weight"].sum() > 0 and t["center"].max() > 0.9


def test_encode_weights_follow_instance_size_and_visibility():
    codec = DRMCodec(CodecConfig(input_width=320, input_height=256))
    cam = CAMERAS["vga"]
    joints_3d, uv = scene(cam, [(320.0, 240.0, 4.0)])
    lb = Letterbox.fit(cam.width, cam.height, 320, 256)
    uv_in, vis, j3, K_in = input_ground_truth(cam, joints_3d, uv, lb)
    vis[0, 5] = 0  # l_wrist unlabelled
    t = codec.encode(uv_in, vis, j3, K_in)
    pos = t["offset_weight"][0] > 0
    assert pos.sum() == 49  # the 7x7 square of radius 3 around the center
    uv_map = codec.to_map(uv_in[0][vis[0] > 0])
    expected = 1.0 / np.hypot(*(uv_map.max(0) - uv_map.min(0)))
    np.testing.assert_allclose(t["offset_weight"][0][pos], expected, rtol=1e-6)
    assert t["offset_weight"][10][pos].sum() == 0 and t["offset_weight"][11][pos].sum() == 0
    assert t["dapl_weight"][5].sum() == 0 and t["dapl_weight"][MPI15.root].sum() > 0


def _correct_people(joints_3d, uv, poses, letterbox, stride=4) -> int:
    """How many ground-truth people have a decoded pose with every joint right (2D within a map pixel, 3D 1 cm)."""
    good = 0
    for gt3, gt2 in zip(joints_3d, uv):
        ok = [np.abs(poses.joints_uv_px[i] - gt2).max() <= stride / letterbox.scale
              and np.abs(poses.joints_cam_m[i] - gt3).max() < 0.01 for i in range(len(poses))]
        good += any(ok)
    return good


# Small people (box diagonal 6-10 map px at 256x160, where 1 map px is 12 source px here) in a crowd: a row side by
# side 0.77 m apart, a row 1 m behind it whose bodies overlap the first row's, three overlapping people staggered
# 0.7-0.8 m in depth, and two far ones. Centers are at least 3 map px apart, so the center map's 5x5 peak search
# can separate them.
CROWD = [(230.0, 250.0, 11.0), (272.0, 250.0, 11.0), (314.0, 250.0, 11.0),
         (251.0, 210.0, 12.0), (293.0, 210.0, 12.0),
         (360.0, 250.0, 9.0), (400.0, 214.0, 9.7), (440.0, 250.0, 10.5),
         (485.0, 250.0, 13.0), (525.0, 250.0, 13.0)]


def test_roundtrip_small_crowded_overlapping_people_each_keep_their_peak():
    camera = CAMERAS["vga"]
    config = CodecConfig(input_width=256, input_height=160)
    joints_3d, uv, poses, letterbox = _roundtrip(camera, CROWD, config)
    codec = DRMCodec(config)
    diag = [codec._box_diagonal(codec.to_map(letterbox.to_input(p))) for p in uv]
    assert max(diag) < 12  # the scene really is small people, as training sees them at 256x160
    assert _correct_people(joints_3d, uv, poses, letterbox) == len(CROWD)
    assert len(poses) == len(CROWD)
    # The fixed radii with DEKR's smaller-wins rule hand people's own center or root pixels to neighbours here.
    legacy = dataclasses.replace(config, radius_fraction=0.0, nearest_owner=False)
    assert _correct_people(*_roundtrip(camera, CROWD, legacy)) < len(CROWD)


def test_footprint_scales_with_the_person():
    codec = DRMCodec(CodecConfig())
    assert codec._footprint(8.0) == (1.0, 1, 1)
    assert codec._footprint(20.0) == (2.0, 2, 2)
    assert codec._footprint(200.0) == (3.0, 3, 2)  # capped at the fixed values
    fixed = DRMCodec(CodecConfig(radius_fraction=0.0))
    assert fixed._footprint(8.0) == (3.0, 3, 2)
