"""The README's main job, run for real: camera and node processes over DDS, the summary and the pictures."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2

from tests.conftest import make_ros_env
from tests.paths import ROOT



def test_demo_prints_poses_writes_its_pictures_and_stops_cleanly(tmp_path):
    demo = subprocess.run([sys.executable, "-m", "drm_ros.demo", "--seconds", "3", "--out", str(tmp_path)],
                          cwd=ROOT, env=make_ros_env(), capture_output=True, text=True, timeout=300)
    log = demo.stdout + demo.stderr
    assert demo.returncode == 0, log
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["poses_messages"] > 0 and summary["latency_p50_ms"] > 0
    assert summary["diagnostics"]["engine"].startswith("onnxruntime CPU"), summary["diagnostics"]
    assert " poses/s, " in log  # the per-second summary
    overlay, plot = cv2.imread(str(tmp_path / "overlay.png")), cv2.imread(str(tmp_path / "people_3d.png"))
    assert overlay is not None and overlay.shape == (480, 640, 3)
    assert plot is not None and plot.shape[0] > 100
    # Stopping the node while frames are in flight is quiet: no publish on a shut-down context.
    assert "context is invalid" not in log and "RCLError" not in log, log[-3000:]
