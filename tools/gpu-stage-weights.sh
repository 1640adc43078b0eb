#!/usr/bin/env bash
# Call 1 of a gpu budget run (call 2 is tools/gpu-run.sh, made right after, while the machine is warm): leaves the
# first part of the FID Inception weights carried in .gpu-carry-weights (fp16, 41.8 MiB in all: too large to travel
# whole beside the tree in either call; gngan/carry.py) in $GNGAN_WEIGHTS_STAGE (default /tmp/gngan-weights),
# outside the repository copy, which the next call replaces. Checks each part's sha256. Standard library only: no
# wheel is installed yet.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${GNGAN_WEIGHTS_CARRY:-.gpu-carry-weights}
STAGE=${GNGAN_WEIGHTS_STAGE:-/tmp/gngan-weights}
PY=${PYTHON:-python3}
[ -f "$SRC/inception.json" ] || { echo "no weights in $SRC: run 'python -m gngan gpu-pack' here first" >&2; exit 2; }
PYTHONPATH="$PWD" "$PY" -m gngan.carry stage "$SRC/inception.json" --into "$STAGE"
