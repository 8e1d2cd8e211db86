"""A one-slot mailbox between the executor thread and the inference worker: the newest item wins.

Robot users of other pose nodes saw latency grow to seconds behind a deep image queue; here a frame that
is still waiting when a newer one arrives is replaced (and counted), so the worker always takes the newest.
"""
from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestFrame(Generic[T]):
    """put() never blocks and overwrites an item not yet taken; take() waits for the next item."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._full = False
        self._closed = False
        self._dropped = 0
        self._cond = threading.Condition()

    def put(self, item: T) -> bool:
        """File `item`; True when it replaced one the worker never took (that one is dropped)."""
        with self._cond:
            replaced = self._full
            self._dropped += int(replaced)
            self._item, self._full = item, True
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """The newest item (emptying the slot), or None after `timeout` seconds or once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._full or self._closed, timeout)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def close(self) -> None:
        """Wake a waiting take() for good: the worker is shutting down."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def dropped(self) -> int:
        """Items replaced before anyone took them."""
        with self._cond:
            return self._dropped
