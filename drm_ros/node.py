"""The DRM node: sensor_msgs/Image + CameraInfo in, PoseArray3D + MarkerArray out, in the image's frame.

Real-time policy: the image callback only files the newest frame; one worker thread runs inference on the
newest frame it finds, so a slow model drops frames (counted) instead of building latency.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.qos import QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

import drm_ros.msg as drm_msgs
from drm_core.camera import Camera, InvalidCameraError
from drm_core.checkpoint import CheckpointError
from drm_core.predictor import ENGINES, InvalidImageError, load_predictor
from drm_ros.conversions import BadImageError, camera_from_info, image_to_rgb, poses_to_msg
from drm_ros.markers import MarkerOptions, pose_markers

# name: (default, description, changeable while running)
PARAMETERS: dict[str, tuple[object, str, bool]] = {
    "model_path": ("", "checkpoint (.pt) or ONNX file; empty: the model shipped with drm_core", False),
    "engine": ("torch", "inference engine: torch or onnxruntime", False),
    "device": ("auto", "auto, cuda or cpu; without a GPU, auto and cuda run on the CPU with one warning", False),
    "input_width": (0, "network input width, a multiple of 32; 0: the model's own", False),
    "input_height": (0, "network input height, a multiple of 32; 0: the model's own", False),
    "score_threshold": (0.1, "minimum person score in [0, 1]", True),
    "max_people": (20, "most people published per image, 1..100", True),
    "image_topic": ("image", "input image topic (sensor_msgs/Image, or CompressedImage with compressed)", False),
    "camera_info_topic": ("camera_info", "CameraInfo of the image topic", False),
    "poses_topic": ("drm/poses", "output drm_ros/PoseArray3D topic", False),
    "markers_topic": ("drm/markers", "output visualization_msgs/MarkerArray topic", False),
    "diagnostics_topic": ("/diagnostics", "diagnostic_msgs/DiagnosticArray at 1 Hz", False),
    "image_qos": ("sensor_data", "image subscription QoS: sensor_data (best effort, depth 1) or reliable", False),
    "compressed": (False, "subscribe to sensor_msgs/CompressedImage instead of Image", False),
    "use_rectified": (False, "images are rectified: use CameraInfo.p and no distortion", False),
    "fallback_intrinsics": ([0.0], "[fx, fy, cx, cy] used until a CameraInfo arrives; [0.0]: none, drop images", False),
    "publish_markers": (True, "publish RViz markers", True),
    "marker_min_confidence": (0.1, "joints below this confidence are not drawn", True),
    "marker_text": (True, "draw a label (id, score, distance) per person", True),
}


def validate(name: str, value) -> str | None:
    """Why `value` is refused for parameter `name`, or None when it is acceptable."""
    if name == "engine" and value not in ENGINES:
        return f"engine must be one of {ENGINES}"
    if name == "device" and value not in ("auto", "cuda", "cpu"):
        return "device must be auto, cuda or cpu"
    if name in ("input_width", "input_height") and (value < 0 or value % 32):
        return f"{name} must be 0 or a positive multiple of 32"
    if name in ("score_threshold", "marker_min_confidence") and not 0.0 <= value <= 1.0:
        return f"{name} must lie in [0, 1]"
    if name == "max_people" and not 1 <= value <= 100:
        return "max_people must lie in 1..100"
    if name == "image_qos" and value not in ("sensor_data", "reliable"):
        return "image_qos must be sensor_data or reliable"
    if name == "fallback_intrinsics" and list(value) != [0.0] and (len(value) != 4 or min(value[:2]) <= 0):
        return "fallback_intrinsics must be [0.0] (none) or [fx, fy, cx, cy] with positive focal lengths"
    if name.endswith("_topic") and not value:
        return f"{name} must not be empty"
    return None


@dataclass
class Stats:
    """Counters and latencies behind the diagnostics (touched by the callbacks and the worker)."""

    received: int = 0
    processed: int = 0
    dropped: int = 0  # superseded by a newer frame before the worker got to it
    bad: int = 0  # malformed images or unusable intrinsics
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=300))
    lock: threading.Lock = field(default_factory=threading.Lock)


class DRMNode(Node):
    def __init__(self, **kwargs):
        super().__init__("drm_node", **kwargs)
        for name, (default, description, dynamic) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description, read_only=not dynamic))
        self.p = {name: self.get_parameter(name).value for name in PARAMETERS}
        problems = [f"{n}: {why}" for n in PARAMETERS if (why := validate(n, self.p[n]))]
        if problems:
            raise ValueError("bad parameters: " + "; ".join(problems))
        self.add_on_set_parameters_callback(self._on_set_parameters)

        size = (self.p["input_width"], self.p["input_height"]) if self.p["input_width"] else None
        self.predictor = load_predictor(self.p["model_path"] or None, self.p["engine"], self.p["device"], size,
                                        self.p["score_threshold"], self.p["max_people"])
        for warning in self.predictor.warnings:
            self.get_logger().warning(warning)
        self.cameras: dict[str, Camera] = {}
        self.fallback = None
        if list(self.p["fallback_intrinsics"]) != [0.0]:
            self.fallback = tuple(float(v) for v in self.p["fallback_intrinsics"])
        self.stats = Stats()
        self._period_start = (time.monotonic(), 0, 0)

        reliable = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
        image_qos = qos_profile_sensor_data if self.p["image_qos"] == "sensor_data" else reliable
        image_type = CompressedImage if self.p["compressed"] else Image
        self.create_subscription(image_type, self.p["image_topic"], self._on_image, image_qos)
        self.create_subscription(CameraInfo, self.p["camera_info_topic"], self._on_camera_info, image_qos)
        self.pose_pub = self.create_publisher(drm_msgs.PoseArray3D, self.p["poses_topic"], reliable)
        self.marker_pub = self.create_publisher(MarkerArray, self.p["markers_topic"], reliable)
        self.diag_pub = self.create_publisher(DiagnosticArray, self.p["diagnostics_topic"], reliable)
        self.create_timer(1.0, self._publish_diagnostics)

        self._slot: tuple | None = None
        self._slot_ready = threading.Condition()
        self._running = True
        self._worker = threading.Thread(target=self._work, name="drm_inference", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"DRM on {self.predictor.description}; {image_type.__name__} on '{self.p['image_topic']}' with "
            f"{'best-effort depth 1' if image_qos is qos_profile_sensor_data else 'reliable'} QoS; publishing "
            f"reliable on '{self.p['poses_topic']}' and '{self.p['markers_topic']}'")

    # --- parameters -----------------------------------------------------------------------------------
    def _on_set_parameters(self, params) -> SetParametersResult:
        for param in params:
            why = validate(param.name, param.value)
            if why:
                return SetParametersResult(successful=False, reason=why)
        for param in params:
            self.p[param.name] = param.value
            if param.name in ("score_threshold", "max_people"):
                self.predictor.set_decoding(score_threshold=self.p["score_threshold"], max_people=self.p["max_people"])
        return SetParametersResult(successful=True)

    # --- inputs (executor thread: cheap work only) ------------------------------------------------------
    def _on_camera_info(self, info: CameraInfo) -> None:
        try:
            camera = camera_from_info(info, self.p["use_rectified"])
        except InvalidCameraError as err:
            self.get_logger().error(f"CameraInfo of frame '{info.header.frame_id}' refused: {err}",
                                    throttle_duration_sec=5.0)
            return
        self.cameras[info.header.frame_id] = camera

    def _on_image(self, msg) -> None:
        with self.stats.lock:
            self.stats.received += 1
        with self._slot_ready:
            if self._slot is not None:
                with self.stats.lock:
                    self.stats.dropped += 1
            self._slot = (msg, self.cameras.get(msg.header.frame_id))
            self._slot_ready.notify()

    # --- inference (worker thread) ------------------------------------------------------------------------
    def _work(self) -> None:
        while self._running:
            with self._slot_ready:
                if self._slot is None:
                    self._slot_ready.wait(timeout=0.1)
                if self._slot is None:
                    continue
                msg, camera = self._slot
                self._slot = None
            try:
                self._process(msg, camera)
            except Exception as err:  # the node must outlive any single frame
                with self.stats.lock:
                    self.stats.bad += 1
                self.get_logger().error(f"frame of '{msg.header.frame_id}' dropped: {type(err).__name__}: {err}",
                                        throttle_duration_sec=5.0)

    def _process(self, msg, camera: Camera | None) -> None:
        log = self.get_logger()
        try:
            rgb = image_to_rgb(msg)
        except BadImageError as err:
            with self.stats.lock:
                self.stats.bad += 1
            log.error(f"image of '{msg.header.frame_id}' dropped: {err}", throttle_duration_sec=5.0)
            return
        if camera is None and self.fallback is not None:
            fx, fy, cx, cy = self.fallback
            camera = Camera(np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]), rgb.shape[1], rgb.shape[0])
        if camera is None:
            with self.stats.lock:
                self.stats.bad += 1
            log.warning(f"no valid CameraInfo yet for frame '{msg.header.frame_id}' on "
                        f"'{self.p['camera_info_topic']}': image dropped", throttle_duration_sec=5.0)
            return
        try:
            poses = self.predictor.predict(rgb, camera)
        except InvalidImageError as err:
            with self.stats.lock:
                self.stats.bad += 1
            log.error(f"image of '{msg.header.frame_id}' dropped: {err}", throttle_duration_sec=5.0)
            return
        self.pose_pub.publish(poses_to_msg(poses, msg.header, self.predictor.skeleton, drm_msgs))
        if self.p["publish_markers"]:
            options = MarkerOptions(text=self.p["marker_text"], min_confidence=self.p["marker_min_confidence"])
            self.marker_pub.publish(pose_markers(poses, msg.header, self.predictor.skeleton, options))
        latency_ms = (self.get_clock().now() - rclpy.time.Time.from_msg(msg.header.stamp)).nanoseconds / 1e6
        with self.stats.lock:
            self.stats.processed += 1
            self.stats.latencies_ms.append(latency_ms)

    # --- diagnostics --------------------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        with self.stats.lock:
            s = self.stats
            start, received0, processed0 = self._period_start
            elapsed = max(now - start, 1e-6)
            values = {
                "input_rate_hz": (s.received - received0) / elapsed,
                "processed_rate_hz": (s.processed - processed0) / elapsed,
                "received": s.received, "processed": s.processed, "dropped_frames": s.dropped, "bad_frames": s.bad,
                "latency_p50_ms": float(np.percentile(s.latencies_ms, 50)) if s.latencies_ms else float("nan"),
                "latency_p95_ms": float(np.percentile(s.latencies_ms, 95)) if s.latencies_ms else float("nan"),
            }
            self._period_start = (now, s.received, s.processed)
        status = DiagnosticStatus(name="drm_ros: pose estimator", hardware_id=self.predictor.description,
                                  level=DiagnosticStatus.OK if values["processed_rate_hz"] > 0 or not values[
                                      "input_rate_hz"] else DiagnosticStatus.WARN,
                                  message=f"{values['processed_rate_hz']:.1f} of {values['input_rate_hz']:.1f} fps")
        status.values = [KeyValue(key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in values.items()]
        status.values.append(KeyValue(key="engine", value=self.predictor.description))
        self.diag_pub.publish(DiagnosticArray(header=self._header_now(), status=[status]))

    def _header_now(self):
        from std_msgs.msg import Header
        return Header(stamp=self.get_clock().now().to_msg())

    def destroy_node(self) -> None:
        self._running = False
        self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    try:
        node = DRMNode()
    except (CheckpointError, ValueError) as err:
        print(f"drm_node: cannot start: {err}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
