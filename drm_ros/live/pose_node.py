"""The DRM node: sensor_msgs/Image (or CompressedImage) + CameraInfo in; drm_ros/PoseArray3D and a
visualization_msgs/MarkerArray out, both with the image's header (stamp and frame_id); diagnostics at 1 Hz;
with publish_tf, REP 155 body frames of the confirmed tracks on /tf (drm_ros.frame.tf_frames).

ros2 run drm_ros drm_node --ros-args --params-file config/drm_node.yaml   (or python -m drm_ros.node ...)

Images arrive from any publisher: with image_qos 'auto' (the default) the image subscription is best effort and
turns reliable while every image publisher is reliable (Fast DDS loses large best-effort samples from a
publisher whose process lacks config/fastdds_large_images.xml; reliable ones arrive). Publishers that send
nothing for NO_FRAMES_S, incompatible QoS and lost messages are logged (throttled) and turn the diagnostics WARN.

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
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from drm_core.camera import InvalidCameraError
from drm_core.smoothing import OneEuroConfig
from drm_ros.frame.intrinsics import IntrinsicsStore
from drm_ros.frame.markers import MarkerOptions
from drm_ros.frame.pipeline import FrameDropped, FramePipeline
from drm_ros.frame.tf_frames import body_transforms, tf_message_type
from drm_ros.live.frame_stats import FrameStats
from drm_ros.live.latest_frame import LatestFrame
from drm_ros.live.params import PARAMETERS, NodeParams, validate
from drm_ros.msg import PoseArray3D
from drm_ros.signals import GracefulStop, StopRequested, spin

__all__ = ["DRMNode", "PARAMETERS", "validate", "main"]  # PARAMETERS/validate: for launch-file tests

THROTTLE_S = 5.0
NO_FRAMES_S = 3.0  # publishers present but no image for this long: warn
QOS_WARN_S = 10.0  # diagnostics stay WARN this long after an incompatible-QoS or lost-message event
WORKER_JOIN_S = 30.0  # one frame on a loaded CPU; then the node is destroyed anyway
# Results must not be lost on the way to a planner: reliable, a short queue.
RESULT_QOS = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
# What tf2_ros's TransformBroadcaster offers on /tf (its DynamicBroadcasterQoS).
TF_QOS = QoSProfile(depth=100, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.VOLATILE)


def image_qos(kind: str, depth: int, publishers_reliable: bool = False) -> QoSProfile:
    """Best effort matches both best-effort and reliable publishers (no silent QoS mismatch); 'auto' is reliable
    only while every publisher is (`publishers_reliable`): then large images arrive even from a process without
    the shared-memory profile. Depth 1 keeps only the newest image in the middleware queue.

    (rclpy's BEST_AVAILABLE is not used: it is resolved once, when the subscription is created; created before
    the camera it turns reliable and a best-effort camera started later never matches.)"""
    reliable = kind == "reliable" or (kind == "auto" and publishers_reliable)
    reliability = QoSReliabilityPolicy.RELIABLE if reliable else QoSReliabilityPolicy.BEST_EFFORT
    return QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability,
                      durability=QoSDurabilityPolicy.VOLATILE)


class DRMNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("drm_node", **kwargs)
        self.mailbox: LatestFrame = LatestFrame()  # first: destroy_node needs it even when start-up fails
        self._worker: threading.Thread | None = None
        self.image_sub = None
        for name, (default, description, dynamic) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(
                description=description, read_only=not dynamic,
                additional_constraints="" if dynamic else "read at start; restart the node to change it"))
        self.params = NodeParams.from_values({name: self.get_parameter(name).value for name in PARAMETERS})
        self.add_on_set_parameters_callback(self._on_set_parameters)
        p = self.params

        from drm_core.predictor import load_predictor  # loaded once the parameters proved good
        # drm_core reports with `logging` (no GPU: running on the CPU; exporting to ONNX once): show it in the
        # node's ROS log.
        core_log = logging.getLogger("drm_core")
        core_log.setLevel(logging.INFO)
        core_log.addHandler(RosLogHandler(self.get_logger()))
        core_log.propagate = False
        self.get_logger().info(f"loading the model ({p.model_path or 'the shipped one'}, engine {p.engine}, "
                               f"device {p.device})")
        self.predictor = load_predictor(p.model_path or None, p.engine, p.device, p.input_size)
        self._apply_decoding(p)
        engine = self.predictor.engine  # torch engines name their device; onnxruntime names its provider
        self._device = getattr(engine, "device", "cpu" if "CPU" in engine.description else "cuda")
        # The frame pipeline the bag replay runs too; its trackers are used by the worker thread only.
        smoothing = OneEuroConfig(p.smoothing_min_cutoff_hz, p.smoothing_beta) if p.smoothing else None
        self.pipeline = FramePipeline(self.predictor, IntrinsicsStore(p.use_rectified, p.fallback),
                                      smoothing=smoothing, marker_options=self._markers_from(p),
                                      publish_coasting=p.publish_coasting)
        self.stats = FrameStats()
        self._last_logged: dict[str, float] = {}
        self._last_image = time.monotonic()  # of the last image, or of the moment waiting for one began
        self._image_publishers = 0
        self._qos_trouble: tuple[float, str] | None = None  # (when, what) of the last QoS event

        self._image_type, self._image_topic = (CompressedImage, p.image_topic.rstrip("/") + "/compressed") \
            if p.compressed else (Image, p.image_topic)
        # CameraInfo first: when an image and its CameraInfo are ready together, the CameraInfo is taken first.
        # It is small, so best effort (in 'auto') gets it from any publisher.
        self.info_sub = self.create_subscription(CameraInfo, p.camera_info_topic, self._on_camera_info,
                                                 image_qos(p.image_qos, max(p.image_qos_depth, 5)))
        self._subscribe_images(reliable=False)
        self.pose_pub = self.create_publisher(PoseArray3D, p.poses_topic, RESULT_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, p.markers_topic, RESULT_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, p.diagnostics_topic, RESULT_QOS)
        self.tf_pub, self._tf_type = None, None
        if p.publish_tf:
            self._tf_type, why = tf_message_type()
            if self._tf_type is None:  # said once: the node runs on without TF
                self.get_logger().warning(
                    f"publish_tf is true but {why}: no TF frames will be published. tf2_msgs comes with every ROS 2 "
                    "install (apt: ros-<distro>-tf2-msgs); the ROS wheels on PyPI lack it")
            else:
                self.tf_pub = self.create_publisher(self._tf_type, p.tf_topic, TF_QOS)
        self.create_timer(1.0, self._publish_diagnostics)

        qos_text = {"auto": "best effort, reliable while all publishers are", "sensor_data": "best effort",
                    "reliable": "reliable"}[p.image_qos] + f", depth {p.image_qos_depth}"
        self.get_logger().info(
            f"DRM on {self.predictor.description}; subscribed to {self._image_type.__name__} '{self.image_sub.topic_name}' "
            f"and CameraInfo '{self.info_sub.topic_name}' with QoS {qos_text}; publishing PoseArray3D "
            f"'{self.pose_pub.topic_name}' and MarkerArray '{self.marker_pub.topic_name}' reliable; "
            f"intrinsics from {'CameraInfo.p (rectified)' if p.use_rectified else 'CameraInfo.k and .d'}"
            + (f", fallback fx, fy, cx, cy = {p.fallback}" if p.fallback else "")
            + (f"; TF body frames on '{self.tf_pub.topic_name}'" if self.tf_pub is not None else ""))
        self._worker = threading.Thread(target=self._work, name="drm_inference", daemon=True)
        self._worker.start()

    def _subscribe_images(self, reliable: bool) -> None:
        """(Re)create the image subscription; `reliable`: every publisher is (only used in 'auto')."""
        if self.image_sub is not None:
            self.destroy_subscription(self.image_sub)
        p = self.params
        events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos,
                                            message_lost=self._on_message_lost)
        qos = image_qos(p.image_qos, p.image_qos_depth, reliable)
        self._image_reliable = qos.reliability == QoSReliabilityPolicy.RELIABLE
        self.image_sub = self.create_subscription(self._image_type, self._image_topic, self._on_image, qos,
                                                  event_callbacks=events)

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
            self._apply_decoding(params)
        self.pipeline.marker_options = self._markers_from(params)
        self.params = params
        return SetParametersResult(successful=True)

    def _apply_decoding(self, p: NodeParams) -> None:
        """score_threshold 0 is the model's own threshold (from its checkpoint), at start and at run time."""
        self.predictor.set_decoding(p.score_threshold or self.predictor.model_threshold, p.max_people)

    @staticmethod
    def _markers_from(p: NodeParams) -> MarkerOptions:
        return MarkerOptions(line_width_m=p.marker_line_width, joint_size_m=p.marker_joint_size, text=p.marker_text,
                             min_confidence=p.marker_min_confidence)

    # --- inputs (executor thread: cheap work only) ----------------------------------------------------------
    def _on_camera_info(self, info: CameraInfo) -> None:
        try:
            self.pipeline.camera_info(info)
        except InvalidCameraError as err:  # refused, never used: the last good one of that frame stays
            self._throttled("error", f"camera_info:{info.header.frame_id}", f"CameraInfo refused: {err}")

    def _on_image(self, msg: Image | CompressedImage) -> None:
        self._last_image = time.monotonic()
        self.stats.received()
        self.mailbox.put(msg)  # replaces (drops) a frame the worker has not taken yet

    def _on_incompatible_qos(self, info) -> None:
        policy = _policy_name(info.last_policy_kind)
        self._qos_trouble = (time.monotonic(), f"a publisher's QoS is incompatible ({policy})")
        self._throttled("warning", "incompatible_qos",
                        f"a publisher on '{self.image_sub.topic_name}' offers a QoS incompatible with this node's "
                        f"{'reliable' if self._image_reliable else 'best-effort'} subscription (policy {policy}; "
                        f"{info.total_count} so far): its images never arrive. Use image_qos 'auto' or "
                        "'sensor_data', or make the publisher reliable")

    def _on_message_lost(self, info) -> None:
        self.stats.lost(info.total_count_change)
        self._qos_trouble = (time.monotonic(), f"{info.total_count} images lost in transport")
        self._throttled("warning", "message_lost",
                        f"{info.total_count} images on '{self.image_sub.topic_name}' lost in transport so far "
                        f"{LARGE_IMAGE_HINT}")

    # --- inference (worker thread) ----------------------------------------------------------------------------
    def _work(self) -> None:
        while not self.mailbox.closed:
            msg = self.mailbox.take(timeout=0.5)
            if msg is None:
                continue
            try:
                self._process(msg)
            except FrameDropped as err:
                self.stats.bad()
                if err.missing_intrinsics:
                    self._throttled("warning", "no_camera_info",
                                    f"frame {_stamp_text(msg.header)} dropped: {err}; waiting for CameraInfo on "
                                    f"'{self.info_sub.topic_name}' (or set the fallback_fx/fy/cx/cy parameters)")
                else:
                    self._throttled("error", _cause(err), f"frame {_stamp_text(msg.header)} dropped: {err}")
            except Exception as err:  # noqa: BLE001 - the node must outlive any single frame
                if not self.context.ok():  # shut down (SIGINT/SIGTERM) mid-frame: nowhere left to publish
                    break
                self.stats.bad()
                self._throttled("error", "unexpected", f"frame {_stamp_text(msg.header)} dropped: "
                                                       f"{type(err).__name__}: {err}")

    def _process(self, msg: Image | CompressedImage) -> None:
        result = self.pipeline.process(msg, markers=self.params.publish_markers)
        self.pose_pub.publish(result.poses_msg)
        if self.tf_pub is not None:
            transforms = body_transforms(result.poses_msg, self.predictor.skeleton)
            if transforms:
                self.tf_pub.publish(self._tf_type(transforms=transforms))
        if result.markers_msg is not None:
            self.marker_pub.publish(result.markers_msg)
        latency = self.get_clock().now() - Time.from_msg(msg.header.stamp, clock_type=self.get_clock().clock_type)
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

    def _watch_publishers(self) -> str | None:
        """Follow the publishers' reliability ('auto') and say what is wrong when they send nothing."""
        publishers = self.get_publishers_info_by_topic(self.image_sub.topic_name)
        now = time.monotonic()
        if publishers and not self._image_publishers:  # the wait for images starts when a publisher appears
            self._last_image = max(self._last_image, now)
        self._image_publishers = len(publishers)
        all_reliable = bool(publishers) and all(
            i.qos_profile.reliability == QoSReliabilityPolicy.RELIABLE for i in publishers)
        if self.params.image_qos == "auto" and all_reliable != self._image_reliable:
            self.get_logger().info(
                f"image publishers on '{self.image_sub.topic_name}' are "
                f"{'all reliable' if all_reliable else 'not all reliable'}: subscribing "
                f"{'reliable' if all_reliable else 'best effort'}")
            self._subscribe_images(all_reliable)
            self._last_image = max(self._last_image, now)
        silent_s = now - self._last_image
        if not publishers or silent_s < NO_FRAMES_S:
            return None
        kinds = sorted({"reliable" if i.qos_profile.reliability == QoSReliabilityPolicy.RELIABLE else "best effort"
                        for i in publishers})
        problem = f"{len(publishers)} publisher(s) ({', '.join(kinds)}) but no image for {silent_s:.0f} s"
        self._throttled("warning", "no_frames", f"'{self.image_sub.topic_name}' has {problem} {LARGE_IMAGE_HINT}")
        return problem

    def _publish_diagnostics(self) -> None:
        problem = self._watch_publishers()
        if problem is None and self._qos_trouble and time.monotonic() - self._qos_trouble[0] < QOS_WARN_S:
            problem = self._qos_trouble[1]
        snap = self.stats.snapshot(self.mailbox.dropped)
        idle = snap.input_rate_hz == 0
        level = DiagnosticStatus.OK if idle or snap.processed_rate_hz > 0 else DiagnosticStatus.WARN
        message = "no images" if idle else f"{snap.processed_rate_hz:.1f} of {snap.input_rate_hz:.1f} images/s"
        if problem:
            level, message = DiagnosticStatus.WARN, f"{message}; {problem}"
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: pose estimation", message=message,
                                  hardware_id=self.predictor.description)
        status.values = [KeyValue(key=k, value=v) for k, v in snap.key_values()]
        status.values += [KeyValue(key="engine", value=self.predictor.description),
                          KeyValue(key="device", value=self._device),
                          KeyValue(key="image_publishers", value=str(self._image_publishers)),
                          KeyValue(key="image_subscription",
                                   value="reliable" if self._image_reliable else "best effort")]
        self.diag_pub.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()), status=[status]))

    def destroy_node(self) -> None:
        self.mailbox.close()
        if self._worker is not None:
            self._worker.join(timeout=WORKER_JOIN_S)
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


def _cause(err: FrameDropped) -> str:
    """The kind of problem, for throttling: the message with its numbers blanked out (a wrong step and a
    short buffer are logged separately; the same wrong step on every frame once per THROTTLE_S)."""
    return err.reason + re.sub(r"\d+(\.\d+)?", "#", str(err))


LARGE_IMAGE_HINT = ("(large best-effort images from a process without a big shared-memory segment are dropped by "
                    "Fast DDS: start the camera driver with FASTDDS_DEFAULT_PROFILES_FILE set to this package's "
                    "config/fastdds_large_images.xml, or make it publish reliable; see the README, QoS)")


def _policy_name(kind) -> str:
    return getattr(kind, "name", str(kind)).removeprefix("RMW_QOS_POLICY_")


def _stamp_text(header: Header) -> str:
    return f"{header.stamp.sec}.{header.stamp.nanosec:09d} of '{header.frame_id}'"


def main(args: list[str] | None = None) -> int:
    """Run the node until SIGINT/SIGTERM (exit 0 whenever it comes); 2 when it cannot start."""
    stop = GracefulStop().install()
    node: DRMNode | None = None
    try:
        rclpy.init(args=args if args is not None else sys.argv, signal_handler_options=SignalHandlerOptions.NO)
        try:
            node = DRMNode()
        except (ValueError, ParameterException) as err:  # CheckpointError is a ValueError
            # Bad parameters or a missing/corrupt model: say why and exit non-zero (a launch file shows it).
            print(f"drm_node: cannot start: {err}", file=sys.stderr, flush=True)
            return 2
        stop.running()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        spin(executor, stop)
    except StopRequested:
        pass
    finally:
        stop.cleaning_up()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
