"""SIGINT/SIGTERM as a request to stop at the next frame, so long offline jobs (record, replay, playback) close
their bags and reports properly instead of dying mid-write."""
from __future__ import annotations

import signal
import sys
import threading


class Interrupt:
    """Within `with Interrupt() as it:`, Ctrl-C or SIGTERM sets `it.requested` (a second Ctrl-C stops at once).
    Outside the main thread (where Python cannot take signals) it only ever reports False."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        print(f"\n{signal.Signals(signum).name}: stopping after this frame; outputs so far are kept",
              file=sys.stderr, flush=True)

    def __enter__(self) -> "Interrupt":
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
