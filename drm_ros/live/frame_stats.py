"""Frame counters and latencies behind the node's diagnostics (no ROS here: plain numbers, thread-safe)."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StatsSnapshot:
    """Rates over the window since the previous snapshot; counters and latencies since start."""

    input_rate_hz: float
    processed_rate_hz: float
    received: int
    processed: int
    dropped: int  # replaced by a newer frame before the worker took it
    bad: int  # malformed images, missing or mismatched intrinsics, images the predictor refused
    lost: int  # lost in transport, as the middleware reports it (the message_lost QoS event)
    latency_p50_ms: float  # image stamp to publish; NaN before the first result
    latency_p95_ms: float

    def key_values(self) -> list[tuple[str, str]]:
        """(key, value) strings for a diagnostic_msgs/DiagnosticStatus."""
        return [("input_rate_hz", f"{self.input_rate_hz:.2f}"),
                ("processed_rate_hz", f"{self.processed_rate_hz:.2f}"),
                ("received", str(self.received)), ("processed", str(self.processed)),
                ("dropped_frames", str(self.dropped)), ("bad_frames", str(self.bad)),
                ("lost_in_transport", str(self.lost)),
                ("latency_p50_ms", f"{self.latency_p50_ms:.1f}"), ("latency_p95_ms", f"{self.latency_p95_ms:.1f}")]


class FrameStats:
    """Counted from the executor thread (received) and the worker (processed, bad); read by the 1 Hz timer."""

    def __init__(self, latency_window: int = 300) -> None:
        self._lock = threading.Lock()
        self._received = self._processed = self._bad = self._lost = 0
        self._latencies_ms: deque[float] = deque(maxlen=latency_window)
        self._window = (time.monotonic(), 0, 0)  # (start, received, processed) of the current rate window

    def received(self) -> None:
        with self._lock:
            self._received += 1

    def bad(self) -> None:
        with self._lock:
            self._bad += 1

    def lost(self, count: int) -> None:
        with self._lock:
            self._lost += int(count)

    def processed(self, latency_ms: float) -> None:
        with self._lock:
            self._processed += 1
            self._latencies_ms.append(float(latency_ms))

    def snapshot(self, dropped: int, now: float | None = None) -> StatsSnapshot:
        """Figures so far; `dropped` comes from the mailbox that did the dropping. Starts a new rate window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            start, received0, processed0 = self._window
            elapsed = max(now - start, 1e-9)
            latencies = np.array(self._latencies_ms) if self._latencies_ms else np.full(1, np.nan)
            snap = StatsSnapshot(
                input_rate_hz=(self._received - received0) / elapsed,
                processed_rate_hz=(self._processed - processed0) / elapsed,
                received=self._received, processed=self._processed, dropped=dropped, bad=self._bad, lost=self._lost,
                latency_p50_ms=float(np.percentile(latencies, 50)),
                latency_p95_ms=float(np.percentile(latencies, 95)))
            self._window = (now, self._received, self._processed)
        return snap
