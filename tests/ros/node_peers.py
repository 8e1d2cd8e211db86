"""The camera side of the node tests, in a process of its own: publishes a scripted sequence of good and bad
Image/CameraInfo messages, records every PoseArray3D, MarkerArray and DiagnosticArray the node sends back,
and tries a few parameter changes. The test process rebuilds the same script (script() is deterministic).

python -m tests.ros.node_peers OUT_JSON TIMEOUT_S          (the scripted camera)
python -m tests.ros.node_peers --listen OUT_JSON COUNT TIMEOUT_S   (only record COUNT PoseArray3D messages)
python -m tests.ros.node_peers --stream OUT_JSON W H RELIABILITY COUNT PERIOD_S WAIT_S   (camera-sized rgb8 frames)
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field

import cv2
import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import MarkerArray

from drm_core.pose_types import Sample
from drm_ros.sim.camera_sim import CameraSimConfig, SyntheticCamera
from drm_ros.frame.image_conversion import rgb_to_image
from drm_ros.msg import PoseArray3D
from tests.ros.spin import spin_until

# Small frames, a distorted lens on every scene (the reprojection check must include distortion).
CAMERA = CameraSimConfig(width=320, height=240, seed=3, people=(2, 3), depth_range_m=(2.5, 7.0),
                         distortion_prob=1.0)
OTHER_FRAME = "another_camera"
RELIABLE = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
# (name, value, should be accepted) sent to /drm_node/set_parameters after the frames.
PARAMETER_CHANGES = [("score_threshold", -1.0, False), ("engine", "onnxruntime", False), ("max_people", 3, True)]


@dataclass
class Step:
    label: str
    image: Image
    infos: list[CameraInfo] = field(default_factory=list)  # published first, in order
    valid: bool = True  # the node must answer this image, and only valid ones
    used_info: CameraInfo | None = None  # the CameraInfo the node must use for it
    sample: Sample | None = None  # ground truth of the image


def script() -> list[Step]:
    """Good frames, each bad message followed by a good frame; stamps are unique."""
    cam = SyntheticCamera(CAMERA)
    steps: list[Step] = []

    def frame(scene: int):
        return cam.frame(scene, Time(sec=100 + len(steps), nanosec=123_456))

    def valid(label: str, scene: int) -> None:
        image, info, sample = frame(scene)
        steps.append(Step(label, image, [info], True, info, sample))

    def bad(label: str, scene: int, change) -> None:
        image, info, _ = frame(scene)
        change(image)
        steps.append(Step(label, image, [info], False))

    image, _, _ = frame(0)
    steps.append(Step("image before any CameraInfo", image, [], False))
    valid("valid first", 0)
    for label, change in [("wrong step", lambda m: setattr(m, "step", m.step - 1)),
                          ("data shorter than height x step", lambda m: setattr(m, "data", bytes(m.data[:-100]))),
                          ("zero width", lambda m: setattr(m, "width", 0)),
                          ("unknown encoding", lambda m: setattr(m, "encoding", "rgb9000"))]:
        bad(label, len(steps) % 3, change)
        valid(f"valid after {label}", len(steps) % 3)

    image, info, sample = frame(2)  # the image at half size, its CameraInfo at full size
    small = cv2.resize(sample.image, (CAMERA.width // 2, CAMERA.height // 2), interpolation=cv2.INTER_AREA)
    steps.append(Step("image size differs from its CameraInfo", rgb_to_image(small, "rgb8", image.header), [info],
                      False))
    valid("valid after size mismatch", 2)

    image, info, sample = frame(0)  # the good CameraInfo, then one with NaN in K for the same frame and stamp
    nan_info = CameraInfo()
    nan_info.header, nan_info.width, nan_info.height = info.header, info.width, info.height
    nan_info.k = [float("nan")] + list(info.k[1:])
    nan_info.d, nan_info.p = info.d, info.p
    steps.append(Step("valid after NaN in K", image, [info, nan_info], True, info, sample))

    image, info, sample = frame(1)  # a CameraInfo of another frame_id (other K) at the same stamp
    other = CameraInfo()
    other.header.stamp, other.header.frame_id = info.header.stamp, OTHER_FRAME
    other.width, other.height, other.distortion_model = info.width, info.height, "plumb_bob"
    other.k = (np.asarray(info.k).reshape(3, 3) * [[0.5], [0.5], [1.0]]).ravel().tolist()
    other.d = [0.0] * 5
    steps.append(Step("valid after CameraInfo of another frame", image, [info, other], True, info, sample))

    image, info, sample = frame(2)  # an image of that other frame: its own CameraInfo (sent above) applies
    image.header.frame_id = OTHER_FRAME
    steps.append(Step("image of the other frame", image, [], True, other, None))
    return steps


def poses_json(msg: PoseArray3D) -> dict:
    return {"stamp": [msg.header.stamp.sec, msg.header.stamp.nanosec], "frame_id": msg.header.frame_id,
            "skeleton": msg.skeleton, "joint_names": list(msg.joint_names), "bones": list(msg.bones),
            "ids": [p.id for p in msg.people], "scores": [p.score for p in msg.people],
            "roots": [[p.root.x, p.root.y, p.root.z] for p in msg.people],
            "people": [[[k.position.x, k.position.y, k.position.z, k.u, k.v, k.confidence] for k in p.keypoints]
                       for p in msg.people]}


def _markers_json(msg: MarkerArray) -> dict:
    headers = {(m.header.stamp.sec, m.header.stamp.nanosec, m.header.frame_id) for m in msg.markers}
    return {"headers": sorted(headers), "count": len(msg.markers)}


def main(out_json: str, timeout_s: float) -> int:
    rclpy.init()
    node = rclpy.create_node("camera_peer")
    image_pub = node.create_publisher(Image, "image", RELIABLE)
    info_pub = node.create_publisher(CameraInfo, "camera_info", RELIABLE)
    poses: list[PoseArray3D] = []
    markers: list[MarkerArray] = []
    diagnostics: list[DiagnosticArray] = []
    node.create_subscription(PoseArray3D, "drm/poses", poses.append, RELIABLE)
    node.create_subscription(MarkerArray, "drm/markers", markers.append, RELIABLE)
    node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, RELIABLE)
    deadline = time.monotonic() + timeout_s

    def wait_for(cond, seconds: float) -> bool:
        return spin_until(node, cond, min(deadline, time.monotonic() + seconds), period_s=0.02)

    steps = script()
    # The node subscribes once its model is loaded; its publishers must also have found us.
    wait_for(lambda: image_pub.get_subscription_count() > 0 and info_pub.get_subscription_count() > 0
               and node.count_publishers("drm/poses") > 0, timeout_s)
    log = []
    for step in steps:
        for info in step.infos:
            info_pub.publish(info)
        if step.infos:
            wait_for(lambda: False, 0.2)  # the CameraInfo lands before its image
        before = len(poses)
        image_pub.publish(step.image)
        answered = wait_for(lambda: len(poses) > before, 20.0 if step.valid else 0.4)
        log.append({"label": step.label, "answered": answered})

    client = node.create_client(SetParameters, "/drm_node/set_parameters")
    client.wait_for_service(timeout_sec=5.0)
    changes = []
    for name, value, _ in PARAMETER_CHANGES:
        future = client.call_async(SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()]))
        wait_for(future.done, 5.0)
        result = future.result().results[0] if future.done() else None
        changes.append({"name": name, "successful": bool(result and result.successful),
                        "reason": result.reason if result else "no answer"})
    count = len(diagnostics)
    wait_for(lambda: len(diagnostics) > count, 3.0)  # the node's counters after the whole script
    values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values} if diagnostics else {}
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump({"steps": log, "poses": [poses_json(m) for m in poses],
                   "markers": [_markers_json(m) for m in markers], "diagnostics": values,
                   "parameter_changes": changes}, f)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def listen(out_json: str, count: int, timeout_s: float) -> int:
    """Record the first `count` PoseArray3D messages (or what came within the timeout)."""
    rclpy.init()
    node = rclpy.create_node("pose_listener")
    poses: list[PoseArray3D] = []
    node.create_subscription(PoseArray3D, "drm/poses", poses.append, RELIABLE)
    spin_until(node, lambda: len(poses) >= count, time.monotonic() + timeout_s)
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump({"poses": [poses_json(m) for m in poses]}, f)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


# The node's 'auto' image subscription follows the publishers' reliability once a second (re-created when it
# changes): a stream starts this long after the node matched it, and once it has matched again.
SETTLE_S = 2.5


def stream(out_json: str, width: int, height: int, reliability: str, count: int, period_s: float,
           wait_s: float) -> int:
    """Publish `count` rgb8 frames of width x height with their CameraInfo, one per `period_s`, from this
    process; record which came back as PoseArray3D (within `wait_s` after the last; with count 0: stay
    silent for `wait_s`) and every diagnostic."""
    rclpy.init()
    node = rclpy.create_node("stream_peer")
    qos = QoSProfile(depth=5, reliability=QoSReliabilityPolicy.RELIABLE if reliability == "reliable"
                     else QoSReliabilityPolicy.BEST_EFFORT)
    image_pub = node.create_publisher(Image, "image", qos)
    info_pub = node.create_publisher(CameraInfo, "camera_info", qos)
    poses: list[PoseArray3D] = []
    diagnostics: list[DiagnosticArray] = []
    node.create_subscription(PoseArray3D, "drm/poses", poses.append, RELIABLE)
    node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, RELIABLE)
    # The node is up once the graph shows its image subscription and its poses publisher (a first start exports the
    # model to ONNX); whether that subscription matches this publisher's QoS is a separate, shorter wait, which an
    # incompatible pair never ends.
    node_up = lambda: node.count_subscribers("image") > 0 and node.count_publishers("drm/poses") > 0  # noqa: E731
    matched = lambda: image_pub.get_subscription_count() > 0 and node_up()  # noqa: E731
    spin_until(node, node_up, time.monotonic() + 150.0)
    spin_until(node, lambda: False, time.monotonic() + SETTLE_S)
    spin_until(node, matched, time.monotonic() + 10.0)

    x = np.linspace(0, 255, width, dtype=np.float32)
    rgb = np.stack(np.broadcast_arrays(x[None, :], np.full((height, 1), 128.0), x[None, ::-1]), axis=-1)
    image = rgb_to_image(np.ascontiguousarray(rgb.astype(np.uint8)), "rgb8", None)
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob", d=[0.0] * 5)
    f = 0.8 * width
    info.k = [f, 0.0, (width - 1) / 2, 0.0, f, (height - 1) / 2, 0.0, 0.0, 1.0]
    sent = []
    for i in range(count):
        stamp = Time(sec=1000 + i, nanosec=width)
        image.header.stamp = info.header.stamp = stamp
        image.header.frame_id = info.header.frame_id = "hd_camera"
        info_pub.publish(info)
        image_pub.publish(image)
        sent.append([stamp.sec, stamp.nanosec])
        spin_until(node, lambda: False, time.monotonic() + period_s)
    got = lambda: {(m.header.stamp.sec, m.header.stamp.nanosec) for m in poses} >= set(map(tuple, sent))  # noqa: E731
    spin_until(node, got if sent else (lambda: False), time.monotonic() + wait_s)
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump({"sent": sent, "answered": [[m.header.stamp.sec, m.header.stamp.nanosec] for m in poses],
                   "diagnostics": [{"level": int.from_bytes(d.status[0].level, "little")
                                    if isinstance(d.status[0].level, bytes) else int(d.status[0].level),
                                    "message": d.status[0].message,
                                    "values": {kv.key: kv.value for kv in d.status[0].values}}
                                   for d in diagnostics if d.status]}, f)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--stream":
        out, w, h, rel, n, period, wait = sys.argv[2:9]
        sys.exit(stream(out, int(w), int(h), rel, int(n), float(period), float(wait)))
    if sys.argv[1] == "--listen":
        sys.exit(listen(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
