#!/usr/bin/env bash
# The shipped model's training on one GPU in at most 8 minutes, evaluation on the held-out real frames included.
#   bash benchmarks/gpu/train_shipped.sh OUT_DIR            # on the device machine (H100/H200, no ROS, no network)
#   bash benchmarks/gpu/train_shipped.sh OUT_DIR --tiny     # the CPU smoke run of the unit test (2 steps, 4 frames)
# It needs, beside the tracked files (the device tool carries ignored paths named in `carry`, 64 MiB in all):
#   data/real_compact/        the compact real data (python -m drm_core.real_data.build --compact-out ...; 33 MB)
#   data/drm_cache/movenet/   MoveNet's two weight files (cp ~/.cache/drm_ros/movenet/movenet-multipose.* there;
#                             10 MB), found through DRM_CACHE_DIR, for the preset's start and the MoveNet row
# Settings (environment): CONFIG (experiments/movenet_real.yaml), DATA (data/real_compact), TRAIN_S (300: the
# training stops after this many seconds with its checkpoint), EPOCHS (3), BATCH (32), WORKERS (12), DEVICE (auto).
# The lr schedule decays over EPOCHS; TRAIN_S is the safety net, not the plan.
# PACK_DIR=DIR: the results in at most 6 files under DIR, within what the device tool brings back (8 files,
# 16 MiB each): model.pt (weights only; over SPLIT_MB=15 MiB, as the MoveNet model's 19 MB is, split into
# model.pt.part-aa, -ab: `cat model.pt.part-* > model.pt`), summary.txt, real_eval.md, contact_sheet.png and
# run.tar.gz (real_eval.json, the logs, TensorBoard, the remaining plot).
#   PACK_DIR=$OUT bash benchmarks/gpu/train_shipped.sh /tmp/ts
set -u
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: bash benchmarks/gpu/train_shipped.sh OUT_DIR [--tiny]" >&2
  exit 2
fi
mkdir -p "$1" || exit 2
out=$(cd "$1" && pwd)
tiny=0
[ "${2:-}" = --tiny ] && tiny=1
cd "$(dirname "$0")/../.." || exit 2
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python=${PYTHON:-$(command -v python || command -v python3)}
config=${CONFIG:-experiments/movenet_real.yaml}
data=${DATA:-data/real_compact}
[ -d data/drm_cache/movenet ] && export DRM_CACHE_DIR=${DRM_CACHE_DIR:-$PWD/data/drm_cache}
train_s=${TRAIN_S:-300}
device=${DEVICE:-auto}
train_opts=(--epochs "${EPOCHS:-3}" --batch-size "${BATCH:-32}" --workers "${WORKERS:-12}")
eval_opts=(--sheet 8)
if [ "$tiny" = 1 ]; then
  train_opts=(--epochs 1 --batch-size 2 --workers 0 --max-steps 2)
  eval_opts=(--sheet 2 --max-samples 4)
  train_s=120
fi
for need in "$config" "$data/real_train.json" "$data/real_val.json"; do
  [ -e "$need" ] || { echo "[train-shipped] missing $need (see the header of $0)" >&2; exit 2; }
done
start=$(date +%s)

echo "[train-shipped] training $config on $data for at most $train_s s"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  "$python" -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  git rev-parse HEAD 2>/dev/null; } > "$out/env.txt" 2>&1
timeout --kill-after=20 $(( train_s + 120 )) "$python" -m drm_core.train "$config" --out-dir "$out/run" \
  --real-data "$data" --max-seconds "$train_s" --device "$device" "${train_opts[@]}" > "$out/train.log" 2>&1
train_rc=$?
tr '\r' '\n' < "$out/train.log" | grep -a -v '^ *$' | tail -n 1
train_end=$(date +%s)

eval_rc=1
if [ -f "$out/run/last.pt" ]; then
  # weights only (no optimiser state): the file that ships
  "$python" - "$out/run/last.pt" "$out/model.pt" <<'EOF'
import sys, torch
state = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
torch.save({k: v for k, v in state.items() if k not in ("optimizer", "scheduler", "rng")}, sys.argv[2])
EOF
  echo "[train-shipped] evaluating on $data/real_val.json"
  timeout --kill-after=10 130 "$python" -m drm_core.evaluation.real_cli --model "$out/model.pt" --data "$data" \
    --engine torch --device "$device" --out "$out/eval" "${eval_opts[@]}" > "$out/eval.log" 2>&1
  eval_rc=$?
fi
end=$(date +%s)

{ echo "train_shipped: $config on $data, device $device"
  echo "training: exit $train_rc, $(( train_end - start )) s; $(tr '\r' '\n' < "$out/train.log" | grep -a 'steps, last loss' | tail -n 1)"
  echo "evaluation: exit $eval_rc, $(( end - train_end )) s"
  [ -f "$out/eval/real_eval.md" ] && sed -n '1,40p' "$out/eval/real_eval.md"
  echo "total: $(( end - start )) s"; } > "$out/summary.txt"
cat "$out/summary.txt"

if [ -n "${PACK_DIR:-}" ]; then
  mkdir -p "$PACK_DIR" || exit 2
  for f in summary.txt eval/real_eval.md eval/contact_sheet.png; do
    [ -f "$out/$f" ] && cp "$out/$f" "$PACK_DIR/"
  done
  if [ -f "$out/model.pt" ]; then
    split_bytes=$(( ${SPLIT_MB:-15} * 1024 * 1024 ))
    if [ "$(stat -c %s "$out/model.pt")" -gt "$split_bytes" ]; then
      split -b "$split_bytes" "$out/model.pt" "$PACK_DIR/model.pt.part-"
    else
      cp "$out/model.pt" "$PACK_DIR/"
    fi
  fi
  tar czf "$PACK_DIR/run.tar.gz" -C "$out" --exclude=run/last.pt --exclude=run/snapshot.pt --exclude=model.pt . || exit 2
  echo "[train-shipped] packed into $PACK_DIR: $(ls "$PACK_DIR" | tr '\n' ' ')"
fi
[ "$train_rc" = 0 ] && [ "$eval_rc" = 0 ]
