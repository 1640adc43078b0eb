"""Inception feature extraction: pytorch-fid's own path vs gngan.fid, side by side in one run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fid.py            # timing, 200 images
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fid.py --bf16 500 # + bf16 speed and FID shift
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fid.py -n 500 --repeats 3 --threads 1 \
        --out results/benchmarks/fid_speed.json                             # the stored measurement

pytorch-fid's path is what its CLI runs on a folder: the same images saved as PNG files, read by its
``get_activations`` (PIL -> RGB -> ToTensor, a DataLoader with the CLI's default worker count
min(cpus, 8), batch 50, ``torch.no_grad``, NCHW). Ours is ``gngan.fid.inception_features`` on the uint8
tensor (channels-last, inference mode, batch 64). Both use the same network and weights, already
loaded (model construction is not timed), and the same number of torch threads (``--threads``, default
torch's, i.e. OMP_NUM_THREADS). The runs alternate (pytorch-fid, ours, pytorch-fid, ours, ...) so a
change in the machine's load hits both; the best run of each is reported, and the ratio of the bests.
Throughput per CPU-second (this process plus pytorch-fid's worker processes) is reported too: on a
shared, oversubscribed machine it is steadier than wall-clock time (with one torch thread it is the
wall-clock throughput an idle core would give, up to cache effects of the other load).

Images: CIFAR-10 training images of the offline JPEG mirror (``gngan.images.cifar10(source="jpeg")``),
every (50000 // N)-th one, so all classes appear.

--bf16 N2 also times ``precision="bf16"`` and reports the FID between N2 training and N2 test images
computed from fp32 features and from bf16 features (Fréchet distance by the "eigh" method, which agrees
with pytorch-fid's sqrtm to ~1e-7 relative and is 10x faster), and the FID between the fp32 and bf16
features of the same N2 images.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gngan import experiments, fid, images


def _save_pngs(x: torch.Tensor, folder: Path) -> list[Path]:
    files = []
    for i, im in enumerate(x):
        files.append(folder / f"{i:05d}.png")
        Image.fromarray(im.permute(1, 2, 0).numpy()).save(files[-1])
    return files


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (pytorch-fid's DataLoader workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _pick(x: torch.Tensor, n: int) -> torch.Tensor:
    step = max(1, len(x) // n)
    return x[::step][:n].clone()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=200, help="images to time on (default 200)")
    p.add_argument("--repeats", type=int, default=2, help="alternating runs of each path (default 2)")
    p.add_argument("--threads", type=int, default=None, help="torch threads for both (default: torch's)")
    p.add_argument("--workers", type=int, default=None,
                   help="pytorch-fid DataLoader workers (default: its CLI's, min(cpus, 8))")
    p.add_argument("--batch-size", type=int, default=64, help="our batch size (pytorch-fid uses its default 50)")
    p.add_argument("--bf16", type=int, default=0, metavar="N2", help="also measure bf16 on N2 + N2 images")
    p.add_argument("--out", default=None, help="write the fp32 timing as JSON (e.g. results/benchmarks/fid_speed.json)")
    p.add_argument("--note", default="", help="stored with --out, e.g. what else ran on the machine")
    args = p.parse_args()

    from pytorch_fid import fid_score
    from pytorch_fid.fid_score import get_activations

    fid_score.tqdm = lambda it: it  # its progress bars would clutter the report

    if args.threads:
        torch.set_num_threads(args.threads)
    workers = args.workers if args.workers is not None else min(len(os.sched_getaffinity(0)), 8)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()} (OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}), pytorch-fid workers {workers}, "
          f"load average {os.getloadavg()[0]:.2f}, cpus {os.cpu_count()}")
    load = experiments.load_average()

    x_train, _ = images.cifar10(split="train", source="jpeg")
    x = _pick(x_train, args.n)
    ref_model = fid.inception_model("cpu", fast=False)  # pytorch-fid's InceptionV3, NCHW
    fid.inception_model("cpu")  # ours (channels-last), built before timing

    with tempfile.TemporaryDirectory() as tmp:
        files = _save_pngs(x, Path(tmp))
        # warm-up (one batch each): first-call allocations and oneDNN kernel selection
        get_activations(files[:50], ref_model, batch_size=50, device="cpu", num_workers=0)
        fid.inception_features(x[:args.batch_size], batch_size=args.batch_size)
        times = {"pytorch-fid": [], "gngan": []}
        cpu = {"pytorch-fid": [], "gngan": []}
        runs = {"pytorch-fid": lambda: get_activations(files, ref_model, batch_size=50, device="cpu",
                                                       num_workers=workers),
                "gngan": lambda: fid.inception_features(x, batch_size=args.batch_size)}
        out = {}
        for r in range(args.repeats):
            for name, run in runs.items():
                c, t = _cpu_seconds(), time.perf_counter()
                out[name] = run()
                times[name].append(time.perf_counter() - t)
                cpu[name].append(_cpu_seconds() - c)
            print(f"  run {r + 1}: " + ", ".join(
                f"{k} {len(x) / times[k][-1]:6.2f} img/s ({len(x) / cpu[k][-1]:.2f} per CPU-s)" for k in runs),
                flush=True)
        theirs, ours = out["pytorch-fid"], out["gngan"]

    diff = np.abs(ours - theirs)
    print(f"\nfeatures of {len(x)} images: max |ours - pytorch-fid| = {diff.max():.3g} "
          f"(features up to {np.abs(theirs).max():.3g}); bit-identical: {bool((ours == theirs).all())}")
    best = {k: len(x) / min(v) for k, v in times.items()}
    med = {k: len(x) / statistics.median(v) for k, v in times.items()}
    per_cpu = {k: len(x) / min(v) for k, v in cpu.items()}
    for k in times:
        print(f"{k:12s} wall: best {best[k]:6.2f} img/s, median {med[k]:6.2f} img/s;   "
              f"CPU time: {per_cpu[k]:6.2f} img per CPU-second (best)")
    print(f"speed-up, wall clock: {best['gngan'] / best['pytorch-fid']:.2f}x best/best, "
          f"{med['gngan'] / med['pytorch-fid']:.2f}x median/median;   "
          f"CPU time: {per_cpu['gngan'] / per_cpu['pytorch-fid']:.2f}x")
    if args.out:
        experiments.write_benchmark(args.out, {
            "images_per_s": {"best": best, "median": med, "per_cpu_second": per_cpu},
            "speedup": {"best": best["gngan"] / best["pytorch-fid"], "median": med["gngan"] / med["pytorch-fid"],
                        "per_cpu_second": per_cpu["gngan"] / per_cpu["pytorch-fid"]},
            "max_abs_feature_difference": float(diff.max()), "n": len(x), "repeats": args.repeats,
            "pytorch_fid_workers": workers, "batch_size": {"gngan": args.batch_size, "pytorch-fid": 50},
            "precision": "fp32", "loadavg": load, "note": args.note})

    if args.bf16:
        x_test, _ = images.cifar10(split="test", source="jpeg")
        a, b = _pick(x_train, args.bf16), _pick(x_test, args.bf16)
        feats, wall, cpus = {}, {}, {}
        for name, imgs in (("a", a), ("b", b)):
            for precision in ("fp32", "bf16"):  # alternating, as above
                c, t = _cpu_seconds(), time.perf_counter()
                feats[name, precision] = fid.inception_features(imgs, batch_size=args.batch_size, precision=precision)
                wall[name, precision] = time.perf_counter() - t
                cpus[name, precision] = _cpu_seconds() - c
        fa32, fb32, fa16, fb16 = feats["a", "fp32"], feats["b", "fp32"], feats["a", "bf16"], feats["b", "bf16"]
        w = {p: sum(v for k, v in wall.items() if k[1] == p) for p in ("fp32", "bf16")}
        c = {p: sum(v for k, v in cpus.items() if k[1] == p) for p in ("fp32", "bf16")}
        n2 = 2 * args.bf16
        f32 = fid.fid_from_features(fa32, fb32, method="eigh")
        f16 = fid.fid_from_features(fa16, fb16, method="eigh")
        print(f"\nbf16 autocast on {args.bf16} + {args.bf16} images: fp32 {n2 / w['fp32']:.2f} img/s "
              f"({n2 / c['fp32']:.2f} per CPU-s), bf16 {n2 / w['bf16']:.2f} img/s ({n2 / c['bf16']:.2f} per CPU-s); "
              f"bf16 speed-up {w['fp32'] / w['bf16']:.2f}x wall, {c['fp32'] / c['bf16']:.2f}x CPU time")
        print(f"FID(train, test): fp32 {f32:.4f}, bf16 {f16:.4f}, shift {f16 - f32:+.4f}")
        print(f"FID(fp32 features, bf16 features of the same train images): "
              f"{fid.fid_from_features(fa32, fa16, method='eigh'):.4f}; "
              f"max |feature difference| {np.abs(fa32 - fa16).max():.3g}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
