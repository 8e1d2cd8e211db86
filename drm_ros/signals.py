"""A clean stop on SIGINT (Ctrl-C) and SIGTERM (launch, systemd, `kill`) at any moment: exit 0, no traceback.

rclpy's own handlers shut the context down from inside the signal handler, so a spin that was building its
wait set at that instant raised `RCLError: failed to initialize wait set: the given context is not valid`,
and Ctrl-C during the model load left a KeyboardInterrupt traceback. Processes of this package therefore
start rclpy with `signal_handler_options=SignalHandlerOptions.NO` and install this instead:

- while starting (imports, model load, rendering), a signal raises StopRequested, which main() catches;
- once running (`stop.running()`), a signal only sets `stop.requested`; the spin loop polls it (`spin()`),
  leaves, and the process destroys its node and shuts rclpy down itself, in that order.

A second signal during the clean-up is ignored rather than interrupting it.

Offline jobs (record, replay, playback) use the same class as a context manager, running from the start:
`with GracefulStop(announce="...") as stop:` polls `stop.requested` between frames, prints the announcement on
the first signal, and lets a second Ctrl-C stop at once (KeyboardInterrupt) when a frame takes too long.
Leaving the block restores the handlers it replaced. Outside the main thread (where Python cannot take
signals) it installs nothing and `requested` stays False.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType
from typing import Callable


class StopRequested(BaseException):
    """Raised by the handler while a process is still starting (a BaseException, like KeyboardInterrupt,
    so no `except Exception` in library code swallows it)."""


SIGNALS = (signal.SIGINT, signal.SIGTERM)
# What an offline job says when asked to stop.
JOB_STOP = "stopping after this frame; outputs so far are kept"


class GracefulStop:
    """SIGINT/SIGTERM handler of one process; `install()` it first thing in main(), or use it as a context
    manager around an offline job's loop."""

    def __init__(self, announce: str = "") -> None:
        self.requested = False
        self.signal_name = ""
        self._raise = True
        self._announce = announce  # printed on the first signal; a job that says it also takes a second Ctrl-C
        self._previous: dict[int, object] = {}

    def install(self) -> "GracefulStop":
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __enter__(self) -> "GracefulStop":
        self.install()
        self._raise = False
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def running(self) -> None:
        """From now on a signal only sets `requested` (the main loop polls it)."""
        self._raise = False
        if self.requested:  # arrived just before: honour it
            raise StopRequested(self.signal_name)

    def cleaning_up(self) -> None:
        """No more exceptions from signals: the clean-up must finish."""
        self._raise = False

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        first = not self.requested
        if not first and self._announce and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a job's second Ctrl-C: stop now, not after the frame
        self.requested, self.signal_name = True, self.signal_name or signal.Signals(signum).name
        if first and self._announce:
            print(f"\n{self.signal_name}: {self._announce}", file=sys.stderr, flush=True)
        if self._raise and first:
            raise StopRequested(self.signal_name)

    def sleep(self, seconds: float) -> None:
        """time.sleep that ends early once a stop is requested."""
        end = time.monotonic() + seconds
        while not self.requested and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))


def run_stoppable(run: Callable[[list[str] | None, GracefulStop], int], argv: list[str] | None) -> int:
    """A process's main: install the handler, then `run(argv, stop)`; a stop while still starting exits 0."""
    stop = GracefulStop().install()
    try:
        return run(argv, stop)
    except StopRequested:
        return 0


def spin(executor, stop: GracefulStop, period_s: float = 0.1) -> None:
    """Spin `executor` until a stop is requested (or its context is shut down by someone else).

    A short timeout: the wait set is not woken by our handler, so a stop is seen within `period_s`.
    """
    from rclpy.executors import ExternalShutdownException

    try:
        while not stop.requested and executor.context.ok():
            executor.spin_once(timeout_sec=period_s)
    except ExternalShutdownException:
        pass
