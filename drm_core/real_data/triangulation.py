"""Calibrated camera rigs: Qualisys .qca.txt calibration files (pose2sim's demos) and triangulation of 2D
joints seen by several of those cameras into metric 3D, with reprojection-error filtering.

Qualisys conventions, as pose2sim's `calibration.read_qca` reads them: intrinsics in 64ths of a pixel
(distortion coefficients too), `centerPoint` relative to the sensor (minus the video window's left/top),
`transform` = camera position (mm) and the world -> camera rotation r11..r33 of a camera that looks down its
-z with y up; OpenCV's camera frame (z forward, y down) is that rotated by pi about x.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from drm_core.data.errors import DatasetError

_FLIP_X = np.diag([1.0, -1.0, -1.0])  # Qualisys camera axes -> OpenCV optical axes


@dataclass(frozen=True)
class CalibratedView:
    """One camera of a rig: intrinsics K, OpenCV distortion (k1, k2, p1, p2), image size, and the
    world -> camera transform X_cam = R @ X_world + t (metres)."""

    name: str
    K: np.ndarray
    dist: np.ndarray
    width: int
    height: int
    R: np.ndarray
    t: np.ndarray

    def to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """(..., 3) world points in this camera's optical frame."""
        return points_world @ self.R.T + self.t

    def project(self, points_world: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 2) distorted pixels."""
        pts = np.asarray(points_world, np.float64).reshape(-1, 1, 3)
        rvec, _ = cv2.Rodrigues(self.R)
        uv, _ = cv2.projectPoints(pts, rvec, self.t.astype(np.float64), self.K, self.dist)
        return uv.reshape(-1, 2)

    def normalise(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) distorted pixels -> (N, 2) undistorted normalised image coordinates (x/z, y/z)."""
        pts = np.asarray(uv, np.float64).reshape(-1, 1, 2)
        return cv2.undistortPoints(pts, self.K, self.dist).reshape(-1, 2)


def _float(tag: ET.Element, key: str, path: Path, camera: str) -> float:
    value = tag.get(key)
    if value is None:
        raise DatasetError(f"{path}: camera {camera!r}: <{tag.tag}> has no attribute {key!r}")
    try:
        return float(value)
    except ValueError:
        raise DatasetError(f"{path}: camera {camera!r}: <{tag.tag}> {key}={value!r} is not a number") from None


def read_qca(path: str | Path) -> list[CalibratedView]:
    """The cameras of a Qualisys calibration file, in the file's order; DatasetError names what is missing."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: calibration file not found")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise DatasetError(f"{path}: not a valid Qualisys XML calibration ({e})") from None
    views = []
    for cam in root.findall("cameras/camera"):
        name = cam.get("serial", f"camera{len(views)}")
        parts = {t: cam.find(t) for t in ("fov_video", "intrinsic", "transform")}
        for tag, el in parts.items():
            if el is None:
                raise DatasetError(f"{path}: camera {name!r} has no <{tag}>")
        fov, intr, tr = parts["fov_video"], parts["intrinsic"], parts["transform"]
        left, top = _float(fov, "left", path, name), _float(fov, "top", path, name)
        width = int(_float(fov, "right", path, name) - left + 1)
        height = int(_float(fov, "bottom", path, name) - top + 1)
        f = lambda k: _float(intr, k, path, name) / 64.0  # noqa: E731  (subpixel units)
        K = np.array([[f("focalLengthU"), 0.0, f("centerPointU") - left],
                      [0.0, f("focalLengthV"), f("centerPointV") - top], [0.0, 0.0, 1.0]])
        dist = np.array([f("radialDistortion1"), f("radialDistortion2"), f("tangentalDistortion1"),
                         f("tangentalDistortion2")])
        rows = np.array([[_float(tr, f"r{i}{j}", path, name) for j in (1, 2, 3)] for i in (1, 2, 3)])
        position = np.array([_float(tr, k, path, name) for k in "xyz"]) / 1000.0
        R = _FLIP_X @ rows
        views.append(CalibratedView(name, K, dist, width, height, R, -R @ position))
    if not views:
        raise DatasetError(f"{path}: no <cameras/camera> entries")
    return views


def write_qca(path: str | Path, views: list[CalibratedView]) -> None:
    """Write views in the Qualisys layout read_qca reads (tests build synthetic rigs with it)."""
    cams = ET.Element("cameras")
    for v in views:
        cam = ET.SubElement(cams, "camera", serial=v.name, active="1", model="none")
        ET.SubElement(cam, "fov_video", left="0", top="0", right=str(v.width - 1), bottom=str(v.height - 1))
        k1, k2, p1, p2 = (float(x) * 64 for x in v.dist)
        ET.SubElement(cam, "intrinsic", focalLengthU=repr(float(v.K[0, 0] * 64)),
                      focalLengthV=repr(float(v.K[1, 1] * 64)), centerPointU=repr(float(v.K[0, 2] * 64)),
                      centerPointV=repr(float(v.K[1, 2] * 64)),
                      radialDistortion1=repr(k1), radialDistortion2=repr(k2),
                      tangentalDistortion1=repr(p1), tangentalDistortion2=repr(p2))
        rows = _FLIP_X @ v.R
        position = -v.R.T @ v.t * 1000.0
        attrs = {f"r{i + 1}{j + 1}": repr(float(rows[i, j])) for i in range(3) for j in range(3)}
        attrs.update({k: repr(float(x)) for k, x in zip("xyz", position)})
        ET.SubElement(cam, "transform", **attrs)
    root = ET.Element("calibration")
    root.append(cams)
    ET.ElementTree(root).write(path, encoding="unicode")


def dlt(views: list[CalibratedView], uv: np.ndarray) -> np.ndarray:
    """Linear triangulation (DLT on undistorted normalised coordinates) of one point seen at uv (V, 2)."""
    rows = []
    for view, p in zip(views, uv):
        x, y = view.normalise(p[None])[0]
        P = np.hstack([view.R, view.t[:, None]])
        rows += [x * P[2] - P[0], y * P[2] - P[1]]
    _, _, vt = np.linalg.svd(np.asarray(rows))
    X = vt[-1]
    return X[:3] / X[3]


@dataclass
class Triangulated:
    """A point triangulated from `used` views (bool, V), its world position and per-view reprojection
    errors in pixels (NaN for views not used)."""

    point: np.ndarray
    used: np.ndarray
    errors_px: np.ndarray

    @property
    def ok(self) -> bool:
        return bool(self.used.any())


def _fit(views: list[CalibratedView], uv: np.ndarray, used: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DLT from the `used` views; per-view reprojection errors (NaN where unused, inf behind a camera)."""
    idx = np.flatnonzero(used)
    X = dlt([views[i] for i in idx], uv[idx])
    errors = np.full(len(views), np.nan)
    for i in idx:
        in_front = views[i].to_camera(X)[2] > 0
        errors[i] = np.linalg.norm(views[i].project(X[None])[0] - uv[i]) if in_front else np.inf
    return X, errors


def triangulate(views: list[CalibratedView], uv: np.ndarray, valid: np.ndarray, max_error_px: float,
                min_views: int = 2) -> Triangulated:
    """Triangulate one joint from the views where `valid`. While the worst reprojection error exceeds
    `max_error_px`, drop the one view whose removal leaves the smallest worst error (a least-squares fit
    spreads one bad view's error over the good ones, so the largest residual need not be the bad view), and
    retry. Fails (used all False) below `min_views`."""
    used = np.asarray(valid, bool).copy()
    while used.sum() >= min_views:
        X, errors = _fit(views, uv, used)
        if np.nanmax(errors) <= max_error_px:
            return Triangulated(X, used, errors)
        if used.sum() == min_views:
            break
        trials = []
        for i in np.flatnonzero(used):
            rest = used.copy()
            rest[i] = False
            trials.append((np.nanmax(_fit(views, uv, rest)[1]), i))
        used[min(trials)[1]] = False
    return Triangulated(np.zeros(3), np.zeros(len(views), bool), np.full(len(views), np.nan))
