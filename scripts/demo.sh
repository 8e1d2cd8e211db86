#!/usr/bin/env bash
# The README's main job on the embedded default (no camera, no dataset, no GPU): set-up, then the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck source=/dev/null
source scripts/env.sh
exec python -m drm_ros.demo "$@"
