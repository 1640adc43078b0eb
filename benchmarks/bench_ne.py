"""Neighbors embedding (Eqs. 2-6) at an old commit against the working tree's, side by side in one process:
the NE loss alone (forward + backward, 8 seeds x 256 points under vmap, as the 2D AE step) and one full
8-seed GN-GAN (+NE+GM) 2D iteration, with the old implementation loaded from the git commit.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_ne.py --old-commit c0ab74e --out results/benchmarks/ne_speed.json
"""

import argparse
import importlib.util
import statistics
import subprocess
import tempfile
import time

import torch

from gngan import experiments, losses
from gngan.data import make_dataset
from gngan.steps import Stepper, build_nets, build_optimizers, per_seed


def old_losses(commit: str):
    src = subprocess.run(["git", "show", f"{commit}:gngan/losses.py"], capture_output=True, text=True, check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py") as f:
        f.write(src)
        f.flush()
        spec = importlib.util.spec_from_file_location("old_losses", f.name)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    return mod


def stepper(config, seeds):
    ds = make_dataset(config.data)
    nets = build_nets(config, ds.x_dim, seeds)
    return Stepper(config, nets, build_optimizers(config, nets),
                   [ds.sampler(torch.Generator().manual_seed(2 * s)) for s in seeds],
                   [torch.Generator().manual_seed(2 * s + 1) for s in seeds], torch.device("cpu"), seeds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--old-commit", required=True)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default=None)
    ap.add_argument("--note", default="one thread; a one-thread 2D training ran on the other core",
                    help="what else ran on the machine, stored with the result")
    args = ap.parse_args()
    torch.set_num_threads(1)
    old = old_losses(args.old_commit)
    new_ne = losses.neighbors_embedding
    z, x = torch.rand(8, 256, 2, requires_grad=True), torch.rand(8, 256, 2, requires_grad=True)

    def ne(fn):
        per_seed(fn, z, x).sum().backward()

    config = experiments.grid2d_configs("cpu", seeds=list(range(8)))["gngan_ne_gm"][0]
    steppers = {"old": stepper(config, list(range(8))), "new": stepper(config, list(range(8)))}

    def iteration(which):
        losses.neighbors_embedding = old.neighbors_embedding if which == "old" else new_ne
        try:
            steppers[which].iteration()
        finally:
            losses.neighbors_embedding = new_ne

    times = {k: [] for k in ("ne_old", "ne_new", "it_old", "it_new")}
    for fn in (old.neighbors_embedding, new_ne):
        ne(fn)
    iteration("old"), iteration("new")
    for _ in range(args.repeats):
        for key, call in (("ne_old", lambda: ne(old.neighbors_embedding)), ("ne_new", lambda: ne(new_ne)),
                          ("it_old", lambda: iteration("old")), ("it_new", lambda: iteration("new"))):
            t = time.perf_counter()
            call()
            times[key].append(time.perf_counter() - t)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    load = experiments.load_average()
    print(f"NE loss, 8 seeds x 256 points, fwd+bwd: old {med['ne_old']:.1f} ms, new {med['ne_new']:.1f} ms, "
          f"ratio {med['ne_old'] / med['ne_new']:.2f}")
    print(f"8-seed GN-GAN (+NE+GM) 2D iteration:   old {med['it_old']:.1f} ms, new {med['it_new']:.1f} ms, "
          f"ratio {med['it_old'] / med['it_new']:.2f}   (load {' '.join(load)})")
    if args.out:
        experiments.write_benchmark(args.out, {
            "median_ms": med, "ne_ratio": med["ne_old"] / med["ne_new"],
            "iteration_ratio": med["it_old"] / med["it_new"], "old_commit": args.old_commit,
            "repeats": args.repeats, "loadavg": load, "note": args.note})


if __name__ == "__main__":
    main()
