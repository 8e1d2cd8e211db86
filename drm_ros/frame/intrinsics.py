"""Camera intrinsics from sensor_msgs/CameraInfo, kept per frame_id and matched to images by frame_id.

K with the distortion D for raw images, P (no distortion) for rectified ones (docs/ARCHITECTURE.md, "Cameras and
depth"). A CameraInfo with a zero, singular or non-finite matrix is refused (InvalidCameraError) and the
last good one of that frame stays in use: other pose nodes' users lost days to an all-zero K used silently.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from drm_core.camera import Camera, InvalidCameraError

# CameraInfo.distortion_model -> drm_core's name ("" is what drivers without calibration send).
DISTORTION_MODELS = {"": "plumb_bob", "plumb_bob": "plumb_bob", "rational_polynomial": "rational_polynomial",
                     "equidistant": "equidistant", "fisheye": "equidistant"}
# Coefficient counts OpenCV accepts for each model.
DISTORTION_LENGTHS = {"plumb_bob": (0, 4, 5, 8, 12, 14), "rational_polynomial": (0, 4, 5, 8, 12, 14),
                      "equidistant": (0, 4)}


class MissingIntrinsicsError(LookupError):
    """No usable CameraInfo has arrived for an image's frame_id (and no fallback intrinsics are set)."""


class IntrinsicsMismatchError(ValueError):
    """An image whose size differs from the size its CameraInfo describes."""


def camera_from_info(info, use_rectified: bool = False) -> Camera:
    """Camera of a CameraInfo (any object with its fields), binning and region of interest applied.

    Raises InvalidCameraError for a zero, singular or non-finite matrix, a zero size or an unknown
    distortion model, naming the frame_id.
    """
    frame = info.header.frame_id
    try:
        model = DISTORTION_MODELS[info.distortion_model]
    except KeyError:
        raise InvalidCameraError(f"CameraInfo of frame '{frame}': unknown distortion model "
                                 f"{info.distortion_model!r}; expected one of {sorted(DISTORTION_MODELS)}") from None
    dist = np.asarray(info.d, dtype=np.float64).ravel()
    if use_rectified:  # the image is undistorted: P's left 3x3 is its camera matrix
        K, dist = np.asarray(info.p, dtype=np.float64).reshape(3, 4)[:, :3], np.zeros(0)
    else:
        K = np.asarray(info.k, dtype=np.float64).reshape(3, 3)
        if len(dist) not in DISTORTION_LENGTHS[model]:
            raise InvalidCameraError(f"CameraInfo of frame '{frame}': {len(dist)} distortion coefficients for "
                                     f"{model}; expected one of {DISTORTION_LENGTHS[model]}")
    width, height = int(info.width), int(info.height)
    # Binning and ROI describe the published image as a crop (then a binning) of the calibrated one;
    # the intrinsics follow as in image_geometry: shift by the ROI offset, divide by the binning.
    roi = info.roi
    if roi.width and roi.height:
        K = np.array([[1.0, 0, -roi.x_offset], [0, 1.0, -roi.y_offset], [0, 0, 1.0]]) @ K
        width, height = int(roi.width), int(roi.height)
    bx, by = max(int(info.binning_x), 1), max(int(info.binning_y), 1)
    if bx > 1 or by > 1:
        K = np.diag([1.0 / bx, 1.0 / by, 1.0]) @ K
        width, height = width // bx, height // by
    try:
        return Camera(K, width, height, dist=dist, distortion_model=model)
    except InvalidCameraError as err:
        which = "P" if use_rectified else "K"
        raise InvalidCameraError(f"CameraInfo of frame '{frame}' ({which}): {err}") from None


Stamp = tuple[int, int]  # (sec, nanosec) of a header


class IntrinsicsStore:
    """Good Cameras per frame_id, the newest few by stamp; images look theirs up by frame_id and stamp."""

    def __init__(self, use_rectified: bool = False,
                 fallback: tuple[float, float, float, float] | None = None, keep: int = 16) -> None:
        self.use_rectified = use_rectified
        self.fallback = fallback  # (fx, fy, cx, cy) for frames without a CameraInfo
        self.keep = keep
        self._cameras: dict[str, OrderedDict[Stamp, Camera]] = {}
        self._lock = threading.Lock()  # updated on the executor thread, read by the worker

    def update(self, info) -> Camera:
        """Store the camera of `info` for its frame_id; InvalidCameraError (nothing stored) when unusable."""
        camera = camera_from_info(info, self.use_rectified)
        stamp = (int(info.header.stamp.sec), int(info.header.stamp.nanosec))
        with self._lock:
            recent = self._cameras.setdefault(info.header.frame_id, OrderedDict())
            recent.pop(stamp, None)
            recent[stamp] = camera  # newest last
            while len(recent) > self.keep:
                recent.popitem(last=False)
        return camera

    def frame_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._cameras)

    def camera_for(self, frame_id: str, width: int, height: int, stamp: Stamp | None = None) -> Camera:
        """The camera of an image of frame `frame_id`, size width x height, taken at `stamp`.

        The CameraInfo of the same stamp when one arrived (a camera whose intrinsics change, like the
        synthetic one), else the newest of that frame. Raises MissingIntrinsicsError (no CameraInfo for
        that frame and no fallback) or IntrinsicsMismatchError (the CameraInfo is for another size: refused
        rather than rescaled, since a driver that resizes without updating CameraInfo gives intrinsics
        nobody can trust).
        """
        with self._lock:
            recent = self._cameras.get(frame_id)
            camera = None if not recent else recent.get(stamp) or next(reversed(recent.values()))
            known = sorted(self._cameras)
        if camera is None:
            if self.fallback is None:
                raise MissingIntrinsicsError(f"no valid CameraInfo for frame '{frame_id}' yet (have: {known})")
            fx, fy, cx, cy = self.fallback
            return Camera(np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]), width, height)
        if (camera.width, camera.height) != (width, height):
            raise IntrinsicsMismatchError(f"image of frame '{frame_id}' is {width}x{height} but its CameraInfo "
                                          f"is for {camera.width}x{camera.height}")
        return camera
