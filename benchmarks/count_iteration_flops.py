"""FLOP of one training iteration of every image run of the gpu budget (full width, batch 64), counted once
on a CPU (gngan.costs.iteration_flops) and stored for the GPU run, which divides them by its measured time
(gngan.gpurun reads the table; counting there would spend device minutes on CPU work).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/count_iteration_flops.py --out results/benchmarks/iteration_flops.json
"""

import argparse
import time

import torch

from gngan import experiments, gpurun
from gngan.costs import iteration_flops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    flops, seconds = {}, {}
    for run in gpurun.budget_runs():
        key = gpurun.flops_key(run.config, run.section, run.method)
        if key in flops:
            continue
        tick = time.perf_counter()
        flops[key] = iteration_flops(run.config)
        seconds[key] = round(time.perf_counter() - tick, 2)
        print(f"{key:60s} {flops[key] / 1e9:8.1f} GFLOP  (counted in {seconds[key]:.1f} s)", flush=True)
    if args.out:
        experiments.write_benchmark(args.out, {
            "flops": flops, "counted_in_s": seconds,
            "how": "torch.utils.flop_counter.flop_registry under a TorchDispatchMode (gngan.costs.FlopCount): "
                   "matmuls and convolutions, forward and backward, of one iteration (all AE, D and G steps)"})


if __name__ == "__main__":
    main()
