#!/usr/bin/env bash
# The gpu budget on a borrowed GPU, in one command, run from the repository root of the device machine's copy:
#
#   OUT=/path/for/outputs bash tools/gpu-run.sh
#
# It prints the machine (GPU, driver, torch, CUDA), installs the wheels that travel in .gpu-carry/wheels (the
# device machine has torch but no pytorch-fid and no network), points gngan at the CIFAR-10 files and the FID
# Inception weights (their first part staged by tools/gpu-stage-weights.sh in the call just before; both folders are made by
# `python -m gngan gpu-pack`), and trains every image run of the gpu
# budget not stored yet, within GNGAN_GPU_MINUTES (default 6.5), writing at most 8 files to $OUT
# (gngan/gpurun.py). Bring them home and run `python -m gngan gpu-import <folder>`.
# The test suite runs this script on a CPU at tiny size (GNGAN_GPU_DEVICE=cpu GNGAN_GPU_ARGS=--tiny ...).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the outputs}"
CARRY=${GNGAN_CARRY:-.gpu-carry}
[ -d "$CARRY" ] && CARRY=$(cd "$CARRY" && pwd)
# 6.5 minutes of gpu-run plus at most ~3 for the steps before it fit one 10-minute device call, and leave a
# lease of 15 minutes room to start again if the first call fails early.
MINUTES=${GNGAN_GPU_MINUTES:-6.5}
# The device call is killed at 600 s, before gpu-run writes anything if it is still training: the minutes
# shrink when the steps before (MPS probe up to 45 s, CUDA tests up to 150 s) took longer than planned.
CALL_S=${GNGAN_GPU_CALL_SECONDS:-570}
DEVICE=${GNGAN_GPU_DEVICE:-cuda}
PY=${PYTHON:-python3}
mkdir -p "$OUT"

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: none"
"$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "| torch", torch.__version__, "| cuda", torch.version.cuda, "| gpus", torch.cuda.device_count())'

echo "== wheels"
if compgen -G "$CARRY/wheels/*.whl" >/dev/null; then
  SITE=${TMPDIR:-/tmp}/gngan-site
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$CARRY"/wheels/*.whl
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  ls "$CARRY"/wheels
else
  echo "none carried: using the installed packages"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

echo "== data, weights, code"
[ -d "$CARRY/data" ] && export GNGAN_DATA_DIR="$CARRY/data"
# the FID weights: one part staged by tools/gpu-stage-weights.sh in the call before, the other carried here
# (gngan/carry.py), joined and checked in the stage folder; a part missing is an error before any minute is spent.
# Without a carried manifest: pytorch-fid's own file, if this machine has it.
STAGE=${GNGAN_WEIGHTS_STAGE:-/tmp/gngan-weights}
if [ -f "$CARRY/inception/inception.json" ]; then
  if ! GNGAN_INCEPTION_WEIGHTS=$("$PY" -m gngan.carry join "$CARRY/inception/inception.json" --search "$STAGE" "$CARRY/inception" --into "$STAGE"); then
    echo "gpu-run: the FID Inception weights are not complete on this machine: make the call with tools/gpu-stage-weights.sh (carry .gpu-carry-weights) just before this one" >&2
    exit 2
  fi
  export GNGAN_INCEPTION_WEIGHTS
elif ! "$PY" -c 'from gngan import fid; fid.ensure_inception_weights(download=False)'; then
  echo "gpu-run: the FID Inception weights are not on this machine and none were carried: run 'python -m gngan gpu-pack' and make the two calls" >&2
  exit 2
fi
[ -f "$CARRY/commit.json" ] && export GNGAN_COMMIT_FILE="$CARRY/commit.json"
echo "data: ${GNGAN_DATA_DIR:-default} | inception weights: ${GNGAN_INCEPTION_WEIGHTS:-default} | commit file: ${GNGAN_COMMIT_FILE:-none}"

echo "== CUDA MPS (kernels of the run processes share the GPU at once instead of taking turns)"
# GNGAN_GPU_MPS: auto (default: start it if the machine has it and a CUDA client then works), off.
MPS=off
if [ "${GNGAN_GPU_MPS:-auto}" = auto ] && [ "$DEVICE" != cpu ] && command -v nvidia-cuda-mps-control >/dev/null; then
  export CUDA_MPS_PIPE_DIRECTORY=${TMPDIR:-/tmp}/gngan-mps-pipe CUDA_MPS_LOG_DIRECTORY=${TMPDIR:-/tmp}/gngan-mps-log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  if timeout 20 nvidia-cuda-mps-control -d && timeout 45 "$PY" -c 'import torch; torch.ones(1, device="cuda").sum().item()'; then
    MPS=on
    trap 'echo quit | timeout 20 nvidia-cuda-mps-control || true' EXIT
  else
    echo quit | timeout 20 nvidia-cuda-mps-control 2>/dev/null || true  # a hang here would cost the call
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
    MPS="off (it did not start, or a CUDA client failed under it)"
  fi
elif [ "$DEVICE" != cpu ]; then
  MPS="off (${GNGAN_GPU_MPS:-no nvidia-cuda-mps-control on this machine})"
fi
echo "mps: $MPS"
export GNGAN_GPU_MPS_STATE="$MPS"

echo "== the CUDA tests (tests/test_cuda.py; a failure is reported, training goes on)"
if [ "$DEVICE" != cpu ] && [ "${GNGAN_GPU_TESTS:-on}" = on ]; then
  timeout 150 "$PY" -m pytest -q -p no:cacheprovider tests/test_cuda.py > "$OUT/cuda_tests.txt" 2>&1 \
    && echo "passed" || echo "FAILED or timed out: see cuda_tests.txt"
  tail -n 5 "$OUT/cuda_tests.txt"
else
  echo "skipped (device $DEVICE)"
fi

echo "== train"
MINUTES=$("$PY" -c 'import sys; m, left = map(float, sys.argv[1:]); print(round(max(0.0, min(m, (left - 20) / 60)), 2))' \
  "$MINUTES" "$(( CALL_S - SECONDS ))")
echo "gpu-run gets $MINUTES minutes ($SECONDS s of the call spent, the call's share is $CALL_S s)"
# shellcheck disable=SC2086  # GNGAN_GPU_ARGS holds several options
"$PY" -m gngan gpu-run --out "$OUT" --minutes "$MINUTES" --device "$DEVICE" ${GNGAN_GPU_ARGS:-}
ls -la "$OUT"
