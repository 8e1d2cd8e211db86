"""The node's parameters: one dataclass (names, defaults, descriptions) and the rules a value must meet.

The node declares every field of NodeParams with its description, checks all values at start (a bad one
stops the node with the reason) and checks every later change in its on-set-parameters callback.
config/drm_node.yaml lists the same names with their defaults.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

ENGINES = ("auto", "torch", "onnxruntime")  # drm_core.predictor.ENGINES; repeated so this file needs no torch
DEVICES = ("auto", "cuda", "cpu")
IMAGE_QOS = ("auto", "sensor_data", "reliable")


def _p(default, description: str, dynamic: bool = False):
    """A field with the description the node declares and whether it may change while running."""
    return field(default=default, metadata={"description": description, "dynamic": dynamic})


@dataclass(frozen=True)
class NodeParams:
    model_path: str = _p("", "checkpoint (.pt) or ONNX model; empty: the model shipped with drm_core")
    engine: str = _p("auto", "inference engine: auto (onnxruntime on the CPU, torch on a GPU), torch or onnxruntime")
    device: str = _p("auto", "auto, cuda or cpu; without a GPU, auto and cuda run on the CPU (one warning)")
    input_width: int = _p(0, "network input width, a positive multiple of 32; 0: the model's own")
    input_height: int = _p(0, "network input height, a positive multiple of 32; 0: the model's own")
    score_threshold: float = _p(0.0, "minimum person score, in [0, 1]; 0: the model's own (stored in its checkpoint)",
                                 dynamic=True)
    max_people: int = _p(20, "most people published per image, 1..100", dynamic=True)
    image_topic: str = _p("image", "input sensor_msgs/Image topic (with compressed: <image_topic>/compressed)")
    camera_info_topic: str = _p("camera_info", "sensor_msgs/CameraInfo of the images")
    poses_topic: str = _p("drm/poses", "output drm_ros/PoseArray3D topic (reliable)")
    markers_topic: str = _p("drm/markers", "output visualization_msgs/MarkerArray topic (reliable)")
    diagnostics_topic: str = _p("/diagnostics", "diagnostic_msgs/DiagnosticArray at 1 Hz")
    image_qos: str = _p("auto", "image subscription: auto (best effort; reliable while every publisher is, so large "
                                "images arrive from any publisher), sensor_data (best effort) or reliable")
    image_qos_depth: int = _p(1, "subscription queue depth; 1 keeps latency lowest")
    compressed: bool = _p(False, "subscribe to sensor_msgs/CompressedImage on <image_topic>/compressed")
    use_rectified: bool = _p(False, "images are rectified (image_rect): use CameraInfo.p, no distortion")
    fallback_fx: float = _p(0.0, "intrinsics used while no CameraInfo has arrived for a frame; 0: none "
                                 "(images are dropped until one arrives)")
    fallback_fy: float = _p(0.0, "see fallback_fx")
    fallback_cx: float = _p(0.0, "see fallback_fx")
    fallback_cy: float = _p(0.0, "see fallback_fx")
    publish_markers: bool = _p(True, "publish RViz markers (for eyes; the PoseArray3D is the interface)", True)
    marker_min_confidence: float = _p(0.1, "joints below this confidence are not drawn, in [0, 1]", True)
    marker_text: bool = _p(True, "draw a label per person (id, score, distance)", True)
    marker_line_width: float = _p(0.03, "bone line width in metres, > 0", True)
    marker_joint_size: float = _p(0.06, "joint sphere diameter in metres, > 0", True)
    smoothing: bool = _p(False, "One-Euro smoothing of each tracked person's joints (drm_core.smoothing); adds lag: "
                                "1/(2 pi smoothing_min_cutoff_hz) at rest, 159 ms at 1 Hz")
    smoothing_min_cutoff_hz: float = _p(1.0, "One-Euro cutoff at rest in Hz, > 0 (lower: smoother, more lag)")
    smoothing_beta: float = _p(1.0, "One-Euro cutoff increase per m/s of joint speed, >= 0")
    publish_coasting: bool = _p(False, "also publish tracks not seen in this image (state STATE_COASTING, joints "
                                       "moved at the track's velocity, every confidence 0) after the detected people")
    publish_tf: bool = _p(False, "publish per confirmed track a REP 155 body_<id> frame and its link frames "
                                 "(head_<id>, torso_<id>, l_shoulder_<id>, ...) on /tf (needs tf2_msgs)")
    tf_topic: str = _p("/tf", "tf2_msgs/TFMessage topic of publish_tf")

    @classmethod
    def from_values(cls, values: dict) -> "NodeParams":
        """NodeParams of declared values; ValueError listing every bad one with its reason."""
        problems = [why for name, value in values.items() if (why := validate(name, value))]
        if not problems:
            params = cls(**values)
            problems = validate_together(params)
        if problems:
            raise ValueError("bad parameters: " + "; ".join(problems))
        return params

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(w, h) for the predictor, or None for the model's own size."""
        return (self.input_width, self.input_height) if self.input_width else None

    @property
    def fallback(self) -> tuple[float, float, float, float] | None:
        values = (self.fallback_fx, self.fallback_fy, self.fallback_cx, self.fallback_cy)
        return None if not any(values) else values


# name -> (default, description, may change while running), in declaration order.
PARAMETERS: dict[str, tuple[object, str, bool]] = {
    f.name: (f.default, f.metadata["description"], f.metadata["dynamic"]) for f in dataclasses.fields(NodeParams)}


def _in_unit(name: str, value: float) -> str | None:
    ok = isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 1.0
    return None if ok else f"{name}={value!r} must lie in [0, 1]"


def validate(name: str, value) -> str | None:
    """Why `value` is refused for parameter `name` (a sentence naming both), or None when it is good."""
    if name not in PARAMETERS:
        return f"unknown parameter {name!r}"
    if name == "model_path" and value and not Path(value).is_file():
        return f"model_path: no such model file: {value}"
    if name == "engine" and value not in ENGINES:
        return f"engine={value!r} must be one of {', '.join(ENGINES)}"
    if name == "device" and value not in DEVICES:
        return f"device={value!r} must be one of {', '.join(DEVICES)}"
    if name in ("input_width", "input_height") and (value < 0 or value % 32):
        return f"{name}={value} must be 0 (the model's own) or a positive multiple of 32"
    if name in ("score_threshold", "marker_min_confidence"):
        return _in_unit(name, value)
    if name == "max_people" and not 1 <= value <= 100:
        return f"max_people={value} must lie in 1..100"
    if name == "image_qos" and value not in IMAGE_QOS:
        return f"image_qos={value!r} must be one of {', '.join(IMAGE_QOS)}"
    if name == "image_qos_depth" and not 1 <= value <= 100:
        return f"image_qos_depth={value} must lie in 1..100"
    if name.endswith("_topic") and (not value or any(c.isspace() for c in value)):
        return f"{name}={value!r} must be a non-empty topic name without spaces"
    if name in ("fallback_fx", "fallback_fy") and (not math.isfinite(value) or value < 0):
        return f"{name}={value} must be 0 (no fallback) or a positive focal length in pixels"
    if name in ("fallback_cx", "fallback_cy") and not math.isfinite(value):
        return f"{name}={value} must be finite"
    if name in ("marker_line_width", "marker_joint_size") and not (math.isfinite(value) and value > 0):
        return f"{name}={value} must be a positive size in metres"
    if name == "smoothing_min_cutoff_hz" and not (math.isfinite(value) and value > 0):
        return f"{name}={value} must be a positive frequency in Hz"
    if name == "smoothing_beta" and not (math.isfinite(value) and value >= 0):
        return f"{name}={value} must be finite and >= 0"
    return None


def validate_together(params: NodeParams) -> list[str]:
    """Rules that span parameters (checked at start, once every value is known)."""
    problems = []
    if (params.input_width == 0) != (params.input_height == 0):
        problems.append(f"input_width={params.input_width} and input_height={params.input_height}: set both "
                        "or neither")
    fallback = params.fallback
    if fallback is not None and (fallback[0] <= 0 or fallback[1] <= 0):
        problems.append(f"fallback intrinsics {fallback}: fallback_fx and fallback_fy must both be positive "
                        "when any fallback value is set")
    return problems
