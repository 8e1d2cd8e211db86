"""ROS messages <-> drm_core types: Image/CompressedImage -> RGB array, CameraInfo -> Camera, Poses3D -> PoseArray3D.

Pixel conversion is rosbags-image's (it reads message fields by name, so live rclpy messages and bag
messages share it); this module only checks a message is self-consistent before handing it over, because
rosbags-image trusts width/height/step and would misread padded rows or read past short data.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from rosbags.image import ImageError, message_to_cvimage
from rosbags.image.image import to_cvtype

from drm_core.camera import Camera, InvalidCameraError
from drm_core.skeleton import Skeleton
from drm_core.types import Poses3D


class BadImageError(ValueError):
    """An Image message whose fields do not describe a readable image."""


DISTORTION_ALIASES = {"": "plumb_bob", "plumb_bob": "plumb_bob", "rational_polynomial": "rational_polynomial",
                      "equidistant": "equidistant", "fisheye": "equidistant"}


def image_to_rgb(msg) -> np.ndarray:
    """HxWx3 uint8 RGB from a sensor_msgs Image or CompressedImage (any encoding rosbags-image reads)."""
    if hasattr(msg, "format"):  # CompressedImage
        try:
            return np.ascontiguousarray(message_to_cvimage(msg, "rgb8"))
        except (ImageError, AssertionError, ValueError) as err:  # rosbags asserts on undecodable bytes
            raise BadImageError(f"compressed image ({msg.format!r}) cannot be decoded: {err or 'corrupt data'}") \
                from None
    if msg.width == 0 or msg.height == 0:
        raise BadImageError(f"image is empty ({msg.width}x{msg.height})")
    try:
        bits, _, _, channels = to_cvtype(msg.encoding)
    except ImageError as err:
        raise BadImageError(f"unknown encoding {msg.encoding!r}: {err}") from None
    row_bytes = msg.width * channels * bits // 8
    if msg.step < row_bytes:
        raise BadImageError(f"step {msg.step} is less than width x pixel size = {row_bytes} for {msg.encoding}")
    if len(msg.data) < msg.height * msg.step:
        raise BadImageError(f"data holds {len(msg.data)} bytes, height x step needs {msg.height * msg.step}")
    data = msg.data
    if msg.step != row_bytes:  # drop row padding: rosbags-image expects packed rows
        rows = np.frombuffer(bytes(data[: msg.height * msg.step]), np.uint8).reshape(msg.height, msg.step)
        data = rows[:, :row_bytes].tobytes()
    packed = SimpleNamespace(encoding=msg.encoding, width=msg.width, height=msg.height, step=row_bytes,
                             is_bigendian=msg.is_bigendian, data=np.frombuffer(bytes(data[: msg.height * row_bytes]),
                                                                                np.uint8))
    try:
        rgb = message_to_cvimage(packed, "rgb8")
    except ImageError as err:
        raise BadImageError(f"cannot convert {msg.encoding!r} to rgb8: {err}") from None
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def camera_from_info(info, use_rectified: bool = False) -> Camera:
    """Camera of a CameraInfo: K and D for raw images, P (no distortion) for rectified ones.

    Raises InvalidCameraError for a zero, singular or non-finite matrix, or an unknown distortion model.
    """
    if use_rectified:
        P = np.asarray(info.p, dtype=np.float64).reshape(3, 4)
        return Camera(P[:, :3], int(info.width), int(info.height))
    model = DISTORTION_ALIASES.get(info.distortion_model)
    if model is None:
        raise InvalidCameraError(f"unknown distortion model {info.distortion_model!r}")
    K = np.asarray(info.k, dtype=np.float64).reshape(3, 3)
    return Camera(K, int(info.width), int(info.height), dist=np.asarray(info.d, dtype=np.float64),
                  distortion_model=model)


def poses_to_msg(poses: Poses3D, header, skeleton: Skeleton, msg_types) -> object:
    """PoseArray3D of decoded poses with the image's header; msg_types is drm_ros.msg (kept out of import time)."""
    msg = msg_types.PoseArray3D()
    msg.header = header
    msg.skeleton = skeleton.name
    msg.joint_names = list(poses.joint_names)
    msg.bones = [int(i) for bone in skeleton.bones for i in bone]
    root = skeleton.root
    for pid in range(len(poses)):
        person = msg_types.Person3D(id=pid, score=float(poses.scores[pid]))
        xyz, uv, conf = poses.joints_cam_m[pid], poses.joints_uv_px[pid], poses.joint_conf[pid]
        person.root.x, person.root.y, person.root.z = (float(v) for v in xyz[root])
        for j in range(len(poses.joint_names)):
            kp = msg_types.Keypoint3D(u=float(uv[j, 0]), v=float(uv[j, 1]), confidence=float(conf[j]))
            kp.position.x, kp.position.y, kp.position.z = (float(v) for v in xyz[j])
            person.keypoints.append(kp)
        msg.people.append(person)
    return msg
