"""Drop repeated video frames: a frame is a repeat when no pixel of its small grey thumbnail differs from the
last KEPT frame's by the threshold or more (grey levels). The maximum, not the mean: in a still camera's
footage a few small walking people barely move the mean (vtest: median 1.1) but always move the maximum
(vtest: at least 10 between consecutive frames), while a re-encoded repeat stays within a few levels.
Comparing with the last kept frame, not the previous one, keeps a slow pan once it has moved enough instead of
dropping all of it."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class DedupConfig:
    thumb_side: int = 64
    max_abs_diff: float = 6.0  # grey levels (0-255)


class RepeatFilter:
    """Stateful: feed frames in order; `is_repeat` remembers each frame it keeps."""

    def __init__(self, config: DedupConfig | None = None) -> None:
        self.config = config or DedupConfig()
        self._last: np.ndarray | None = None

    def thumbnail(self, bgr: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        side = self.config.thumb_side
        return cv2.resize(grey, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)

    def is_repeat(self, bgr: np.ndarray) -> bool:
        thumb = self.thumbnail(bgr)
        if self._last is not None and float(np.abs(thumb - self._last).max()) < self.config.max_abs_diff:
            return True
        self._last = thumb
        return False
