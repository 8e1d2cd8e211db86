#!/usr/bin/env bash
# The whole test suite from a fresh machine: set-up (skipped when up to date), then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck source=/dev/null
source scripts/env.sh
echo "[test] ROS_DOMAIN_ID=$ROS_DOMAIN_ID, discovery $ROS_AUTOMATIC_DISCOVERY_RANGE"
exec python -m pytest tests -q "$@"
