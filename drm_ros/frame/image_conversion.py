"""sensor_msgs Image / CompressedImage <-> RGB uint8 arrays.

Reading is rosbags-image's (it reads message fields by name, so live rclpy messages and bag messages share
it). It trusts width, height and step, so this module checks first that a message describes a readable
image (a padded row, data shorter than height x step or a zero width would otherwise be misread or crash)
and raises BadImageError saying what is wrong. Writing (rgb_to_image) serves the synthetic camera and tests.
"""
from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
from rosbags.image import ImageError, compressed_image_to_cvimage, image_to_cvimage
from rosbags.image.image import convert_color, to_cvtype
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header


class BadImageError(ValueError):
    """An image message whose fields do not describe an image this node can read."""


# Encodings whose data is not height x step (planar YUV 4:2:0): rosbags-image would misread them.
UNSUPPORTED = ("nv12", "nv21")


def image_to_rgb(msg: Image | CompressedImage) -> np.ndarray:
    """HxWx3 uint8 RGB of a sensor_msgs Image (any encoding rosbags-image reads) or CompressedImage."""
    if hasattr(msg, "format"):
        return _compressed_to_rgb(msg)
    where = f"image of frame '{msg.header.frame_id}'"
    if msg.width == 0 or msg.height == 0:
        raise BadImageError(f"{where}: empty, {msg.width}x{msg.height} pixels")
    if msg.encoding in UNSUPPORTED:
        raise BadImageError(f"{where}: encoding {msg.encoding!r} is not supported")
    try:
        bits, _, _, channels = to_cvtype(msg.encoding)
    except ImageError:
        raise BadImageError(f"{where}: unknown encoding {msg.encoding!r}") from None
    row_bytes = msg.width * channels * bits // 8
    if msg.step < row_bytes:
        raise BadImageError(f"{where}: step {msg.step} is less than width x pixel size = {msg.width} x "
                            f"{channels * bits // 8} = {row_bytes} bytes for {msg.encoding}")
    data = np.frombuffer(msg.data, np.uint8)  # no copy for bytes and array.array alike
    if len(data) < msg.height * msg.step:
        raise BadImageError(f"{where}: data holds {len(data)} bytes, height x step = {msg.height} x {msg.step} "
                            f"= {msg.height * msg.step} needed")
    # Rows without their padding, as rosbags-image expects them (a copy only when rows are padded).
    rows = np.ascontiguousarray(data[: msg.height * msg.step].reshape(msg.height, msg.step)[:, :row_bytes])
    packed = SimpleNamespace(encoding=msg.encoding, width=msg.width, height=msg.height, step=row_bytes,
                             is_bigendian=msg.is_bigendian, data=rows)
    try:
        rgb = image_to_cvimage(packed, "rgb8")
    except (ImageError, cv2.error) as err:
        raise BadImageError(f"{where}: cannot convert {msg.encoding!r} ({msg.width}x{msg.height}) to rgb8: "
                            f"{str(err).strip().splitlines()[-1]}") from None
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def _compressed_to_rgb(msg: CompressedImage) -> np.ndarray:
    where = f"compressed image of frame '{msg.header.frame_id}' (format {msg.format!r})"
    if "compresseddepth" in msg.format.lower():
        raise BadImageError(f"{where}: a depth image, not a colour one")
    try:
        decoded = compressed_image_to_cvimage(msg)  # BGR, or grey for a grey JPEG/PNG
    except (AssertionError, cv2.error):  # rosbags asserts on bytes OpenCV cannot decode
        decoded = None
    if decoded is None or decoded.dtype != np.uint8 or decoded.ndim not in (2, 3):
        raise BadImageError(f"{where}: {len(msg.data)} bytes that do not decode to an 8-bit image")
    return np.ascontiguousarray(convert_color(decoded, "mono8" if decoded.ndim == 2 else "bgr8", "rgb8"))


def _bayer(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """Mosaic of an RGB image; pattern names the 2x2 tile row by row, e.g. 'rggb'."""
    mosaic = np.empty(rgb.shape[:2], rgb.dtype)
    for k, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        mosaic[dy::2, dx::2] = rgb[dy::2, dx::2, "rgb".index(pattern[k])]
    return mosaic


WRITABLE_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "rgb16", "bgr16", "bayer_rggb8",
                      "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8", "yuv422", "uyvy", "yuyv", "yuv422_yuy2")


def encode_rgb(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """The pixel array of an RGB uint8 image in `encoding` (rgb8, bgr8, rgba8, bgra8, mono8, mono16, rgb16,
    bgr16, bayer_{rggb,bggr,gbrg,grbg}8, yuv422/uyvy, yuyv/yuv422_yuy2)."""
    if encoding not in WRITABLE_ENCODINGS:
        raise ValueError(f"cannot write encoding {encoding!r}; known: {', '.join(WRITABLE_ENCODINGS)}")
    rgb = np.asarray(rgb, dtype=np.uint8)
    if encoding.startswith("bayer_"):
        return _bayer(rgb, encoding[6:10])
    codes = {"rgb8": None, "bgr8": cv2.COLOR_RGB2BGR, "rgba8": cv2.COLOR_RGB2RGBA, "bgra8": cv2.COLOR_RGB2BGRA,
             "mono8": cv2.COLOR_RGB2GRAY, "yuv422": cv2.COLOR_RGB2YUV_UYVY, "uyvy": cv2.COLOR_RGB2YUV_UYVY,
             "yuyv": cv2.COLOR_RGB2YUV_YUY2, "yuv422_yuy2": cv2.COLOR_RGB2YUV_YUY2}
    if encoding.endswith("16"):
        return encode_rgb(rgb, encoding[:-2] + "8").astype(np.uint16) * 257  # 255 -> 65535
    return rgb.copy() if codes[encoding] is None else cv2.cvtColor(rgb, codes[encoding])


def rgb_to_image(rgb: np.ndarray, encoding: str = "rgb8", header: Header | None = None) -> Image:
    """A sensor_msgs/Image of an RGB uint8 image in `encoding` (see encode_rgb), little-endian, packed rows."""
    pixels = np.ascontiguousarray(encode_rgb(rgb, encoding))
    return Image(header=header or Header(), height=rgb.shape[0], width=rgb.shape[1], encoding=encoding,
                 is_bigendian=0, step=pixels.strides[0], data=pixels.tobytes())


def rgb_to_compressed(rgb: np.ndarray, fmt: str = "png", header: Header | None = None) -> CompressedImage:
    """A sensor_msgs/CompressedImage (png: lossless, jpeg) of an RGB uint8 image."""
    ok, data = cv2.imencode("." + fmt, cv2.cvtColor(np.asarray(rgb, np.uint8), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"OpenCV cannot encode {fmt!r}")
    return CompressedImage(header=header or Header(), format=fmt, data=data.tobytes())

