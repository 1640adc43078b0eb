"""Seed-iterations per second of the 2D experiment: the plain one-seed loop against all seeds stacked.

    .venv/bin/python benchmarks/bench_stacked.py --method gngan_gm --threads 1,2

(a) plain: one S=1 Stepper per seed, run one seed after the other; (b) stacked: one Stepper holding all
seeds. Both train the same GRID2D config in this process, block after block, alternating which goes
first, so machine load hits both alike; only ``Stepper.iteration`` is timed (no evaluation, checkpoint
or lr schedule), after a warm-up. The ratio is taken within each round, and the median is reported.

Other processes on this 2-core machine skew the numbers: the CPU time they took during the timed
blocks is reported (in cores, from /proc/stat) together with /proc/loadavg.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import date
from pathlib import Path

import torch

from gngan import steps
from gngan.data import make_dataset
from gngan.experiments import GRID2D_METHODS


def make_stepper(config, seeds: list[int], impl=steps):
    """A Stepper as the Trainer builds it (same per-seed generator seeding), from module ``impl``."""
    dataset = make_dataset(config.data)
    nets = impl.build_nets(config, dataset.x_dim, seeds)
    opts = impl.build_optimizers(config, nets)
    samplers = [dataset.sampler(torch.Generator().manual_seed(2 * s)) for s in seeds]
    noise_gens = [torch.Generator().manual_seed(2 * s + 1) for s in seeds]
    return impl.Stepper(config, nets, opts, samplers, noise_gens, torch.device("cpu"), seeds)


class CpuUse:
    """CPU time used by other processes while the block ran, in cores (0 = idle machine, 1 = one busy core)."""

    HZ = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _busy() -> tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        total_busy = sum(v) - v[3] - v[4]  # minus idle and iowait
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return total_busy, int(fields[11]) + int(fields[12])  # utime + stime of this process

    def __enter__(self):
        self.t0, (self.b0, self.s0) = time.perf_counter(), self._busy()
        return self

    def __exit__(self, *exc):
        b1, s1 = self._busy()
        self.seconds = time.perf_counter() - self.t0
        self.others = max(0.0, ((b1 - self.b0) - (s1 - self.s0)) / self.HZ / self.seconds)


def run_block(steppers: list, iters: int) -> tuple[float, float]:
    """(seconds, cores used by others) for ``iters`` iterations of each stepper, one stepper after the other."""
    with CpuUse() as use:
        for st in steppers:
            for _ in range(iters):
                st.iteration()
    return use.seconds, use.others


def step_costs(stepper, iters: int) -> dict[str, float]:
    """Milliseconds per call of each step (AE, one D step, G), called as ``iteration`` calls them."""
    times: dict[str, list[float]] = {"AE": [], "D": [], "G": []}
    calls = [("D", stepper.d_step)] * stepper.config.d_steps + [("G", stepper.g_step)]
    if stepper.nets.net_E is not None:
        calls.insert(0, ("AE", stepper.ae_step))
    for _ in range(iters):
        for name, fn in calls:
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {k: 1e3 * statistics.median(v) for k, v in times.items() if v}


def bench(method: str, num_seeds: int, iters: int, rounds: int, warmup: int, threads: int, impl=steps,
          breakdown: bool = True) -> dict:
    torch.set_num_threads(threads)
    config = GRID2D_METHODS[method]
    seeds = list(range(num_seeds))
    plain = [make_stepper(config, [s], impl) for s in seeds]
    stacked = [make_stepper(config, seeds, impl)]
    run_block(plain, warmup)
    run_block(stacked, warmup)
    rates: dict[str, list[float]] = {"plain": [], "stacked": []}
    others: list[float] = []
    ratios: list[float] = []
    for r in range(rounds):
        order = [("plain", plain), ("stacked", stacked)]
        if r % 2:
            order.reverse()
        rate = {}
        for name, group in order:
            secs, busy = run_block(group, iters)
            rate[name] = num_seeds * iters / secs
            rates[name].append(rate[name])
            others.append(busy)
        ratios.append(rate["stacked"] / rate["plain"])
    out = {
        "method": method, "seeds": num_seeds, "threads": torch.get_num_threads(),
        "plain": statistics.median(rates["plain"]), "stacked": statistics.median(rates["stacked"]),
        "ratio": statistics.median(ratios), "ratios": ratios, "others_busy": statistics.mean(others),
        "loadavg": Path("/proc/loadavg").read_text().split()[0],
    }
    if breakdown:
        out["steps_plain"] = step_costs(plain[0], iters)
        out["steps_stacked"] = step_costs(stacked[0], iters)
    return out


def report(res: dict) -> None:
    env = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "OMP_DYNAMIC", "MKL_DYNAMIC") if k in os.environ)
    print(f"{res['method']}: {res['seeds']} seeds, torch threads {res['threads']}{', ' + env if env else ''}, "
          f"other processes used {res['others_busy']:.2f} cores on average (loadavg {res['loadavg']})")
    if res["threads"] > 1 and res["others_busy"] > 0.3:
        print("  warning: with another process busy, multi-threaded ops wait for a descheduled thread; "
              "these numbers measure that contention, not the code")
    print(f"  plain   {res['plain']:8.1f} seed-it/s")
    print(f"  stacked {res['stacked']:8.1f} seed-it/s")
    print(f"  ratio   {res['ratio']:8.2f}  (per round: {', '.join(f'{r:.2f}' for r in res['ratios'])})")
    for kind in ("plain", "stacked"):
        if f"steps_{kind}" in res:
            s = res[f"steps_{kind}"]
            n = 1 if kind == "plain" else res["seeds"]
            print(f"  {kind:7s} ms per step call ({n} seed{'s' if n > 1 else ''}): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in s.items()))


def markdown_row(res: dict) -> str:
    return (f"| {date.today().isoformat()} | {res['method']} | {res['threads']} | {res['plain']:.0f} | "
            f"{res['stacked']:.0f} | {res['ratio']:.2f} | {res['others_busy']:.1f} |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", default="gngan_gm", choices=sorted(GRID2D_METHODS))
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--iters", type=int, default=20, help="timed iterations per seed per block")
    p.add_argument("--rounds", type=int, default=4, help="plain/stacked block pairs (order alternates)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", default="1", help="comma-separated torch thread counts, e.g. 1,2")
    p.add_argument("--no-breakdown", action="store_true", help="skip the per-step (AE/D/G) timings")
    args = p.parse_args(argv)
    rows = []
    for t in [int(x) for x in args.threads.split(",")]:
        res = bench(args.method, args.seeds, args.iters, args.rounds, args.warmup, t,
                    breakdown=not args.no_breakdown)
        report(res)
        rows.append(markdown_row(res))
    print("\n| date | method | threads | plain seed-it/s | stacked seed-it/s | ratio | others' cores |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
