"""The wait every test peer does: spin a node until a condition holds or a deadline passes."""
from __future__ import annotations

import time
from typing import Callable

import rclpy
from rclpy.node import Node


def spin_until(node: Node, done: Callable[[], bool], deadline: float, period_s: float = 0.05) -> bool:
    """Spin `node` until done() or time.monotonic() passes `deadline`; returns done()."""
    while not done() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=period_s)
    return done()
