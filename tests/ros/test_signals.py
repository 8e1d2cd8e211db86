"""SIGINT and SIGTERM stop the node, the demo and the camera simulator cleanly at any moment:
exit 0, no traceback, no RCLError.

The node runs its real main (`python -m drm_ros.node`) 20 times in a row: while loading the model (a cold ONNX
cache, so the signal lands in the torch import or the export), idle, and streaming (a synthetic camera
publishes 10 frames/s), half of them beside a CPU-burning process; SIGINT and SIGTERM alternate.
"""
from __future__ import annotations

from pathlib import Path
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import make_ros_env
from tests.paths import ROOT

LOADING, READY = "loading the model", "DRM on "
# (moment, cpu burner); 6 + 7 + 7 = 20 runs.
RUNS = [("loading", i % 2 == 0) for i in range(6)] + [("idle", i % 2 == 1) for i in range(7)] \
    + [("streaming", i % 2 == 0) for i in range(7)]


def _wait_for_line(log: Path, text: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, f"exited early ({proc.returncode}): {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"no {text!r} within {timeout_s} s: {log.read_text()[-2000:]}"
        time.sleep(0.05)


def _assert_clean(proc: subprocess.Popen, log: Path, what: str, timeout_s: float = 40.0) -> None:
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"{what}: still running {timeout_s} s after the signal: {log.read_text()[-2000:]}")
    text = log.read_text(errors="replace")
    assert proc.returncode == 0, f"{what}: exit {proc.returncode}: {text[-3000:]}"
    assert "Traceback" not in text and "RCLError" not in text, f"{what}: {text[-3000:]}"


@pytest.fixture(scope="module")
def camera_env(tmp_path_factory):
    """A domain with a synthetic camera streaming in it (10 Hz, 320x240) for the whole module."""
    env = make_ros_env()
    log = tmp_path_factory.mktemp("camera") / "camera.log"
    camera = subprocess.Popen([sys.executable, "-m", "drm_ros.camera_sim", "--rate", "10", "--count", "0",
                               "--width", "320", "--height", "240", "--scenes", "3"], cwd=ROOT, env=env,
                              stdout=log.open("w"), stderr=subprocess.STDOUT)
    yield env
    camera.send_signal(signal.SIGTERM)
    _assert_clean(camera, log, "camera simulator")


def test_twenty_starts_and_stops_at_any_moment_exit_0_without_a_traceback(camera_env, tmp_path):
    rng = random.Random(12)
    burner = None
    for i, (moment, load) in enumerate(RUNS):
        if load and burner is None:  # two busy loops: both cores taken
            burner = subprocess.Popen([sys.executable, "-c", "import multiprocessing as m\n"
                                       "def f():\n    while True: pass\n"
                                       "if __name__ == '__main__':\n    [m.Process(target=f).start() for _ in range(2)]\n"
                                       "    f()"], start_new_session=True)
        elif not load and burner is not None:
            os.killpg(burner.pid, signal.SIGKILL)
            burner.wait()
            burner = None
        env = dict(camera_env)
        if moment == "loading":  # a cache of its own: the node exports the model, a long load
            env["DRM_CACHE_DIR"] = str(tmp_path / f"cache{i}")
        sig = signal.SIGINT if i % 2 == 0 else signal.SIGTERM
        log = tmp_path / f"node{i}.log"
        node = subprocess.Popen([sys.executable, "-m", "drm_ros.node", "--ros-args", "-p", "device:=cpu",
                                 "-p", "fallback_fx:=300.0", "-p", "fallback_fy:=300.0"],
                                cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        try:
            _wait_for_line(log, LOADING if moment == "loading" else READY, node, 240.0)
            time.sleep(rng.uniform(0.0, 2.0) if moment != "streaming" else rng.uniform(1.0, 2.0))
            if moment == "loading":
                assert READY not in log.read_text(), "the model loaded before the signal: not a loading case"
            node.send_signal(sig)
            _assert_clean(node, log, f"run {i} ({moment}, {sig.name}, cpu load {load})")
        finally:
            if node.poll() is None:
                node.kill()
            if burner is not None and i == len(RUNS) - 1:
                os.killpg(burner.pid, signal.SIGKILL)
                burner.wait()


def test_the_demo_stops_cleanly_on_ctrl_c_with_its_children(tmp_path):
    """Ctrl-C in a terminal signals the whole process group: the demo, its node and its camera."""
    log = tmp_path / "demo.log"
    demo = subprocess.Popen([sys.executable, "-m", "drm_ros.demo", "--seconds", "30", "--out", str(tmp_path)],
                            cwd=ROOT, env=make_ros_env(), stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        # Printed once the node and camera are started; the per-second "waiting" line may never come when a warm
        # ONNX cache brings the first poses within a second.
        _wait_for_line(log, "started; waiting for the first poses", demo, 120.0)
        time.sleep(1.5)  # well inside --seconds 30: the node is loading or streaming
        os.killpg(demo.pid, signal.SIGINT)
        _assert_clean(demo, log, "demo")
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_ros2_run_entry_point_stops_cleanly_while_still_importing(tmp_path, sig):
    """`ros2 run drm_ros drm_node` runs bin/drm_node: a signal in its first moments (rclpy and torch still being
    imported, before main() runs) must end it quietly too."""
    log = tmp_path / "node.log"
    node = subprocess.Popen([sys.executable, str(ROOT / "bin" / "drm_node"), "--ros-args", "-p", "device:=cpu"],
                            cwd=ROOT, env=make_ros_env(), stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        time.sleep(0.3)
        node.send_signal(sig)
        _assert_clean(node, log, f"bin/drm_node, {sig.name} at 0.3 s")
    finally:
        if node.poll() is None:
            node.kill()
