"""The prepared GPU benchmark (benchmarks/gpu/run.sh) in its tiny CPU mode, so it cannot rot while no GPU is at
hand: every phase runs (CUDA-only variants record 'skipped: no CUDA'), the results and plots are written, and a
failing variant or a phase whose process died is recorded while the rest goes on. No timing is asserted."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from benchmarks.gpu.__main__ import main as bench_main
from tests.paths import ROOT

NO_CUDA = "skipped: no CUDA"


def packed_dir(out: Path) -> Path:
    """Where the tiny run packs its results (PACK_DIR), beside its output folder."""
    return out.parent / f"{out.name}_packed"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("gpu_bench")
    env = {**os.environ, "PYTHON": sys.executable, "PACK_DIR": str(packed_dir(out))}
    done = subprocess.run(["bash", "benchmarks/gpu/run.sh", str(out), "--tiny", "--device", "cpu", "--test-paths",
                           "tests/core/test_cuda_parity.py::test_device_letterbox_matches_opencv"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done.stdout


def test_every_phase_runs_in_tiny_mode_and_the_results_are_written(tiny_run):
    out, stdout = tiny_run
    phases = json.loads((out / "results.json").read_text())["phases"]
    for name in ("env", "tests", "latency", "topdown", "training"):
        assert phases[name]["status"] == "ok", (name, phases[name])
    assert "cudagraph" in phases
    assert phases["compile"]["status"].startswith("skipped")
    assert phases["tests"]["tests"] >= 1 and phases["tests"]["failures"] == 0
    for name in ("latency_stages.png", "people_scaling.png", "short_training_loss.png", "summary.txt"):
        assert (out / name).stat().st_size > 0
    assert "GOAL fp16 end-to-end p50" in stdout and "GOAL 20 people" in stdout


def test_the_packed_results_fit_what_the_device_tool_brings_back(tiny_run):
    """The device tool returns at most 8 files of at most 16 MiB, named in letters, digits, '.', '_' and '-'."""
    out, _ = tiny_run
    packed = sorted(packed_dir(out).iterdir())
    assert 1 <= len(packed) <= 8, packed
    for path in packed:
        assert re.fullmatch(r"[A-Za-z0-9._-]+", path.name) and path.is_file(), path
        assert path.stat().st_size <= 16 * 2 ** 20, path
    assert json.loads((packed_dir(out) / "results.json").read_text()) == json.loads((out / "results.json").read_text())
    with tarfile.open(packed_dir(out) / "run.tar.gz") as archive:
        names = {Path(name).name for name in archive.getnames()}
    assert {"latency.json", "env.json", "cuda_tests.xml", "summary.txt"} <= names, names


def test_latency_rows_cover_configs_people_and_stages(tiny_run):
    out, _ = tiny_run
    latency = json.loads((out / "latency.json").read_text())
    rows = latency["rows"]
    assert {(r["config"], r["people"]) for r in rows} >= {(c, n) for c in ("paper", "small") for n in (1, 3, 20)}
    for row in rows:
        stages = sum(row[s]["p50_ms"] for s in ("preprocess", "network", "download", "decode"))
        assert 0 < row["total"]["p50_ms"] and row["total"]["p50_ms"] == pytest.approx(stages, rel=1e-6)
    # Decoding ran on the codec's maps of the scene: people are found, more for the larger scene.
    found = {r["people"]: r["decoded_people"] for r in rows if r["config"] == "paper"}
    assert 1 <= found[1] <= found[3] <= found[20]
    cudagraph = json.loads((out / "cudagraph.json").read_text())
    assert cudagraph["status"] == ("ok" if torch.cuda.is_available() else NO_CUDA)
    assert {r["config"] for r in latency["predictor"]} >= {"paper", "small"}


def test_topdown_and_training_phases_measure_what_they_say(tiny_run):
    out, _ = tiny_run
    topdown = json.loads((out / "topdown.json").read_text())
    assert {(r["crops"], r["people"]) for r in topdown["rows"]} == \
        {(c, n) for c in ("batched", "one by one") for n in (1, 3, 20)}
    training = json.loads((out / "training.json").read_text())
    assert training["throughput"]["images_per_s"] > 0 and training["throughput"]["projection"]["hours"] > 0
    short = training["short_run"]
    assert len(short["losses"]) == short["steps"] and short["loss_went_down"], short["losses"]


def test_a_failing_variant_and_a_dead_phase_are_recorded_and_reported(tmp_path, capsys):
    (tmp_path / "topdown.rc").write_text("124\n")  # a phase killed by its time limit leaves no JSON
    assert bench_main(["latency,report", "--out", str(tmp_path), "--tiny", "--device", "cpu", "--configs", "small",
                       "--people", "1", "--precisions", "fp32,fp8"]) == 0
    latency = json.loads((tmp_path / "latency.json").read_text())
    status = {v["precision"]: v["status"] for v in latency["variants"] if v["mode"] == "eager"}
    assert status["fp32"] == "ok" and status["fp8"].startswith("failed: KeyError")
    summary = capsys.readouterr().out
    assert "phase topdown   failed: the process timed out" in summary
    assert "small fp8 eager: failed" in summary
