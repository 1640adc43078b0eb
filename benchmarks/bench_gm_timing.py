"""The paper's GM timing (53 ms vs 43 ms per generator update on a 1080Ti, ratio 1.23): one generator
update of the CIFAR-10 standard CNN at batch 64 with gradient matching (Eq. 13, lambda_m1 = lambda_m2 = 1)
against the same update with the score distance only (lambda_m = 0), timed alternately in one process.
GM is timed both ways gngan implements it (config ``gm_backward``): "double" (autograd's double backward
through net_D) and "linear" (``losses.gradient_matching_linearized``). Each variant's floating-point
operations are counted too (convolutions and matmuls, from torch's FLOP formulas), a ratio that does not
depend on the hardware or its load.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_gm_timing.py --repeats 7 --threads 1 \
        --out results/benchmarks/gm_timing.json
"""

import argparse
import statistics
import time

import torch

from gngan import experiments, losses
from gngan.costs import FlopCount
from gngan.cnn import build_image_nets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--out", default=None, help="write the measurement as JSON (e.g. results/benchmarks/gm_timing.json)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    nets = build_image_nets("cnn", 32, width=args.width, with_encoder=False)
    net_G, net_D = nets["net_G"], nets["net_D"]
    opt = torch.optim.Adam(net_G.parameters(), lr=2e-4, betas=(0.5, 0.9))
    x_real = torch.rand(args.batch, 3, 32, 32) * 2 - 1

    def score(x):
        return torch.sigmoid(net_D(x))

    variants = {
        "without_gm": lambda fake: losses.gradient_matching(score, x_real, fake, 0.0, 0.0),
        "gm_double": lambda fake: losses.gradient_matching(score, x_real, fake, 1.0, 1.0),
        "gm_linear": lambda fake: losses.gradient_matching_linearized(net_D, x_real, fake, 1.0, 1.0),
    }

    def g_update(name: str) -> float:
        start = time.perf_counter()
        z = torch.rand(args.batch, 128) * 2 - 1
        loss = variants[name](net_G(z))
        opt.zero_grad(set_to_none=True)
        loss.backward(inputs=list(net_G.parameters()))
        opt.step()
        return time.perf_counter() - start

    flops = {}
    for name in variants:
        with FlopCount() as counter:
            g_update(name)
        flops[name] = counter.flops
    times = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name in variants:
            times[name].append(g_update(name))
    ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    base = "without_gm"
    ratio = {name: ms[name] / ms[base] for name in ("gm_double", "gm_linear")}
    per_repeat = {name: [a / b for a, b in zip(times[name], times[base])] for name in ratio}
    flop_ratio = {name: flops[name] / flops[base] for name in ratio}
    load = experiments.load_average()
    print(f"threads={args.threads} width={args.width} batch={args.batch} load={' '.join(load)}")
    for name in variants:
        extra = f", ratio {ratio[name]:.2f} (FLOPs {flop_ratio[name]:.2f})" if name in ratio else ""
        print(f"{name:10s} {ms[name]:7.0f} ms  {flops[name] / 1e9:6.1f} GFLOP{extra}")
    print("per-repeat ratios:", {k: [round(x, 2) for x in v] for k, v in per_repeat.items()})
    print("paper: 53 / 43 ms = 1.23 on a GTX 1080 Ti")
    if args.out:
        experiments.write_benchmark(args.out, {
            "ms": ms, "ratio": ratio, "per_repeat_ratios": per_repeat, "gflop": {k: v / 1e9 for k, v in flops.items()},
            "flop_ratio": flop_ratio, "width": args.width, "batch": args.batch,
            "repeats": args.repeats, "loadavg": load, "device": "cpu"})


if __name__ == "__main__":
    main()
