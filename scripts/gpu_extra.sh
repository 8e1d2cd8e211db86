#!/usr/bin/env bash
# The GPU extra (requirements-gpu.txt): where an NVIDIA GPU answers, onnxruntime-gpu in place of the CPU build.
#   bash scripts/gpu_extra.sh [VENV]   (default .venv; scripts/setup.sh calls it)
# The two wheels share one module, so the CPU build must go. Keyed on the CPU build being installed, not on the GPU
# build missing: a later `pip install -r requirements.txt` (a changed requirements file) puts the CPU build back over
# the GPU one's files, and this swaps it out again. Not verified on a GPU machine here (none runs this set-up).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 \
    && "$venv/bin/pip" show onnxruntime >/dev/null 2>&1; then
  echo "[setup] NVIDIA GPU found: onnxruntime-gpu instead of onnxruntime"
  # Both out first: files of one may have overwritten the other's.
  "$venv/bin/pip" uninstall -y -q onnxruntime onnxruntime-gpu
  "$venv/bin/pip" install --disable-pip-version-check -q -r requirements-gpu.txt
fi
