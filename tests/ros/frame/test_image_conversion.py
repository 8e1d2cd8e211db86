"""Image messages -> RGB in every common encoding, bad image messages refused with the reason, and
Poses3D -> PoseArray3D. No DDS: messages are built by hand from a known RGB image."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from drm_core.skeleton import MPI15
from drm_core.pose_types import Poses3D
from drm_ros.frame.image_conversion import BadImageError, encode_rgb, image_to_rgb, rgb_to_compressed, rgb_to_image
from drm_ros.frame.pose_messages import poses_to_msg
from drm_ros.msg import PoseArray3D

HEADER = Header(frame_id="cam")


def _known_rgb(width: int = 64, height: int = 48) -> np.ndarray:
    """Smooth colour ramps plus a little texture: demosaicing and chroma subsampling stay accurate inside."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rgb = np.stack([40 + 3 * x, 30 + 4 * y, 200 - 1.5 * (x + y)], axis=-1)
    rgb += 6 * np.sin(x / 3.0)[..., None]
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _image(pixels: np.ndarray, encoding: str, **fields) -> Image:
    pixels = np.ascontiguousarray(pixels)
    msg = Image(header=HEADER, height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                step=pixels.strides[0], data=pixels.tobytes())
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


RGB = _known_rgb()
GREY = cv2.cvtColor(RGB, cv2.COLOR_RGB2GRAY)


@pytest.mark.parametrize("encoding, pixels", [
    ("rgb8", RGB), ("bgr8", RGB[..., ::-1]), ("rgba8", np.dstack([RGB, np.full(RGB.shape[:2], 7, np.uint8)])),
    ("bgra8", np.dstack([RGB[..., ::-1], np.full(RGB.shape[:2], 7, np.uint8)])),
    ("rgb16", RGB.astype(np.uint16) * 257), ("8UC3", RGB)])
def test_colour_encodings_convert_exactly(encoding, pixels):
    out = image_to_rgb(_image(pixels, encoding))
    assert out.dtype == np.uint8 and out.shape == RGB.shape and out.flags.c_contiguous
    np.testing.assert_array_equal(out, RGB)


@pytest.mark.parametrize("encoding, pixels, bigendian", [
    ("mono8", GREY, 0), ("mono16", GREY.astype("<u2") * 257, 0), ("mono16", (GREY.astype(">u2") * 257), 1)])
def test_grey_encodings_give_grey_rgb(encoding, pixels, bigendian):
    out = image_to_rgb(_image(pixels, encoding, is_bigendian=bigendian))
    assert out.shape == RGB.shape
    for c in range(3):
        assert np.abs(out[..., c].astype(int) - GREY).max() <= 1


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
def test_bayer_mosaics_demosaic_to_the_image(pattern):
    # The mosaic by hand: the 2x2 tile names the colour kept at each position, row by row.
    mosaic = np.empty(RGB.shape[:2], np.uint8)
    for k, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        mosaic[dy::2, dx::2] = RGB[dy::2, dx::2, "rgb".index(pattern[k])]
    np.testing.assert_array_equal(encode_rgb(RGB, f"bayer_{pattern}8"), mosaic)
    out = image_to_rgb(_image(mosaic, f"bayer_{pattern}8")).astype(int)
    inner = np.abs(out - RGB)[4:-4, 4:-4]
    assert inner.mean() < 4 and np.percentile(inner, 95) < 12, (inner.mean(), inner.max())  # a wrong tile: ~100


@pytest.mark.parametrize("encoding", ["yuv422", "uyvy", "yuyv", "yuv422_yuy2"])
def test_yuv422_converts_within_tolerance(encoding):
    out = image_to_rgb(rgb_to_image(RGB, encoding, HEADER)).astype(int)
    assert np.abs(out - RGB).mean() < 3 and np.abs(out - RGB).max() < 25


def test_padded_rows_are_read_without_their_padding():
    padded = np.zeros((RGB.shape[0], RGB.shape[1] * 3 + 10), np.uint8)
    padded[:, : RGB.shape[1] * 3] = RGB.reshape(RGB.shape[0], -1)
    msg = Image(header=HEADER, height=RGB.shape[0], width=RGB.shape[1], encoding="rgb8", step=padded.shape[1],
                data=padded.tobytes())
    np.testing.assert_array_equal(image_to_rgb(msg), RGB)


def test_compressed_images_decode():
    np.testing.assert_array_equal(image_to_rgb(rgb_to_compressed(RGB, "png", HEADER)), RGB)
    assert np.abs(image_to_rgb(rgb_to_compressed(RGB, "jpeg", HEADER)).astype(int) - RGB).mean() < 4
    ok, grey_png = cv2.imencode(".png", GREY)
    grey = image_to_rgb(CompressedImage(header=HEADER, format="png", data=grey_png.tobytes()))
    np.testing.assert_array_equal(grey, np.dstack([GREY] * 3))


@pytest.mark.parametrize("change, words", [
    (dict(step=64 * 3 - 1), "step 191 is less than width x pixel size"),
    (dict(data=bytes(64 * 3 * 48 - 1)), "data holds 9215 bytes, height x step = 48 x 192 = 9216 needed"),
    (dict(width=0), "empty, 0x48"), (dict(height=0), "empty, 64x0"),
    (dict(encoding="rgb9000"), "unknown encoding 'rgb9000'"), (dict(encoding="nv12"), "'nv12' is not supported"),
    (dict(encoding="32FC1", step=64 * 4, data=bytes(64 * 4 * 48)), "cannot convert '32FC1'")])
def test_bad_images_are_refused_with_the_reason(change, words):
    msg = _image(RGB, "rgb8")
    for name, value in change.items():
        setattr(msg, name, value)
    with pytest.raises(BadImageError, match="image of frame 'cam'") as err:
        image_to_rgb(msg)
    assert words in str(err.value)


def test_odd_width_yuv_and_corrupt_compressed_are_refused():
    odd = Image(header=HEADER, height=4, width=5, encoding="yuv422", step=10, data=bytes(40))
    with pytest.raises(BadImageError, match="cannot convert 'yuv422'"):
        image_to_rgb(odd)
    with pytest.raises(BadImageError, match="do not decode"):
        image_to_rgb(CompressedImage(header=HEADER, format="jpeg", data=b"not a jpeg"))
    with pytest.raises(BadImageError, match="depth image"):
        image_to_rgb(CompressedImage(header=HEADER, format="16UC1; compressedDepth", data=b"x"))


def test_poses_to_msg_carries_every_field():
    rng = np.random.default_rng(0)
    joints = rng.uniform(-1, 1, (2, 15, 3)) + [0, 0, 4]
    poses = Poses3D(joints, rng.uniform(0, 640, (2, 15, 2)), rng.uniform(0, 1, (2, 15)), np.array([0.9, 0.4]),
                    MPI15.joint_names)
    header = Header(frame_id="camera_optical_frame")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = deserialize_message(serialize_message(poses_to_msg(poses, header, MPI15)), PoseArray3D)  # wire-valid
    assert msg.header == header and msg.skeleton == "mpi15" and list(msg.joint_names) == list(MPI15.joint_names)
    assert [tuple(msg.bones[i:i + 2]) for i in range(0, len(msg.bones), 2)] == list(MPI15.bones)
    assert [p.id for p in msg.people] == [0, 1]
    np.testing.assert_allclose([p.score for p in msg.people], poses.scores, rtol=1e-6)
    for p, person in enumerate(msg.people):
        np.testing.assert_allclose([person.root.x, person.root.y, person.root.z], joints[p, MPI15.root])
        got = np.array([[k.position.x, k.position.y, k.position.z, k.u, k.v, k.confidence] for k in person.keypoints])
        np.testing.assert_allclose(got[:, :3], joints[p])
        np.testing.assert_allclose(got[:, 3:5], poses.joints_uv_px[p], rtol=1e-6)
        np.testing.assert_allclose(got[:, 5], poses.joint_conf[p], rtol=1e-6)
    assert poses_to_msg(Poses3D.empty(MPI15.joint_names), header, MPI15).people == []
