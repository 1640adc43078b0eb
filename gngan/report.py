"""Tables for the book, built from stored results only."""

from __future__ import annotations

import numpy as np


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _wall_time(man: dict, seeds: int) -> str:
    text = f"{man['wall_time_s']:.0f} s" + (f" for {seeds} seeds together" if seeds > 1 else " training")
    if "eval_time_s" in man:  # not recorded by runs before it existed
        text += f", + {man['eval_time_s']:.0f} s evaluating and checkpointing"
    return text


def manifest_rows(results: dict[str, list[dict]], labels: dict[str, str]) -> list[list]:
    """One row per group of seeds trained together: method, seeds, steps, device, wall time, commit."""
    rows = []
    for m, runs in results.items():
        groups: dict[tuple, list[dict]] = {}
        for r in runs:
            man = r["manifest"]
            key = (tuple(man.get("trained_together", [man["seed"]])), man["git"]["commit"], man["num_steps"])
            groups.setdefault(key, []).append(man)
        for (together, commit, steps), mans in groups.items():
            man = mans[0]
            segments = man.get("git_segments") or [{**man["git"], "from_step": 0}]
            commits = ", ".join(f"{g['commit'][:10]}{'+dirty' if g.get('dirty') else ''}"
                                + (f" (from step {g['from_step']})" if len(segments) > 1 else "")
                                for g in segments)
            rows.append([labels.get(m, m), ", ".join(str(x["seed"]) for x in mans), steps,
                         _device(man),
                         _wall_time(man, len(together)),
                         commits, man["torch_version"]])
    return rows


def _device(man: dict) -> str:
    if man["device"].startswith("cuda"):  # CPU threads say nothing about a GPU run; its card does
        return f"{man['device']} ({man.get('device_name') or 'GPU unknown'})"
    return f"{man['device']} ({_threads(man.get('torch_threads'))})"


def _threads(n) -> str:
    return "threads unknown" if n is None else f"{n} thread" + ("" if n == 1 else "s")


def manifest_table(results: dict[str, list[dict]], labels: dict[str, str]) -> str:
    return markdown_table(["method", "seeds", "iterations", "device", "wall time", "commit", "torch"],
                          manifest_rows(results, labels))


def seed_std(values, axis=None):
    """The spread over seeds used everywhere in the book: the sample standard deviation (n - 1), the way
    we read the paper's "± std" over its 8 runs; 0 for a single seed."""
    v = np.asarray(values, dtype=float)
    n = v.size if axis is None else v.shape[axis]
    return v.std(axis=axis, ddof=1) if n > 1 else v.std(axis=axis)


def mean_std(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.2f} ± {seed_std(v):.2f}"


def coverage_summary(results: dict[str, list[dict]], labels: dict[str, str], num_modes: int) -> list[dict]:
    """Per method: covered modes per seed, mean ± std, and how many seeds cover all modes."""
    out = []
    for m, runs in results.items():
        covered = [r["final"]["covered_modes"] for r in runs]
        registered = [r["final"]["registered_points"] for r in runs]
        out.append({
            "registered_mean_std": mean_std(registered),
            "method": labels.get(m, m),
            "per_seed": covered,
            "mean_std": mean_std(covered),
            "all_modes": sum(c == num_modes for c in covered),
            "num_seeds": len(covered),
        })
    return out


TOY1D_PAPER = {"gngan_gm": "3 modes", "distgan": "fewer than 3 modes"}


def toy1d_verdict(summary: list[dict], budget: str) -> str:
    """The 1D verdict by the rule stated in the book, from ``coverage_summary`` (GN-GAN first, Dist-GAN second)."""
    gn, dist = summary
    n = gn["num_seeds"]
    if gn["all_modes"] > dist["all_modes"] and 2 * gn["all_modes"] >= n:
        word = "reproduced"
    elif gn["all_modes"] > dist["all_modes"]:
        word = "partly reproduced"
    else:
        word = "not reproduced"
    if budget == "smoke":
        return (f"Budget `smoke` is a pipeline check ({n} seed(s), a few iterations): no verdict. "
                f"All modes covered in {gn['all_modes']} vs {dist['all_modes']} seed(s).")
    return (f"**{word.capitalize()}** (budget `{budget}`): {gn['method']} covers all three modes in "
            f"{gn['all_modes']} of {n} seeds, {dist['method']} in {dist['all_modes']} of {dist['num_seeds']} "
            f"(covered modes {gn['mean_std']} vs {dist['mean_std']}; registered points of 2,000: "
            f"{gn['registered_mean_std']} vs {dist['registered_mean_std']}).")


TABLE2_KEYS = (("covered_modes", "registered modes"), ("registered_points", "registered points"),
               ("tv_true", "TV (True)"), ("tv_differential", "TV (Differential)"))


def table2_rows(results: dict[str, list[dict]], labels: dict[str, str], paper: dict) -> list[list]:
    """Ours | paper for each Table 2 column (mean ± std over seeds; the paper's std as printed)."""
    paper_keys = {"covered_modes": "registered_modes"}
    rows = []
    for m, runs in results.items():
        row = [labels.get(m, m), len(runs)]
        for key, _ in TABLE2_KEYS:
            ours = mean_std([r["final"][key] for r in runs])
            p = paper.get(m, {}).get(paper_keys.get(key, key))
            row.append(f"{ours} \\| {p[0]:.2f} ± {p[1]:.2f}" if p else f"{ours} \\| —")
        rows.append(row)
    return rows


def table2(results, labels, paper) -> str:
    header = ["method", "runs"] + [f"{name} (ours \\| paper)" for _, name in TABLE2_KEYS]
    return markdown_table(header, table2_rows(results, labels, paper))


def rank_agreement(results: dict[str, list[dict]], paper: dict, key: str = "covered_modes",
                   paper_key: str = "registered_modes") -> dict:
    """Spearman rho between our mean and the paper's mean of ``key`` over the methods both have."""
    from scipy.stats import spearmanr

    common = [m for m in results if m in paper]
    ours = [float(np.mean([r["final"][key] for r in results[m]])) for m in common]
    theirs = [paper[m][paper_key][0] for m in common]
    if len(common) < 3 or np.ptp(ours) == 0:
        return {"methods": common, "rho": None, "p_value": None}
    rho, p = spearmanr(ours, theirs)
    return {"methods": common, "rho": float(rho), "p_value": float(p)}


def _lead_over_each(results: dict[str, list[dict]], reference: str, key: str) -> list[tuple[str, float, float, float]]:
    """(method, reference mean minus the method's, pooled sample std of the two, Welch p) per other method."""
    from scipy.stats import ttest_ind_from_stats

    ref = np.array([r["final"][key] for r in results[reference]], dtype=float)
    out = []
    for m, runs in results.items():
        if m == reference:
            continue
        v = np.array([r["final"][key] for r in runs], dtype=float)
        both = len(v) > 1 and len(ref) > 1
        spread = np.sqrt((seed_std(ref) ** 2 + seed_std(v) ** 2) / 2) if both else float("nan")
        # from the summary statistics: the same Welch test as ttest_ind, without scipy's precision warning
        # when one method's seeds are all equal (e.g. every VAE seed covers all 25 modes)
        p = (ttest_ind_from_stats(ref.mean(), seed_std(ref), len(ref), v.mean(), seed_std(v), len(v),
                                  equal_var=False).pvalue if both else float("nan"))
        out.append((m, float(ref.mean() - v.mean()), float(spread), float(p)))
    return out


def spread_comparison(results: dict[str, list[dict]], labels: dict[str, str], reference: str,
                      key: str = "covered_modes") -> list[list]:
    """Each method against ``reference``: difference of means, the seeds' spread, Welch's t-test."""
    return [[labels.get(m, m), f"{diff:+.2f}", f"{spread:.2f}", "yes" if abs(diff) > spread else "no", f"{p:.3f}"]
            for m, diff, spread, p in _lead_over_each(results, reference, key)]


def lead_summary(results: dict[str, list[dict]], labels: dict[str, str], reference: str, claimed_over,
                 key: str = "covered_modes", alpha: float = 0.05) -> str:
    """One paragraph on a headline claim that ``reference`` covers more modes than every method in
    ``claimed_over`` (e.g. the paper's Table 2 rows): which methods it beats in our runs by a significant
    margin (Welch p < alpha), which it leads or trails within the noise, which beat it significantly, and
    whether the claim holds over the methods of ``claimed_over`` that have results."""
    groups = {"beats": [], "ahead": [], "equal": [], "behind": [], "beaten": []}
    holds = True
    for m, diff, _, p in _lead_over_each(results, reference, key):
        if diff == 0:
            group = "equal"
        else:
            group = ("beats" if p < alpha else "ahead") if diff > 0 else ("beaten" if p < alpha else "behind")
        groups[group].append(labels.get(m, m))
        holds &= m not in claimed_over or group == "beats"
    text = {"beats": f"clearly more modes (Welch p < {alpha}) than", "ahead":
            "more on average, but within the spread of the seeds, than", "equal": "as many on average as", "behind":
            "fewer on average, but within the spread, than", "beaten": "clearly fewer than"}
    parts = [f"{text[k]} {', '.join(v)}" for k, v in groups.items() if v]
    name = labels.get(reference, reference)
    if not parts:
        return f"No other method has results to compare with {name}."
    return (f"In our runs, {name} covers {'; '.join(parts)}. The claim that it covers more modes than every "
            f"method the paper compares {'holds' if holds else 'does not hold'} here.")


def measured_seconds_per_iteration(results: dict[str, list[dict]]) -> dict[str, float]:
    """{method: wall seconds per iteration of its group of seeds trained together}, from stored manifests
    (the slowest group when a method was trained in several)."""
    out = {}
    for m, runs in results.items():
        per_it = [r["manifest"]["wall_time_s"] / r["manifest"]["num_steps"] for r in runs
                  if r["manifest"].get("num_steps")]
        if per_it:
            out[m] = max(per_it)
    return out


def two_process_hours(hours: list[float]) -> float:
    """Wall hours of running jobs of ``hours`` on two one-thread processes, longest first, each job
    going to the process that frees up first."""
    ends = [0.0, 0.0]
    for h in sorted(hours, reverse=True):
        ends[ends.index(min(ends))] += h
    return max(ends)


def _hours(h: float) -> str:
    if h < 1 / 60:
        return f"{h * 3600:.0f} s"
    if h >= 100:
        return f"{h:,.0f} h"
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.1f} h"


def rerun_rows(plans: dict[str, dict], seconds_per_iteration: dict[str, float],
               gpu_factor: float | None = None) -> list[list]:
    """One row per budget: the command, the runs, and wall-time estimates from measured per-iteration costs.

    ``plans`` is {budget: {"command": str, "configs": {method: [RunConfig per seed]}, "where": str}}. The
    seeds of an MLP method train as one stacked group, so it costs num_steps x its group's seconds per
    iteration; an image method trains its seeds one after the other; a method without a measured cost is
    reported as such, never guessed. With ``gpu_factor`` (GPU seconds per one-core second, e.g.
    ``experiments.paper_gpu_factor``) a last-but-one column estimates one GPU running every run in turn."""
    from gngan.experiments import estimated_minutes

    from gngan.experiments import METHOD_LABELS  # labels wrap in a table cell; keys such as x_hinge_stl10 do not

    rows = []
    for budget, plan in plans.items():
        configs = plan["configs"]
        hours, unknown = [], []
        for m, cfgs in configs.items():
            if m in seconds_per_iteration:
                hours.append(estimated_minutes(cfgs, seconds_per_iteration[m]) / 60)
            else:
                unknown.append(m)
        seeds = sorted({len(c) for c in configs.values()})
        steps = sorted({c[0].num_steps for c in configs.values()})
        unmeasured = (f" (plus {', '.join(METHOD_LABELS.get(m, m) for m in unknown)}: not measured)"
                      if unknown and hours else "")
        estimate = (f"{_hours(sum(hours))} on one core; {_hours(two_process_hours(hours))} as two processes"
                    if hours else "not measured") + unmeasured
        row = [budget, f"`{plan['command']}`", f"{len(configs)} methods × {'/'.join(map(str, seeds))} seeds",
               "/".join(f"{s:,}" for s in steps), estimate]
        if gpu_factor is not None:
            row.append(f"{_hours(sum(hours) * gpu_factor)}{unmeasured}" if hours else "not measured")
        rows.append(row + [f"`{plan['where']}`"])
    return rows


def rerun_table(plans: dict[str, dict], seconds_per_iteration: dict[str, float],
                gpu_factor: float | None = None) -> str:
    gpu = ["wall time, one GPU like the paper's (est.: CPU cost × the factor above)"] if gpu_factor else []
    return markdown_table(["budget", "command", "runs", "iterations", "wall time, 2 CPU cores (est.)", *gpu, "results"],
                          rerun_rows(plans, seconds_per_iteration, gpu_factor))


def image_cost_note(timing: dict | None, gpu: dict | None) -> str:
    """The Rerun section's explanation of the image chapters' estimates, every number from the stored
    benchmarks: ``timing`` is results/benchmarks/image_step_timing.json, ``gpu`` is
    ``experiments.paper_gpu_factor()``."""
    if timing is None:
        return ("No per-iteration timing is stored (`benchmarks/bench_image_steps.py` writes it), so no wall "
                "time is estimated.")
    full = [v for k, v in timing["seconds_per_iteration"].items() if k.endswith("width=1.0")]
    text = (f"Each budget's command and a wall-time estimate on one CPU core: the iterations times the seconds "
            f"per iteration measured by `benchmarks/bench_image_steps.py` ({timing['threads']} thread, CIFAR-10 "
            f"CNN, batch {timing['batch_size']}, {timing['measured_at'][:10]}), with the FID evaluations added "
            f"({timing['fid_seconds_per_image'] * 1000:.0f} ms per generated image). These are estimates.")
    if full:
        text += (f" At the `paper` budget the full-width networks cost {min(full):.1f}-{max(full):.1f} s per "
                 f"iteration here, so 200K-350K iterations are out of reach on a CPU.")
    if gpu is None:
        return text + " No GPU estimate: the GM timing benchmark is not stored."
    return text + (
        f" This machine has no GPU. The GPU column scales the CPU estimate by the one step timed both here and in the "
        f"paper, a generator update without GM: {gpu['paper_ms']:.0f} ms on the paper's GTX 1080 Ti against "
        f"{gpu['our_ms']:.0f} ms on one core here, a factor of 1/{1 / gpu['factor']:.1f}. It assumes every "
        f"other step (and the FID features) speeds up alike, which GPUs do not promise: read it as the order of "
        f"magnitude.")


def fid_rows(results: dict[str, list[dict]], labels: dict[str, str], paper_fid: dict[str, str]) -> list[list]:
    """One row per method: our final FID (mean ± std over seeds, or the single value), the iteration it
    was reached at, the seeds, and the paper's number for that method (as text; "—" when none)."""
    rows = []
    for m, runs in results.items():
        v = np.array([r["final"]["fid"] for r in runs], dtype=float)
        ours = mean_std(v) if len(v) > 1 else f"{v[0]:.2f}"
        steps = sorted({r["final"]["step"] for r in runs})
        rows.append([labels.get(m, m), ours, "/".join(f"{s:,}" for s in steps), len(v), paper_fid.get(m, "—")])
    return rows


def fid_table(results, labels, paper_fid) -> str:
    return markdown_table(["method", "FID, ours (lower is better)", "at iteration", "seeds", "FID, paper"],
                          fid_rows(results, labels, paper_fid))


PRDC = ("precision", "recall", "density", "coverage")


def prdc_table(results: dict[str, list[dict]], labels: dict[str, str]) -> str:
    """Final precision, recall, density and coverage per method (mean ± std over seeds, or the single value),
    from the same Inception features as FID (Naeem et al. 2020, k = 5): precision and density say how much
    of what the generator draws looks real, recall and coverage how much of the real data it reaches, the
    diversity the paper's claims are about. Empty when no run recorded them (runs older than the metric)."""
    rows = []
    for m, runs in results.items():
        finals = [r["final"] for r in runs if all(k in r["final"] for k in PRDC)]
        if not finals:
            continue
        cells = []
        for k in PRDC:
            v = np.array([f[k] for f in finals], dtype=float)
            cells.append(f"{v.mean():.3f} ± {seed_std(v):.3f}" if len(v) > 1 else f"{v[0]:.3f}")
        rows.append([labels.get(m, m), *cells, len(finals)])
    if not rows:
        return ""
    return markdown_table(["method", "precision", "recall", "density", "coverage", "seeds"], rows)


def fid_wobble(results: dict[str, list[dict]], last: int = 3) -> float | None:
    """How much a run's FID moves between its last ``last`` evaluations: the sample std of those values
    per run, pooled over every run (root mean variance). With one seed per method it is the only noise
    scale we have; it mixes the FID estimate's sampling noise with training's own wobble (and any trend
    left, so it errs on the large side). None when no run has ``last`` evaluations after step 0."""
    variances = []
    for runs in results.values():
        for r in runs:
            fids = [rec["fid"] for rec in r["history"] if rec["step"] > 0 and "fid" in rec]
            if len(fids) >= last:
                variances.append(float(np.var(fids[-last:], ddof=1)))
    return float(np.sqrt(np.mean(variances))) if variances else None


def fid_order(final: dict[str, float], claimed: list[str], wobble: float | None) -> dict:
    """Our final FIDs against a claimed order (``claimed`` lists the methods lowest FID first). Each
    neighbouring pair of the claim (a before b) agrees when b's FID exceeds a's by more than ``wobble``
    (``fid_wobble``), contradicts when a's exceeds b's by more, and is a tie otherwise. The order is
    "reproduced" when every pair agrees, "not reproduced" when any contradicts, else "inconclusive".
    ``final``: method -> final FID (mean over seeds). Returns ``ours`` (the claimed methods by our FID),
    ``pairs``, ``outcome``, ``wobble`` and ``final`` (the claimed methods' FIDs)."""
    pairs = []
    for a, b in zip(claimed, claimed[1:]):
        gap = final[b] - final[a]
        status = "tie" if wobble is None or abs(gap) <= wobble else ("agrees" if gap > 0 else "contradicts")
        pairs.append({"pair": (a, b), "gap": gap, "status": status})
    statuses = {p["status"] for p in pairs}
    outcome = ("not reproduced" if "contradicts" in statuses else
               "reproduced" if statuses == {"agrees"} else "inconclusive")
    return {"ours": sorted(claimed, key=final.get), "pairs": pairs, "outcome": outcome, "wobble": wobble,
            "final": {m: final[m] for m in claimed}}


def fid_order_verdict(order: dict, seeds: int = 1) -> str:
    """The verdict text for ``fid_order``'s result, at an early (cpu) budget."""
    if order["wobble"] is None:
        return "inconclusive at this early budget: too few evaluations to judge the FID's noise"
    noise = f"±{order['wobble']:.1f} over a run's last evaluations; {seeds} seed{'s' if seeds > 1 else ''}"
    if order["outcome"] == "inconclusive":
        return f"inconclusive at this early budget: some FID gaps are within the noise ({noise})"
    return f"order {order['outcome']} at this early budget (beyond the FID noise of {noise})"


def claimed_fid_order(results: dict[str, list[dict]], claimed: list[str]) -> tuple[dict, str]:
    """``fid_order`` and its ``fid_order_verdict`` for stored runs: final FIDs averaged over each method's
    seeds, the noise (``fid_wobble``) pooled over the claimed methods' runs only."""
    final = {m: float(np.mean([r["final"]["fid"] for r in results[m]])) for m in claimed}
    order = fid_order(final, claimed, fid_wobble({m: results[m] for m in claimed}))
    return order, fid_order_verdict(order, seeds=min(len(results[m]) for m in claimed))


def faster_at_every_evaluation(results: dict[str, list[dict]], better: str, worse: str) -> dict:
    """Does ``better`` have the lower FID than ``worse`` at every evaluation after the first, by more than
    the seeds' spread? Returns the per-evaluation mean differences (worse - better), the pooled std of
    the two methods' seeds there (0 with one seed each) and the verdict."""
    def by_step(m):
        steps = [rec["step"] for rec in results[m][0]["history"]]
        vals = np.array([[rec["fid"] for rec in r["history"]] for r in results[m]], dtype=float)
        return steps, vals

    steps, b = by_step(better)
    _, w = by_step(worse)
    diff = (w.mean(0) - b.mean(0))[1:]
    spread = np.sqrt((seed_std(w, 0) ** 2 + seed_std(b, 0) ** 2) / 2)[1:]
    seeds = min(len(b), len(w))
    return {"steps": steps[1:], "difference": diff.tolist(), "pooled_std": spread.tolist(),
            "lower_everywhere": bool((diff > 0).all()), "beyond_spread": bool(seeds > 1 and (diff > spread).all()),
            "seeds": seeds}


def faster_shortfall(out: dict) -> str:
    """How a pair of ``faster_at_every_evaluation`` falls short of "lower at every evaluation, beyond the
    seeds' spread"."""
    if out["seeds"] < 2:
        return "one seed: no spread to judge by"
    diff, spread = np.array(out["difference"]), np.array(out["pooled_std"])
    n = len(diff)
    if not out["lower_everywhere"]:
        return f"lower at {int((diff > 0).sum())} of {n} evaluations"
    return f"lower at every evaluation, beyond the spread at {int((diff > spread).sum())} of {n}"


FASTER = "faster: lower at every evaluation, beyond the seeds' spread"


def faster_outcome(out: dict) -> str:
    """A pair of ``faster_at_every_evaluation`` in words, the same in the ablation chapter and on the verdict
    page: "faster: ..." when the rule holds, else "not separated: " and how it falls short."""
    return FASTER if out["beyond_spread"] else f"not separated: {faster_shortfall(out)}"


def gm_timing_rows(record: dict, paper_ms: dict) -> list[list]:
    """One row per way of timing a generator update with and without GM: the paper's (GTX 1080 Ti) and ours
    (``benchmarks/bench_gm_timing.py``'s stored ``record``), with the ratio and, for ours, the FLOP ratio."""
    ms, ratio, flop_ratio = record["ms"], record["ratio"], record["flop_ratio"]
    where = f"CPU, {record['threads']} thread, torch {record['torch_version']}, {record['measured_at'][:10]}"
    rows = [["paper (GTX 1080 Ti)", f"{paper_ms['with_gm']:.0f}", f"{paper_ms['without_gm']:.0f}",
             f"{paper_ms['with_gm'] / paper_ms['without_gm']:.2f}", "—"]]
    for key, how in (("gm_double", "double backward"), ("gm_linear", "linearized (used for our runs)")):
        rows.append([f"ours, {how} ({where})", f"{ms[key]:.0f}", f"{ms['without_gm']:.0f}", f"{ratio[key]:.2f}",
                     f"{flop_ratio[key]:.2f}"])
    return rows


def gm_timing_table(record: dict, paper_ms: dict) -> str:
    return markdown_table(["generator update, batch 64", "with GM (ms)", "without GM (ms)", "ratio", "FLOP ratio"],
                          gm_timing_rows(record, paper_ms))


# The rule for "is the paper's mean ± std over n runs reproduced by ours?", fixed before reading the results.
PAPER_RUNS = 8
ALPHA = 0.05


def compare_with_paper(ours, paper_mean: float, paper_std: float, paper_runs: int = PAPER_RUNS,
                       alpha: float = ALPHA) -> dict:
    """Our per-seed values against the paper's mean ± std over ``paper_runs`` runs.

    Welch's t-test (from the paper's summary statistics, its std read as the sample std) asks whether the
    means differ beyond the spread; a one-sided F-test asks whether our seeds spread more than the paper's.
    Verdict: "not reproduced" when the means differ (p < alpha); else "partly" when our spread is larger
    (p < alpha; a paper std of 0 against any spread of ours counts as larger); else "reproduced".
    Returns dict(verdict, text, welch_p, f_p, direction); with fewer than 2 seeds, verdict None.
    """
    from scipy.stats import f as f_dist
    from scipy.stats import ttest_ind_from_stats

    v = np.asarray(ours, dtype=float)
    if len(v) < 2:
        return {"verdict": None, "text": "no verdict: one seed has no spread", "welch_p": None, "f_p": None,
                "direction": None}
    mean, std = v.mean(), seed_std(v)
    direction = "higher" if mean > paper_mean else "lower" if mean < paper_mean else "equal"
    if std == 0 and paper_std == 0:
        welch_p = 1.0 if mean == paper_mean else 0.0
    else:
        welch_p = float(ttest_ind_from_stats(mean, std, len(v), paper_mean, paper_std, paper_runs,
                                             equal_var=False).pvalue)
    if std == 0:
        f_p = 1.0
    elif paper_std == 0:
        f_p = 0.0
    else:
        f_p = float(f_dist.sf((std / paper_std) ** 2, len(v) - 1, paper_runs - 1))
    if welch_p < alpha:
        verdict, text = "not reproduced", f"not reproduced: ours {direction} (Welch p = {welch_p:.3f})"
    elif f_p < alpha:
        verdict = "partly"
        text = (f"partly: the means agree (Welch p = {welch_p:.2f}) but our seeds spread more "
                f"(F-test p = {f_p:.3f})")
    else:
        verdict, text = "reproduced", f"reproduced: the means agree (Welch p = {welch_p:.2f}), spreads comparable"
    return {"verdict": verdict, "text": text, "welch_p": welch_p, "f_p": f_p, "direction": direction}


def paper_comparison_rows(results: dict[str, list[dict]], labels: dict[str, str], paper: dict,
                          key: str = "covered_modes", paper_key: str = "registered_modes") -> list[list]:
    """Per method with a paper value: ours (mean ± std), the paper's, Welch p, F-test p, verdict."""
    rows = []
    for m, runs in results.items():
        if m not in paper:
            continue
        v = [r["final"][key] for r in runs]
        p_mean, p_std = paper[m][paper_key]
        out = compare_with_paper(v, p_mean, p_std)
        fmt = lambda x: "—" if x is None else f"{x:.3f}"
        rows.append([labels.get(m, m), mean_std(v), f"{p_mean:.2f} ± {p_std:.2f}", fmt(out["welch_p"]),
                     fmt(out["f_p"]), out["verdict"] or "no verdict (one seed)"])
    return rows


def bf16_note(record: dict | None) -> str:
    """One paragraph on the bf16-autocast trial (``benchmarks/bench_bf16.py``'s stored ``record``)."""
    if record is None:
        return "bfloat16 autocast has not been measured here (`benchmarks/bench_bf16.py`); all runs use float32."
    speed = ", ".join(f"{m} {v:.2f}x" for m, v in record["speedup"].items())
    flags = ", ".join(record["cpu_bf16_flags"]) or "none"
    adopted = all(v > 1 for v in record["speedup"].values())
    return (f"**Precision.** `torch.autocast(\"cpu\", dtype=torch.bfloat16)` against float32, one training iteration "
            f"at width {record['width']} ({record['measured_at'][:10]}): speed-up {speed} (below 1 is slower). "
            f"This CPU's bf16 instruction flags: {flags}. "
            + ("bf16 is faster here; adopting it would still need the loss curves and FIDs to match float32 within "
               "the seed spread, which we have not checked, so all runs use float32." if adopted else
               "Without native bf16 the casts cost more than they save, so bf16 cannot speed up the `cpu` budget and "
               "was not adopted (its accuracy was therefore not compared): all runs use float32."))


FID_SPEED_TARGET = 1.5  # issue 4: feature extraction at least 1.5x pytorch-fid's CLI on the same images


def fid_speed_note(record: dict | None) -> str:
    """One paragraph on the FID feature-extraction speed (``benchmarks/bench_fid.py --out``'s stored ``record``):
    ours against pytorch-fid's CLI path on the same images, same network, weights and threads, fp32."""
    if record is None:
        return "**FID speed.** Not measured here yet (`benchmarks/bench_fid.py --out results/benchmarks/fid_speed.json`)."
    ips, up = record["images_per_s"], record["speedup"]
    met = "meets" if up["best"] >= FID_SPEED_TARGET else "misses"
    return (f"**FID speed.** Inception features cost most of every evaluation on a CPU. On the same {record['n']:,} "
            f"CIFAR-10 images, fp32, {record['threads']} torch thread each (`benchmarks/bench_fid.py`, "
            f"{record['measured_at'][:10]}, commit {record['git_commit'][:7]}), `gngan.fid` extracts "
            f"{ips['best']['gngan']:.1f} images/s against {ips['best']['pytorch-fid']:.1f} for pytorch-fid's CLI path "
            f"(PNG files, its DataLoader with {record['pytorch_fid_workers']} workers, NCHW): **{up['best']:.2f}x** "
            f"(best of {record['repeats']} alternating runs each; median {up['median']:.2f}x; per CPU-second, counting "
            f"pytorch-fid's workers, {up['per_cpu_second']:.2f}x), which {met} the {FID_SPEED_TARGET}x we aimed for. "
            f"Same network and weights; the features differ by at most {record['max_abs_feature_difference']:.1g} "
            f"(float32 rounding)." + (f" Conditions: {record['note']}." if record.get("note") else ""))


def jpeg_fid_caveat(record: dict | None, quoted: dict) -> str:
    """The warning every CIFAR-10 chapter shows (a MyST admonition): our FIDs are computed on the offline JPEG
    mirror. ``record``: ``benchmarks/measure_jpeg_fid_shift.py``'s stored measurement (None: not measured yet);
    ``quoted``: what the data mirror's README reports (``gngan.images.DATA_README_JPEG``), shown beside ours."""
    said = (f"the data mirror's README reports {quoted['exact_vs_exact']:.1f} and {quoted['exact_vs_jpeg']:.1f} "
            f"with pytorch-fid on {quoted['n']:,} images per side, a shift of "
            f"{quoted['exact_vs_jpeg'] - quoted['exact_vs_exact']:.0f}, and a mean absolute error of "
            f"{quoted['mean_abs_error']} per 8-bit value")
    if record is None:
        measured = ("How far this moves FID has not been measured here yet (run "
                    "`benchmarks/measure_jpeg_fid_shift.py`): for exact images against other exact images and against "
                    f"the JPEG copies of other images, {said}.")
    else:
        n = record["n"]
        rows = [["exact vs other exact images", f"{record['exact_vs_exact']:.1f}"],
                ["exact vs the JPEG copies of other images", f"{record['exact_vs_jpeg']:.1f}"],
                ["JPEG vs the JPEG copies of other images (what our runs compare)", f"{record['jpeg_vs_jpeg']:.1f}"],
                ["exact vs the JPEG copies of the same images", f"{record['same_images']:.1f}"]]
        measured = (f"Measured here (`benchmarks/measure_jpeg_fid_shift.py`: {n:,} exact training images against the "
                    f"next {n:,}, pytorch-fid's network and formula, {record['precision']}, {record['measured_at'][:10]}, "
                    f"commit {record['git_commit'][:7]}):\n\n" + markdown_table(["images compared", "FID"], rows)
                    + f"\n\nThe mirror moves an FID against exact images by "
                    f"{record['exact_vs_jpeg'] - record['exact_vs_exact']:.1f} points, and its mean absolute error is "
                    f"{record['mean_abs_error']:.1f} per 8-bit value ({said}). JPEG against JPEG gives "
                    f"{record['jpeg_vs_jpeg']:.1f}, exact against exact {record['exact_vs_exact']:.1f}: "
                    + ("so comparing JPEG images with JPEG images, as our runs do, keeps FID's scale; "
                       if abs(record['jpeg_vs_jpeg'] - record['exact_vs_exact']) < 1 else
                       "so even comparing JPEG images with JPEG images, as our runs do, changes FID's scale; ")
                    + "what it cannot give is numbers on the paper's (exact-pixel) scale.")
    return ("```{admonition} Our CIFAR-10 FIDs are not the paper's FIDs\n:class: warning\n"
            "This machine cannot download CIFAR-10, so training and the 10K reference images come from the offline "
            "mirror of all 60,000 images saved as **JPEG quality 75**. We use it consistently (the generator learns "
            "JPEG images and is compared with JPEG images), but the numbers are not comparable with FIDs on exact "
            f"pixels. {measured}\n\nAt the `cpu` budget FID also uses 1,000 generated images instead of 5,000, which "
            "biases it upward (the same for every method, so the methods still compare). The data source of each run "
            "is stored with its result (`data_source`).\n```")


def verdict_summary(results: dict[str, list[dict]], labels: dict[str, str], paper: dict,
                    key: str = "covered_modes", paper_key: str = "registered_modes") -> str:
    """Markdown bullets grouping the methods of ``paper_comparison_rows`` by verdict (and, for the
    differences, by the direction ``compare_with_paper`` found)."""
    groups: dict[str, list[str]] = {}
    for m, runs in results.items():
        if m not in paper:
            continue
        out = compare_with_paper([r["final"][key] for r in runs], *paper[m][paper_key])
        verdict = out["verdict"] or "no verdict (one seed)"
        if verdict == "not reproduced":
            verdict = f"not reproduced, ours {out['direction']}"
        groups.setdefault(verdict, []).append(labels.get(m, m))
    order = ["reproduced", "partly", "not reproduced, ours higher", "not reproduced, ours lower"]
    keys = [k for k in order if k in groups] + [k for k in groups if k not in order]
    return "\n".join(f"- **{k}**: {', '.join(groups[k])}" for k in keys)


def weak_seeds(results: dict[str, list[dict]], labels: dict[str, str], key: str = "covered_modes",
               below: float = 20) -> list[list]:
    """[method, seeds below the threshold with their final values, their best value during training and where,
    count] for methods with any such seed: a seed that never got there differs from one that got there and
    lost it."""
    rows = []
    for m, runs in results.items():
        low = [r for r in runs if r["final"][key] < below]
        if not low:
            continue
        finals = ", ".join(f"seed {r['manifest']['seed']}: {r['final'][key]:g}" for r in low)
        best = []
        for r in low:
            top = max(r["history"], key=lambda h: h.get(key, float("-inf")))
            best.append(f"seed {r['manifest']['seed']}: {top[key]:g} at {top['step']:,}")
        rows.append([labels.get(m, m), finals, ", ".join(best), f"{len(low)} of {len(runs)}"])
    return rows


def late_training_rows(results: dict[str, list[dict]], labels: dict[str, str], key: str = "covered_modes",
                       below: float = 20) -> list[list]:
    """How steady each method is after the middle of training, not only at its last evaluation: [method,
    final (mean ± std over seeds), mean over the last tenth of the evaluations (mean ± std over seeds), the
    lowest value of each seed in the second half (mean ± std, and the lowest of all), seeds that fell below
    ``below`` at some evaluation of the second half]."""
    rows = []
    for m, runs in results.items():
        hist = np.array([[h[key] for h in r["history"]] for r in runs], dtype=float)
        n = hist.shape[1]
        late = hist[:, n - max(1, n // 10):].mean(1)
        low = hist[:, n // 2:].min(1)
        rows.append([labels.get(m, m), mean_std([r["final"][key] for r in runs]), mean_std(late),
                     f"{mean_std(low)} (lowest {low.min():g})", f"{int((low < below).sum())} of {len(runs)}"])
    return rows


def sensitivity_rows(check_results: dict[str, list[dict]], checks: dict[str, tuple], table_results: dict[str, list[dict]],
                     paper: dict, labels: dict[str, str], key: str = "covered_modes",
                     paper_key: str = "registered_modes") -> list[list]:
    """Per stored sensitivity check: what it changes, its mean ± std, the probed method's (our default
    setting) and the paper's value."""
    rows = []
    for k, runs in check_results.items():
        _, probe, what = checks[k]
        default = mean_std([r["final"][key] for r in table_results[probe]]) if probe in table_results else "—"
        theirs = "{:.2f} ± {:.2f}".format(*paper[probe][paper_key]) if probe in paper else "—"
        rows.append([labels.get(probe, probe), what, len(runs), mean_std([r["final"][key] for r in runs]), default, theirs])
    return rows


def remaining_rows(rows: list[dict], labels: dict[str, str]) -> list[list]:
    """``experiments.remaining_work`` as table rows: section, method, seeds, resume point, estimated hours."""
    return [[r["section"], labels.get(r["method"], r["method"]), len(r["seeds"]),
             f"{r['resume_from']:,} of {r['num_steps']:,}",
             "not measured" if r["hours"] is None else f"{r['hours']:.1f}"] for r in rows]


def fan_out_command(section: str, budget: str) -> str:
    """The one command that trains a section's missing runs at ``budget`` as parallel jobs (``gngan.launch``): two
    one-thread CPU jobs at cpu, SLURM jobs at paper (a reader with a cluster fills in the partition and the time
    limit; one machine with four GPUs: ``--launcher local --gpus 0,1,2,3``)."""
    if budget == "paper":
        return (f"python -m gngan section {section} --budget paper --launcher slurm --partition <partition> "
                "--time-min <minutes per job>")
    return f"python -m gngan section {section} --budget {budget} --launcher local --jobs 2"


def untrained_note(configs: dict[str, list], results: dict[str, list[dict]], too_long: dict[str, float],
                   progress: dict[str, list[dict]], labels: dict[str, str], budget: str = "cpu",
                   section: str | None = None) -> str:
    """What an image chapter did not train (``experiments.split_by_cost``'s estimated minutes), which of those
    methods show only some of their seeds (``results`` from ``run_section(..., untrained=too_long)``), and
    where runs stand that are in progress (``experiments.in_progress``: progress reports, not results); with
    ``section``, the command that fans the untrained runs out (``fan_out_command``).
    At the gpu budget, which trains elsewhere, the missing runs and their commands (``gpu_missing_note``).
    Empty when everything is trained."""
    if budget == "gpu":
        return gpu_missing_note(configs, results, labels)
    parts = []
    if too_long:
        parts.append("**Not trained by this notebook (too long, or another process is training them; train them "
                     "from the command line, see Rerun):**\n\n"
                     + markdown_table(["method", "estimated minutes, one core"],
                                      [[labels.get(m, m), f"{v:.0f}"] for m, v in too_long.items()])
                     + (f"\n\nOne command fans them out as parallel jobs, resumably: `{fan_out_command(section, budget)}`"
                        if section else ""))
    partly = [f"{labels.get(m, m)}: {len(results[m])} of {len(configs[m])} seeds" for m in too_long if m in results]
    if partly:
        parts.append("**Partly trained (the stored seeds are shown below, each table says how many):** "
                     + "; ".join(partly))
    if progress:
        parts.append("**In progress (not results):** " + "; ".join(
            f"{labels.get(m, m)}: iteration {recs[0]['step']:,}" for m, recs in progress.items()))
    return "\n\n".join(parts)


def seed_span(seeds: list[int]) -> str:
    """Seeds as text: a run of consecutive seeds as "0–9", others listed ("0, 2")."""
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def budget_line(shown: str, asked: str, configs: dict[str, list], device: str, hours: float | None = None,
                data_source: str | None = None) -> str:
    """The sentence a chapter states once, at its top, in prose: the budget it shows (and the one asked for, when
    they differ), the device it would train missing runs on, its methods, seeds and iterations; for image runs also
    the width, the FID protocol and the CIFAR-10 source (``gngan.images.CIFAR10_SOURCE_LABELS``); and, where
    measured, the estimated CPU-hours to train them all."""
    from gngan.images import CIFAR10_SOURCE_LABELS

    first = next(iter(configs.values()))[0]
    seeds = sorted({c.seed for cfgs in configs.values() for c in cfgs})
    text = (f"**Ran at:** the `{shown}` budget" + (f" (asked for: `{asked}`)" if shown != asked else "")
            + f", device `{device}` for any run trained here: {len(configs)} method{'s' if len(configs) > 1 else ''}, "
            f"seed{'s' if len(seeds) > 1 else ''} {seed_span(seeds)}, {first.num_steps:,} iterations per run")
    if data_source is not None:
        text += (f", width {first.width:g}, FID of {first.fid_fake:,} generated vs {first.fid_real:,} real images "
                 f"every {first.eval_every:,} iterations; data: {CIFAR10_SOURCE_LABELS.get(data_source, data_source)}")
    if hours is not None:
        text += f"; about {hours:.1f} CPU-hours (one thread) to train them all"
    return text + "."


def _duration(seconds: float) -> str:
    return _hours(seconds / 3600)


def budget_facts(results: dict[str, list[dict]]) -> dict:
    """What the stored runs of one budget were: iterations, width, FID sample counts, the hardware
    (``device_name`` of the manifests) and the training wall times per run, from their manifests."""
    mans = [r["manifest"] for runs in results.values() for r in runs]
    cfgs = [m["config"] for m in mans]
    walls = [m["wall_time_s"] for m in mans]
    return {"runs": len(mans), "steps": sorted({m["num_steps"] for m in mans}),
            "width": sorted({c.get("width") for c in cfgs}), "fid_fake": sorted({c.get("fid_fake") for c in cfgs}),
            "fid_real": sorted({c.get("fid_real") for c in cfgs}),
            "hardware": sorted({f"{m.get('device_name') or 'unknown'} ({m['device']})" for m in mans}),
            "wall_min": min(walls), "wall_max": max(walls), "wall_sum": sum(walls)}


def _budget_words(facts: dict) -> str:
    join = lambda xs, fmt="{:,}": "/".join(fmt.format(x) for x in xs)
    return (f"{join(facts['steps'])} iterations per run, width {join(facts['width'], '{:g}')}, FID of "
            f"{join(facts['fid_fake'])} generated vs {join(facts['fid_real'])} real images, trained on "
            f"{', '.join(facts['hardware'])}")


def shown_budget_note(results: dict[str, list[dict]], shown: str, requested: str, gpu_status: dict | None) -> str:
    """The line an image chapter shows under its runs saying which budget its numbers come from
    (``experiments.shown_budget``): the gpu budget's iterations, hardware and wall time once it is the one shown;
    the progress of the gpu budget while only part of it is stored (progress, not results). Empty otherwise, so a
    chapter without gpu runs reads as before."""
    if shown == "gpu" and results:
        f = budget_facts(results)
        walls = (f"{_duration(f['wall_min'])}" if f["wall_min"] == f["wall_max"]
                 else f"{_duration(f['wall_min'])} to {_duration(f['wall_max'])}")
        text = (f"**Shown: the `gpu` budget** ({f['runs']} runs): {_budget_words(f)}; training wall time "
                f"{walls} per run ({_duration(f['wall_sum'])} summed over the runs; the gpu budget trains many runs "
                f"at once on one GPU).")
        if requested != shown:
            text += (f" Every run of the gpu budget is stored, so it replaces the `{requested}` budget as this "
                     f"chapter's numbers; the `{requested}` runs are summarised at the end of the results.")
        return text
    if gpu_status and shown == "cpu" and 0 < gpu_status["stored"] < gpu_status["runs"]:
        return (f"**The `gpu` budget is in progress:** {gpu_status['stored']} of its {gpu_status['runs']} runs are "
                f"stored. They are progress, not results: this chapter shows the `{shown}` budget until every gpu "
                f"run is stored.")
    return ""


def gpu_missing_note(configs: dict[str, list], results: dict[str, list[dict]], labels: dict[str, str]) -> str:
    """At the gpu budget: the runs not stored yet and how they are made (never on this machine: image runs at
    gpu size would take days on a CPU). Empty when every run is stored."""
    from gngan.experiments import GPU_COMMANDS

    stored = {m: {r["manifest"]["seed"] for r in results.get(m, [])} for m in configs}
    missing = [[labels.get(m, m), ", ".join(str(c.seed) for c in cfgs if c.seed not in stored[m])]
               for m, cfgs in configs.items() if any(c.seed not in stored[m] for c in cfgs)]
    if not missing:
        return ""
    return ("**Not stored yet at the `gpu` budget** (its runs are never trained by this notebook: at full width and "
            f"20K iterations they would take days on a CPU). Train them on a machine with an H200 with "
            f"`{GPU_COMMANDS[0]}`, then store them here with `{GPU_COMMANDS[1]}`:\n\n"
            + markdown_table(["method", "seeds missing"], missing))


def other_budget_table(results: dict[str, list[dict]], labels: dict[str, str], budget: str) -> str:
    """The runs of a budget the chapter no longer shows as its numbers (the cpu runs once the gpu budget is
    complete), as a compact final-FID table under a heading that names the budget."""
    if not results:
        return f"### At the `{budget}` budget\n\nNo run of the `{budget}` budget is stored."
    f = budget_facts(results)
    rows = [[r[0], r[1], r[2], r[3]] for r in fid_rows(results, labels, {})]
    return (f"### At the `{budget}` budget\n\nThe same methods at the `{budget}` budget ({_budget_words(f)}), the "
            f"numbers this chapter showed before the gpu runs were stored. Their FIDs are not on the gpu runs' scale "
            f"(fewer iterations, a narrower network, fewer generated images).\n\n"
            + markdown_table(["method", f"FID at the {budget} budget", "at iteration", "seeds"], rows))


def previous_readings_table(current: dict[str, list[dict]], previous: dict[str, list[dict]],
                            configs: dict[str, list], labels: dict[str, str]) -> str:
    """The runs retrained because a reading changed (issue #18), beside the runs of the previous reading: per
    ``<method>_previous`` in ``previous`` (stored runs), the fields that changed (the previous config against the
    current one in ``configs``), its final FID and that of ``current[<method>]`` or "not retrained yet". Empty
    when no previous run is stored."""
    from gngan.config import RunConfig
    from gngan.experiments import previous_reading

    def final(row: list) -> str:
        return f"{row[1]} (at {row[2]}, {row[3]} seed{'s' if row[3] > 1 else ''})"

    rows = []
    for key, runs in previous.items():
        method = previous_reading(key)
        old = RunConfig.from_dict(runs[0]["manifest"]["config"]).diff(configs[method][0])
        changed = ", ".join(f"`{f}` {a} → {b}" for f, (a, b) in sorted(old.items()) if f != "seed")
        fid = {k: fid_rows({k: r}, labels, {})[0] for k, r in ((key, runs), (method, current.get(method))) if r}
        rows.append([labels.get(method, method), changed, final(fid[key]),
                     final(fid[method]) if method in fid else "not retrained yet"])
    if not rows:
        return ""
    return ("### What the changed readings changed\n\nA reading of the paper changed for these methods "
            "([ledger](../reading-the-paper.md)), so their runs are retrained under the current reading; the runs "
            "of the previous reading stay stored, as `<method>_previous`, and are shown here for one turn.\n\n"
            + markdown_table(["method", "reading changed (previous → current)", "final FID, previous reading",
                              "final FID, current reading"], rows))


def rerun_command(section: str, budget: str) -> str:
    """The command that trains a section's runs at ``budget``, as the Rerun tables show it (inside backticks)."""
    from gngan.experiments import GPU_COMMANDS

    if budget == "gpu":
        return f"{GPU_COMMANDS[0]}` on a machine with an H200, then `{GPU_COMMANDS[1]}"
    return f"python -m gngan section {section} --budget {budget}" + (" --device cuda" if budget == "paper" else "")


# Tuned baselines (experiments.GRID2D_SWEEP; issue #18 item 7)
def sweep_rows(sweep_results: dict[str, list[dict]], sweep: dict[str, tuple], choices: dict[str, str | None],
               labels: dict[str, str], num_seeds: int) -> list[list]:
    """One row per sweep setting, in the sweep's order: the method tuned, what changes, stored runs of
    ``num_seeds``, registered modes and registered points (mean ± std over the seeds at the sweep's last
    iteration), and **chosen** on the winner of a complete sweep (``choices``: experiments.sweep_choices)."""
    rows = []
    for k, (_, m, what, _) in sweep.items():
        runs = sweep_results.get(k, [])
        stat = [mean_std([r["final"][key] for r in runs]) if runs else "—" for key in ("covered_modes", "registered_points")]
        rows.append([labels.get(m, m), what, f"{len(runs)} of {num_seeds}", *stat,
                     "**chosen**" if choices.get(m) == k else ""])
    return rows


def tuned_rows(results: dict[str, list[dict]], tuned_results: dict[str, list[dict]], choices: dict[str, str | None],
               sweep: dict[str, tuple], num_seeds: int) -> tuple[dict[str, list[dict]], list[str]]:
    """(Table 2 with its baselines tuned: {method: runs}, [swept methods whose tuned row is not stored yet]).
    A swept method's row is ``tuned_results["<method>_tuned"]`` once all ``num_seeds`` are stored, its shared-protocol
    row in ``results`` where its sweep chose the shared protocol; the other methods (GN-GAN: the paper's stated
    settings, and ours) keep their rows in ``results``."""
    out, missing = {}, []
    for m in [*results, *(m for m in choices if m not in results)]:
        if m not in choices:
            out[m] = results[m]
            continue
        k = choices[m]
        shared = k is not None and sweep[k][3] == "shared"
        tuned = results.get(m, []) if shared else tuned_results.get(f"{m}_tuned", [])
        if k is None or len(tuned) < num_seeds:
            missing.append(m)
        else:
            out[m] = tuned
    return out, missing


def tuned_table_rows(results: dict[str, list[dict]], tuned_results: dict[str, list[dict]],
                     choices: dict[str, str | None], sweep: dict[str, tuple], labels: dict[str, str], paper: dict,
                     num_seeds: int, key: str = "covered_modes", paper_key: str = "registered_modes") -> list[list]:
    """Per swept method: its shared-protocol row, the setting its sweep chose, its tuned row (mean ± std of ``key``
    over the seeds, with the count) or why there is none yet, and the paper's row."""
    rows = []
    for m, k in choices.items():
        shared = results.get(m, [])
        shared_text = f"{mean_std([r['final'][key] for r in shared])} ({len(shared)})" if shared else "—"
        if k is None:
            setting, tuned = "sweep not complete", "—"
        elif sweep[k][3] == "shared":
            setting, tuned = sweep[k][2], f"{shared_text}, the shared row" if shared else "—"
        else:
            runs = tuned_results.get(f"{m}_tuned", [])
            setting = sweep[k][2]
            tuned = (f"{mean_std([r['final'][key] for r in runs])} ({len(runs)})" if len(runs) >= num_seeds
                     else f"not trained yet ({len(runs)} of {num_seeds} seeds)")
        theirs = "{:.2f} ± {:.2f}".format(*paper[m][paper_key]) if m in paper else "—"
        rows.append([labels.get(m, m), shared_text, setting, tuned, theirs])
    return rows


def tuned_rank_agreement(results: dict[str, list[dict]], tuned_results: dict[str, list[dict]],
                         choices: dict[str, str | None], sweep: dict[str, tuple], paper: dict, num_seeds: int) -> dict:
    """Spearman rho of registered modes, ours vs the paper's, on Table 2 with its baselines tuned (``tuned_rows``),
    as the paper ranked its tuned baselines: ``rank_agreement``'s dict plus ``not_tuned``, the swept methods whose
    tuned row is missing; while any is, rho and p_value are None (no ranking of half-tuned rows)."""
    rows, missing = tuned_rows(results, tuned_results, choices, sweep, num_seeds)
    if missing:
        return {"methods": [m for m in rows if m in paper], "rho": None, "p_value": None, "not_tuned": missing}
    return {**rank_agreement(rows, paper), "not_tuned": []}
