"""How far the offline JPEG mirror moves FID (the caveat every CIFAR-10 chapter states), measured here with
``gngan.fid.jpeg_fid_shift``: N exact CIFAR-10 training images against the next N, exact or as their JPEG
copies in the mirror, with pytorch-fid's network, weights and formula (fp32).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/measure_jpeg_fid_shift.py --n 2000 \
        --out results/benchmarks/jpeg_fid_shift.json

Not a timing: run it whenever; with N = 2,000 it extracts 8,000 images' features (about 15 minutes on one core).
"""

import argparse
import time

from gngan import experiments, fid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="images per side (at most 2,000)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    start = time.perf_counter()
    out = fid.jpeg_fid_shift(args.n)
    seconds = time.perf_counter() - start
    for k, v in out.items():
        print(f"{k}: {v:.2f}")
    if args.out:
        experiments.write_benchmark(args.out, {**out, "n": args.n, "precision": "fp32",
                                               "wall_time_s": round(seconds, 1)})


if __name__ == "__main__":
    main()
