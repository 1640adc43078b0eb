import json

import pytest

from gngan.__main__ import main
from gngan.config import RunConfig


def test_train_from_config_and_resume_refusal(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    RunConfig(num_steps=4, eval_every=2, checkpoint_every=2, eval_samples=50, batch_size=8).save(cfg)
    assert main(["train", "--config", str(cfg), "--run-dir", str(tmp_path / "run"), "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["step"] == 4
    RunConfig(num_steps=6, eval_every=2, checkpoint_every=2, eval_samples=50, batch_size=8).save(cfg)
    assert main(["train", "--config", str(cfg), "--run-dir", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gngan: error:") and "num_steps: stored 4 vs requested 6" in err
    assert len(err.splitlines()) == 1


def test_a_run_being_trained_elsewhere_is_one_line(tmp_path, capsys):
    from gngan.trainer import lock_run_dir

    cfg = tmp_path / "c.json"
    RunConfig(num_steps=4, eval_every=2, checkpoint_every=2, eval_samples=50, batch_size=8).save(cfg)
    (tmp_path / "run").mkdir()
    lock = lock_run_dir(tmp_path / "run")
    try:
        assert main(["train", "--config", str(cfg), "--run-dir", str(tmp_path / "run"), "--quiet"]) == 2
    finally:
        lock.close()
    err = capsys.readouterr().err.strip()
    assert err.startswith("gngan: error:") and "is being trained by" in err and len(err.splitlines()) == 1


def test_missing_config_is_one_line(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path / "nope.json"), "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1


def test_cli_sections_are_the_books():
    from gngan import experiments
    from gngan.__main__ import SECTIONS

    assert SECTIONS == ("01_1d", "02_2d", *experiments.IMAGE_SECTIONS)


def test_status_lists_missing_runs_and_resume_points(tmp_path, capsys):
    import torch

    from gngan import experiments
    from gngan.trainer import CHECKPOINT, PREVIOUS_CHECKPOINT, group_dir

    before = {(r["section"], r["method"]) for r in experiments.remaining_work("smoke", tmp_path)}
    assert ("02_2d", "gan") in before and ("02_2d", "vae_sigma_0.1") in before and ("03_ablation", "distgan") in before
    experiments.run_section("02_2d", experiments.grid2d_configs("smoke", methods=["gan"]), "smoke", root=tmp_path,
                            progress=False)
    # a started 2D group with a truncated checkpoint and a readable previous one at step 20
    cfgs = experiments.grid2d_configs("smoke", methods=["wgangp"])["wgangp"]
    dirs = [experiments.run_dir("02_2d", "smoke", "wgangp", c.seed, root=tmp_path) for c in cfgs]
    for d in dirs:
        d.mkdir(parents=True)
        (d / "metrics.jsonl").write_text(json.dumps({"step": 30}) + "\n")
    group = group_dir(dirs, [c.seed for c in cfgs])
    group.mkdir(parents=True)
    (group / CHECKPOINT).write_bytes(b"truncated")
    torch.save({"step": 20}, group / PREVIOUS_CHECKPOINT)
    with pytest.warns(UserWarning, match="unreadable"):
        rows = {(r["section"], r["method"]): r for r in experiments.remaining_work("smoke", tmp_path)}
    assert ("02_2d", "gan") not in rows
    assert rows[("02_2d", "wgangp")]["resume_from"] == 20
    wgangp = rows[("02_2d", "wgangp")]
    assert wgangp["hours"] == pytest.approx(20 * experiments.GRID2D_SECONDS_PER_ITERATION["wgangp"] / 3600)
    assert rows[("02_2d", "distgan")]["resume_from"] == 0
    only_image = experiments.remaining_work("smoke", tmp_path, sections=["03_ablation"])
    assert only_image and only_image == [r for r in rows.values() if r["section"] == "03_ablation"]
    with pytest.warns(UserWarning, match="unreadable"):
        assert main(["status", "--budget", "smoke", "--results-root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "wgangp" in out and "20/40" in out and out.strip().splitlines()[-1].startswith("total:")
    table = out.strip().splitlines()[:-1]
    assert len({len(line) for line in table}) == 1, "the status columns line up under the longest method name"


def test_status_at_the_gpu_budget_lists_the_image_runs_with_their_planned_minutes(tmp_path, capsys):
    from gngan.__main__ import main

    assert main(["status", "--budget", "gpu", "--results-root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("03_ablation   10 runs,  10.0 min at 150 TFLOP/s")
    assert "05_gan_ne_gm   4 runs" in out and "04_table3      5 runs" in out
    assert "01_1d" not in out and "02_2d" not in out  # no gpu plan: they show their cpu runs
    assert "gpu-stage-weights.sh" in out
