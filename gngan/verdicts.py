"""The verdict dashboard: one row per claim of the paper, built only from stored results."""

from __future__ import annotations

import json

import numpy as np

from gngan import experiments, paper, report

NOT_RUN_IMAGES = "not run here: image training is not implemented yet (loaders, FID and networks are)"


def _toy1d_row(budget: str) -> list:
    configs = experiments.toy1d_configs(budget)
    try:
        results = experiments.run_section("01_1d", configs, budget, train=False)
    except FileNotFoundError:
        return ["1D: three modes (Fig. 2)", "GN-GAN 3 modes, Dist-GAN fewer (one run)", "—", budget,
                "not run here yet", "1D chapter"]
    summary = report.coverage_summary(results, experiments.METHOD_LABELS, num_modes=3)
    gn, dist = summary
    verdict = report.toy1d_verdict(summary, budget).split("**")[1].lower()
    ours = (f"all 3 modes in {gn['all_modes']}/{gn['num_seeds']} seeds (GN-GAN) vs "
            f"{dist['all_modes']}/{dist['num_seeds']} (Dist-GAN)")
    return ["1D: three modes (Fig. 2)", "GN-GAN 3 modes, Dist-GAN fewer (one run)", ours, budget, verdict,
            "1D chapter"]


def _table2_rows(budget: str) -> list[list]:
    configs = experiments.grid2d_configs(budget)
    missing = experiments.missing_runs("02_2d", configs, budget)
    progress = experiments.in_progress("02_2d", configs, budget)
    rows = []
    for m, (mean, std) in ((k, v["registered_modes"]) for k, v in paper.TABLE2.items()):
        label = experiments.METHOD_LABELS.get(m, m)
        claim = f"{mean:.2f} ± {std:.2f} modes"
        if m in missing:
            status = "not run here yet"
            if m in progress:
                recs = progress[m]
                status += f" (in progress: iteration {recs[0]['step']} of {configs[m][0].num_steps})"
            rows.append([f"2D Table 2: {label}", claim, "—", budget, status, "2D chapter"])
            continue
        res = experiments.run_section("02_2d", {m: configs[m]}, budget, train=False)[m]
        v = np.array([r["final"]["covered_modes"] for r in res], dtype=float)
        ours = f"{v.mean():.2f} ± {v.std():.2f} modes"
        verdict = "reproduced" if abs(v.mean() - mean) <= max(std, v.std()) else "not reproduced"
        rows.append([f"2D Table 2: {label}", claim, ours, budget, verdict, "2D chapter"])
    return rows


def _timing_row() -> list:
    path = experiments.RESULTS_ROOT / "benchmarks" / "gm_timing.json"
    claim = (f"{paper.GM_TIMING_MS['with_gm']:.0f} vs {paper.GM_TIMING_MS['without_gm']:.0f} ms per G update, "
             f"ratio {paper.GM_TIMING_MS['with_gm'] / paper.GM_TIMING_MS['without_gm']:.2f} (GTX 1080 Ti)")
    if not path.exists():
        return ["Cost of GM", claim, "—", "cpu", "not run here yet", "benchmarks/README.md"]
    t = json.loads(path.read_text())
    ours = f"{t['with_gm_ms']:.0f} vs {t['without_gm_ms']:.0f} ms, ratio {t['ratio']:.2f} (CPU, {t['threads']} thread)"
    verdict = "partly: GM costs more here (ratio above the paper's)" if t["ratio"] > 1.3 else "reproduced"
    return ["Cost of GM (CIFAR CNN, batch 64)", claim, ours, "cpu", verdict, "results/benchmarks/gm_timing.json"]


def verdict_rows(budget: str = "cpu") -> list[list]:
    rows = [_toy1d_row(budget)]
    rows += _table2_rows(budget)
    rows.append(["CIFAR-10 ablation (Fig. 5): +NE, +GM converge faster, NE+GM best", "FID curves", "—", budget,
                 NOT_RUN_IMAGES, "—"])
    for col, name in (("cifar", "CIFAR-10 CNN"), ("stl", "STL-10 CNN"), ("cifar_resnet", "CIFAR-10 ResNet")):
        v = paper.TABLE3["gngan"][col]
        shown = f"{v[0]} ± {v[1]}" if isinstance(v, tuple) else f"{v}"
        reason = "not run here: STL-10 is unavailable offline" if col == "stl" else NOT_RUN_IMAGES
        rows.append([f"Table 3: GN-GAN FID, {name}", shown, "—", budget, reason, "—"])
    fig7 = paper.FIG7_FINAL_FID
    rows.append(["Fig. 7: GAN+NE+GM / +GM / +NE final FID",
                 f"{fig7['gan_ne_gm']} / {fig7['gan_gm']} / {fig7['gan_ne']}", "—", budget, NOT_RUN_IMAGES, "—"])
    rows.append(_timing_row())
    return rows


def verdict_table(budget: str = "cpu") -> str:
    return report.markdown_table(["claim", "paper", "ours", "budget", "verdict", "chapter"], verdict_rows(budget))
