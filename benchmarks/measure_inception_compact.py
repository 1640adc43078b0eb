"""Compact FID Inception weights for the GPU trip (``gngan.fid.save_compact_weights``): the bytes of each
file and how far each moves FID against the float32 weights, on real image sets spanning FIDs of ~25 to ~90.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/measure_inception_compact.py \
        --out results/benchmarks/inception_compact.json

Image sets (CIFAR-10 training images; the exact 5K subset split as ``fid.jpeg_fid_shift`` splits it):
A = exact[:N], B = exact[N:2N], jpeg_B = B as the JPEG mirror stores it, noisy_jpeg_B = jpeg_B plus Gaussian
noise of std ``--noise-std`` (8-bit units, ``torch.Generator`` seed 0), rounded and clipped to [0, 255].
Pairs: A vs B (~25), A vs jpeg_B (~42), A vs noisy_jpeg_B (~90 with std 8). Each set's features are
computed once per weights variant (fp32, fp16, int8) and reused across pairs. A scheme is accepted only if
|FID(scheme) - FID(fp32)| <= 0.05 on every pair (the issue's rule). Not a timing: with N = 2,000 it
extracts 24,000 images' features (about 30 minutes on one core).
"""

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gngan import experiments, fid, images

ACCEPT_ABS_SHIFT = 0.05
PAIRS = {"exact_vs_exact": ("A", "B"), "exact_vs_jpeg": ("A", "jpeg_B"), "exact_vs_noisy_jpeg": ("A", "noisy_jpeg_B")}


def image_sets(n: int, noise_std: float) -> dict[str, torch.Tensor]:
    exact, labels = images.cifar10_exact("train")
    jpeg_all, _ = images.cifar10(split="train", source="jpeg")
    jpeg_b = jpeg_all[torch.as_tensor(images.jpeg_mirror_indices(labels[:2 * n]))][n:]
    noise = noise_std * torch.randn(jpeg_b.shape, generator=torch.Generator().manual_seed(0))
    noisy = (jpeg_b.float() + noise).round().clamp(0, 255).to(torch.uint8)
    return {"A": exact[:n], "B": exact[n:2 * n], "jpeg_B": jpeg_b, "noisy_jpeg_B": noisy}


def xz_bytes(path: Path) -> int:
    out = subprocess.run(["xz", "-9", "-T1", "-c", str(path)], capture_output=True, check=True)
    return len(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="images per set (at most 2,000)")
    ap.add_argument("--noise-std", type=float, default=8.0, help="noise of the third set, in 8-bit units")
    ap.add_argument("--method", default="sqrtm", choices=fid.FRECHET_METHODS)
    ap.add_argument("--no-xz", action="store_true", help="skip the xz -9 sizes (quick checks)")
    ap.add_argument("--cache-dir", default=None, help="keep each (weights, set)'s features here, to resume")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if not 2 <= args.n <= 2000:
        raise SystemExit(f"--n {args.n}: the exact subset has 4,000 training images, so use 2 <= n <= 2000")
    start = time.perf_counter()
    load = experiments.load_average()
    work = Path(tempfile.mkdtemp(prefix="inception_compact_"))
    files = {"fp32": fid.ensure_inception_weights(download=False)}
    for scheme in fid.COMPACT_SCHEMES:
        files[scheme] = fid.save_compact_weights(work / f"pt_inception-{scheme}.pt", scheme)
    sizes = {k: {"bytes": p.stat().st_size, **({} if args.no_xz else {"xz9_bytes": xz_bytes(p)})}
             for k, p in files.items()}
    print("sizes:", sizes, flush=True)

    sets = image_sets(args.n, args.noise_std)
    cache = Path(args.cache_dir) if args.cache_dir else None
    feats: dict[str, dict[str, np.ndarray]] = {}
    extract_s = 0.0
    for variant, path in files.items():
        feats[variant] = {}
        for name, x in sets.items():
            cached = cache / f"{variant}_{name}_{args.n}_{args.noise_std:g}.npy" if cache else None
            if cached is not None and cached.is_file():
                feats[variant][name] = np.load(cached)
                continue
            t0 = time.perf_counter()
            feats[variant][name] = fid.inception_features(x, weights=path)
            extract_s += time.perf_counter() - t0
            print(f"{variant} {name}: {len(x)} images in {time.perf_counter() - t0:.0f} s", flush=True)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.save(cached, feats[variant][name])

    stats = {v: {k: fid.FIDStats.from_features(f) for k, f in fs.items()} for v, fs in feats.items()}
    fids = {v: {pair: fid.fid_from_features(stats[v][a], stats[v][b], args.method) for pair, (a, b) in PAIRS.items()}
            for v in files}
    schemes = {}
    for scheme in fid.COMPACT_SCHEMES:
        shifts = {pair: fids[scheme][pair] - fids["fp32"][pair] for pair in PAIRS}
        diff = np.concatenate([np.abs(feats[scheme][k] - feats["fp32"][k]).ravel() for k in sets])
        schemes[scheme] = {**sizes[scheme], "fid": fids[scheme], "fid_shift": shifts,
                           "max_abs_shift": max(abs(s) for s in shifts.values()),
                           "accepted": all(abs(s) <= ACCEPT_ABS_SHIFT for s in shifts.values()),
                           "feature_abs_diff_max": float(diff.max()), "feature_abs_diff_mean": float(diff.mean())}
        print(f"{scheme}: {sizes[scheme]} shifts " + ", ".join(f"{p} {s:+.4f}" for p, s in shifts.items())
              + f" -> {'accepted' if schemes[scheme]['accepted'] else 'REJECTED'}", flush=True)
    print("fp32 FIDs:", {p: round(v, 3) for p, v in fids["fp32"].items()}, flush=True)
    mean_abs = {k: float((sets[k].float() - sets["B"].float()).abs().mean()) for k in ("jpeg_B", "noisy_jpeg_B")}
    if args.out:
        experiments.write_benchmark(args.out, {
            "n": args.n, "noise_std": args.noise_std, "method": args.method, "precision": "fp32",
            "accept_abs_shift": ACCEPT_ABS_SHIFT, "int8_min_numel": fid.INT8_MIN_NUMEL,
            "sets": {"A": "exact train[:n]", "B": "exact train[n:2n]", "jpeg_B": "B as the JPEG mirror stores it",
                     "noisy_jpeg_B": f"jpeg_B + N(0, {args.noise_std:g}^2) per 8-bit value (seed 0), rounded, clipped"},
            "pairs": {p: list(ab) for p, ab in PAIRS.items()},
            "fp32": {**sizes["fp32"], "file": fid.WEIGHTS_FILENAME, "fid": fids["fp32"]},
            "schemes": schemes, "mean_abs_pixel_diff_vs_B": mean_abs,
            "extract_s": round(extract_s, 1), "wall_time_s": round(time.perf_counter() - start, 1),
            "loadavg": load})


if __name__ == "__main__":
    main()
