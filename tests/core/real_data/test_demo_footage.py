"""The demo's footage: its calibration file read as a Camera, and the crop that keeps the intrinsics true."""
from __future__ import annotations

import numpy as np
import pytest

from drm_core.camera import Camera, project
from drm_core.real_data.demo_footage import camera_crop, cropped_camera, demo_footage, read_calibration
from drm_core.real_data.sources import BuildError

CALIB = """[demo]
name = "demo"
size = [ 1768, 994]
matrix = [ [ 2520.0, 0.0, 884.0], [ 0.0, 2520.0, 497.0], [ 0.0, 0.0, 1.0]]
distortions = [ 0.0, 0.0, 0.0, 0.0]
fisheye = false

[metadata]
adjusted = false
"""


def test_the_calibration_toml_gives_the_camera(tmp_path):
    path = tmp_path / "Calib_demo.toml"
    path.write_text(CALIB)
    camera = read_calibration(path)
    assert (camera.width, camera.height) == (1768, 994) and camera.fx == 2520.0 and camera.cx == 884.0
    assert not camera.has_distortion
    path.write_text("[demo]\nsize = [10]\n")
    with pytest.raises(BuildError, match="Calib_demo.toml"):
        read_calibration(path)


@pytest.mark.parametrize("size", [(640, 480), (320, 320), (640, 200)])
def test_a_cropped_frame_keeps_its_points_where_the_new_camera_projects_them(size):
    camera = Camera(np.array([[900.0, 0, 880], [0, 910.0, 500], [0, 0, 1]]), 1768, 994)
    rng = np.random.default_rng(0)
    points = np.c_[rng.uniform(-1, 1, (20, 2)), rng.uniform(4, 8, 20)]
    uv = project(points, camera)
    frame = np.zeros((994, 1768, 3), np.uint8)
    for u, v in uv.round().astype(int):  # a bright pixel at each projection
        frame[v, u] = 255
    image, cropped = camera_crop(frame, camera, *size)
    assert image.shape == (size[1], size[0], 3) and (cropped.width, cropped.height) == size
    uv_new = project(points, cropped)
    inside = (uv_new[:, 0] > 2) & (uv_new[:, 0] < size[0] - 3) & (uv_new[:, 1] > 2) & (uv_new[:, 1] < size[1] - 3)
    assert inside.sum() >= 5
    for u, v in uv_new[inside]:  # the bright pixel moved where the new K projects the point
        window = image[int(v) - 2:int(v) + 3, int(u) - 2:int(u) + 3].max()
        assert window > 0, (u, v)


def test_footage_absent_from_the_cache_is_none_without_fetching(tmp_path):
    assert demo_footage(tmp_path) is None


def test_the_camera_of_a_crop_is_known_without_an_image():
    camera = Camera(np.array([[900.0, 0, 880], [0, 910.0, 500], [0, 0, 1]]), 1768, 994)
    frame = np.zeros((994, 1768, 3), np.uint8)
    for size in [(640, 480), (320, 320), (640, 200)]:
        np.testing.assert_array_equal(cropped_camera(camera, *size).K, camera_crop(frame, camera, *size)[1].K)
