#!/usr/bin/env bash
# Call 1 of a gpu budget run (call 2 is tools/gpu-run.sh, made right after, while the machine is warm): leaves
# the FID Inception weights carried in .gpu-carry-weights (fp16, 41.8 MiB: too large to travel beside the tree
# and CIFAR-10 in one 64 MiB call) in $GNGAN_WEIGHTS_STAGE (default /tmp/gngan-weights), outside the
# repository copy, which the next call replaces. Checks that they load.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${GNGAN_WEIGHTS_CARRY:-.gpu-carry-weights}
STAGE=${GNGAN_WEIGHTS_STAGE:-/tmp/gngan-weights}
PY=${PYTHON:-python3}
compgen -G "$SRC/*.pt" >/dev/null || { echo "no weights in $SRC: run 'python -m gngan gpu-pack' here first" >&2; exit 2; }
mkdir -p "$STAGE"
cp "$SRC"/*.pt "$STAGE"/
for f in "$STAGE"/*.pt; do
  PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$PY" -c 'import sys; from gngan import fid; fid.load_inception_weights(sys.argv[1]); print("staged and loadable:", sys.argv[1])' "$f"
done
