"""Seconds per training iteration of every method of the gpu budget's image sections, each run alone on one
device, at each precision whose iteration agrees with float32 there (``gngan.costs.precision_agreement``;
float32, the reference, is always timed), beside its FLOP per iteration (``gngan.costs.iteration_flops``,
counted on the CPU) and the achieved TFLOP/s; with the GPU, its driver, torch, CUDA and cuDNN versions.

    python benchmarks/bench_gpu_iteration.py --device cuda --out results/benchmarks/gpu_iteration.json

On a CPU at tiny sizes (the test of the script):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_gpu_iteration.py --device cpu --width 0.125 \
        --batch-size 8 --iterations 2 --out /tmp/gpu_iteration.json
"""

import argparse
import platform
import subprocess

import torch

from gngan import costs, experiments
from gngan.config import PRECISIONS
from gngan.trainer import resolve_device


def machine(device: torch.device) -> dict:
    """The device, its driver and the library versions, and the precision flags torch started with."""
    facts = {"device": str(device), "cuda_version": torch.version.cuda,
             "cudnn_version": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
             "python_version": platform.python_version(),
             "default_flags": {"cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
                               "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                               "float32_matmul_precision": torch.get_float32_matmul_precision()}}
    facts["device_name"] = (torch.cuda.get_device_name(device) if device.type == "cuda"
                            else platform.processor() or platform.machine())
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        facts["driver"] = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        facts["driver"] = None
    return facts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--width", type=float, default=None, help="override the budget's width (1 = the paper's)")
    ap.add_argument("--batch-size", type=int, default=None, help="override the budget's batch size (64)")
    ap.add_argument("--iterations", type=int, default=20, help="timed iterations per method and precision")
    ap.add_argument("--warmup", type=int, default=3, help="untimed iterations before them")
    ap.add_argument("--precisions", default=",".join(PRECISIONS))
    ap.add_argument("--sections", default=",".join(experiments.GPU_SECTION_ORDER))
    ap.add_argument("--out", default=None, help="write the measurement as JSON (e.g. results/benchmarks/gpu_iteration.json)")
    args = ap.parse_args()
    device = resolve_device(args.device)
    precisions = args.precisions.split(",")
    unknown = sorted(set(precisions) - set(PRECISIONS)) + sorted(set(args.sections.split(",")) -
                                                                 set(experiments.GPU_SECTION_ORDER))
    if unknown or "fp32" not in precisions:
        ap.error(f"unknown precisions or sections {unknown}, or fp32 (the reference) missing; use precisions from "
                 f"{PRECISIONS} and sections from {experiments.GPU_SECTION_ORDER}")
    overrides = {k: v for k, v in (("width", args.width), ("batch_size", args.batch_size)) if v is not None}
    load = experiments.load_average()
    methods = {}
    for section in args.sections.split(","):
        for method, cfgs in experiments.image_configs(section, "gpu").items():
            config = cfgs[0].replace(**overrides)
            flops = costs.iteration_flops(config)
            row = {"flop_per_iteration": flops, "budget_precision": cfgs[0].precision, "agreement": {},
                   "seconds_per_iteration": {}, "tflop_per_s": {}}
            for p in precisions:
                agreement = costs.precision_agreement(config, p, device)
                row["agreement"][p] = agreement
                if agreement["within"] or p == "fp32":
                    seconds = costs.time_iterations(config.replace(precision=p), device, args.iterations, args.warmup)
                    row["seconds_per_iteration"][p] = seconds
                    row["tflop_per_s"][p] = flops / seconds / 1e12
            methods[f"{section}/{method}"] = row
            timed = ", ".join(f"{p} {s * 1e3:.1f} ms ({row['tflop_per_s'][p]:.2f} TFLOP/s)"
                              for p, s in row["seconds_per_iteration"].items())
            refused = [p for p in precisions if p not in row["seconds_per_iteration"]]
            print(f"{section}/{method}: {flops / 1e9:.1f} GFLOP; {timed}"
                  + (f"; not timed (disagree with fp32): {', '.join(refused)}" if refused else ""), flush=True)
    record = {**machine(device), "width": config.width, "batch_size": config.batch_size,
              "iterations": args.iterations, "warmup": args.warmup, "precisions": precisions,
              "precision_tolerance": costs.PRECISION_TOLERANCE, "update_noise_fraction": costs.UPDATE_NOISE_FRACTION,
              "loadavg": load, "methods": methods,
              "note": "one run alone per measurement; FLOP of matrix products and convolutions only (torch's "
                      "flop_registry), counted on the CPU; a precision is timed where precision_agreement says "
                      "its iteration agrees with fp32 on this device, fp32 always"}
    if args.out:
        experiments.write_benchmark(args.out, record)


if __name__ == "__main__":
    main()
