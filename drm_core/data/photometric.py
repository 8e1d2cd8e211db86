"""Photometric augmentation for real frames: changes that touch pixels only, so 2D and 3D labels stay true.

Real footage differs from rendered scenes in colour cast, focus, motion blur, sensor noise, compression and
resolution, and real people are often half hidden behind others or things. augment.py already does the
geometry (scale, translation, rotation, flip, with K and the 3D joints) and brightness, contrast and saturation;
this module adds what it does not: hue and white-balance shifts, gamma, Gaussian or motion blur, sensor noise,
JPEG compression (OpenCV's real encoder, not an imitation), low resolution (down- then up-sampling) and
occluding patches. No pixel moves, so the joints, the camera and the 3D labels are unchanged; a labelled joint
under an occluding patch becomes OCCLUDED (it is still where it was, but no longer visible), the COCO meaning.

Everything is drawn from one numpy Generator, then applied deterministically (draw_photometric then
apply_photometric), like augment.draw_params / apply_params.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import cv2
import numpy as np

from drm_core.pose_types import OCCLUDED, Sample

FILLS = ("colour", "noise", "texture")


@dataclass
class PhotometricConfig:
    """Probabilities and ranges of each change (a probability of 0 turns that change off)."""

    hue_prob: float = 0.3
    max_hue_deg: float = 10.0
    white_balance_prob: float = 0.3
    max_channel_gain: float = 0.1  # per-channel gain drawn from [1 - x, 1 + x]
    gamma_prob: float = 0.3
    gamma_range: tuple[float, float] = (0.7, 1.4)
    blur_prob: float = 0.3  # half Gaussian, half motion blur
    blur_sigma_px: tuple[float, float] = (0.5, 2.0)
    motion_length_px: tuple[int, int] = (3, 9)
    noise_prob: float = 0.3
    noise_sigma: tuple[float, float] = (2.0, 10.0)  # grey levels (0-255)
    jpeg_prob: float = 0.3
    jpeg_quality: tuple[int, int] = (25, 90)
    downscale_prob: float = 0.2
    downscale_range: tuple[float, float] = (0.3, 0.7)  # image shrunk by this factor, then brought back
    occluder_prob: float = 0.4
    max_occluders: int = 2
    occluder_size: tuple[float, float] = (0.15, 0.45)  # side as a fraction of the covered person's box side

    def __post_init__(self) -> None:
        for name in ("hue_prob", "white_balance_prob", "gamma_prob", "blur_prob", "noise_prob", "jpeg_prob",
                     "downscale_prob", "occluder_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"PhotometricConfig.{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("gamma_range", "blur_sigma_px", "motion_length_px", "noise_sigma", "jpeg_quality",
                     "downscale_range", "occluder_size"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"PhotometricConfig.{name} must be (low, high) with 0 < low <= high, "
                                 f"got {getattr(self, name)}")
        if self.jpeg_quality[1] > 100 or self.downscale_range[1] > 1.0:
            raise ValueError("PhotometricConfig: jpeg_quality goes up to 100 and downscale_range up to 1")

    @classmethod
    def off(cls) -> "PhotometricConfig":
        """Every change off (the identity)."""
        return cls(**{f.name: 0.0 for f in dataclasses.fields(cls) if f.name.endswith("_prob")})


@dataclass
class Occluder:
    """An axis-aligned rectangle (pixels, x0 y0 inclusive, x1 y1 exclusive) and how it is filled."""

    box_px: tuple[int, int, int, int]
    fill: str  # one of FILLS
    colour: tuple[int, int, int] = (0, 0, 0)
    source_px: tuple[int, int] = (0, 0)  # texture: top-left corner of the copied region


@dataclass
class PhotometricParams:
    """One drawn set of changes; apply_photometric(sample, params, seed) is deterministic."""

    hue_deg: float = 0.0
    channel_gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    gamma: float = 1.0
    blur_sigma_px: float = 0.0
    motion_length_px: int = 0
    motion_angle_deg: float = 0.0
    noise_sigma: float = 0.0
    jpeg_quality: int = 0  # 0: no compression
    downscale: float = 1.0
    occluders: list[Occluder] = field(default_factory=list)


def _person_boxes(sample: Sample) -> list[tuple[float, float, float, float]]:
    """Tight (x0, y0, x1, y1) boxes around each person's labelled joints inside the image."""
    boxes = []
    w, h = sample.camera.width, sample.camera.height
    for uv, vis in zip(sample.joints_2d_px, sample.visibility):
        pts = uv[vis > 0]
        pts = pts[(pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)]
        if len(pts) >= 2:
            boxes.append((*pts.min(axis=0), *pts.max(axis=0)))
    return boxes


def _draw_occluder(rng: np.random.Generator, config: PhotometricConfig, box: tuple[float, float, float, float],
                   width: int, height: int) -> Occluder | None:
    """A rectangle centred somewhere on the person's box, sized relative to it (None when it falls outside)."""
    x0, y0, x1, y1 = box
    side_w = max(x1 - x0, 8.0) * rng.uniform(*config.occluder_size)
    side_h = max(y1 - y0, 8.0) * rng.uniform(*config.occluder_size)
    cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
    bx0, by0 = int(max(0, round(cx - side_w / 2))), int(max(0, round(cy - side_h / 2)))
    bx1, by1 = int(min(width, round(cx + side_w / 2))), int(min(height, round(cy + side_h / 2)))
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    fill = FILLS[int(rng.integers(len(FILLS)))]
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    source = (int(rng.integers(0, width - (bx1 - bx0) + 1)), int(rng.integers(0, height - (by1 - by0) + 1)))
    return Occluder((bx0, by0, bx1, by1), fill, colour, source)


def draw_photometric(rng: np.random.Generator, config: PhotometricConfig, sample: Sample) -> PhotometricParams:
    """Random changes for `sample` (occluders are placed over its people)."""
    p = PhotometricParams()
    if rng.random() < config.hue_prob:
        p.hue_deg = float(rng.uniform(-config.max_hue_deg, config.max_hue_deg))
    if rng.random() < config.white_balance_prob:
        g = config.max_channel_gain
        p.channel_gain = tuple(float(x) for x in rng.uniform(1 - g, 1 + g, size=3))
    if rng.random() < config.gamma_prob:
        p.gamma = float(np.exp(rng.uniform(*np.log(config.gamma_range))))  # as often darker as lighter
    if rng.random() < config.blur_prob:
        if rng.random() < 0.5:
            p.blur_sigma_px = float(rng.uniform(*config.blur_sigma_px))
        else:
            p.motion_length_px = int(rng.integers(config.motion_length_px[0], config.motion_length_px[1] + 1))
            p.motion_angle_deg = float(rng.uniform(0.0, 180.0))
    if rng.random() < config.noise_prob:
        p.noise_sigma = float(rng.uniform(*config.noise_sigma))
    if rng.random() < config.jpeg_prob:
        p.jpeg_quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
    if rng.random() < config.downscale_prob:
        p.downscale = float(rng.uniform(*config.downscale_range))
    boxes = _person_boxes(sample)
    if boxes and rng.random() < config.occluder_prob:
        for _ in range(int(rng.integers(1, config.max_occluders + 1))):
            occ = _draw_occluder(rng, config, boxes[int(rng.integers(len(boxes)))], sample.camera.width,
                                 sample.camera.height)
            if occ is not None:
                p.occluders.append(occ)
    return p


def _colour(image: np.ndarray, p: PhotometricParams) -> np.ndarray:
    """Hue rotation, per-channel gain and gamma on RGB uint8."""
    if p.hue_deg:
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV_FULL)  # hue in 0..255 for a full turn
        hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + int(round(p.hue_deg * 256 / 360))) % 256).astype(np.uint8)
        image = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)
    if p.channel_gain != (1.0, 1.0, 1.0) or p.gamma != 1.0:
        lut = np.arange(256, dtype=np.float32) / 255.0
        lut = np.stack([np.clip(255.0 * (lut ** p.gamma) * g + 0.5, 0, 255) for g in p.channel_gain], axis=1)
        image = np.stack([lut[image[..., c], c] for c in range(3)], axis=-1).astype(np.uint8)
    return image


def _blur(image: np.ndarray, p: PhotometricParams) -> np.ndarray:
    if p.blur_sigma_px > 0:
        image = cv2.GaussianBlur(image, (0, 0), sigmaX=p.blur_sigma_px)
    if p.motion_length_px > 1:
        n = p.motion_length_px
        kernel = np.zeros((n, n), np.float32)
        kernel[n // 2, :] = 1.0 / n  # a horizontal line, turned to the drawn angle
        rot = cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), p.motion_angle_deg, 1.0)
        kernel = cv2.warpAffine(kernel, rot, (n, n))
        image = cv2.filter2D(image, -1, kernel / max(kernel.sum(), 1e-6))
    return image


def _occlude(image: np.ndarray, occluders: list[Occluder], rng: np.random.Generator) -> np.ndarray:
    src = image.copy()  # textures come from the picture before any patch is drawn
    for occ in occluders:
        x0, y0, x1, y1 = occ.box_px
        if occ.fill == "colour":
            image[y0:y1, x0:x1] = occ.colour
        elif occ.fill == "noise":
            image[y0:y1, x0:x1] = rng.integers(0, 256, size=(y1 - y0, x1 - x0, 3), dtype=np.uint8)
        else:
            sx, sy = occ.source_px
            image[y0:y1, x0:x1] = src[sy:sy + (y1 - y0), sx:sx + (x1 - x0)]
    return image


def apply_photometric(sample: Sample, params: PhotometricParams, seed: int = 0) -> Sample:
    """The sample with `params` applied to its pixels; joints under an occluder become OCCLUDED.

    `seed` drives the per-pixel noise (sensor noise, noise-filled occluders), so the result is reproducible.
    """
    rng = np.random.default_rng(seed)
    image = _colour(sample.image, params)
    h, w = image.shape[:2]
    if params.downscale < 1.0:
        small = cv2.resize(image, (max(1, round(w * params.downscale)), max(1, round(h * params.downscale))),
                           interpolation=cv2.INTER_AREA)
        image = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    image = _blur(image, params)
    if params.noise_sigma > 0:
        image = np.clip(image + rng.normal(0.0, params.noise_sigma, image.shape) + 0.5, 0, 255).astype(np.uint8)
    if params.jpeg_quality:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, params.jpeg_quality])
        if not ok:
            raise RuntimeError(f"OpenCV could not JPEG-encode a {w}x{h} image")
        image = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    vis = sample.visibility
    if params.occluders:
        image = _occlude(image if image is not sample.image else image.copy(), params.occluders, rng)
        covered = np.zeros(vis.shape, bool)
        for occ in params.occluders:
            x0, y0, x1, y1 = occ.box_px
            u, v = sample.joints_2d_px[..., 0], sample.joints_2d_px[..., 1]
            covered |= (u >= x0) & (u < x1) & (v >= y0) & (v < y1)
        vis = np.where((vis > OCCLUDED) & covered, OCCLUDED, vis).astype(vis.dtype)
    return dataclasses.replace(sample, image=np.ascontiguousarray(image), visibility=vis,
                               meta={**sample.meta, "photometric": dataclasses.asdict(params)})


def photometric(sample: Sample, rng: np.random.Generator, config: PhotometricConfig | None = None) -> Sample:
    """A randomly changed copy of `sample` (pixels only; labels stay true)."""
    config = config or PhotometricConfig()
    params = draw_photometric(rng, config, sample)
    return apply_photometric(sample, params, int(rng.integers(2 ** 31)))
