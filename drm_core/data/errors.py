"""The one error the dataset readers raise, and the checked file access that raises it.

Every message names the file and what was wrong with it (missing file, bad JSON, missing key, wrong shape at
annotation index N, unreadable image), so a broken download is found from the message alone.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import cv2
import numpy as np


class DatasetError(ValueError):
    """A dataset file that is missing or does not hold what its format promises."""


def load_json(path: str | Path) -> Any:
    """Parse a JSON annotation file; DatasetError for a missing file or invalid JSON."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: annotation file not found")
    try:
        with path.open("r", encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: invalid JSON ({e})") from None


def require(record: Any, key: str, path: str | Path, where: str) -> Any:
    """record[key], or DatasetError naming the file, the record (`where`) and the key."""
    if not isinstance(record, Mapping):
        raise DatasetError(f"{path}: {where} is a {type(record).__name__}, expected an object")
    if key not in record:
        raise DatasetError(f"{path}: {where} has no key {key!r}")
    return record[key]


def as_array(value: Any, shape: tuple[int | None, ...], path: str | Path, where: str) -> np.ndarray:
    """value as a float64 array of `shape` (None = any size), or DatasetError naming where it broke."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: {where} is not a numeric array of uniform shape") from None
    if arr.ndim != len(shape) or any(s is not None and a != s for a, s in zip(arr.shape, shape)):
        want = "x".join("N" if s is None else str(s) for s in shape)
        raise DatasetError(f"{path}: {where} has shape {arr.shape}, expected {want}")
    if not np.all(np.isfinite(arr)):
        raise DatasetError(f"{path}: {where} holds non-finite values")
    return arr


def read_image_rgb(path: str | Path, width: int | None = None, height: int | None = None) -> np.ndarray:
    """An image as H x W x 3 uint8 RGB; DatasetError when it is missing, unreadable or not the size its
    annotation (and so its intrinsics) was made for."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: image not found")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DatasetError(f"{path}: image could not be decoded")
    h, w = bgr.shape[:2]
    if (width is not None and w != width) or (height is not None and h != height):
        raise DatasetError(f"{path}: image is {w}x{h}, the annotation says {width}x{height}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
