"""Shared fixtures: every ROS process a test starts stays on localhost, in a domain of its own."""
from __future__ import annotations

import itertools
import os
import random

import pytest

_domains = itertools.count(random.Random(os.getpid()).randrange(1, 60))


@pytest.fixture
def ros_env() -> dict[str, str]:
    """Environment for a child ROS process: localhost-only discovery and a fresh ROS_DOMAIN_ID per test."""
    env = dict(os.environ)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["ROS_LOCALHOST_ONLY"] = "1"
    env["ROS_DOMAIN_ID"] = str(1 + next(_domains) % 100)
    env["PYTHONUNBUFFERED"] = "1"
    return env
