"""Wall time of training two 2D methods of the cpu budget inline (one after the other, one thread) and through
the local launcher (two one-thread jobs at once), side by side in one run, into fresh results folders. Run it on a
machine with nothing else training (two cores: expect up to ~2x).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_launchers.py --num-steps 20000

Writes results/benchmarks/launchers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gngan import experiments

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gngan", *argv], check=True, cwd=ROOT,
                   env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="vae,beta_vae")
    parser.add_argument("--num-steps", type=int, default=20_000, help="iterations per run (the budget's: 195,313)")
    args = parser.parse_args()
    load_before = experiments.load_average()
    with tempfile.TemporaryDirectory() as tmp:
        base = ["section", "02_2d", "--budget", "cpu", "--methods", args.methods, "--num-steps", str(args.num_steps),
                "--quiet"]
        inline = timed([*base, "--results-root", f"{tmp}/inline"])
        local = timed([*base, "--results-root", f"{tmp}/local", "--launcher", "local", "--jobs", "2",
                       "--jobs-dir", f"{tmp}/jobs"])
        same = all(json.loads(p.read_text())["history"] == json.loads(
            (Path(tmp) / "local" / p.relative_to(Path(tmp) / "inline")).read_text())["history"]
            for p in (Path(tmp) / "inline").rglob("result.json"))
    record = {"section": "02_2d", "budget": "cpu", "methods": args.methods.split(","), "num_steps": args.num_steps,
              "seeds_per_method": len(experiments.GRID2D_BUDGETS["cpu"]["seeds"]),
              "wall_s": {"inline": round(inline, 1), "local_2_jobs": round(local, 1)},
              "speedup": round(inline / local, 2), "same_results": same, "loadavg_before": load_before}
    out = experiments.write_benchmark(ROOT / "results" / "benchmarks" / "launchers.json", record)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
