"""A stand-in camera: sensor_msgs Image (or CompressedImage) + CameraInfo of generated scenes, with their
exact ground truth, or of a real video with its calibration. The demo, the node tests and the soak benchmark use
it in place of a real camera.

python -m drm_ros.camera_sim --rate 30 --count 300 [--encoding bgr8] [--compressed png]
       [--ground-truth gt.jsonl] [--image-topic image] [--camera-info-topic camera_info] [--ros-args ...]
python -m drm_ros.camera_sim --footage         (the demo's real video, drm_core.real_data.demo_footage; looped)

In Python: SyntheticCamera(CameraSimConfig(...)).frame(i) -> (Image, CameraInfo, Sample).
Every scene draws its own intrinsics (and, with distortion_prob, a lens distortion), so each image goes out
with its own CameraInfo of the same stamp, CameraInfo first.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from drm_core.camera import Camera
from drm_core.data.synthetic import SyntheticConfig, SyntheticDataset
from drm_core.pose_types import Sample
from drm_core.real_data.demo_footage import DemoFootage, camera_crop, cropped_camera, demo_footage
from drm_ros.frame.image_conversion import WRITABLE_ENCODINGS, rgb_to_compressed, rgb_to_image
from drm_ros.signals import GracefulStop, StopRequested, run_stoppable

FRAME_ID = "camera_optical_frame"


@dataclass(frozen=True)
class CameraSimConfig:
    width: int = 640
    height: int = 480
    seed: int = 0
    people: tuple[int, int] = (1, 4)
    depth_range_m: tuple[float, float] = (2.0, 8.0)
    distortion_prob: float = 0.3  # chance that a scene's lens has plumb_bob distortion
    encoding: str = "rgb8"  # any encoding drm_ros.frame.image_conversion.encode_rgb writes
    compressed: str = ""  # "png" or "jpeg": CompressedImage instead of Image
    frame_id: str = FRAME_ID
    rate_hz: float = 30.0  # spacing of the default stamps of frame(i)


def camera_info_of(camera: Camera, header: Header) -> CameraInfo:
    """The CameraInfo of a raw (distorted) image taken with `camera`; P = [K | 0]."""
    info = CameraInfo(header=header, width=camera.width, height=camera.height,
                      distortion_model=camera.distortion_model)
    info.k = camera.K.ravel().tolist()
    info.d = camera.dist.tolist() if len(camera.dist) else [0.0] * 5
    info.r = np.eye(3).ravel().tolist()
    info.p = np.hstack([camera.K, np.zeros((3, 1))]).ravel().tolist()
    return info


def ground_truth_record(sample: Sample, header: Header) -> dict:
    """One frame's ground truth as JSON-ready lists: camera, 3D joints (metres), pixels, visibility."""
    return {"stamp": [header.stamp.sec, header.stamp.nanosec], "frame_id": header.frame_id,
            "image_id": sample.image_id, "width": sample.camera.width, "height": sample.camera.height,
            "K": sample.camera.K.tolist(), "dist": sample.camera.dist.tolist(),
            "joints_3d_m": sample.joints_3d_m.tolist(), "joints_2d_px": sample.joints_2d_px.tolist(),
            "visibility": sample.visibility.tolist()}


class SyntheticCamera:
    """Frame i of a synthetic stream: scene i of SyntheticDataset(seed), rendered once and kept."""

    def __init__(self, config: CameraSimConfig = CameraSimConfig(), cache: int = 64):
        self.config = config
        synthetic = SyntheticConfig(sizes=((config.width, config.height),), people=config.people,
                                    depth_range_m=config.depth_range_m, distortion_prob=config.distortion_prob,
                                    seed=config.seed)
        self.dataset = SyntheticDataset(synthetic, 1 << 30)
        self.sample = lru_cache(maxsize=cache)(self.dataset.__getitem__)

    def header(self, index: int, stamp: Time | None = None) -> Header:
        if stamp is None:  # frame i at i / rate seconds
            ns = int(round(index * 1e9 / self.config.rate_hz))
            stamp = Time(sec=ns // 10**9, nanosec=ns % 10**9)
        return Header(stamp=stamp, frame_id=self.config.frame_id)

    def frame(self, index: int, stamp: Time | None = None) -> tuple[Image | CompressedImage, CameraInfo, Sample]:
        """(image message, its CameraInfo, the Sample with ground truth), both headers alike."""
        sample = self.sample(index)
        header = self.header(index, stamp)
        if self.config.compressed:
            image = rgb_to_compressed(sample.image, self.config.compressed, header)
        else:
            image = rgb_to_image(sample.image, self.config.encoding, header)
        # A header of its own: changing one message's header must not change the other's.
        return image, camera_info_of(sample.camera, Header(stamp=header.stamp, frame_id=header.frame_id)), sample


class VideoCamera:
    """Frames of a real video, centre-cropped and resized to width x height, with the camera that follows;
    the video starts again at its end."""

    def __init__(self, footage: DemoFootage, width: int, height: int, frame_id: str = FRAME_ID):
        import cv2

        self._cv2 = cv2
        self.footage, self.width, self.height, self.frame_id = footage, width, height, frame_id
        self._capture = cv2.VideoCapture(str(footage.video))
        if not self._capture.isOpened():
            raise ValueError(f"video {footage.video}: cannot be opened")
        self.camera = cropped_camera(footage.camera, width, height)  # the camera of every frame

    def next_rgb(self) -> tuple[np.ndarray, Camera]:
        ok, bgr = self._capture.read()
        if not ok:  # the end: from the start again
            self._capture.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = self._capture.read()
            if not ok:
                raise ValueError(f"video {self.footage.video}: no frame can be read")
        rgb = self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)
        return camera_crop(rgb, self.footage.camera, self.width, self.height)


def main(argv: list[str] | None = None) -> int:
    """Publish until --count frames are out or SIGINT/SIGTERM (exit 0 either way, at any moment)."""
    return run_stoppable(_run, argv)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Publish a synthetic camera stream (Image + CameraInfo).")
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second")
    parser.add_argument("--count", type=int, default=100, help="frames to publish; 0: until stopped")
    parser.add_argument("--scenes", type=int, default=20, help="distinct scenes, rendered once and cycled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--people", type=int, nargs=2, default=(1, 4), metavar=("MIN", "MAX"))
    parser.add_argument("--distortion-prob", type=float, default=0.3)
    parser.add_argument("--encoding", default="rgb8", choices=WRITABLE_ENCODINGS)
    parser.add_argument("--compressed", default="", choices=("", "png", "jpeg"),
                        help="publish CompressedImage on <image-topic>/compressed instead")
    parser.add_argument("--frame-id", default=FRAME_ID)
    parser.add_argument("--image-topic", default="image")
    parser.add_argument("--camera-info-topic", default="camera_info")
    parser.add_argument("--qos", default="reliable", choices=("reliable", "best_effort"))
    parser.add_argument("--wait-subscriber", type=float, default=0.0,
                        help="seconds to wait for an image subscriber before publishing")
    parser.add_argument("--ground-truth", default="", help="write one JSON line of ground truth per frame here")
    parser.add_argument("--footage", action="store_true",
                        help="play the demo's real video (python -m drm_core.real_data.demo_footage --fetch) instead")
    return parser


def _run(argv: list[str] | None, stop: GracefulStop) -> int:
    import rclpy
    from rclpy.qos import QoSProfile, QoSReliabilityPolicy
    from rclpy.signals import SignalHandlerOptions

    parser = _parser()
    args, ros_args = parser.parse_known_args(argv)
    if args.footage and args.ground_truth:
        parser.error("--ground-truth needs synthetic scenes, not --footage")
    video = None
    if args.footage:
        footage = demo_footage()
        if footage is None:
            print("camera_sim: no demo footage in the cache; fetch it with python -m drm_core.real_data.demo_footage "
                  "--fetch", file=sys.stderr)
            return 2
        video = VideoCamera(footage, args.width, args.height, args.frame_id)

    config = CameraSimConfig(args.width, args.height, args.seed, tuple(args.people), distortion_prob=
                             args.distortion_prob, encoding=args.encoding, compressed=args.compressed,
                             frame_id=args.frame_id, rate_hz=args.rate)
    # Synthetic scenes are rendered first, so publishing then keeps its rate; video frames are read as they go.
    scenes = [] if video else [SyntheticCamera(config, cache=args.scenes).frame(i) for i in range(args.scenes)]

    rclpy.init(args=[sys.argv[0], *ros_args], signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node("synthetic_camera")
    reliability = QoSReliabilityPolicy.RELIABLE if args.qos == "reliable" else QoSReliabilityPolicy.BEST_EFFORT
    qos = QoSProfile(depth=5, reliability=reliability)
    image_type, image_topic = (CompressedImage, args.image_topic + "/compressed") if args.compressed \
        else (Image, args.image_topic)
    image_pub = node.create_publisher(image_type, image_topic, qos)
    info_pub = node.create_publisher(CameraInfo, args.camera_info_topic, qos)
    truth = None
    try:
        stop.running()
        deadline = time.monotonic() + args.wait_subscriber
        while image_pub.get_subscription_count() == 0 and time.monotonic() < deadline and not stop.requested:
            time.sleep(0.05)
        truth = open(args.ground_truth, "w", encoding="utf-8") if args.ground_truth else None
        source = f"{video.footage.video.name} (fx {video.camera.fx:.0f} px)" if video else "synthetic scenes"
        node.get_logger().info(f"publishing {config.width}x{config.height} {args.compressed or args.encoding} of "
                               f"{source} on '{image_pub.topic_name}' and '{info_pub.topic_name}' at {args.rate} Hz "
                               f"({args.qos})")
        start = time.monotonic()
        i = 0
        while not stop.requested and (args.count <= 0 or i < args.count):
            stop.sleep(start + i / args.rate - time.monotonic())
            if stop.requested:
                break
            image, info, sample = _video_frame(video, config) if video else scenes[i % len(scenes)]
            stamp = node.get_clock().now().to_msg()
            image.header.stamp = info.header.stamp = stamp
            info_pub.publish(info)
            image_pub.publish(image)
            if truth:
                truth.write(json.dumps(ground_truth_record(sample, image.header)) + "\n")
                truth.flush()
            i += 1
    except StopRequested:
        pass
    finally:
        stop.cleaning_up()
        if truth:
            truth.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _video_frame(video: VideoCamera, config: CameraSimConfig) -> tuple[Image | CompressedImage, CameraInfo, None]:
    rgb, camera = video.next_rgb()
    header = Header(frame_id=config.frame_id)
    image = rgb_to_compressed(rgb, config.compressed, header) if config.compressed \
        else rgb_to_image(rgb, config.encoding, header)
    return image, camera_info_of(camera, Header(frame_id=config.frame_id)), None


if __name__ == "__main__":
    sys.exit(main())
