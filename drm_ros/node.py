"""The DRM node: sensor_msgs/Image (or CompressedImage) + CameraInfo in; drm_ros/PoseArray3D and a
visualization_msgs/MarkerArray out, both with the image's header (stamp and frame_id); diagnostics at 1 Hz.

ros2 run drm_ros drm_node --ros-args --params-file config/drm_node.yaml   (or python -m drm_ros.node ...)

Real-time policy: the executor thread only files the newest image in a one-slot mailbox; one worker thread
converts it, finds its intrinsics and runs the model. A slow model therefore drops frames (counted in the
diagnostics) instead of building latency. Any bad input is logged (throttled per cause), counted and
dropped; the node carries on with the next frame.
"""
from __future__ import annotations

import logging
import re
import sys
import threading
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from drm_core.camera import InvalidCameraError
from drm_core.smoothing import OneEuroConfig
from drm_core.tracking import Tracker
from drm_ros.conversions import image_to_rgb
from drm_ros.intrinsics import IntrinsicsStore, MissingIntrinsicsError
from drm_ros.latest_frame import LatestFrame
from drm_ros.markers import MarkerOptions, pose_markers
from drm_ros.messages import poses_to_msg
from drm_ros.msg import PoseArray3D
from drm_ros.params import PARAMETERS, NodeParams, validate
from drm_ros.stats import FrameStats

__all__ = ["DRMNode", "PARAMETERS", "validate", "main"]  # PARAMETERS/validate: for launch-file tests

THROTTLE_S = 5.0
# Results must not be lost on the way to a planner: reliable, a short queue.
RESULT_QOS = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)


def image_qos(kind: str, depth: int) -> QoSProfile:
    """Best effort matches both best-effort and reliable publishers (no silent QoS mismatch); depth 1 keeps
    only the newest image in the middleware queue."""
    reliability = QoSReliabilityPolicy.BEST_EFFORT if kind == "sensor_data" else QoSReliabilityPolicy.RELIABLE
    return QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability,
                      durability=QoSDurabilityPolicy.VOLATILE)


class DRMNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("drm_node", **kwargs)
        self.mailbox: LatestFrame = LatestFrame()  # first: destroy_node needs it even when start-up fails
        self._worker: threading.Thread | None = None
        for name, (default, description, dynamic) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(
                description=description, read_only=not dynamic,
                additional_constraints="" if dynamic else "read at start; restart the node to change it"))
        self.params = NodeParams.from_values({name: self.get_parameter(name).value for name in PARAMETERS})
        self.add_on_set_parameters_callback(self._on_set_parameters)
        p = self.params

        from drm_core.predictor import load_predictor  # torch: loaded once the parameters proved good
        # drm_core reports with `logging` (no GPU: running on the CPU; exporting to ONNX once): show it in the
        # node's ROS log.
        core_log = logging.getLogger("drm_core")
        core_log.setLevel(logging.INFO)
        core_log.addHandler(RosLogHandler(self.get_logger()))
        core_log.propagate = False
        self.predictor = load_predictor(p.model_path or None, p.engine, p.device, p.input_size,
                                        p.score_threshold, p.max_people)
        engine = self.predictor.engine  # torch engines name their device; onnxruntime names its provider
        self._device = getattr(engine, "device", "cpu" if "CPU" in engine.description else "cuda")
        self.intrinsics = IntrinsicsStore(p.use_rectified, p.fallback)
        # Person ids that follow people: one tracker per camera (frame_id), used by the worker thread only.
        self._smoothing = OneEuroConfig(p.smoothing_min_cutoff_hz, p.smoothing_beta) if p.smoothing else None
        self._trackers: dict[str, Tracker] = {}
        self.stats = FrameStats()
        self._last_logged: dict[str, float] = {}
        self._marker_options = self._markers_from(p)

        qos = image_qos(p.image_qos, p.image_qos_depth)
        image_type, image_topic = (CompressedImage, p.image_topic.rstrip("/") + "/compressed") if p.compressed \
            else (Image, p.image_topic)
        # CameraInfo first: when an image and its CameraInfo are ready together, the CameraInfo is taken first.
        self.info_sub = self.create_subscription(CameraInfo, p.camera_info_topic, self._on_camera_info,
                                                 image_qos(p.image_qos, max(p.image_qos_depth, 5)))
        self.image_sub = self.create_subscription(image_type, image_topic, self._on_image, qos)
        self.pose_pub = self.create_publisher(PoseArray3D, p.poses_topic, RESULT_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, p.markers_topic, RESULT_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, p.diagnostics_topic, RESULT_QOS)
        self.create_timer(1.0, self._publish_diagnostics)

        self._worker = threading.Thread(target=self._work, name="drm_inference", daemon=True)
        self._worker.start()
        qos_text = (f"{'best effort' if p.image_qos == 'sensor_data' else 'reliable'}, depth {p.image_qos_depth}")
        self.get_logger().info(
            f"DRM on {self.predictor.description}; subscribed to {image_type.__name__} '{self.image_sub.topic_name}' "
            f"and CameraInfo '{self.info_sub.topic_name}' with QoS {qos_text}; publishing PoseArray3D "
            f"'{self.pose_pub.topic_name}' and MarkerArray '{self.marker_pub.topic_name}' reliable; "
            f"intrinsics from {'CameraInfo.p (rectified)' if p.use_rectified else 'CameraInfo.k and .d'}"
            + (f", fallback fx, fy, cx, cy = {p.fallback}" if p.fallback else ""))

    # --- parameters ---------------------------------------------------------------------------------------
    def _on_set_parameters(self, changes) -> SetParametersResult:
        """Refuse a bad value with the reason; apply good ones to the predictor and markers."""
        values = {name: getattr(self.params, name) for name in PARAMETERS}
        for change in changes:
            why = validate(change.name, change.value)
            if why:
                return SetParametersResult(successful=False, reason=why)
            values[change.name] = change.value
        params = NodeParams(**values)
        if (params.score_threshold, params.max_people) != (self.params.score_threshold, self.params.max_people):
            self.predictor.set_decoding(params.score_threshold, params.max_people)
        self._marker_options = self._markers_from(params)
        self.params = params
        return SetParametersResult(successful=True)

    @staticmethod
    def _markers_from(p: NodeParams) -> MarkerOptions:
        return MarkerOptions(line_width_m=p.marker_line_width, joint_size_m=p.marker_joint_size, text=p.marker_text,
                             min_confidence=p.marker_min_confidence)

    # --- inputs (executor thread: cheap work only) ----------------------------------------------------------
    def _on_camera_info(self, info: CameraInfo) -> None:
        try:
            self.intrinsics.update(info)
        except InvalidCameraError as err:  # refused, never used: the last good one of that frame stays
            self._throttled("error", f"camera_info:{info.header.frame_id}", f"CameraInfo refused: {err}")

    def _on_image(self, msg: Image | CompressedImage) -> None:
        self.stats.received()
        self.mailbox.put(msg)  # replaces (drops) a frame the worker has not taken yet

    # --- inference (worker thread) ----------------------------------------------------------------------------
    def _work(self) -> None:
        while not self.mailbox.closed:
            msg = self.mailbox.take(timeout=0.5)
            if msg is None:
                continue
            try:
                self._process(msg)
            except ValueError as err:  # BadImageError, IntrinsicsMismatchError, InvalidImageError: bad input
                self.stats.bad()
                self._throttled("error", _cause(err), f"frame {_stamp_text(msg.header)} dropped: {err}")
            except MissingIntrinsicsError as err:
                self.stats.bad()
                self._throttled("warning", "no_camera_info",
                                f"frame {_stamp_text(msg.header)} dropped: {err}; waiting for CameraInfo on "
                                f"'{self.info_sub.topic_name}' (or set the fallback_fx/fy/cx/cy parameters)")
            except Exception as err:  # noqa: BLE001 - the node must outlive any single frame
                if not self.context.ok():  # shut down (SIGINT/SIGTERM) mid-frame: nowhere left to publish
                    break
                self.stats.bad()
                self._throttled("error", "unexpected", f"frame {_stamp_text(msg.header)} dropped: "
                                                       f"{type(err).__name__}: {err}")

    def _process(self, msg: Image | CompressedImage) -> None:
        rgb = image_to_rgb(msg)
        header = msg.header
        camera = self.intrinsics.camera_for(header.frame_id, rgb.shape[1], rgb.shape[0],
                                            (header.stamp.sec, header.stamp.nanosec))
        poses = self.predictor.predict(rgb, camera)
        tracker = self._trackers.setdefault(header.frame_id, Tracker(root=self.predictor.skeleton.root,
                                                                     smoothing=self._smoothing))
        tracked = tracker.update(poses, header.stamp.sec + header.stamp.nanosec * 1e-9)
        poses, ids = tracked.poses, tracked.ids
        self.pose_pub.publish(poses_to_msg(poses, header, self.predictor.skeleton, ids))
        if self.params.publish_markers:
            self.marker_pub.publish(pose_markers(poses, header, self.predictor.skeleton, self._marker_options, ids))
        latency = self.get_clock().now() - Time.from_msg(header.stamp, clock_type=self.get_clock().clock_type)
        self.stats.processed(latency.nanoseconds / 1e6)

    # --- logging and diagnostics ------------------------------------------------------------------------------
    def _throttled(self, level: str, cause: str, message: str) -> None:
        """Log at most once per THROTTLE_S for each cause (a bad stream must not flood the log)."""
        now = time.monotonic()
        if now - self._last_logged.get(cause, -1e9) < THROTTLE_S:
            return
        self._last_logged[cause] = now
        if level == "warning":  # rclpy fixes the severity per call site: one call per level
            self.get_logger().warning(message)
        else:
            self.get_logger().error(message)

    def _publish_diagnostics(self) -> None:
        snap = self.stats.snapshot(self.mailbox.dropped)
        idle = snap.input_rate_hz == 0
        level = DiagnosticStatus.OK if idle or snap.processed_rate_hz > 0 else DiagnosticStatus.WARN
        message = "no images" if idle else f"{snap.processed_rate_hz:.1f} of {snap.input_rate_hz:.1f} images/s"
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: pose estimation", message=message,
                                  hardware_id=self.predictor.description)
        status.values = [KeyValue(key=k, value=v) for k, v in snap.key_values()]
        status.values += [KeyValue(key="engine", value=self.predictor.description),
                          KeyValue(key="device", value=self._device)]
        self.diag_pub.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()), status=[status]))

    def destroy_node(self) -> None:
        self.mailbox.close()
        if self._worker is not None:
            self._worker.join(timeout=5.0)
        super().destroy_node()


class RosLogHandler(logging.Handler):
    """Python `logging` records into a ROS logger, at their level."""

    def __init__(self, ros_logger) -> None:
        super().__init__(logging.INFO)
        self.ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:  # rclpy fixes the severity per call site: one call per level
            self.ros_logger.error(message)
        elif record.levelno >= logging.WARNING:
            self.ros_logger.warning(message)
        else:
            self.ros_logger.info(message)


def _cause(err: Exception) -> str:
    """The kind of problem, for throttling: the message with its numbers blanked out (a wrong step and a
    short buffer are logged separately; the same wrong step on every frame once per THROTTLE_S)."""
    return type(err).__name__ + re.sub(r"\d+(\.\d+)?", "#", str(err))


def _stamp_text(header: Header) -> str:
    return f"{header.stamp.sec}.{header.stamp.nanosec:09d} of '{header.frame_id}'"


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    try:
        node = DRMNode()
    except (ValueError, ParameterException) as err:  # CheckpointError is a ValueError
        # Bad parameters or a missing/corrupt model: say why and exit non-zero (a launch file shows it).
        print(f"drm_node: cannot start: {err}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 2
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
