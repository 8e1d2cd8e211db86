"""A synthetic camera: sensor_msgs Image + CameraInfo of generated scenes, with their exact ground truth.

python -m drm_ros.camera_sim --rate 30 --count 300 [--encoding bgr8] [--image-topic image]
The demo, the node tests and the soak benchmark use it in place of a real camera.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, Image

from drm_core.data.synthetic import SyntheticConfig, SyntheticDataset
from drm_core.types import Sample

FRAME_ID = "camera_optical_frame"


def to_image_msg(rgb: np.ndarray, stamp: Time, frame_id: str, encoding: str = "rgb8") -> Image:
    """An Image of an RGB array in rgb8, bgr8 or mono8."""
    pixels = {"rgb8": rgb, "bgr8": rgb[..., ::-1], "mono8": rgb.mean(axis=2).astype(np.uint8)}[encoding]
    pixels = np.ascontiguousarray(pixels)
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding, step=pixels.strides[0],
                data=pixels.tobytes())
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    return msg


def to_camera_info(sample: Sample, stamp: Time, frame_id: str) -> CameraInfo:
    cam = sample.camera
    info = CameraInfo(width=cam.width, height=cam.height, distortion_model=cam.distortion_model)
    info.header.stamp, info.header.frame_id = stamp, frame_id
    info.k = cam.K.ravel().tolist()
    info.d = list(np.pad(cam.dist, (0, max(0, 5 - len(cam.dist)))).tolist()) if cam.distortion_model != "equidistant" \
        else cam.dist.tolist()
    info.r = np.eye(3).ravel().tolist()
    info.p = np.hstack([cam.K, np.zeros((3, 1))]).ravel().tolist()
    return info


class SyntheticCamera:
    """Frames of a fixed-size synthetic stream: frame(i) -> (Image, CameraInfo, Sample)."""

    def __init__(self, seed: int = 0, width: int = 640, height: int = 480, people: tuple[int, int] = (1, 4),
                 frames: int = 100, encoding: str = "rgb8", frame_id: str = FRAME_ID):
        config = SyntheticConfig(sizes=((width, height),), people=people, depth_range_m=(2.0, 8.0), seed=seed)
        self.dataset = SyntheticDataset(config, frames)
        self.encoding, self.frame_id = encoding, frame_id

    def __len__(self) -> int:
        return len(self.dataset)

    def frame(self, index: int, stamp: Time) -> tuple[Image, CameraInfo, Sample]:
        sample = self.dataset[index % len(self.dataset)]
        return (to_image_msg(sample.image, stamp, self.frame_id, self.encoding),
                to_camera_info(sample, stamp, self.frame_id), sample)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Publish a synthetic camera stream.")
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--count", type=int, default=100, help="frames to publish (the scenes cycle)")
    parser.add_argument("--scenes", type=int, default=20, help="distinct scenes, rendered once and cycled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--encoding", default="rgb8", choices=("rgb8", "bgr8", "mono8"))
    parser.add_argument("--image-topic", default="image")
    parser.add_argument("--camera-info-topic", default="camera_info")
    args, ros_args = parser.parse_known_args(argv)
    rclpy.init(args=ros_args)
    node = rclpy.create_node("synthetic_camera")
    image_pub = node.create_publisher(Image, args.image_topic, 10)
    info_pub = node.create_publisher(CameraInfo, args.camera_info_topic, 10)
    camera = SyntheticCamera(args.seed, args.width, args.height, frames=args.scenes, encoding=args.encoding)
    zero = Time()
    frames = [camera.frame(i, zero)[:2] for i in range(len(camera))]  # render once: publishing stays on time
    start = time.monotonic()
    try:
        for i in range(args.count):
            time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
            image, info = frames[i % len(frames)]
            stamp = node.get_clock().now().to_msg()
            image.header.stamp = info.header.stamp = stamp
            info_pub.publish(info)
            image_pub.publish(image)
    except KeyboardInterrupt:
        pass
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
