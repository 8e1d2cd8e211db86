"""A bird's-eye view of tracked people: the camera's ground plane seen from above (x to the right, z forward,
metres, one scale on both axes), the camera's horizontal field of view, and per track its trail of root
positions, its id and an arrow of its velocity (where it will be in `arrow_s` seconds). Ground truth, when
given, is drawn dashed in grey under the tracks.

Returns a matplotlib Figure made without pyplot (no global state; it renders with Agg wherever it is saved).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


@dataclass
class BirdsEyeTrack:
    """One track seen from above: root positions (T, 2) as (x, z) metres oldest first, and the velocity (vx, vz)
    in m/s at the last position (None: not known)."""

    track_id: int
    trail_xz: np.ndarray
    velocity_xz: np.ndarray | None = None
    colour: tuple[float, float, float] = (0.2, 0.4, 0.9)


def field_of_view(K: np.ndarray, width: int) -> tuple[float, float]:
    """The horizontal angles (radians) from the optical axis to the left and right image borders."""
    fx, cx = float(K[0][0]), float(K[0][2])
    return math.atan2(cx + 0.5, fx), math.atan2(width - 0.5 - cx, fx)


def birds_eye_figure(tracks: list[BirdsEyeTrack], fov_rad: tuple[float, float] | None = None, title: str = "",
                     arrow_s: float = 1.0, ground_truth: list[BirdsEyeTrack] | None = None,
                     size_in: float = 6.0, dpi: int = 80) -> Figure:
    """The view described in the module docstring; `fov_rad` = (left, right) angles of field_of_view."""
    fig = Figure(figsize=(size_in, size_in), dpi=dpi)
    ax = fig.add_subplot()
    points = [np.zeros((1, 2))]
    for truth in ground_truth or []:
        trail = np.asarray(truth.trail_xz, float).reshape(-1, 2)
        ax.plot(trail[:, 0], trail[:, 1], ls="--", lw=1, color="0.6")
        points.append(trail)
    for track in tracks:
        trail = np.asarray(track.trail_xz, float).reshape(-1, 2)
        if not len(trail):
            continue
        ax.plot(trail[:, 0], trail[:, 1], lw=1.5, color=track.colour, alpha=0.8)
        ax.plot(*trail[-1], marker="o", ms=6, color=track.colour)
        ax.annotate(f"#{track.track_id}", trail[-1], xytext=(5, 5), textcoords="offset points", fontsize=9,
                    color=track.colour)
        points.append(trail)
        if track.velocity_xz is not None:
            v = np.asarray(track.velocity_xz, float) * arrow_s
            if np.linalg.norm(v) > 1e-3:
                ax.annotate("", xy=trail[-1] + v, xytext=trail[-1],
                            arrowprops={"arrowstyle": "->", "color": track.colour, "lw": 2})
                speed = np.linalg.norm(track.velocity_xz)
                ax.annotate(f"{speed:.1f} m/s", trail[-1] + v, xytext=(3, -10), textcoords="offset points",
                            fontsize=8, color=track.colour)
                points.append((trail[-1] + v)[None])
    allp = np.vstack(points)
    far = max(3.0, float(allp[:, 1].max()) + 1.0)
    half_width = max(2.0, float(np.abs(allp[:, 0]).max()) + 1.0)
    if fov_rad is not None:
        left, right = fov_rad
        for angle, sign in ((left, -1.0), (right, 1.0)):
            ax.plot([0, sign * far * math.tan(angle)], [0, far], color="0.3", lw=1, ls=":")
        half_width = max(half_width, min(far * math.tan(max(left, right)), 2 * far))
    ax.plot(0, 0, marker="^", ms=10, color="k", ls="")
    ax.annotate("camera", (0, 0), xytext=(6, -4), textcoords="offset points", fontsize=8)
    ax.set_xlim(-half_width, half_width)
    ax.set_ylim(-0.5, far)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.set(xlabel="x, right (m)", ylabel="z, forward (m)",
           title=title or f"from above: {len(tracks)} tracks, arrows = {arrow_s:g} s of motion")
    fig.tight_layout()
    return fig


def save_birds_eye(path: Path, tracks: list[BirdsEyeTrack], **kwargs) -> Path:
    """birds_eye_figure(tracks, **kwargs) written to `path` (PNG by its suffix)."""
    birds_eye_figure(tracks, **kwargs).savefig(path)
    return path
