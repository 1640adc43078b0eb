"""Seconds per training iteration of every image method (CIFAR-10 standard CNN, batch 64) at several
widths, and seconds per image of FID feature extraction: the numbers the image sections' `cpu` budget
is chosen from. All methods are timed in one process, interleaved, so they share the machine's load.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_image_steps.py --widths 1,0.5,0.25 --repeats 3 \
        --out results/benchmarks/image_step_timing.json
"""

import argparse
import statistics
import time

import torch

from gngan import experiments, fid
from gngan.data import cifar10_train
from gngan.steps import Stepper, build_nets, build_optimizers


def stepper_for(config, dataset):
    nets = build_nets(config, dataset.x_dim)
    opts = build_optimizers(config, nets)
    sampler = dataset.sampler(torch.Generator().manual_seed(0))
    return Stepper(config, nets, opts, [sampler], [torch.Generator().manual_seed(1)], torch.device("cpu"), [0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--widths", default="1,0.5,0.25")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fid-images", type=int, default=200)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    dataset = cifar10_train()
    methods = {f"{sec}/{m}": cfg.replace(seed=0) for sec in experiments.IMAGE_SECTIONS
               for m, cfg in experiments.IMAGE_SECTIONS[sec].items()}
    widths = [float(w) for w in args.widths.split(",")]
    times = {(k, w): [] for k in methods for w in widths}
    steppers = {(k, w): stepper_for(c.replace(width=w), dataset) for k, c in methods.items() for w in widths}
    for s in steppers.values():
        s.iteration()  # warm-up
    for _ in range(args.repeats):
        for key, s in steppers.items():
            t = time.perf_counter()
            s.iteration()
            times[key].append(time.perf_counter() - t)
    x = dataset.images[:args.fid_images]
    fid.inception_features(x[:8])  # loads the network
    t = time.perf_counter()
    fid.inception_features(x, batch_size=100)
    per_image = (time.perf_counter() - t) / len(x)
    load = experiments.load_average()
    rows = {f"{k} width={w}": statistics.median(v) for (k, w), v in times.items()}
    for name, sec in rows.items():
        print(f"{name:45s} {sec:7.2f} s/iteration")
    print(f"FID features: {per_image * 1e3:.0f} ms/image ({1 / per_image:.1f} images/s); load {' '.join(load)}")
    if args.out:
        experiments.write_benchmark(args.out, {
            "seconds_per_iteration": rows, "fid_seconds_per_image": per_image, "batch_size": 64,
            "repeats": args.repeats, "loadavg": load,
            "note": "one thread; another one-thread training ran on the second core"})


if __name__ == "__main__":
    main()
