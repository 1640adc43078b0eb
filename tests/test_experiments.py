import pytest

from gngan import experiments
from gngan.experiments import run_dir, run_section, toy1d_configs


def test_toy1d_configs_follow_the_paper_text():
    configs = toy1d_configs("cpu")
    assert set(configs) == {"gngan_gm", "distgan"}
    gn, dist = configs["gngan_gm"][0], configs["distgan"][0]
    assert len(configs["gngan_gm"]) >= 8
    assert (gn.lr, gn.lambda_p, gn.lambda_m1, gn.lambda_m2, gn.lambda_r) == (1e-3, 0.1, 0.1, 0.1, 0.0)
    assert (gn.hidden_width, gn.g_hidden_layers, gn.d_hidden_layers) == (4, 2, 1)
    assert dist.method == "distgan" and dist.lambda_p == 0.1
    assert [c.seed for c in configs["distgan"]] == list(range(len(configs["distgan"])))


def test_overrides_and_bad_parameters():
    c = toy1d_configs("smoke", seeds=[3, 4], num_steps=40)
    assert [x.seed for x in c["gngan_gm"]] == [3, 4] and c["gngan_gm"][0].num_steps == 40
    with pytest.raises(ValueError, match="unknown budget 'fast'"):
        toy1d_configs("fast")
    with pytest.raises(ValueError, match="num_steps=-5"):
        toy1d_configs("cpu", num_steps=-5)
    with pytest.raises(ValueError, match="seeds"):
        toy1d_configs("cpu", seeds=[])


def test_run_dirs(tmp_path):
    assert run_dir("01_1d", "cpu", "distgan", 2, root=tmp_path) == tmp_path / "01_1d/cpu/distgan/seed2"
    assert run_dir("01_1d", "smoke", "distgan", 2, root=tmp_path) == tmp_path / "smoke/01_1d/smoke/distgan/seed2"
    assert run_dir("01_1d", "cpu", "distgan", 2, num_steps=7, root=tmp_path).parts[-3] == "cpu-7steps"


def test_run_section_trains_then_reuses(tmp_path):
    configs = toy1d_configs("smoke")
    res = run_section("01_1d", configs, "smoke", root=tmp_path, progress=False)
    assert [len(v) for v in res.values()] == [1, 1]
    again = run_section("01_1d", configs, "smoke", root=tmp_path, train=False)
    assert again["distgan"][0]["final"] == res["distgan"][0]["final"]
    with pytest.raises(FileNotFoundError, match="no stored result"):
        run_section("01_1d", toy1d_configs("smoke", seeds=[9]), "smoke", root=tmp_path, train=False)


def test_run_section_returns_the_stored_seeds_of_untrained_methods_without_training(tmp_path):
    configs = toy1d_configs("smoke", seeds=[0, 1])
    run_section("01_1d", {"gngan_gm": configs["gngan_gm"][1:]}, "smoke", root=tmp_path, progress=False)
    res = run_section("01_1d", configs, "smoke", root=tmp_path, untrained={"gngan_gm", "distgan"})
    assert list(res) == ["gngan_gm"] and [r["manifest"]["seed"] for r in res["gngan_gm"]] == [1]
    assert not run_dir("01_1d", "smoke", "gngan_gm", 0, root=tmp_path).exists()
    other = {"gngan_gm": [c.replace(lr=0.5) for c in configs["gngan_gm"]]}
    with pytest.raises(ValueError, match="different config"):
        run_section("01_1d", other, "smoke", root=tmp_path, untrained={"gngan_gm"})


def test_committed_cpu_results_match_current_configs():
    """Stored cpu-budget results were produced by exactly the configs the code builds today."""
    configs = toy1d_configs("cpu")
    for method, cfgs in configs.items():
        for c in cfgs:
            d = run_dir("01_1d", "cpu", method, c.seed)
            if not (d / "result.json").exists():
                pytest.skip(f"cpu results not committed yet ({d})")
            run_section("01_1d", {method: [c]}, "cpu", train=False)  # raises on a config mismatch


@pytest.mark.parametrize("kwargs, message", [
    ({"budget": "huge", "device": "cpu"}, "unknown budget 'huge'"),
    ({"budget": "cpu", "device": "cpu", "num_steps": -3}, "num_steps=-3"),
    ({"budget": "cpu", "device": "tpu7"}, "not a torch device"),
    ({"budget": "cpu", "device": "cpu", "seeds": [1, -1]}, "seeds"),
    ({"budget": "cpu", "device": "cpu", "data_dir": "/nonexistent/cifar"}, "does not exist"),
])
def test_bad_parameters_fail_with_one_line(kwargs, message):
    with pytest.raises(experiments.ParameterError, match=message) as info:
        experiments.check_parameters(**kwargs)
    assert info.value._render_traceback_() == [f"ParameterError: {info.value}"]
    assert "\n" not in str(info.value)


def test_good_parameters_pass(tmp_path):
    experiments.check_parameters("smoke", "cpu", seeds=[0, 2], num_steps=5, data_dir=tmp_path)


def test_split_by_cost_trains_only_cheap_missing_runs(tmp_path):
    configs = experiments.grid2d_configs("cpu", seeds=[0], methods=["gan", "gngan_gm"])
    costs = {"gan": 1e-4, "gngan_gm": 1.0}
    now, later = experiments.split_by_cost("02_2d", configs, "cpu", None, True, 5.0, costs, root=tmp_path)
    assert list(now) == ["gan"] and list(later) == ["gngan_gm"] and later["gngan_gm"] > 5
    now, later = experiments.split_by_cost("02_2d", configs, "cpu", None, False, 5.0, costs, root=tmp_path)
    assert now == {} and set(later) == {"gan", "gngan_gm"}
    smoke = experiments.grid2d_configs("smoke", methods=["gngan_gm"])
    now, later = experiments.split_by_cost("02_2d", smoke, "smoke", None, True, 0.0, costs, root=tmp_path)
    assert list(now) == ["gngan_gm"] and later == {}


def test_split_by_cost_leaves_a_run_another_process_trains(tmp_path):
    from gngan.trainer import lock_run_dir

    configs = experiments.grid2d_configs("smoke", methods=["gan", "wgangp"])
    d = experiments.run_dir("02_2d", "smoke", "wgangp", configs["wgangp"][1].seed, root=tmp_path)
    d.mkdir(parents=True)
    lock = lock_run_dir(d)  # another Trainer, as far as the lock can tell
    try:
        now, later = experiments.split_by_cost("02_2d", configs, "smoke", None, True, 60.0, {}, root=tmp_path)
        assert list(now) == ["gan"] and list(later) == ["wgangp"]
        assert experiments.training_now("02_2d", "smoke", "wgangp", [c.seed for c in configs["wgangp"]], root=tmp_path)
        rows = {r["method"]: r for r in experiments.remaining_work("smoke", tmp_path, sections=["02_2d"])}
        assert rows["wgangp"]["training_now"] and not rows["gan"]["training_now"]
    finally:
        lock.close()
    now, later = experiments.split_by_cost("02_2d", configs, "smoke", None, True, 60.0, {}, root=tmp_path)
    assert list(now) == ["gan", "wgangp"] and not later


def test_split_by_cost_counts_only_the_iterations_after_a_checkpoint(tmp_path):
    import torch

    from gngan.trainer import CHECKPOINT

    configs = experiments.image_configs("03_ablation", "cpu", methods=["gngan_orig"])
    cost = {"gngan_orig": 1.0}
    steps = configs["gngan_orig"][0].num_steps
    _, later = experiments.split_by_cost("03_ablation", configs, "cpu", None, True, 5.0, cost, root=tmp_path)
    assert later["gngan_orig"] == pytest.approx(2 * steps / 60)  # two seeds, one after the other
    seed1 = experiments.run_dir("03_ablation", "cpu", "gngan_orig", 1, root=tmp_path)
    seed1.mkdir(parents=True)
    torch.save({"step": 400}, seed1 / CHECKPOINT)
    _, later = experiments.split_by_cost("03_ablation", configs, "cpu", None, True, 5.0, cost, root=tmp_path)
    assert later["gngan_orig"] == pytest.approx((2 * steps - 400) / 60)


def test_stored_results_reads_finished_runs_only_and_refuses_other_configs(tmp_path):
    configs = toy1d_configs("smoke", seeds=[0, 1])
    assert experiments.stored_results("01_1d", configs, "smoke", root=tmp_path) == {}
    run_section("01_1d", {"gngan_gm": configs["gngan_gm"][:1]}, "smoke", root=tmp_path, progress=False)
    found = experiments.stored_results("01_1d", configs, "smoke", root=tmp_path)
    assert list(found) == ["gngan_gm"] and [r["manifest"]["seed"] for r in found["gngan_gm"]] == [0]
    other = {"gngan_gm": [c.replace(lr=0.5) for c in configs["gngan_gm"]]}
    with pytest.raises(ValueError, match="different config"):
        experiments.stored_results("01_1d", other, "smoke", root=tmp_path)


def test_2d_sensitivity_checks_change_only_their_declared_settings_of_the_method_they_probe():
    assert not set(experiments.GRID2D_CHECKS) & set(experiments.grid2d_configs("smoke"))  # not Table 2 rows
    # the settings each check is meant to change (a recipe changes several at once)
    changes = {"vae_sigma_0.03": {"vae_sigma"}, "vae_sigma_0.1": {"vae_sigma"}, "vae_sigma_0.3": {"vae_sigma"},
               "ali_own_recipe": {"lr", "prior"},
               "wgangp_toy_recipe": {"prior", "g_out", "lr", "beta1", "beta2", "lr_decay"},
               "gngan_ne_gm_lambda_r_0.1": {"lambda_r"}}
    assert set(changes) == set(experiments.GRID2D_CHECKS)
    configs = experiments.grid2d_configs("cpu", methods=list(experiments.GRID2D_CHECKS))
    for key, (config, probe, _) in experiments.GRID2D_CHECKS.items():
        assert set(config.diff(experiments.GRID2D_METHODS[probe])) == changes[key], key
        # the networks, batch and protocol stay the paper's
        for field in ("hidden_width", "g_hidden_layers", "d_hidden_layers", "batch_size", "num_steps", "eval_samples"):
            assert getattr(config, field) == getattr(experiments.GRID2D_METHODS[probe], field), (key, field)
        assert configs[key][0] == config.replace(seed=0)  # the cpu budget is the full protocol
        assert key in experiments.GRID2D_SECONDS_PER_ITERATION and key in experiments.METHOD_LABELS


def test_estimated_minutes_counts_sequential_image_seeds_but_one_stacked_2d_group():
    two_d = experiments.grid2d_configs("cpu", methods=["gan"])["gan"]
    assert len(two_d) == 8
    assert experiments.estimated_minutes(two_d, 0.01) == pytest.approx(two_d[0].num_steps * 0.01 / 60)
    image = experiments.image_configs("03_ablation", "cpu", methods=["distgan"])["distgan"]
    assert len(image) == 2
    assert experiments.estimated_minutes(image, 2.0) == pytest.approx(2 * image[0].num_steps * 2.0 / 60)


def test_estimated_hours_sums_methods_and_needs_every_cost():
    configs = experiments.image_configs("03_ablation", "cpu", methods=["distgan", "gngan_orig"])
    cost = {"distgan": 2.0, "gngan_orig": 1.0}
    want = sum(experiments.estimated_minutes(configs[m], cost[m]) for m in configs) / 60
    assert experiments.estimated_hours(configs, cost) == pytest.approx(want)
    assert experiments.estimated_hours(configs, {"distgan": 2.0}) is None


def test_paper_gpu_factor_compares_the_same_step_on_both_machines():
    from gngan import paper

    gpu = experiments.paper_gpu_factor({"ms": {"without_gm": 860.0, "gm_linear": 1000.0}})
    assert gpu == {"factor": paper.GM_TIMING_MS["without_gm"] / 860.0, "paper_ms": 43.0, "our_ms": 860.0}
    stored = experiments.stored_benchmark("gm_timing")
    if stored is not None:
        assert experiments.paper_gpu_factor()["our_ms"] == stored["ms"]["without_gm"]


def test_the_run_queue_covers_every_method_once_with_the_2d_extras_last():
    covered = []
    for section, methods in experiments.RUN_QUEUE:
        if methods is None:
            methods = {"01_1d": lambda: toy1d_configs("cpu"), "02_2d": lambda: experiments.grid2d_configs("cpu")}.get(
                section, lambda: experiments.image_configs(section, "cpu"))()
        covered += [(section, m) for m in methods]
    every = ([("01_1d", m) for m in toy1d_configs("cpu")]
             + [("02_2d", m) for m in [*experiments.GRID2D_METHODS, *experiments.GRID2D_CHECKS,
                                         *experiments.GRID2D_SWEEP, *experiments.GRID2D_TUNED]]
             + [(s, m) for s in experiments.IMAGE_SECTIONS for m in experiments.image_configs(s, "cpu")])
    assert set(covered) == set(every)
    # the tuned rows after their sweep, both before the checks no verdict needs
    assert experiments.RUN_QUEUE[-3:] == (("02_2d", tuple(experiments.GRID2D_SWEEP)),
                                          ("02_2d", experiments.GRID2D_TUNED),
                                          ("02_2d", tuple(experiments.GRID2D_CHECKS)))


def test_status_rows_follow_the_run_queue(tmp_path):
    rows = [(r["section"], r["method"]) for r in experiments.remaining_work("smoke", tmp_path)]
    position = [experiments._queue_position(s, m) for s, m in rows]
    assert position == sorted(position) and len(set(position)) == len(experiments.RUN_QUEUE)
    ablation = [m for s, m in rows if s == "03_ablation"]
    assert ablation[:3] == ["distgan", "gngan_orig", "gngan_ne_gm"] and rows[-1][1] in experiments.GRID2D_CHECKS


def test_run_queue_script_runs_the_steps_of_run_queue_in_order(tmp_path):
    """tools/run-queue.sh with run-clean.sh replaced by a stub that records its arguments."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "tools").mkdir()
    shutil.copy(repo / "tools" / "run-queue.sh", tmp_path / "tools")
    (tmp_path / ".venv").symlink_to(sys.prefix)  # the script runs ../.venv/bin/python: this interpreter
    stub = tmp_path / "tools" / "run-clean.sh"
    stub.write_text(f'#!/usr/bin/env bash\necho "$*" >> {tmp_path / "calls.txt"}\n')
    stub.chmod(0o755)
    subprocess.run(["bash", str(tmp_path / "tools" / "run-queue.sh"), "cpu"], check=True, capture_output=True)
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls == [f"{step} --budget cpu" for step in experiments.queue_steps()]
    # the options after the budget go to every step: a launcher fans each step out
    (tmp_path / "calls.txt").unlink()
    subprocess.run(["bash", str(tmp_path / "tools" / "run-queue.sh"), "cpu", "--launcher", "local", "--jobs", "2"],
                   check=True, capture_output=True)
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls == [f"{step} --budget cpu --launcher local --jobs 2" for step in experiments.queue_steps()]


def test_write_benchmark_adds_provenance_and_lets_the_record_win(tmp_path):
    import json
    import subprocess

    out = experiments.write_benchmark(tmp_path / "b.json", {"ratio": 1.25, "threads": 1, "loadavg": ["0.5"]})
    assert json.loads((tmp_path / "b.json").read_text()) == out
    head = subprocess.run(["git", "-C", str(experiments.REPO_ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert out["git_commit"] == head and isinstance(out["git_dirty"], bool)
    assert out["ratio"] == 1.25 and out["threads"] == 1 and out["loadavg"] == ["0.5"]
    assert {"torch_version", "measured_at"} <= set(out) and not list(tmp_path.glob(".*tmp"))


def test_benchmark_scripts_store_through_write_benchmark():
    for script in sorted((experiments.REPO_ROOT / "benchmarks").glob("*.py")):
        text = script.read_text()
        if "--out" in text:
            assert "experiments.write_benchmark(args.out" in text, script.name
            assert "json.dump(" not in text and '"git_commit"' not in text, script.name


def _store_gpu_run(root, section, method, cfg, fids):
    """A result.json as gpu-import stores it: a stored cpu result's structure, the gpu budget's config."""
    import json

    d = experiments.run_dir(section, "gpu", method, cfg.seed, root=root)
    d.mkdir(parents=True)
    history = [{"step": cfg.eval_every * i, "fid": f} for i, f in enumerate(fids)]
    manifest = {"config": cfg.to_dict(), "seed": cfg.seed, "num_steps": cfg.num_steps, "trained_together": [cfg.seed],
                "device": "cuda", "device_name": "NVIDIA H200", "torch_threads": 1, "wall_time_s": 600.0,
                "git": {"commit": "b" * 40, "dirty": False}, "torch_version": "2.x"}
    (d / "result.json").write_text(json.dumps({"manifest": manifest, "history": history}))


def test_shown_budget_is_gpu_only_when_every_gpu_run_is_stored(tmp_path):
    section = "05_gan_ne_gm"
    gpu = experiments.image_configs(section, "gpu")
    assert experiments.shown_budget(section, "cpu", root=tmp_path) == "cpu"
    assert experiments.gpu_budget_status(section, tmp_path) == {
        "runs": 4, "stored": 0, "missing": {m: [0] for m in gpu}, "complete": False}
    *first, last = gpu
    for m in first:
        _store_gpu_run(tmp_path, section, m, gpu[m][0], [400, 100, 90, 80, 70, 60])
    # one gpu run missing: the stored three are progress, the chapter stays at cpu
    assert experiments.shown_budget(section, "cpu", root=tmp_path) == "cpu"
    assert experiments.gpu_budget_status(section, tmp_path) == {"runs": 4, "stored": 3, "missing": {last: [0]},
                                                                "complete": False}
    assert experiments.shown_budget(section, "gpu", root=tmp_path) == "gpu"  # asked for: shown with what is missing
    _store_gpu_run(tmp_path, section, last, gpu[last][0], [400, 100, 90, 80, 70, 60])
    assert experiments.gpu_budget_status(section, tmp_path)["complete"]
    assert experiments.shown_budget(section, "cpu", root=tmp_path) == "gpu"
    # smoke stays a pipeline check, paper stays paper, overrides ask for those runs
    assert experiments.shown_budget(section, "smoke", root=tmp_path) == "smoke"
    assert experiments.shown_budget(section, "paper", root=tmp_path) == "paper"
    assert experiments.shown_budget(section, "cpu", num_steps=10, root=tmp_path) == "cpu"
    assert experiments.shown_budget(section, "cpu", seeds=[0], root=tmp_path) == "cpu"
    # the other image sections have none of it stored; 1D and 2D have no gpu plan
    assert experiments.shown_budget("04_table3", "cpu", root=tmp_path) == "cpu"
    assert experiments.shown_budget("01_1d", "gpu", root=tmp_path) == "cpu"
    assert experiments.shown_budget("02_2d", "gpu", root=tmp_path) == "cpu"
    assert experiments.shown_budget("02_2d", "smoke", root=tmp_path) == "smoke"
    with pytest.raises(ValueError, match="unknown budget"):
        experiments.shown_budget(section, "tpu", root=tmp_path)


# ------------------------------------------------------------------ issue #18: seeds, data source, SN-GAN's loss

def test_paper_budget_gives_the_ordering_claims_three_seeds():
    for section in ("03_ablation", "05_gan_ne_gm"):
        for method, cfgs in experiments.image_configs(section, "paper").items():
            assert [c.seed for c in cfgs] == [0, 1, 2], (section, method)
    assert [c.seed for c in experiments.image_configs("04_table3", "paper")["sngan"]] == [0]


def test_sngan_config_says_the_hinge_loss_it_trains_with():
    sngan = experiments.image_configs("04_table3", "cpu")["sngan"][0]
    assert sngan.dis_loss == "hinge"
    with pytest.raises(ValueError, match="method='sngan' with dis_loss='log': its net_D trains with 'hinge'"):
        sngan.replace(dis_loss="log")
    # the stored cpu run (trained with the hinge loss whatever its config said) now says so, and loads
    d = run_dir("04_table3", "cpu", "sngan", 0)
    if (d / "result.json").exists():
        run_section("04_table3", {"sngan": [sngan]}, "cpu", train=False)


def test_data_source_follows_the_budget_unless_asked(monkeypatch):
    monkeypatch.delenv("GNGAN_CIFAR10_SOURCE", raising=False)
    assert [experiments.data_source_for(b) for b in ("smoke", "cpu", "gpu", "paper")] == ["jpeg"] * 3 + ["torchvision"]
    assert experiments.data_source_for("paper", "jpeg") == "jpeg"
    monkeypatch.setenv("GNGAN_CIFAR10_SOURCE", "jpeg")
    assert experiments.data_source_for("paper") == "jpeg"
    assert experiments.data_source_for("cpu", "torchvision") == "torchvision"
    assert experiments.use_data_source("paper", "torchvision") == "torchvision"
    import os

    assert os.environ["GNGAN_CIFAR10_SOURCE"] == "torchvision"


def test_bad_data_source_fails_with_one_line():
    with pytest.raises(experiments.ParameterError, match="data_source='auto' is not one of") as info:
        experiments.check_parameters("paper", "cpu", data_source="auto")
    assert "\n" not in str(info.value)
    experiments.check_parameters("paper", "cpu", data_source="jpeg")


def test_paper_budget_refuses_to_fall_back_to_the_jpeg_mirror(tmp_path, monkeypatch):
    from gngan import images

    monkeypatch.delenv("GNGAN_CIFAR10_SOURCE", raising=False)
    asked = []

    def offline(split, source, download):
        asked.append((source, download))
        raise images.DatasetNotFoundError("torchvision CIFAR-10 not found (URLError: no network)")

    monkeypatch.setattr(images, "cifar10", offline)
    configs = experiments.image_configs("05_gan_ne_gm", "paper", methods=["gan"])
    with pytest.raises(experiments.DataSourceError, match="the paper budget trains on the exact CIFAR-10") as info:
        run_section("05_gan_ne_gm", configs, "paper", root=tmp_path)
    assert "-p data_source jpeg" in str(info.value) and "\n" not in str(info.value)
    assert asked == [("torchvision", True)]  # it tried the download, and trained nothing
    assert not (tmp_path / "05_gan_ne_gm").exists()


def test_stored_image_runs_must_have_trained_on_the_source_asked_for(tmp_path):
    import json
    cfg = experiments.image_configs("05_gan_ne_gm", "cpu", methods=["gan"])["gan"][0]
    d = run_dir("05_gan_ne_gm", "cpu", "gan", 0, root=tmp_path)
    d.mkdir(parents=True)
    hist = [{"step": 0, "fid": 400.0}, {"step": cfg.num_steps, "fid": 300.0, "data_source": "jpeg"}]
    (d / "result.json").write_text(json.dumps({"manifest": {"config": cfg.to_dict(), "seed": 0}, "history": hist}))
    got = run_section("05_gan_ne_gm", {"gan": [cfg]}, "cpu", root=tmp_path, train=False)
    assert got["gan"][0]["final"]["data_source"] == "jpeg"
    with pytest.raises(experiments.DataSourceError, match="gan/seed0 was trained on CIFAR-10 source 'jpeg', not "
                                                          "'torchvision' as asked"):
        run_section("05_gan_ne_gm", {"gan": [cfg]}, "cpu", root=tmp_path, train=False, data_source="torchvision")


def test_image_distgan_is_the_authors_at_every_budget_and_the_previous_reading_runs_by_name():
    for budget in ("smoke", "cpu", "gpu", "paper"):
        for section, key in (("03_ablation", "distgan"), ("04_table3", "distgan_hinge")):
            configs = experiments.image_configs(section, budget)
            c = configs[key][0]
            assert (c.method, c.alpha, c.distgan_recon, c.distgan_md_x, c.ae_trains, c.alpha_schedule) == (
                "distgan", 0.5, "disc", "recon", "encoder", "constant"), (budget, key)
            assert key + "_previous" not in configs
    old = experiments.image_configs("03_ablation", "cpu", methods=["distgan_previous"])["distgan_previous"]
    assert [c.seed for c in old] == [0, 1]
    assert (old[0].alpha, old[0].distgan_recon, old[0].distgan_md_x, old[0].ae_trains) == (
        0.05, "data", "real", "encoder_generator")
    old = experiments.image_configs("04_table3", "cpu", methods=["sngan_previous"])["sngan_previous"][0]
    assert (old.prior, old.init) == ("uniform", "reference")
    # cpu and gpu differ only in the budget's own fields
    budget_fields = set(experiments.IMAGE_BUDGETS["gpu"]) | set(experiments.IMAGE_BUDGETS["cpu"]) - {"seeds"}
    for section in ("03_ablation", "04_table3", "05_gan_ne_gm"):
        gpu, cpu = experiments.image_configs(section, "gpu"), experiments.image_configs(section, "cpu")
        assert gpu.keys() == cpu.keys()
        assert not {m for m in gpu if set(gpu[m][0].diff(cpu[m][0])) - budget_fields}, section
    assert experiments.image_configs("04_table3", "paper")["sngan_resnet"][0].init == "reference"


def test_previous_reading_configs_follow_the_methods_asked_for():
    assert list(experiments.previous_reading_configs("04_table3", "cpu")) == [
        "distgan_hinge_previous", "sngan_previous", "wgangp_previous", "gangp_previous"]
    assert list(experiments.previous_reading_configs("04_table3", "cpu", ["gngan_hinge", "wgangp"])) == [
        "wgangp_previous"]
    assert experiments.previous_reading_configs("05_gan_ne_gm", "cpu") == {}
    assert experiments.previous_reading("sngan_previous") == "sngan"
    assert experiments.previous_reading("sngan") is None


def test_the_other_reading_of_the_original_model_runs_by_name_only():
    assert "gngan_orig_distgan" not in experiments.image_configs("03_ablation", "gpu")
    alt = experiments.image_configs("03_ablation", "gpu", methods=["gngan_orig_distgan"])["gngan_orig_distgan"][0]
    assert (alt.method, alt.alpha, alt.lambda_r, alt.distgan_recon, alt.ae_trains) == (
        "distgan", 0.05, 1.0, "data", "encoder_generator")
    # it is exactly the configuration of the stored runs of Dist-GAN's previous reading
    cpu = experiments.image_configs("03_ablation", "cpu", methods=["distgan_previous", "gngan_orig_distgan"])
    assert cpu["gngan_orig_distgan"][0] == cpu["distgan_previous"][0]
    with pytest.raises(ValueError, match="gngan_orig_distgan"):
        experiments.image_configs("03_ablation", "gpu", methods=["nope"])


# The tuning sweep of the 2D baselines and their tuned rows (issue #18 item 7)
def test_sweep_settings_differ_from_the_shared_protocol_in_exactly_the_declared_fields():
    from dataclasses import fields

    def changed(cfg, base):
        return {f.name: getattr(cfg, f.name) for f in fields(cfg) if getattr(cfg, f.name) != getattr(base, f.name)}

    base = experiments.GRID2D_METHODS
    sweep = {k: v[0] for k, v in experiments.GRID2D_SWEEP.items()}
    # by hand, a few
    assert changed(sweep["sweep_wgangp_shared"], base["wgangp"]) == {}
    assert changed(sweep["sweep_wgangp_beta1_0.5"], base["wgangp"]) == {"beta1": 0.5}
    assert changed(sweep["sweep_wgangp_betas_0.5_0.9_lambda_p_1"], base["wgangp"]) == {"beta1": 0.5, "beta2": 0.9,
                                                                                        "lambda_p": 1.0}
    assert changed(sweep["sweep_ali_lr_1e-4_normal_prior"], base["ali"]) == {"lr": 1e-4, "prior": "normal"}
    assert changed(sweep["sweep_vae_vae_sigma_0.003"], base["vae"]) == {"vae_sigma": 0.003}
    assert changed(sweep["sweep_distgan_d_steps_1"], base["distgan"]) == {"d_steps": 1}
    assert changed(sweep["sweep_gan_lr_2e-4_beta1_0.5"], base["gan"]) == {"lr": 2e-4, "beta1": 0.5}
    # every setting: exactly its declared fields, and every swept method has its shared protocol
    for k, (cfg, m, _, name) in experiments.GRID2D_SWEEP.items():
        assert k == f"sweep_{m}_{name}"
        assert changed(cfg, base[m]) == experiments.GRID2D_SWEEP_SETTINGS[m][name][0], k
    assert set(experiments.GRID2D_SWEEP_SETTINGS) == {"gan", "ali", "vaegan", "vae", "beta_vae", "wgangp", "distgan"}
    assert all("shared" in s and 4 <= len(s) <= 7 for s in experiments.GRID2D_SWEEP_SETTINGS.values())
    # the budgets: 4 seeds and 20K iterations at cpu; the shared-protocol setting is Table 2's config but for those
    configs = experiments.sweep_configs("cpu")
    assert set(configs) == set(experiments.GRID2D_SWEEP)
    assert [c.seed for c in configs["sweep_gan_shared"]] == [0, 1, 2, 3]
    assert {c.num_steps for cfgs in configs.values() for c in cfgs} == {20_000}
    table2 = experiments.grid2d_configs("cpu", methods=["gan"])["gan"][0]
    assert changed(configs["sweep_gan_shared"][0], table2) == {"num_steps": 20_000}
    assert experiments.grid2d_configs("cpu", methods=["sweep_gan_lr_1e-4"]) == {
        "sweep_gan_lr_1e-4": configs["sweep_gan_lr_1e-4"]}
    assert experiments.run_dir("02_2d", "cpu", "sweep_gan_lr_1e-4", 3).parts[-4:] == (
        "02_2d", "cpu", "sweep_gan_lr_1e-4", "seed3")


def _sweep_run(modes, points):
    return {"final": {"covered_modes": modes, "registered_points": points}}


def test_sweep_winner_follows_the_fixed_rule():
    keys = [k for k, v in experiments.GRID2D_SWEEP.items() if v[1] == "wgangp"]
    assert keys[0] == "sweep_wgangp_shared"
    # modes per seed (2 seeds) and points: means by hand
    table = {"sweep_wgangp_shared": [(0, 10), (1, 20)],            # 0.5 modes
             "sweep_wgangp_beta1_0.5": [(12, 900), (14, 700)],     # 13 modes, 800 points
             "sweep_wgangp_betas_0.5_0.9": [(11, 950), (15, 851)],  # 13 modes, 900.5 points: the winner
             "sweep_wgangp_lr_1e-4": [(2, 100), (2, 100)]}
    results = {k: [_sweep_run(*v) for v in table.get(k, [(0, 0), (0, 0)])] for k in keys}
    assert experiments.sweep_winner("wgangp", results, 2) == "sweep_wgangp_betas_0.5_0.9"
    # a tie on both: the earlier declared setting
    results["sweep_wgangp_beta1_0.5"] = [_sweep_run(11, 950), _sweep_run(15, 851)]
    assert experiments.sweep_winner("wgangp", results, 2) == "sweep_wgangp_beta1_0.5"
    # nothing beats the shared protocol: it wins every tie
    flat = {k: [_sweep_run(3, 5), _sweep_run(3, 5)] for k in keys}
    assert experiments.sweep_winner("wgangp", flat, 2) == "sweep_wgangp_shared"
    # incomplete: a setting with fewer seeds than the sweep's
    results["sweep_wgangp_lr_1e-4"] = results["sweep_wgangp_lr_1e-4"][:1]
    assert experiments.sweep_winner("wgangp", results, 2) is None
    with pytest.raises(ValueError, match="no sweep"):
        experiments.sweep_winner("gngan_gm", results, 2)


def _store_2d(root, budget, method, cfg, modes, points):
    import json

    d = experiments.run_dir("02_2d", budget, method, cfg.seed, root=root)
    d.mkdir(parents=True)
    (d / "result.json").write_text(json.dumps({"manifest": {"config": cfg.to_dict()}, "history": [
        {"step": cfg.num_steps, "covered_modes": modes, "registered_points": points}]}))


def test_tuned_configs_derive_from_the_stored_sweep(tmp_path):
    budget = "smoke"
    sweep = experiments.sweep_configs(budget)
    with pytest.raises(ValueError, match="not all stored"):
        experiments.grid2d_configs(budget, methods=["wgangp_tuned"], root=tmp_path)
    for k, cfgs in sweep.items():
        m, name = experiments.GRID2D_SWEEP[k][1:4:2]
        # wgangp: lambda_p_1 wins (5 modes on average); gan: nothing beats the shared protocol (ties)
        modes = 5 if (m, name) == ("wgangp", "lambda_p_1") else 1
        for c in cfgs:
            _store_2d(tmp_path, budget, k, c, modes + c.seed if m == "wgangp" else 2, 100)
    choices = experiments.sweep_choices(budget, tmp_path)
    assert choices["wgangp"] == "sweep_wgangp_lambda_p_1" and choices["gan"] == "sweep_gan_shared"
    tuned, pending = experiments.tuned_configs(budget, root=tmp_path)
    assert pending == [] and set(tuned) == {"wgangp_tuned"}  # the other sweeps chose the shared protocol
    table2 = experiments.grid2d_configs(budget, methods=["wgangp"])["wgangp"]
    assert tuned["wgangp_tuned"] == [c.replace(lambda_p=1.0) for c in table2]
    got = experiments.grid2d_configs(budget, methods=["wgangp_tuned", "gan_tuned", "gan"], root=tmp_path)
    assert list(got) == ["wgangp_tuned", "gan"] and got["wgangp_tuned"] == tuned["wgangp_tuned"]
    rows = {r["method"]: r for r in experiments.remaining_work(budget, tmp_path, sections=["02_2d"])}
    assert "wgangp_tuned" in rows and not rows["wgangp_tuned"].get("pending") and "gan_tuned" not in rows
    assert not any(m.startswith("sweep_") for m in rows)


def test_remaining_work_lists_the_sweep_and_pending_tuned_rows_with_costs(tmp_path):
    rows = {r["method"]: r for r in experiments.remaining_work("cpu", tmp_path, sections=["02_2d"])}
    sweep = rows["sweep_wgangp_beta1_0.5"]
    assert sweep["seeds"] == [0, 1, 2, 3] and sweep["num_steps"] == 20_000
    assert sweep["hours"] == pytest.approx(20_000 * experiments.GRID2D_SECONDS_PER_ITERATION["wgangp"] / 3600)
    tuned = rows["distgan_tuned"]
    assert tuned["pending"] and tuned["seeds"] == list(range(8)) and tuned["resume_from"] == 0
    assert tuned["hours"] == pytest.approx(195_313 * experiments.GRID2D_SECONDS_PER_ITERATION["distgan"] / 3600)
    assert set(experiments.GRID2D_TUNED) <= set(rows)
