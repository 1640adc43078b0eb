"""Is bfloat16 autocast worth trying for the image `cpu` budget? One training iteration (`Stepper.iteration`,
CIFAR-10 standard CNN, batch 64) in float32 against the same iteration under
``torch.autocast("cpu", dtype=torch.bfloat16)``, interleaved in one process, and whether this CPU has native
bf16 instructions (avx512_bf16 / amx_bf16; without them bf16 matmuls are emulated).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_bf16.py --width 0.5 --repeats 3 \
        --out results/benchmarks/bf16_timing.json
"""

import argparse
import statistics
import time

import torch

from bench_image_steps import stepper_for  # this directory is on sys.path when the script runs
from gngan import data, experiments

METHODS = {"gngan_ne_gm": ("03_ablation", "gngan_ne_gm"), "gan": ("05_gan_ne_gm", "gan")}


def cpu_bf16_flags() -> list[str]:
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return []
    return sorted(f for f in flags if "bf16" in f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.manual_seed(0)
    seconds = {}
    for name, (section, key) in METHODS.items():
        config = experiments.IMAGE_SECTIONS[section][key].replace(width=args.width)
        dataset = data.make_dataset(config.data)
        steppers = {"fp32": stepper_for(config, dataset), "bf16": stepper_for(config, dataset)}

        def timed(precision: str) -> float:
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                steppers[precision].iteration()
            return time.perf_counter() - start

        timed("fp32"), timed("bf16")  # warm-up
        runs = {p: [] for p in steppers}
        for _ in range(args.repeats):
            for p in steppers:
                runs[p].append(timed(p))
        seconds[name] = {p: statistics.median(v) for p, v in runs.items()}
        s = seconds[name]
        print(f"{name}: fp32 {s['fp32']:.2f} s, bf16 autocast {s['bf16']:.2f} s per iteration, "
              f"bf16 speed-up {s['fp32'] / s['bf16']:.2f}x", flush=True)
    flags = cpu_bf16_flags()
    print("CPU bf16 flags:", flags or "none (bf16 is emulated)")
    if args.out:
        experiments.write_benchmark(args.out, {
            "seconds_per_iteration": seconds, "speedup": {k: v["fp32"] / v["bf16"] for k, v in seconds.items()},
            "cpu_bf16_flags": flags, "width": args.width, "repeats": args.repeats})


if __name__ == "__main__":
    main()
