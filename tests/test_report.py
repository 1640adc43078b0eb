import warnings

import numpy as np
import pytest

from gngan import report


def _result(seed, together, commit="a" * 40, dirty=False, segments=None, covered=3, registered=1990):
    man = {"seed": seed, "trained_together": together, "num_steps": 10, "device": "cpu", "torch_threads": 1,
           "wall_time_s": 12.0, "git": {"commit": commit, "dirty": dirty}, "torch_version": "2.x"}
    if segments is not None:
        man["git_segments"] = segments
    return {"manifest": man, "final": {"covered_modes": covered, "registered_points": registered}}


def test_manifest_groups_seeds_trained_together():
    results = {"m": [_result(0, [0, 1]), _result(1, [0, 1]), _result(2, [2], dirty=True)]}
    rows = report.manifest_rows(results, {"m": "M"})
    assert len(rows) == 2
    assert rows[0][1] == "0, 1" and "2 seeds together" in rows[0][4] and rows[0][5] == "aaaaaaaaaa"
    assert rows[1][5] == "aaaaaaaaaa+dirty"
    assert rows[0][4] == "12 s for 2 seeds together"  # runs from before eval_time_s: training time only
    timed = _result(0, [0])
    timed["manifest"]["eval_time_s"] = 30.4
    (row,) = report.manifest_rows({"m": [timed]}, {})
    assert row[4] == "12 s training, + 30 s evaluating and checkpointing"
    assert row[3] == "cpu (1 thread)"
    timed["manifest"]["torch_threads"] = 2
    assert report.manifest_rows({"m": [timed]}, {})[0][3] == "cpu (2 threads)"


def test_manifest_names_every_commit_of_a_resumed_run():
    seg = [{"commit": "b" * 40, "dirty": False, "from_step": 0}, {"commit": "c" * 40, "dirty": False, "from_step": 5}]
    (row,) = report.manifest_rows({"m": [_result(0, [0], segments=seg)]}, {})
    assert row[5] == "bbbbbbbbbb (from step 0), cccccccccc (from step 5)"


def test_toy1d_verdict_rule():
    def summary(gn, dist):
        res = {"g": [_result(i, [i], covered=c) for i, c in enumerate(gn)],
               "d": [_result(i, [i], covered=c) for i, c in enumerate(dist)]}
        return report.coverage_summary(res, {}, num_modes=3)

    assert report.toy1d_verdict(summary([3, 3, 2, 3], [2, 2, 2, 3]), "cpu").startswith("**Reproduced**")
    assert report.toy1d_verdict(summary([3, 2, 2, 2], [2, 2, 2, 2]), "cpu").startswith("**Partly reproduced**")
    assert report.toy1d_verdict(summary([3, 3, 2, 2], [3, 3, 3, 2]), "cpu").startswith("**Not reproduced**")
    assert "no verdict" in report.toy1d_verdict(summary([3], [2]), "smoke")


def _r2(covered, points=1000):
    return {"manifest": {}, "final": {"covered_modes": covered, "registered_points": points, "tv_true": 0.5,
                                      "tv_differential": 0.25}}


def test_table2_and_rank_agreement():
    paper = {"a": {"registered_modes": (20.0, 1.0), "registered_points": (1.0, 0.0), "tv_true": (1.0, 0.0),
                   "tv_differential": (1.0, 0.0)},
             "b": {"registered_modes": (10.0, 1.0)}, "c": {"registered_modes": (15.0, 1.0)}}
    results = {"a": [_r2(24), _r2(22)], "b": [_r2(10), _r2(12)], "c": [_r2(18), _r2(14)], "d": [_r2(1)]}
    rows = report.table2_rows(results, {}, paper)
    assert rows[0][:3] == ["a", 2, "23.00 ± 1.41 \\| 20.00 ± 1.00"]
    assert rows[3][2].endswith("\\| —")
    agree = report.rank_agreement(results, paper)
    assert agree["methods"] == ["a", "b", "c"] and agree["rho"] == 1.0
    results["c"] = [_r2(30)]
    assert report.rank_agreement(results, paper)["rho"] == 0.5


def test_spread_comparison():
    results = {"ref": [_r2(24), _r2(25), _r2(23)], "x": [_r2(10), _r2(12), _r2(11)], "y": [_r2(23), _r2(25), _r2(24)]}
    rows = {r[0]: r for r in report.spread_comparison(results, {}, "ref")}
    assert rows["x"][1] == "+13.00" and rows["x"][3] == "yes" and float(rows["x"][4]) < 0.01
    assert rows["y"][1] == "+0.00" and rows["y"][3] == "no"


def test_spread_comparison_welch_p_by_hand_and_quiet_for_a_zero_spread_method():
    results = {"ref": [_r2(24), _r2(25), _r2(23)], "z": [_r2(25), _r2(25), _r2(25)]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = report.spread_comparison(results, {}, "ref")[0]
    # Welch: t = (24 - 25) / sqrt(1/3 + 0/3) = -sqrt(3), with df = n_ref - 1 = 2 when the other side has no spread
    from scipy.stats import t as student_t
    assert float(row[4]) == pytest.approx(2 * student_t.sf(np.sqrt(3), 2), abs=5e-4)


def test_measured_seconds_per_iteration_takes_the_slowest_group():
    a, b = _result(0, [0]), _result(1, [1])
    b["manifest"]["wall_time_s"] = 30.0
    assert report.measured_seconds_per_iteration({"m": [a, b]}) == {"m": 3.0}


def test_two_process_hours_balances_longest_first():
    assert report.two_process_hours([3.0, 2.0, 2.0]) == 4.0
    assert report.two_process_hours([5.0]) == 5.0
    assert report.two_process_hours([]) == 0.0


def test_rerun_rows_estimate_from_measured_cost_and_name_what_is_unmeasured():
    from gngan.config import RunConfig

    cfgs = {"a": [RunConfig(num_steps=3600, seed=s) for s in range(4)],
            "b": [RunConfig(num_steps=3600, seed=s) for s in range(4)],
            "c": [RunConfig(num_steps=3600, seed=s) for s in range(4)]}
    plans = {"cpu": {"command": "python -m gngan section x", "configs": cfgs, "where": "results/x/cpu/"}}
    (row,) = report.rerun_rows(plans, {"a": 2.0, "b": 1.0})
    assert row[2] == "3 methods × 4 seeds" and row[3] == "3,600"
    assert row[4] == "3.0 h on one core; 2.0 h as two processes (plus c: not measured)"
    (row,) = report.rerun_rows(plans, {})
    assert row[4] == "not measured"


def test_rerun_rows_gpu_column_scales_the_one_core_hours():
    from gngan.config import RunConfig

    cfgs = {"a": [RunConfig(num_steps=3600, seed=s) for s in range(2)],
            "b": [RunConfig(num_steps=3600, seed=0)]}
    plans = {"paper": {"command": "c", "configs": cfgs, "where": "w"}}
    # MLP seeds train stacked: a's group costs 1 h, b 1 h; x 0.25 on the GPU
    (row,) = report.rerun_rows(plans, {"a": 1.0, "b": 1.0}, gpu_factor=0.25)
    assert row[4] == "2.0 h on one core; 1.0 h as two processes" and row[5] == "30 min" and row[6] == "`w`"
    (row,) = report.rerun_rows(plans, {"a": 1.0}, gpu_factor=0.25)
    assert row[5] == "15 min (plus b: not measured)"
    (row,) = report.rerun_rows(plans, {"a": 1234.0, "b": 1.0})
    assert row[4].startswith("1,235 h on one core")
    assert "GPU" in report.rerun_table(plans, {"a": 1.0}, gpu_factor=0.5).splitlines()[0]
    assert "GPU" not in report.rerun_table(plans, {"a": 1.0}).splitlines()[0]


def test_image_cost_note_takes_every_number_from_the_stored_timings():
    timing = {"seconds_per_iteration": {"s/a width=1.0": 2.31, "s/b width=1.0": 9.5, "s/a width=0.5": 0.5},
              "fid_seconds_per_image": 0.123, "threads": 1, "batch_size": 64, "measured_at": "2026-12-01T14:00"}
    note = report.image_cost_note(timing, {"factor": 43 / 860, "paper_ms": 43.0, "our_ms": 860.0})
    for number in ("123 ms", "2.3-9.5 s", "43 ms", "860 ms", "1/20.0", "2026-12-01"):
        assert number in note, number
    assert "No GPU estimate" in report.image_cost_note(timing, None)
    assert "no wall time" in report.image_cost_note(None, None)


def _fid_runs(curves):
    return [{"final": {"fid": c[-1], "step": 10 * (len(c) - 1)},
             "history": [{"step": 10 * i, "fid": v} for i, v in enumerate(c)]} for c in curves]


def test_fid_rows_and_the_faster_convergence_rule():
    res = {"orig": _fid_runs([[400, 300, 200], [400, 310, 220]]), "both": _fid_runs([[400, 250, 150], [400, 240, 160]])}
    rows = report.fid_rows(res, {"both": "NE+GM"}, {"both": "20.0"})
    assert rows[1] == ["NE+GM", "155.00 ± 7.07", "20", 2, "20.0"] and rows[0][4] == "—"
    out = report.faster_at_every_evaluation(res, "both", "orig")
    assert out["steps"] == [10, 20] and out["difference"] == [60.0, 55.0]
    assert out["lower_everywhere"] and out["beyond_spread"] and out["seeds"] == 2
    res["both"] = _fid_runs([[400, 320, 150], [400, 300, 160]])
    out = report.faster_at_every_evaluation(res, "both", "orig")
    assert not out["lower_everywhere"] and not out["beyond_spread"]


def test_gm_timing_table_reads_every_number_from_the_record():
    record = {"ms": {"without_gm": 800.0, "gm_double": 1500.4, "gm_linear": 960.6},
              "ratio": {"gm_double": 1.8755, "gm_linear": 1.2007}, "flop_ratio": {"gm_double": 1.683, "gm_linear": 1.171},
              "threads": 1, "torch_version": "2.x", "measured_at": "2026-12-01T14:00:00+00:00"}
    rows = report.gm_timing_rows(record, {"with_gm": 53.0, "without_gm": 43.0})
    assert rows[0][1:4] == ["53", "43", "1.23"]
    assert rows[1][1:] == ["1500", "800", "1.88", "1.68"]
    assert rows[2][1:] == ["961", "800", "1.20", "1.17"]
    assert "2026-12-01" in rows[1][0] and "linearized" in rows[2][0]


def test_compare_with_paper_rule_and_p_values():
    import math

    from scipy import stats

    ours = [23, 23, 25, 1, 1, 16, 0, 13]
    out = report.compare_with_paper(ours, 14.25, 2.49)
    # Welch's t-test and the F-test written out by hand
    m, s, n = np.mean(ours), np.std(ours, ddof=1), len(ours)
    se2 = s ** 2 / n + 2.49 ** 2 / 8
    t = (m - 14.25) / math.sqrt(se2)
    df = se2 ** 2 / ((s ** 2 / n) ** 2 / (n - 1) + (2.49 ** 2 / 8) ** 2 / 7)
    assert out["welch_p"] == pytest.approx(2 * stats.t.sf(abs(t), df))
    assert out["f_p"] == pytest.approx(stats.f.sf(s ** 2 / 2.49 ** 2, n - 1, 7))
    assert out["verdict"] == "partly" and out["direction"] == "lower"
    assert report.compare_with_paper([25] * 8, 13.48, 2.31)["verdict"] == "not reproduced"
    assert report.compare_with_paper([25] * 8, 13.48, 2.31)["direction"] == "higher"
    assert report.compare_with_paper([24, 25, 24, 24, 25, 24, 25, 24], 24.39, 0.44)["verdict"] == "reproduced"
    assert report.compare_with_paper([25] * 8, 25.0, 0.0)["verdict"] == "reproduced"
    assert report.compare_with_paper([24, 25] * 4, 24.5, 0.0)["verdict"] == "partly"
    assert report.compare_with_paper([20], 24.39, 0.44)["verdict"] is None


def test_paper_comparison_rows_use_the_rule_per_method():
    runs = lambda vals: [{"final": {"covered_modes": v}} for v in vals]
    results = {"vae": runs([25] * 8), "ours_only": runs([3, 4]), "gan": runs([14, 15, 13, 14, 16, 12, 14, 15])}
    paper = {"vae": {"registered_modes": (13.48, 2.31)}, "gan": {"registered_modes": (14.25, 2.49)}}
    rows = report.paper_comparison_rows(results, {"vae": "VAE"}, paper)
    assert [r[0] for r in rows] == ["VAE", "gan"]
    assert rows[0][1:3] == ["25.00 ± 0.00", "13.48 ± 2.31"] and rows[0][5] == "not reproduced"
    assert rows[1][5] == "reproduced"


def test_bf16_note_follows_the_measurement():
    record = {"speedup": {"gngan_ne_gm": 0.35, "gan": 0.37}, "cpu_bf16_flags": [], "width": 0.5,
              "measured_at": "2026-12-01T14:25:00+00:00"}
    text = report.bf16_note(record)
    assert "gngan_ne_gm 0.35x, gan 0.37x" in text and "flags: none" in text and "not adopted" in text
    faster = dict(record, speedup={"gan": 1.8}, cpu_bf16_flags=["avx512_bf16"])
    assert "have not checked" in report.bf16_note(faster)
    assert "float32" in report.bf16_note(None)


def test_fid_speed_note_reports_the_stored_ratios_against_the_target():
    record = {"images_per_s": {"best": {"gngan": 19.4, "pytorch-fid": 11.5}},
              "speedup": {"best": 19.4 / 11.5, "median": 1.61, "per_cpu_second": 1.9}, "n": 500, "repeats": 3,
              "threads": 1, "pytorch_fid_workers": 2, "max_abs_feature_difference": 2.1e-5,
              "measured_at": "2026-12-02T13:00:00+00:00", "git_commit": "abcdef0123", "note": "busy"}
    text = report.fid_speed_note(record)
    assert "19.4 images/s against 11.5" in text and "**1.69x**" in text and "median 1.61x" in text
    assert "meets the 1.5x" in text and "commit abcdef0" in text and "2e-05" in text and "Conditions: busy." in text
    slow = dict(record, speedup=dict(record["speedup"], best=1.2))
    assert "misses the 1.5x" in report.fid_speed_note(slow)
    assert "Not measured" in report.fid_speed_note(None)


def test_verdict_summary_groups_rows_by_verdict_and_direction():
    runs = lambda vals: [{"final": {"covered_modes": v}} for v in vals]
    results = {"gan": runs([23, 23, 25, 1, 1, 16, 0, 13]), "vae": runs([25] * 8), "ali": runs([0, 7, 1, 1, 17, 1, 2, 7]),
               "beta_vae": runs([25] * 8), "ours_only": runs([3, 4])}
    paper = {"gan": {"registered_modes": (14.25, 2.49)}, "vae": {"registered_modes": (13.48, 2.31)},
             "ali": {"registered_modes": (17.81, 1.80)}, "beta_vae": {"registered_modes": (18.00, 2.33)}}
    labels = {"gan": "GAN", "vae": "VAE", "ali": "ALI", "beta_vae": "β-VAE"}
    assert report.verdict_summary(results, labels, paper).splitlines() == [
        "- **partly**: GAN", "- **not reproduced, ours higher**: VAE, β-VAE", "- **not reproduced, ours lower**: ALI"]


def test_weak_seeds_lists_seeds_below_the_threshold():
    def run(s, values):
        history = [{"step": 1000 * i, "covered_modes": v} for i, v in enumerate(values)]
        return {"manifest": {"seed": s}, "final": history[-1], "history": history}

    results = {"a": [run(0, [0, 25]), run(6, [0, 25, 24, 10])], "b": [run(0, [21]), run(1, [3, 24])]}
    assert report.weak_seeds(results, {"a": "A"}) == [["A", "seed 6: 10", "seed 6: 25 at 1,000", "1 of 2"]]


def test_sensitivity_rows_put_each_check_beside_its_default_and_the_paper():
    run = lambda v: {"final": {"covered_modes": v}}
    checks = {"vae_sigma_0.1": (None, "vae", "decoder std 0.1"), "ali_lr": (None, "ali", "lr 1e-4")}
    rows = report.sensitivity_rows({"vae_sigma_0.1": [run(10), run(12)], "ali_lr": [run(5)]}, checks,
                                   {"vae": [run(25), run(25)]}, {"vae": {"registered_modes": (13.48, 2.31)}},
                                   {"vae": "VAE"})
    assert rows[0] == ["VAE", "decoder std 0.1", 2, "11.00 ± 1.41", "25.00 ± 0.00", "13.48 ± 2.31"]
    assert rows[1] == ["ali", "lr 1e-4", 1, "5.00 ± 0.00", "—", "—"]


def test_remaining_rows_format_the_work_left():
    rows = [{"section": "02_2d", "method": "distgan", "seeds": list(range(8)), "num_steps": 195313,
             "resume_from": 60000, "hours": 1.917}, {"section": "01_1d", "method": "x", "seeds": [0],
                                                      "num_steps": 10, "resume_from": 0, "hours": None}]
    assert report.remaining_rows(rows, {"distgan": "Dist-GAN"}) == [
        ["02_2d", "Dist-GAN", 8, "60,000 of 195,313", "1.9"], ["01_1d", "x", 1, "0 of 10", "not measured"]]


def test_late_training_rows_read_the_second_half_of_each_history():
    def run(curve):
        return {"final": {"covered_modes": curve[-1]}, "history": [{"covered_modes": v} for v in curve]}

    # 10 evaluations: last tenth = the last one; second half = the last five
    steady, dips = [0, 5, 9, 25, 25, 25, 25, 25, 25, 25], [0, 5, 9, 25, 25, 25, 12, 25, 24, 24]
    rows = report.late_training_rows({"m": [run(steady), run(dips)]}, {"m": "M"})
    assert rows == [["M", "24.50 ± 0.71", "24.50 ± 0.71", "18.50 ± 9.19 (lowest 12)", "1 of 2"]]


def test_lead_summary_groups_methods_and_judges_the_claim_over_the_named_methods_only():
    results = {"ref": [_r2(24), _r2(25), _r2(23)], "low": [_r2(10), _r2(12), _r2(11)],
               "tie": [_r2(24), _r2(25), _r2(25)], "high": [_r2(30), _r2(31), _r2(30)]}
    text = report.lead_summary(results, {"ref": "R"}, "ref", claimed_over={"low"})
    assert text.startswith("In our runs, R covers clearly more modes (Welch p < 0.05) than low; ")
    assert "within the spread, than tie; clearly fewer than high." in text
    assert text.endswith("holds here.")  # "tie" and "high" are not among the methods the claim is about
    assert report.lead_summary(results, {}, "ref", claimed_over={"low", "tie"}).endswith("does not hold here.")
    assert report.lead_summary({"ref": results["ref"]}, {}, "ref", claimed_over=set()).startswith("No other method")
    same = {"ref": results["ref"], "same": [_r2(23), _r2(24), _r2(25)]}
    assert "covers as many on average as same." in report.lead_summary(same, {}, "ref", claimed_over={"same"})


def test_untrained_note_names_what_is_left_what_is_partly_shown_and_what_runs():
    configs = {"a": [0, 1], "b": [0, 1], "c": [0, 1]}  # only the seed count matters
    results = {"a": [{}, {}], "b": [{}]}
    note = report.untrained_note(configs, results, {"b": 31.4, "c": 68.0}, {"b": [{"step": 1200}]},
                                 {"a": "A", "b": "B", "c": "C"})
    assert "| B | 31 |\n| C | 68 |" in note
    assert "**Partly trained (the stored seeds are shown below, each table says how many):** B: 1 of 2 seeds" in note
    assert note.endswith("**In progress (not results):** B: iteration 1,200")
    assert report.untrained_note(configs, results, {}, {}, {}) == ""


def test_a_pair_short_of_the_rule_says_by_how_much():
    assert report.faster_shortfall({"difference": [5.0, -1.0, 9.0], "pooled_std": [1.0, 1.0, 1.0],
                                    "lower_everywhere": False, "seeds": 2}) == "lower at 2 of 3 evaluations"
    assert report.faster_shortfall({"difference": [5.0, 2.0, 9.0], "pooled_std": [1.0, 3.0, 1.0],
                                    "lower_everywhere": True, "seeds": 2}) == (
        "lower at every evaluation, beyond the spread at 2 of 3")
    assert report.faster_shortfall({"difference": [5.0], "pooled_std": [0.0], "lower_everywhere": True,
                                    "seeds": 1}) == "one seed: no spread to judge by"
    assert report.faster_outcome({"difference": [5.0], "pooled_std": [1.0], "lower_everywhere": True,
                                  "beyond_spread": True, "seeds": 2}) == report.FASTER
    assert report.faster_outcome({"difference": [-5.0], "pooled_std": [1.0], "lower_everywhere": False,
                                  "beyond_spread": False, "seeds": 2}) == "not separated: lower at 0 of 1 evaluations"


def test_jpeg_caveat_shows_our_measurement_beside_the_quoted_one():
    quoted = {"exact_vs_exact": 25.0, "exact_vs_jpeg": 42.0, "mean_abs_error": 5.8, "n": 2000}
    record = {"exact_vs_exact": 24.61, "exact_vs_jpeg": 40.14, "jpeg_vs_jpeg": 25.26, "same_images": 12.0,
              "mean_abs_error": 5.83, "n": 1500, "precision": "fp32", "measured_at": "2026-12-02T09:00:00+00:00",
              "git_commit": "abcdef0123"}
    text = report.jpeg_fid_caveat(record, quoted)
    assert text.startswith("```{admonition} Our CIFAR-10 FIDs are not the paper's FIDs\n:class: warning\n")
    assert text.endswith("\n```")
    assert "1,500 exact training images against the next 1,500" in text and "commit abcdef0" in text
    assert "| exact vs other exact images | 24.6 |" in text
    assert "| exact vs the JPEG copies of other images | 40.1 |" in text
    assert "| JPEG vs the JPEG copies of other images (what our runs compare) | 25.3 |" in text
    assert "by 15.5 points, and its mean absolute error is 5.8 per 8-bit value" in text
    assert "README reports 25.0 and 42.0 with pytorch-fid on 2,000 images per side, a shift of 17" in text
    assert "JPEG against JPEG gives 25.3, exact against exact 24.6: so comparing JPEG images with JPEG images" in text
    assert "changes FID's scale" in report.jpeg_fid_caveat({**record, "jpeg_vs_jpeg": 30.0}, quoted)
    missing = report.jpeg_fid_caveat(None, quoted)
    assert "has not been measured here yet" in missing and "| " not in missing and "25.0 and 42.0" in missing


def _gpu_run(seed, fid, wall, steps=20_000, device_name="NVIDIA H200"):
    cfg = {"num_steps": steps, "width": 1.0, "fid_fake": 5_000, "fid_real": 10_000}
    man = {"seed": seed, "num_steps": steps, "device": "cuda", "device_name": device_name, "wall_time_s": wall,
           "config": cfg}
    return {"manifest": man, "final": {"step": steps, "fid": fid}, "history": [{"step": steps, "fid": fid}]}


def test_shown_budget_note_names_budget_iterations_hardware_and_wall_time():
    results = {"a": [_gpu_run(0, 40.0, 600.0), _gpu_run(1, 42.0, 900.0)], "b": [_gpu_run(0, 50.0, 1500.0)]}
    note = report.shown_budget_note(results, "gpu", "cpu", {"runs": 3, "stored": 3})
    assert note.startswith(
        "**Shown: the `gpu` budget** (3 runs): 20,000 iterations per run, width 1, FID of 5,000 generated vs 10,000 "
        "real images, trained on NVIDIA H200 (cuda); training wall time 10 min to 25 min per run (50 min summed over "
        "the runs; ")
    assert "replaces the `cpu` budget" in note
    assert "replaces" not in report.shown_budget_note(results, "gpu", "gpu", None)
    # part of the gpu budget stored: progress, not results; nothing at all or at smoke: the chapter reads as before
    assert report.shown_budget_note({}, "cpu", "cpu", {"runs": 4, "stored": 3}) == (
        "**The `gpu` budget is in progress:** 3 of its 4 runs are stored. They are progress, not results: this "
        "chapter shows the `cpu` budget until every gpu run is stored.")
    assert report.shown_budget_note({}, "cpu", "cpu", {"runs": 4, "stored": 0}) == ""
    assert report.shown_budget_note({}, "smoke", "smoke", {"runs": 4, "stored": 3}) == ""


def test_other_budget_table_and_gpu_missing_note():
    from types import SimpleNamespace

    cpu = {"a": [_gpu_run(0, 300.0, 60.0, steps=1000, device_name="x86_64"),
                 _gpu_run(1, 310.0, 60.0, steps=1000, device_name="x86_64")]}
    for r in cpu["a"]:
        r["manifest"]["device"] = "cpu"
    text = report.other_budget_table(cpu, {"a": "A"}, "cpu")
    assert text.startswith("### At the `cpu` budget\n\nThe same methods at the `cpu` budget (1,000 iterations per run")
    assert text.endswith("| A | 305.00 ± 7.07 | 1,000 | 2 |")
    configs = {"a": [SimpleNamespace(seed=0), SimpleNamespace(seed=1)], "b": [SimpleNamespace(seed=0)]}
    note = report.gpu_missing_note(configs, {"a": [_gpu_run(0, 40.0, 1.0)]}, {"a": "A", "b": "B"})
    assert "`bash tools/gpu-run.sh`" in note and "`python -m gngan gpu-import <folder>`" in note
    assert note.endswith("| A | 1 |\n| B | 0 |")
    assert report.untrained_note(configs, {"a": [_gpu_run(0, 1.0, 1.0), _gpu_run(1, 1.0, 1.0)],
                                           "b": [_gpu_run(0, 1.0, 1.0)]}, {}, {}, {}, budget="gpu") == ""
    assert report.rerun_command("03_ablation", "gpu") == (
        "bash tools/gpu-run.sh` on a machine with an H200, then `python -m gngan gpu-import <folder>")
    assert report.rerun_command("03_ablation", "cpu") == "python -m gngan section 03_ablation --budget cpu"


def test_manifest_names_the_gpu_of_a_gpu_run():
    run = _result(0, [0])
    run["manifest"].update(device="cuda", device_name="NVIDIA H200")
    assert report.manifest_rows({"m": [run]}, {})[0][3] == "cuda (NVIDIA H200)"


def test_budget_line_states_budget_device_seeds_iterations_and_the_data_source():
    from gngan import experiments

    configs = experiments.image_configs("05_gan_ne_gm", "cpu")
    line = report.budget_line("cpu", "cpu", configs, "cpu", 2.25, "jpeg")
    assert line == ("**Ran at:** the `cpu` budget, device `cpu` for any run trained here: 4 methods, seed 0, 1,000 "
                    "iterations per run, width 0.5, FID of 1,000 generated vs 10,000 real images every 200 iterations; "
                    "data: the offline JPEG-q75 mirror of CIFAR-10 (lossy: FIDs not on the paper's scale); about 2.2 "
                    "CPU-hours (one thread) to train them all.")
    paper = experiments.image_configs("03_ablation", "paper", methods=["gngan_ne_gm"])
    assert report.budget_line("paper", "cpu", paper, "cuda", None, "torchvision").endswith(
        "seeds 0–2, 350,000 iterations per run, width 1, FID of 5,000 generated vs 10,000 real images every 10,000 "
        "iterations; data: the exact CIFAR-10 (torchvision's files; downloaded when online).")
    assert report.budget_line("paper", "cpu", paper, "cuda", None, "torchvision").startswith(
        "**Ran at:** the `paper` budget (asked for: `cpu`), device `cuda` for any run trained here: 1 method, ")
    toy = experiments.toy1d_configs("cpu")
    assert report.budget_line("cpu", "gpu", toy, "cpu") == (
        f"**Ran at:** the `cpu` budget (asked for: `gpu`), device `cpu` for any run trained here: 2 methods, seeds "
        f"0–9, {toy['gngan_gm'][0].num_steps:,} iterations per run.")


def test_prdc_table_gives_final_values_per_method_and_is_empty_without_them():
    def run(**final):
        return {"final": {"step": 20, "fid": 50.0, **final}, "history": []}

    a = {"precision": 0.5, "recall": 0.25, "density": 1.0, "coverage": 0.75}
    b = {"precision": 0.7, "recall": 0.35, "density": 0.5, "coverage": 0.25}
    table = report.prdc_table({"x": [run(**a), run(**b)], "y": [run(**a)], "old": [run()]}, {"x": "X"})
    lines = table.splitlines()
    assert lines[0] == "| method | precision | recall | density | coverage | seeds |"
    # two seeds: mean ± sample std, e.g. precision 0.6 ± 0.1414
    assert lines[2] == "| X | 0.600 ± 0.141 | 0.300 ± 0.071 | 0.750 ± 0.354 | 0.500 ± 0.354 | 2 |"
    assert lines[3] == "| y | 0.500 | 0.250 | 1.000 | 0.750 | 1 |"
    assert len(lines) == 4  # the run without the metrics is left out
    assert report.prdc_table({"old": [run()]}, {}) == ""


def _modes_runs(*modes):
    return [{"final": {"covered_modes": m, "registered_points": 100 * m}} for m in modes]


# a sweep of two methods as experiments.GRID2D_SWEEP holds it: {key: (config, method, what, setting)}
_SWEEP = {"sweep_a_shared": (None, "a", "shared protocol", "shared"), "sweep_a_lr": (None, "a", "lr 1e-4", "lr"),
          "sweep_b_shared": (None, "b", "shared protocol", "shared"), "sweep_b_beta1": (None, "b", "β1 0.5", "beta1")}


def test_tuned_rows_use_the_tuned_runs_the_shared_row_where_it_won_and_name_the_missing():
    results = {"a": _modes_runs(1, 3), "b": _modes_runs(5, 5), "g": _modes_runs(9, 9)}
    tuned = {"a_tuned": _modes_runs(7, 9)}
    choices = {"a": "sweep_a_lr", "b": "sweep_b_shared"}
    rows, missing = report.tuned_rows(results, tuned, choices, _SWEEP, num_seeds=2)
    assert rows == {"a": tuned["a_tuned"], "b": results["b"], "g": results["g"]} and missing == []
    # a tuned row with one of its two seeds, and a sweep not complete: both missing, never the shared row instead
    rows, missing = report.tuned_rows(results, {"a_tuned": _modes_runs(7)}, {"a": "sweep_a_lr", "b": None},
                                      _SWEEP, num_seeds=2)
    assert rows == {"g": results["g"]} and missing == ["a", "b"]
    table = report.tuned_table_rows(results, tuned, choices, _SWEEP, {"a": "A"}, {"a": {"registered_modes": (4.0, 1.0)}},
                                    num_seeds=2)
    assert table == [["A", "2.00 ± 1.41 (2)", "lr 1e-4", "8.00 ± 1.41 (2)", "4.00 ± 1.00"],
                     ["b", "5.00 ± 0.00 (2)", "shared protocol", "5.00 ± 0.00 (2), the shared row", "—"]]


def test_tuned_rank_agreement_by_hand():
    # paper means a 4 > b 3 > c 2 > d 1. Tuned rows: a 10, b 8, c 2, d 4 -> ranks (1, 2, 4, 3) against (1, 2, 3, 4):
    # sum d^2 = 2, rho = 1 - 6 * 2 / (4 * 15) = 0.8. On the shared rows (a 1) it would be different.
    paper = {m: {"registered_modes": (v, 0.5)} for m, v in zip("abcd", (4.0, 3.0, 2.0, 1.0))}
    results = {"a": _modes_runs(1, 1), "b": _modes_runs(8, 8), "c": _modes_runs(2, 2), "d": _modes_runs(4, 4),
               "ours_only": _modes_runs(25, 25)}
    sweep = {**_SWEEP, "sweep_c_shared": (None, "c", "shared", "shared")}
    out = report.tuned_rank_agreement(results, {"a_tuned": _modes_runs(9, 11)},
                                      {"a": "sweep_a_lr", "b": "sweep_b_shared", "c": "sweep_c_shared"}, sweep, paper, 2)
    assert out["rho"] == pytest.approx(0.8) and out["not_tuned"] == [] and out["methods"] == ["a", "b", "c", "d"]
    assert report.rank_agreement(results, paper)["rho"] != pytest.approx(0.8)
    pending = report.tuned_rank_agreement(results, {}, {"a": "sweep_a_lr", "b": None}, sweep, paper, 2)
    assert pending["rho"] is None and pending["not_tuned"] == ["a", "b"]


def test_sweep_rows_mark_the_chosen_setting():
    stored = {"sweep_a_shared": _modes_runs(1, 2), "sweep_a_lr": _modes_runs(6, 8), "sweep_b_shared": _modes_runs(3)}
    rows = report.sweep_rows(stored, _SWEEP, {"a": "sweep_a_lr", "b": None}, {"a": "A"}, num_seeds=2)
    assert rows == [["A", "shared protocol", "2 of 2", "1.50 ± 0.71", "150.00 ± 70.71", ""],
                    ["A", "lr 1e-4", "2 of 2", "7.00 ± 1.41", "700.00 ± 141.42", "**chosen**"],
                    ["b", "shared protocol", "1 of 2", "3.00 ± 0.00", "300.00 ± 0.00", ""],
                    ["b", "β1 0.5", "0 of 2", "—", "—", ""]]


def test_untrained_runs_come_with_the_command_that_fans_them_out():
    cfg = {"gan": [object()]}
    note = report.untrained_note(cfg, {}, {"gan": 90.0}, {}, {"gan": "GAN"}, budget="cpu", section="05_gan_ne_gm")
    assert note.endswith("`python -m gngan section 05_gan_ne_gm --budget cpu --launcher local --jobs 2`")
    assert "fans them out" not in report.untrained_note(cfg, {}, {"gan": 90.0}, {}, {"gan": "GAN"}, budget="cpu")
    assert report.fan_out_command("03_ablation", "paper") == (
        "python -m gngan section 03_ablation --budget paper --launcher slurm --partition <partition> "
        "--time-min <minutes per job>")
    # the command parses: the launcher's options exist
    from gngan.__main__ import main
    with pytest.raises(SystemExit) as exit_info:
        main(report.fan_out_command("01_1d", "cpu").split()[3:] + ["--help"])
    assert exit_info.value.code == 0


def test_previous_readings_table_names_the_changed_fields_and_both_fids():
    from gngan import experiments

    configs = experiments.image_configs("04_table3", "cpu")
    previous_cfgs = experiments.previous_reading_configs("04_table3", "cpu", ["sngan", "wgangp"])

    def run(cfg, fid):
        return {"manifest": {"config": cfg.to_dict()}, "final": {"step": 1000, "fid": fid}}

    previous = {k: [run(c, fid) for c in cfgs] for (k, cfgs), fid in zip(previous_cfgs.items(), (331.2, 198.9))}
    current = {"sngan": [run(configs["sngan"][0], 250.0)]}
    labels = {"sngan": "SN-GAN", "wgangp": "WGAN-GP"}
    text = report.previous_readings_table(current, previous, configs, labels)
    assert text.startswith("### What the changed readings changed\n")
    assert text.endswith(
        "| SN-GAN | `init` reference → normal02, `prior` uniform → normal | 331.20 (at 1,000, 1 seed) | 250.00 (at 1,000, "
        "1 seed) |\n| WGAN-GP | `init` reference → normal02, `prior` uniform → normal | 198.90 (at 1,000, 1 seed) | not "
        "retrained yet |")
    assert report.previous_readings_table(current, {}, configs, labels) == ""
