"""One camera frame through the model: the path the live node and the bag replay share, so the replay is the
node by construction.

Image (or CompressedImage) message + the CameraInfo already seen for its frame_id in; the tracked poses, the
PoseArray3D and the MarkerArray with the image's exact header out. Every way a frame can be bad ends in one
exception, `FrameDropped`, whose `reason` names the cause (the class of the underlying error); callers log or
list it and go on with the next frame.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from drm_core.pose_types import Poses3D
from drm_core.predictor import InvalidImageError, Predictor
from drm_core.smoothing import OneEuroConfig
from drm_core.tracking import TrackedPoses, Tracker, TrackerConfig
from drm_ros.frame.image_conversion import BadImageError, image_to_rgb
from drm_ros.frame.intrinsics import IntrinsicsMismatchError, IntrinsicsStore, MissingIntrinsicsError
from drm_ros.frame.markers import MarkerOptions, pose_markers
from drm_ros.frame.pose_messages import poses_to_msg
from drm_ros.msg import PoseArray3D

# The bad inputs a frame can bring: an undecodable image, one the model cannot take, no CameraInfo for its
# frame_id, or a CameraInfo of another size.
BAD_FRAME_ERRORS = (BadImageError, InvalidImageError, MissingIntrinsicsError, IntrinsicsMismatchError)


class FrameDropped(Exception):
    """A frame that cannot be processed; `reason` is the cause's class name, str() its message."""

    def __init__(self, cause: Exception):
        super().__init__(str(cause))
        self.reason = type(cause).__name__
        self.cause = cause

    @property
    def missing_intrinsics(self) -> bool:
        return isinstance(self.cause, MissingIntrinsicsError)


@dataclass
class FrameResult:
    """What one frame gave: the image, its tracked poses and track ids (the detected people), the messages to
    publish or record, and the tracker's full output (velocities, states, ages, coasting tracks)."""

    rgb: np.ndarray
    poses: Poses3D
    ids: np.ndarray
    poses_msg: PoseArray3D
    markers_msg: MarkerArray | None
    compute_ms: float  # conversion, intrinsics and prediction of this frame
    tracked: TrackedPoses | None = None

    @property
    def stamp_s(self) -> float:
        stamp = self.poses_msg.header.stamp
        return stamp.sec + stamp.nanosec * 1e-9


class FramePipeline:
    """Conversion, intrinsics, prediction, tracking (one tracker per frame_id) and messages for one frame."""

    def __init__(self, predictor: Predictor, intrinsics: IntrinsicsStore, tracker: TrackerConfig = TrackerConfig(),
                 smoothing: OneEuroConfig | None = None, marker_options: MarkerOptions = MarkerOptions(),
                 publish_coasting: bool = False):
        self.predictor = predictor
        self.intrinsics = intrinsics
        self.marker_options = marker_options  # the node changes it at run time
        # Coasting tracks (alive, not seen in this image) as people after the detected ones, confidences 0.
        self.publish_coasting = publish_coasting
        self._tracker_config = tracker
        self._smoothing = smoothing
        self._trackers: dict[str, Tracker] = {}

    def camera_info(self, info: CameraInfo) -> None:
        """Remember a CameraInfo for its frame_id; InvalidCameraError when refused (the last good one stays)."""
        self.intrinsics.update(info)

    def process(self, msg: Image | CompressedImage, markers: bool = True) -> FrameResult:
        """The frame's poses and messages; FrameDropped for bad input."""
        header = msg.header
        start = time.perf_counter()
        try:
            rgb = image_to_rgb(msg)
            camera = self.intrinsics.camera_for(header.frame_id, rgb.shape[1], rgb.shape[0],
                                                (header.stamp.sec, header.stamp.nanosec))
            poses = self.predictor.predict(rgb, camera)
        except BAD_FRAME_ERRORS as err:
            raise FrameDropped(err) from err
        compute_ms = (time.perf_counter() - start) * 1e3
        tracker = self._trackers.get(header.frame_id)
        if tracker is None:
            tracker = self._trackers[header.frame_id] = Tracker(self._tracker_config, self.predictor.skeleton.root,
                                                                self._smoothing)
        tracked = tracker.update(poses, header.stamp.sec + header.stamp.nanosec * 1e-9)
        skeleton = self.predictor.skeleton
        out = tracked.with_coasting() if self.publish_coasting else tracked
        poses_msg = poses_to_msg(out.poses, header, skeleton, out.ids, out.velocities_m_s, out.states, out.ages_s)
        markers_msg = pose_markers(out.poses, header, skeleton, self.marker_options, out.ids, out.velocities_m_s) \
            if markers else None
        return FrameResult(rgb, tracked.poses, tracked.ids, poses_msg, markers_msg, compute_ms, tracked)
