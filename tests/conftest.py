"""Shared fixtures: every ROS process a test starts stays on localhost, in a domain of its own."""
from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

import pytest
import torch

_domains = itertools.count(random.Random(os.getpid()).randrange(1, 60))


def make_ros_env() -> dict[str, str]:
    """Environment for a child ROS process: localhost-only discovery and a fresh ROS_DOMAIN_ID per call."""
    env = dict(os.environ)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["ROS_LOCALHOST_ONLY"] = "1"
    env["ROS_DOMAIN_ID"] = str(1 + next(_domains) % 100)
    env["PYTHONUNBUFFERED"] = "1"
    env["OMP_NUM_THREADS"] = "1"  # torch threads spin-wait for each other on the 2 shared cores
    return env


@pytest.fixture
def ros_env() -> dict[str, str]:
    return make_ros_env()


@pytest.fixture(autouse=True, scope="session")
def onnx_cache_of_the_session(tmp_path_factory):
    """Exports made by the tests (and by the node processes they start) go to a directory of this run."""
    old = os.environ.get("DRM_CACHE_DIR")
    os.environ["DRM_CACHE_DIR"] = str(tmp_path_factory.mktemp("drm_cache"))
    yield Path(os.environ["DRM_CACHE_DIR"])
    if old is None:
        os.environ.pop("DRM_CACHE_DIR")
    else:
        os.environ["DRM_CACHE_DIR"] = old


@pytest.fixture(autouse=True, scope="session")
def single_thread_torch():
    """One intra-op thread: on the 2 shared CI cores, OpenMP spin-waiting made the model tests ~6x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
