"""Pinhole cameras with lens distortion, the letterbox between a camera image and the network input,
and the focal-length normalisation of root depth.

Frames follow REP-103's optical convention: x right, y down, z forward, metres. Pixel coordinates are
continuous with (0, 0) at the centre of the top-left pixel, as OpenCV and CameraInfo use them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

DISTORTION_MODELS = ("plumb_bob", "rational_polynomial", "equidistant")


class InvalidCameraError(ValueError):
    """Intrinsics that cannot be used: zero, singular, non-finite, not a pinhole matrix (last row other than
    (0, 0, 1)) or of an unknown distortion model."""


PINHOLE_TOLERANCE = 1e-9  # on the last row of K; CameraInfo's float64 carries it exactly


@dataclass(frozen=True)
class Camera:
    """Intrinsics K (3x3, pixels), distortion coefficients and the image size they belong to."""

    K: np.ndarray
    width: int
    height: int
    dist: np.ndarray = field(default_factory=lambda: np.zeros(0))
    distortion_model: str = "plumb_bob"

    def __post_init__(self) -> None:
        K = np.asarray(self.K, dtype=np.float64)
        dist = np.asarray(self.dist, dtype=np.float64).ravel()
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "dist", dist)
        if K.shape != (3, 3) or not np.all(np.isfinite(K)):
            raise InvalidCameraError(f"K must be a finite 3x3 matrix, got {K.tolist()}")
        if K[0, 0] <= 0 or K[1, 1] <= 0 or abs(np.linalg.det(K)) < 1e-12:
            raise InvalidCameraError(f"K is zero or singular (fx={K[0, 0]}, fy={K[1, 1]})")
        # Refused, not normalised: a K[2][2] of 2 (seen from a driver) would otherwise halve root depth and shift
        # every projection; a wrong matrix is a calibration fault the user must see.
        if np.abs(K[2] - (0.0, 0.0, 1.0)).max() > PINHOLE_TOLERANCE:
            raise InvalidCameraError(f"K is not a pinhole camera matrix: its last row is {K[2].tolist()}, "
                                     "not [0, 0, 1]")
        if not np.all(np.isfinite(dist)):
            raise InvalidCameraError(f"distortion coefficients are not finite: {dist.tolist()}")
        if self.distortion_model not in DISTORTION_MODELS:
            raise InvalidCameraError(f"unknown distortion model {self.distortion_model!r}; "
                                     f"expected one of {DISTORTION_MODELS}")
        if self.width <= 0 or self.height <= 0:
            raise InvalidCameraError(f"image size must be positive, got {self.width}x{self.height}")

    @property
    def fx(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        return float(self.K[1, 2])

    @property
    def has_distortion(self) -> bool:
        return bool(np.any(self.dist != 0))

    def with_K(self, K: np.ndarray, width: int | None = None, height: int | None = None) -> "Camera":
        """The same lens with new intrinsics (after a resize, crop or flip of the image)."""
        return Camera(K, width or self.width, height or self.height, self.dist, self.distortion_model)


def project(points_cam_m: np.ndarray, camera: Camera) -> np.ndarray:
    """Project (N, 3) camera-frame points to (N, 2) pixels, distortion included."""
    pts = np.asarray(points_cam_m, dtype=np.float64).reshape(-1, 1, 3)
    if len(pts) == 0:
        return np.zeros((0, 2))
    zero = np.zeros(3)
    if camera.distortion_model == "equidistant" and camera.has_distortion:
        uv, _ = cv2.fisheye.projectPoints(pts, zero, zero, camera.K, camera.dist[:4])
    elif camera.has_distortion:
        uv, _ = cv2.projectPoints(pts, zero, zero, camera.K, camera.dist)
    else:  # eq. 13 inverted; no OpenCV call needed
        p = pts[:, 0, :]
        return (p[:, :2] / p[:, 2:3]) * [camera.fx, camera.fy] + [camera.cx, camera.cy] + \
            (p[:, 1:2] / p[:, 2:3]) * [camera.K[0, 1], 0.0]
    return uv.reshape(-1, 2)


def undistort_pixels(uv_px: np.ndarray, camera: Camera) -> np.ndarray:
    """Remove lens distortion from (N, 2) pixels, returning ideal pixels of the same K."""
    uv = np.asarray(uv_px, dtype=np.float64).reshape(-1, 1, 2)
    if not camera.has_distortion or len(uv) == 0:
        return uv.reshape(-1, 2)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)
    if camera.distortion_model == "equidistant":
        und = cv2.fisheye.undistortPoints(uv, camera.K, camera.dist[:4], P=camera.K, criteria=criteria)
    else:
        und = cv2.undistortPoints(uv, camera.K, camera.dist, None, None, camera.K, criteria)
    return und.reshape(-1, 2)


def backproject(uv_px: np.ndarray, depth_m: np.ndarray, camera: Camera) -> np.ndarray:
    """Eq. 13: [X, Y, Z] = Z K^-1 [u, v, 1] for (N, 2) distorted pixels at (N,) depths, in metres."""
    ideal = undistort_pixels(uv_px, camera)
    rays = np.concatenate([ideal, np.ones((len(ideal), 1))], axis=1) @ np.linalg.inv(camera.K).T
    return rays * np.asarray(depth_m, dtype=np.float64).reshape(-1, 1)


@dataclass(frozen=True)
class Letterbox:
    """Uniform scale then centred padding from a source image to the network input (SMAP's resize).

    input = scale * source + (pad_x, pad_y), in continuous pixel coordinates.
    """

    scale: float
    pad_x: float
    pad_y: float
    input_width: int
    input_height: int

    @classmethod
    def fit(cls, src_width: int, src_height: int, input_width: int, input_height: int) -> "Letterbox":
        """The largest scale that fits the source inside the input, centred."""
        s = min(input_width / src_width, input_height / src_height)
        # Pixel centres map to pixel centres: u_in + 0.5 = s (u_src + 0.5) + offset.
        pad_x = (input_width - s * src_width) / 2 + 0.5 * (s - 1)
        pad_y = (input_height - s * src_height) / 2 + 0.5 * (s - 1)
        return cls(s, pad_x, pad_y, input_width, input_height)

    @property
    def matrix(self) -> np.ndarray:
        """2x3 affine from source pixels to input pixels."""
        return np.array([[self.scale, 0.0, self.pad_x], [0.0, self.scale, self.pad_y]])

    def to_input(self, uv_src: np.ndarray) -> np.ndarray:
        return np.asarray(uv_src, dtype=np.float64) * self.scale + [self.pad_x, self.pad_y]

    def to_source(self, uv_in: np.ndarray) -> np.ndarray:
        return (np.asarray(uv_in, dtype=np.float64) - [self.pad_x, self.pad_y]) / self.scale

    def input_K(self, K: np.ndarray) -> np.ndarray:
        """Effective intrinsics of the network input (K rescaled and shifted with the image)."""
        A = np.vstack([self.matrix, [0.0, 0.0, 1.0]])
        return A @ np.asarray(K, dtype=np.float64)

    @property
    def blur_sigma(self) -> float:
        """Gaussian pre-blur (source px) before the bilinear warp, which does not anti-alias a shrink.

        Continuous in the scale (0 at 1:1), so training crops and camera frames shrunk by slightly different
        factors are filtered alike (a threshold at scale 0.5 would blur validation-sized images only).
        """
        return 0.5 / self.scale - 0.5 if self.scale < 0.9 else 0.0

    def warp(self, image: np.ndarray, pad_value: int = 128) -> np.ndarray:
        """Resize and pad an HxWxC image to the network input, exactly along `matrix`."""
        if self.blur_sigma > 0:
            image = cv2.GaussianBlur(image, (0, 0), sigmaX=self.blur_sigma)
        return cv2.warpAffine(image, self.matrix, (self.input_width, self.input_height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(pad_value,) * 3)


def focal_of(K: np.ndarray) -> float:
    """One focal length for depth normalisation: the geometric mean of fx and fy, in pixels."""
    return float(np.sqrt(K[0, 0] * K[1, 1]))


def normalise_root_depth(depth_m: np.ndarray, focal_px: float, reference_focal_px: float) -> np.ndarray:
    """Depth as it would be seen under the reference focal length: Z * f0 / f (docs/ARCHITECTURE.md, "Cameras
    and depth")."""
    return np.asarray(depth_m) * (reference_focal_px / focal_px)


def denormalise_root_depth(depth_norm: np.ndarray, focal_px: float, reference_focal_px: float) -> np.ndarray:
    """Inverse of normalise_root_depth: metres under the actual focal length."""
    return np.asarray(depth_norm) * (focal_px / reference_focal_px)
