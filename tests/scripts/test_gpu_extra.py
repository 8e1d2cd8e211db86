"""scripts/gpu_extra.sh (called by scripts/setup.sh) swaps onnxruntime's CPU build for onnxruntime-gpu where an
NVIDIA GPU answers, also when a later requirements install put the CPU build back over the GPU one.

Stand-ins, because neither can run here: `nvidia-smi` (no NVIDIA GPU on the CI machines) and the venv's `pip`
(onnxruntime-gpu is a 255 MB wheel); the stand-in pip keeps a set of installed names and logs its calls. The real
swap was run by hand on a scratch venv with the real wheels (the GPU README gives the commands).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.paths import ROOT


FAKE_PIP = """#!/usr/bin/env bash
# pip stand-in: show / uninstall / install over the names in $STATE, every call appended to $LOG.
echo "$*" >> "$LOG"
case "$1" in
  show) grep -qx "$2" "$STATE" ;;
  uninstall) shift; for n in "$@"; do [ "${n#-}" = "$n" ] && sed -i "/^$n\\$/d" "$STATE"; done; true ;;
  install) grep -q "onnxruntime-gpu" "${@: -1}" && echo onnxruntime-gpu >> "$STATE" ;;
esac
"""


def run_gpu_extra(tmp_path: Path, installed: list[str], gpu: bool) -> tuple[list[str], set[str]]:
    venv, bin_dir = tmp_path / "venv", tmp_path / "bin"
    (venv / "bin").mkdir(parents=True)
    bin_dir.mkdir()
    pip = venv / "bin" / "pip"
    pip.write_text(FAKE_PIP)
    pip.chmod(0o755)
    if gpu:
        smi = bin_dir / "nvidia-smi"
        smi.write_text("#!/bin/sh\necho 'GPU 0: stand-in'\n")
        smi.chmod(0o755)
    state, log = tmp_path / "state", tmp_path / "log"
    state.write_text("".join(f"{n}\n" for n in installed))
    log.write_text("")
    # PATH without the machine's own folders that could hold a real nvidia-smi: only ours and the basics.
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "STATE": str(state), "LOG": str(log)}
    done = subprocess.run(["bash", "scripts/gpu_extra.sh", str(venv)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return log.read_text().splitlines(), set(state.read_text().split())


@pytest.mark.skipif(Path("/usr/bin/nvidia-smi").exists() or Path("/bin/nvidia-smi").exists(),
                    reason="a real nvidia-smi on /usr/bin would answer for the stand-in")
@pytest.mark.parametrize("installed, gpu, expected", [
    (["onnxruntime"], True, {"onnxruntime-gpu"}),  # fresh set-up on a GPU machine
    (["onnxruntime", "onnxruntime-gpu"], True, {"onnxruntime-gpu"}),  # CPU build put back by a requirements change
    (["onnxruntime-gpu"], True, {"onnxruntime-gpu"}),  # already swapped: nothing to do
    (["onnxruntime"], False, {"onnxruntime"}),  # no GPU: the CPU build stays
])
def test_the_cpu_build_is_swapped_out_only_where_a_gpu_answers(tmp_path, installed, gpu, expected):
    calls, final = run_gpu_extra(tmp_path, installed, gpu)
    assert final == expected, (calls, final)
    swapped = any(c.startswith("install") for c in calls)
    assert swapped == (gpu and "onnxruntime" in installed), calls
    if swapped:
        assert calls.index("uninstall -y -q onnxruntime onnxruntime-gpu") < len(calls) - 1, calls
        assert calls[-1].endswith("-r requirements-gpu.txt"), calls
