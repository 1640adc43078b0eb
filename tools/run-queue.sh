#!/usr/bin/env bash
# Train what a budget still lacks, step by step in the order of gngan.experiments.RUN_QUEUE (the one source of
# that order; `python -m gngan status` lists what is left in it), each step `python -m gngan section` from a clean
# checkout (run-clean.sh). Options after the budget go to every step, so a launcher fans each step's run groups
# out (gngan.launch): `--launcher local --jobs 2`, `--launcher local --gpus 0,1,2,3`, `--launcher slurm ...`.
# Stored runs are reused and checkpoints resumed, so the same command continues after a kill; it stops at the first
# failing step (with slurm, each step only submits its jobs: `python -m gngan status` follows them).
# Usage: nohup tools/run-queue.sh cpu > queue.log 2>&1 &
#        nohup tools/run-queue.sh cpu --launcher local --jobs 2 > queue.log 2>&1 &
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
budget="${1:?usage: tools/run-queue.sh <budget> [launcher options of python -m gngan section]}"
shift
mapfile -t steps < <("$here/../.venv/bin/python" -c 'from gngan import experiments; print("\n".join(experiments.queue_steps()))')
[ "${#steps[@]}" -gt 0 ] || { echo "run-queue.sh: could not read the queue from gngan.experiments" >&2; exit 1; }
for step in "${steps[@]}"; do
  echo "== $(date -u +%FT%TZ) section $step --budget $budget"
  # shellcheck disable=SC2086  # $step holds a section and its options
  "$here/run-clean.sh" $step --budget "$budget" "$@"
done
echo "== $(date -u +%FT%TZ) every step of the queue is stored at budget $budget"
