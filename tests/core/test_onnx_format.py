"""The torch-free reading of exported models agrees with the writer, and onnxruntime runs without torch."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from drm_core import export, onnx_format
from drm_core.model import DRM
from drm_core.assets import DEFAULT_MODEL_PATH
from drm_core.predictor import load_predictor
from tests.paths import ROOT



def test_names_repeated_for_the_torch_free_reader_match_the_writer():
    assert (onnx_format.OPSET, onnx_format.CODEC_KEY, onnx_format.MODEL_KEY) == \
        (export.OPSET, export.CODEC_KEY, export.MODEL_KEY)
    assert onnx_format.OUTPUT_NAMES == DRM.OUTPUT_NAMES


def test_onnxruntime_with_a_cached_export_never_imports_torch():
    # The shipped model, exported into this session's cache once (the node tests then reuse it).
    load_predictor(DEFAULT_MODEL_PATH, engine="onnxruntime", device="cpu")
    code = ("import sys; from drm_core.predictor import load_predictor; "
            "p = load_predictor(None, device='auto'); "
            "print(p.description, 'torch' in sys.modules, 'onnx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["False", "False"], out.stdout  # neither torch nor the onnx package
    assert out.stdout.startswith("onnxruntime CPU")


def test_the_cache_can_be_filled_ahead_from_the_command_line(tmp_path):
    load_predictor(DEFAULT_MODEL_PATH, engine="onnxruntime", device="cpu")  # this session's cache holds it
    ok = subprocess.run([sys.executable, "-m", "drm_core.onnx_cache"], cwd=ROOT, env=dict(os.environ),
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    path = Path(ok.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.parent.parent == Path(os.environ["DRM_CACHE_DIR"]) and path.suffix == ".onnx"
    bad = subprocess.run([sys.executable, "-m", "drm_core.onnx_cache", str(tmp_path / "none.pt")], cwd=ROOT,
                         env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "none.pt: no such file" in bad.stderr
