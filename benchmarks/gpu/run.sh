#!/usr/bin/env bash
# The prepared GPU run: every phase of benchmarks/gpu in its own process with a time limit, then the report.
#   bash benchmarks/gpu/run.sh OUT_DIR [--tiny] [options of `python -m benchmarks.gpu`, e.g. --repeats 50]
#   PHASES="env latency" bash benchmarks/gpu/run.sh OUT_DIR      only these phases
#   BUDGET_S=300 (default): the phases together stop within this many seconds; a phase gets at most its own
#   limit and what is left of the budget, the most important phases run first, and compile comes last.
#   PACK_DIR=DIR: afterwards, the run's results in at most 6 files under DIR (results.json, summary.txt, the three
#   plots, everything else in run.tar.gz), within what the device tool brings back (8 files, 16 MiB each):
#   PACK_DIR=$OUT bash benchmarks/gpu/run.sh /tmp/gpu
# A phase that fails or times out is recorded (OUT_DIR/<phase>.json, .rc, .log) and the next one runs;
# OUT_DIR/summary.txt (also printed) ends with the latency goals as PASS/FAIL lines. With --tiny (the CPU unit
# test) all phases share one process: no CUDA context to poison there, and the imports are paid once.
set -u
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: bash benchmarks/gpu/run.sh OUT_DIR [--tiny] [options]" >&2
  exit 2
fi
mkdir -p "$1" || exit 2
out=$(cd "$1" && pwd)  # absolute: the phases run from the repository root
shift
cd "$(dirname "$0")/../.." || exit 2
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python=${PYTHON:-$(command -v python || command -v python3)}
phases=${PHASES:-env tests latency cudagraph topdown training compile}
budget=${BUDGET_S:-300}
options=("$@")
tiny=0
for arg in "$@"; do [ "$arg" = --tiny ] && tiny=1; done

# Time limits per phase in seconds, about twice the expected times on one H100/H200 (benchmarks/gpu/README.md).
declare -A limit=([env]=30 [tests]=90 [latency]=90 [cudagraph]=60 [topdown]=60 [training]=60 [compile]=150)

run_phase() {  # run_phase NAME LIMIT_S PHASES: one process, its log and exit code kept
  echo "[gpu-bench] phase $1 (limit $2 s)"
  timeout --kill-after=15 "$2" "$python" -m benchmarks.gpu "$3" --out "$out" "${options[@]}" > "$out/$1.log" 2>&1
  local rc=$?
  echo "$rc" > "$out/$1.rc"
  grep '^\[gpu-bench\]' "$out/$1.log"
  [ "$rc" = 0 ] || echo "[gpu-bench] phase $1 exited $rc (log: $out/$1.log)"
}

start=$(date +%s)
if [ "$tiny" = 1 ]; then
  run_phase tiny 300 "$(echo "$phases" | tr ' ' ',')"
else
  for phase in $phases; do
    left=$(( budget - ($(date +%s) - start) ))
    phase_limit=${limit[$phase]:-120}
    [ "$left" -lt "$phase_limit" ] && phase_limit=$left
    if [ "$phase_limit" -lt 15 ]; then
      echo "[gpu-bench] phase $phase not started: the time budget (BUDGET_S=$budget) is spent"
      echo "{\"status\": \"skipped: the run's time budget (BUDGET_S=$budget) was spent\"}" > "$out/$phase.json"
      continue
    fi
    run_phase "$phase" "$phase_limit" "$phase"
  done
fi
"$python" -m benchmarks.gpu report --out "$out" "${options[@]}"
echo "[gpu-bench] all phases: $(( $(date +%s) - start )) s"
if [ -n "${PACK_DIR:-}" ]; then
  mkdir -p "$PACK_DIR" || exit 2
  cp "$out/results.json" "$out/summary.txt" "$out"/*.png "$PACK_DIR/" 2>/dev/null  # the report's outputs, as far as written
  tar czf "$PACK_DIR/run.tar.gz" -C "$(dirname "$out")" "$(basename "$out")" || exit 2
  echo "[gpu-bench] packed into $PACK_DIR: $(ls "$PACK_DIR" | tr '\n' ' ')"
fi
