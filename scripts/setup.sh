#!/usr/bin/env bash
# Set-up on a fresh machine: .venv with pinned packages, then the ROS 2 package built with colcon into install/.
# Idempotent and quick the second time: each step is skipped while the hash of its inputs is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
python=${PYTHON:-python3}

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($python --version)"
  "$python" -m venv .venv
fi

req_stamp=$(stamp_of requirements.txt)
if [ "$(cat .venv/.drm-requirements 2>/dev/null)" != "$req_stamp" ]; then
  echo "[setup] installing requirements.txt (a few minutes the first time)"
  .venv/bin/pip install --disable-pip-version-check -q -r requirements.txt
  echo "$req_stamp" > .venv/.drm-requirements
fi

build_inputs=(package.xml CMakeLists.txt msg/*.msg requirements.txt)
build_stamp=$(stamp_of "${build_inputs[@]}")
if [ "$(cat install/.drm-build 2>/dev/null)" != "$build_stamp" ]; then
  echo "[setup] building the ROS 2 package (messages) with colcon into install/"
  # shellcheck source=/dev/null
  source scripts/env.sh
  rm -rf build/drm_ros && mkdir -p build
  colcon --log-base build/log build --merge-install --base-paths "$root" --build-base build --install-base install \
    --event-handlers console_cohesion- summary- \
    --cmake-args -DPython3_EXECUTABLE="$root/.venv/bin/python" -DBUILD_TESTING=OFF > build/colcon.log 2>&1 \
    || { tail -40 build/colcon.log; echo "[setup] colcon build failed; full log: build/colcon.log" >&2; exit 1; }
  echo "$build_stamp" > install/.drm-build
fi
bash scripts/gpu_extra.sh .venv  # onnxruntime-gpu where an NVIDIA GPU answers
# The shipped model's ONNX export (about 25 s once) into the cache now, so the first start of the node is quick.
mkdir -p build
# shellcheck source=/dev/null
(source scripts/env.sh && python -m drm_core.onnx_cache > build/onnx_cache.log 2>&1) \
  || { cat build/onnx_cache.log; echo "[setup] exporting the shipped model to ONNX failed" >&2; exit 1; }
# Real footage for the demo's camera (sports2d's demo video and calibration, 9 MB from PyPI, cached); without it
# the demo shows synthetic scenes.
(source scripts/env.sh && python -m drm_core.real_data.demo_footage --fetch > build/demo_footage.log 2>&1) \
  || echo "[setup] no demo footage (offline?): the demo shows synthetic scenes (build/demo_footage.log)"
echo "[setup] ready: source scripts/env.sh"
