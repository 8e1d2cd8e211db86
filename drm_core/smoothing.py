"""One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) for a person's joints, off by default.

Why hand-written: no maintained library in the environment ships it for arrays; it is a dozen lines.

A first-order low-pass whose cutoff rises with speed: cutoff = min_cutoff_hz + beta * |speed| (speed of each
joint in m/s, itself low-passed at d_cutoff_hz). Lag: at rest the filter's time constant is
1 / (2 pi min_cutoff_hz), i.e. 159 ms at the default 1 Hz; a joint moving at v m/s lags
1 / (2 pi (min_cutoff_hz + beta v)), 64 ms at 1.5 m/s (walking) with the default beta of 1.
The pixel positions take the same per-joint smoothing factor as the 3D positions, so the two stay consistent.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroConfig:
    min_cutoff_hz: float = 1.0
    beta: float = 1.0  # cutoff increase per m/s of joint speed
    d_cutoff_hz: float = 1.0

    def __post_init__(self) -> None:
        if not (self.min_cutoff_hz > 0 and self.d_cutoff_hz > 0 and self.beta >= 0):
            raise ValueError(f"OneEuroConfig needs min_cutoff_hz > 0, d_cutoff_hz > 0 and beta >= 0, got {self}")

    def lag_s(self, speed_m_s: float = 0.0) -> float:
        """The filter's time constant (its lag) for a joint moving at `speed_m_s`."""
        return 1.0 / (2 * math.pi * (self.min_cutoff_hz + self.beta * speed_m_s))


def _alpha(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff_hz))
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """Filters one person's (J, 3) joints in metres and (J, 2) pixels, sample by sample."""

    def __init__(self, config: OneEuroConfig = OneEuroConfig()):
        self.config = config
        self._xyz: np.ndarray | None = None
        self._uv: np.ndarray | None = None
        self._speed = None
        self._t: float | None = None

    def __call__(self, xyz: np.ndarray, uv: np.ndarray, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        xyz, uv = np.asarray(xyz, float), np.asarray(uv, float)
        if self._xyz is None or self._t is None or t_s <= self._t:  # first sample (or time went back): restart
            self._xyz, self._uv, self._speed, self._t = xyz.copy(), uv.copy(), np.zeros(len(xyz)), t_s
            return xyz, uv
        c = self.config
        dt = t_s - self._t
        speed = np.linalg.norm(xyz - self._xyz, axis=-1) / dt
        self._speed = self._speed + _alpha(c.d_cutoff_hz, dt) * (speed - self._speed)
        a = _alpha(c.min_cutoff_hz + c.beta * self._speed, dt)[:, None]
        self._xyz = self._xyz + a * (xyz - self._xyz)
        self._uv = self._uv + a * (uv - self._uv)
        self._t = t_s
        return self._xyz.copy(), self._uv.copy()
