#!/usr/bin/env bash
# Before a GPU session, on this CPU: the GPU path's tests under the device machine's torch and torchvision (2.11 and
# 0.26 there; pyproject.toml pins newer ones here), so a call or flag that version lacks shows up here, not in the
# device minutes. The first run downloads about 3 GB from PyPI into a venv ($VENV, default /tmp/gngan-device-torch).
# Python is this machine's python3 (3.11 here; 3.12 there).
# Usage: bash tools/device-torch-check.sh [more pytest arguments]
# Measured 2026-12-07: the whole suite but the book's tests also passes under torch 2.11 (518 passed).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
VENV=${VENV:-/tmp/gngan-device-torch}
TORCH=${DEVICE_TORCH:-2.11.0}
TORCHVISION=${DEVICE_TORCHVISION:-0.26.0}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# pyproject's other pins, as they are
deps_txt=$(python3 -c 'import sys, tomllib; d = tomllib.load(open(sys.argv[1], "rb"))
print("\n".join(x for x in d["project"]["dependencies"] if not x.startswith(("torch==", "torchvision=="))))' \
  "$repo/pyproject.toml")
mapfile -t deps <<<"$deps_txt"
"$VENV/bin/pip" install -q "torch==$TORCH" "torchvision==$TORCHVISION" "${deps[@]}" pytest pyyaml
"$VENV/bin/python" -c 'import torch, torchvision; print("torch", torch.__version__, "| torchvision", torchvision.__version__)'
cd "$repo"
PYTHONPATH="$repo" OMP_NUM_THREADS=1 "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/test_gpurun.py \
  tests/test_carry.py tests/test_precision.py tests/test_steps.py tests/test_costs.py tests/test_trainer.py \
  tests/test_fid.py tests/test_cuda.py "$@"
