"""The paper's GM timing (53 ms vs 43 ms per generator update on a 1080Ti, ratio 1.23): one generator
update of the CIFAR-10 standard CNN at batch 64 with gradient matching (Eq. 13, lambda_m = 1) against the
same update with the score distance only (lambda_m = 0), timed alternately in one process.

    .venv/bin/python benchmarks/bench_gm_timing.py --repeats 5 --width 1.0
"""

import argparse
import json
import statistics
import subprocess
import time
from datetime import datetime, timezone

import torch

from gngan import losses
from gngan.cnn import build_image_nets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
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

    def g_update(lam: float) -> float:
        start = time.perf_counter()
        z = torch.rand(args.batch, 128) * 2 - 1
        fake = net_G(z)
        loss = losses.gradient_matching(lambda x: torch.sigmoid(net_D(x)), x_real, fake, lam, lam)
        opt.zero_grad(set_to_none=True)
        loss.backward(inputs=list(net_G.parameters()))
        opt.step()
        return time.perf_counter() - start

    g_update(1.0), g_update(0.0)  # warm-up
    with_gm, without = [], []
    for _ in range(args.repeats):
        with_gm.append(g_update(1.0))
        without.append(g_update(0.0))
    a, b = statistics.median(with_gm), statistics.median(without)
    load = open("/proc/loadavg").read().split()[:3]
    print(f"threads={args.threads} width={args.width} batch={args.batch} load={' '.join(load)}")
    print(f"G update with GM: {a * 1e3:.0f} ms, without GM: {b * 1e3:.0f} ms, ratio {a / b:.2f} "
          f"(paper: 53 / 43 ms = 1.23 on a GTX 1080 Ti)")
    print("per-repeat ratios:", [round(x / y, 2) for x, y in zip(with_gm, without)])
    if args.out:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        record = {"with_gm_ms": a * 1e3, "without_gm_ms": b * 1e3, "ratio": a / b,
                  "per_repeat_ratios": [x / y for x, y in zip(with_gm, without)], "threads": args.threads,
                  "width": args.width, "batch": args.batch, "loadavg": load, "device": "cpu",
                  "torch_version": torch.__version__, "git_commit": commit,
                  "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        with open(args.out, "w") as f:
            json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
