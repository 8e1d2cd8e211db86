"""Training augmentation that keeps the geometry true: after it, project(joints_3d, camera) == joints_2d.

Every geometric change is one pixel map H (3x3, last row 0 0 1) applied to the image and the 2D joints, with
the matching change of intrinsics K and of the 3D joints:
- in-plane rotation by theta about the optical axis: 3D' = R_z 3D, K unchanged, H = K R_z K^-1 (exact for any
  fx, fy and skew; about the principal point);
- horizontal flip: u' = W-1-u, 3D' = D 3D with D = diag(-1, 1, 1), K' = F K D (so cx' = W-1-cx, skew negated,
  fx stays positive), and left/right joints swap (MPI15.flip_index());
- scale about the image centre and translation: the 2x3 affine A, K' = A K, 3D unchanged.
Distorted cameras keep their distortion, because inference feeds the network the raw, distorted image: the lens
model acts on normalised coordinates before K, so scale and translation (K' = A K) leave it unchanged, and the
radial terms commute with the rotation and the flip; the tangential pair, as the complex number p2 + i p1,
turns with the rotation (times e^{i theta}) and mirrors with the flip (p2 -> -p2). `undistort=True` (the first
models' training) removes the distortion first instead, and lens models this cannot carry exactly (thin prism
or tilt terms) are always undistorted first.
Joints the transform moves out of the image stay labelled, as occluded (the renderer's and MuCo's convention).
Colour jitter touches pixels only.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from drm_core.camera import Camera, undistort_pixels
from drm_core.skeleton import MPI15
from drm_core.pose_types import OCCLUDED, Sample


@dataclass
class AugmentConfig:
    """Ranges the random transform is drawn from (all off: scale (1, 1) and the rest 0)."""

    scale_range: tuple[float, float] = (0.75, 1.25)
    max_translate: float = 0.1  # fraction of the image width / height, each way
    max_rotation_deg: float = 30.0
    flip_prob: float = 0.5
    brightness: float = 0.2  # factors drawn from [1 - x, 1 + x]
    contrast: float = 0.2
    saturation: float = 0.2
    pad_value: int = 128  # grey for pixels the warp brings in from outside the image
    undistort: bool = False  # remove lens distortion first (the first models' training; inference does not)


@dataclass
class AugmentParams:
    """One drawn transform; apply_params(sample, params) is deterministic."""

    scale: float = 1.0
    translate_px: tuple[float, float] = (0.0, 0.0)
    rotation_deg: float = 0.0
    flip: bool = False
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0


def draw_params(rng: np.random.Generator, config: AugmentConfig, width: int, height: int) -> AugmentParams:
    """A random transform for an image of the given size."""
    t = config.max_translate
    return AugmentParams(
        scale=float(rng.uniform(*config.scale_range)),
        translate_px=(float(rng.uniform(-t, t) * width), float(rng.uniform(-t, t) * height)),
        rotation_deg=float(rng.uniform(-config.max_rotation_deg, config.max_rotation_deg)),
        flip=bool(rng.random() < config.flip_prob),
        brightness=float(rng.uniform(1 - config.brightness, 1 + config.brightness)),
        contrast=float(rng.uniform(1 - config.contrast, 1 + config.contrast)),
        saturation=float(rng.uniform(1 - config.saturation, 1 + config.saturation)))


def augment(sample: Sample, rng: np.random.Generator, config: AugmentConfig | None = None) -> Sample:
    """A randomly transformed copy of `sample` whose camera, 2D and 3D still agree."""
    config = config or AugmentConfig()
    params = draw_params(rng, config, sample.camera.width, sample.camera.height)
    return apply_params(sample, params, config.pad_value, config.undistort)


def undistort_sample(sample: Sample) -> Sample:
    """The sample seen through the same K without lens distortion (a no-op for pinhole cameras)."""
    cam = sample.camera
    if not cam.has_distortion:
        return sample
    if cam.distortion_model == "equidistant":
        image = cv2.fisheye.undistortImage(sample.image, cam.K, cam.dist[:4], Knew=cam.K)
    else:
        image = cv2.undistort(sample.image, cam.K, cam.dist)
    uv = undistort_pixels(sample.joints_2d_px.reshape(-1, 2), cam).reshape(sample.joints_2d_px.shape)
    return dataclasses.replace(sample, image=image, joints_2d_px=uv, camera=Camera(cam.K, cam.width, cam.height))


def _transformed_distortion(cam: Camera, rotation_deg: float, flip: bool) -> np.ndarray | None:
    """The distortion coefficients of the camera after rotating by `rotation_deg` about the optical axis and
    then flipping (see the module docstring); None when the lens model has terms that do not carry over."""
    dist = cam.dist.copy()
    if cam.distortion_model == "equidistant" or len(dist) < 4:
        return dist  # purely radial
    if len(dist) > 8 and np.any(dist[8:] != 0):
        return None  # thin prism / tilted sensor
    th = np.deg2rad(rotation_deg)
    q = complex(dist[3], dist[2]) * complex(np.cos(th), np.sin(th))  # p2 + i p1 turns with the image
    dist[2], dist[3] = q.imag, q.real
    if flip:
        dist[3] = -dist[3]
    return dist


def _geometry(params: AugmentParams, K: np.ndarray, width: int, height: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H pixel map, new K, 3D transform T) for `params`; see the module docstring."""
    th = np.deg2rad(params.rotation_deg)
    R = np.array([[np.cos(th), -np.sin(th), 0.0], [np.sin(th), np.cos(th), 0.0], [0.0, 0.0, 1.0]])
    H = K @ R @ np.linalg.inv(K)
    T = R
    if params.flip:
        F = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        D = np.diag([-1.0, 1.0, 1.0])
        H, K, T = F @ H, F @ K @ D, D @ T
    s = params.scale
    cx, cy = (width - 1) / 2, (height - 1) / 2  # scale about the image centre, then shift
    A = np.array([[s, 0.0, (1 - s) * cx + params.translate_px[0]],
                  [0.0, s, (1 - s) * cy + params.translate_px[1]], [0.0, 0.0, 1.0]])
    return A @ H, A @ K, T


def _jitter(image: np.ndarray, params: AugmentParams) -> np.ndarray:
    """Brightness, contrast and saturation on RGB uint8 pixels."""
    if params.brightness == params.contrast == params.saturation == 1.0:
        return image
    img = image.astype(np.float32) * params.brightness
    grey = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    img = grey[..., None] + (img - grey[..., None]) * params.saturation
    img = (img - grey.mean()) * params.contrast + grey.mean()
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def apply_params(sample: Sample, params: AugmentParams, pad_value: int = 128, undistort: bool = False) -> Sample:
    """Apply one drawn transform, keeping the lens distortion unless `undistort` (see the module docstring)."""
    dist = None if undistort else _transformed_distortion(sample.camera, params.rotation_deg, params.flip)
    if dist is None:
        sample = undistort_sample(sample)
        dist = sample.camera.dist
    cam = sample.camera
    H, K, T = _geometry(params, cam.K, cam.width, cam.height)
    image = cv2.warpAffine(sample.image, H[:2], (cam.width, cam.height), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(pad_value,) * 3)
    uv = sample.joints_2d_px @ H[:2, :2].T + H[:2, 2]
    xyz = None if sample.joints_3d_m is None else sample.joints_3d_m @ T.T
    rel = None if sample.joints_rel_m is None else sample.joints_rel_m @ T.T  # NaN (unknown) stays NaN
    vis = sample.visibility
    if params.flip:
        perm = MPI15.flip_index()
        uv, vis = uv[:, perm], vis[:, perm]
        xyz = None if xyz is None else xyz[:, perm]
        rel = None if rel is None else rel[:, perm]
    inside = (uv[..., 0] >= 0) & (uv[..., 0] <= cam.width - 1) & (uv[..., 1] >= 0) & (uv[..., 1] <= cam.height - 1)
    vis = np.where((vis > 0) & ~inside, np.minimum(vis, OCCLUDED), vis).astype(vis.dtype)
    # Unlabelled joints keep the all-zero convention of the readers.
    uv = np.where(vis[..., None] > 0, uv, 0.0)
    xyz = None if xyz is None else np.where(vis[..., None] > 0, xyz, 0.0)
    camera = Camera(K, cam.width, cam.height, dist, cam.distortion_model)
    return dataclasses.replace(sample, image=_jitter(image, params), camera=camera,
                               joints_2d_px=uv, joints_3d_m=xyz, visibility=vis, joints_rel_m=rel,
                               meta={**sample.meta, "augment": dataclasses.asdict(params)})
