#!/usr/bin/env bash
# Run `python -m gngan section ...` from a clean checkout of HEAD, so every stored run's manifest names a
# commit whose code it really ran (the working tree may hold others' uncommitted edits), writing the
# results into this repository's results/. One thread: other work shares the 2 cores.
# Usage: tools/run-clean.sh 01_1d --budget cpu
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
commit="$(git -C "$repo" rev-parse --short HEAD)"
tree="/tmp/gngan-run-$commit"
[ -d "$tree" ] || git -C "$repo" worktree add --detach "$tree" "$commit" >/dev/null
# Image runs read the offline mirror beside this repository and share its caches in data/ (the decoded
# JPEG mirror, FID reference statistics: 19 min to rebuild), not a fresh copy per commit.
export GNGAN_DATA_DIR="${GNGAN_DATA_DIR:-$repo/../shared/data}"
[ -L "$tree/data" ] || { rm -rf "$tree/data" && ln -s "$repo/data" "$tree/data"; }
cd "$tree"
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" PYTHONPATH="$tree" "$repo/.venv/bin/python" -c \
  "import gngan, sys; assert gngan.__file__.startswith('$tree'), gngan.__file__"
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" PYTHONPATH="$tree" exec "$repo/.venv/bin/python" -m gngan section "$@" \
  --results-root "$repo/results" --jobs-dir "$repo/logs/jobs"
