import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gngan.config import RunConfig
from gngan.steps import NonFiniteLossError
from gngan.trainer import ConfigMismatchError, RunInUseError, Trainer, resolve_device, run, run_in_use

TINY = RunConfig(method="gngan", num_steps=8, eval_every=2, checkpoint_every=4, eval_samples=60,
                 batch_size=16, d_steps=2, lambda_r=0.5)


class Interrupt(Exception):
    pass


def _weights(trainer):
    return {f"{k}.{n}": p.detach().clone() for k, m in trainer.nets.modules().items()
            for n, p in m.state_dict().items()}


def _kill_after(trainer, step):
    original = trainer.stepper.iteration

    def iteration():
        if trainer.step == step:
            raise Interrupt
        return original()

    trainer.stepper.iteration = iteration


@pytest.mark.parametrize("method", ["gngan", "distgan", "gan", "wgangp", "vae", "ali", "vaegan", "mmdrep"])
def test_resume_equals_uninterrupted_run(tmp_path, method):
    config = TINY.replace(method=method)
    full = Trainer(config, tmp_path / "full", progress=False)
    full_result = full.fit()[0]

    first = Trainer(config, tmp_path / "cut", progress=False)
    _kill_after(first, 6)  # killed between the checkpoint at 4 and the end
    with pytest.raises(Interrupt):
        first.fit()
    resumed = Trainer(config, tmp_path / "cut", progress=False)
    assert resumed.step == 4
    result = resumed.fit()[0]
    assert [seg["from_step"] for seg in result["manifest"]["git_segments"]] == [0, 4]

    strip = lambda h: [{k: v for k, v in rec.items()} for rec in h]
    assert strip(result["history"]) == strip(full_result["history"])
    for k, w in _weights(full).items():
        torch.testing.assert_close(_weights(resumed)[k], w, rtol=0, atol=0)
    lines = (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [0, 2, 4, 6, 8]


def _history_values(result):
    return [{k: v for k, v in rec.items() if k.startswith("loss_") or k in ("step", "gen_mean", "gen_std")}
            for rec in result["history"]]


@pytest.mark.parametrize("method", ["gngan", "distgan", "gan", "wgangp", "vae", "ali", "vaegan", "mmdrep"])
def test_stacked_seeds_equal_training_each_seed_alone(tmp_path, method):
    config = TINY.replace(method=method, lambda_r=0.5 if method == "gngan" else TINY.lambda_r)
    seeds = [3, 0, 7]
    configs = [config.replace(seed=s) for s in seeds]
    together = Trainer(configs, [tmp_path / f"group/seed{s}" for s in seeds], progress=False).fit()
    for s, res in zip(seeds, together):
        alone = Trainer(config.replace(seed=s), tmp_path / f"alone{s}", progress=False).fit()[0]
        a, b = _history_values(res), _history_values(alone)
        assert [r["step"] for r in a] == [r["step"] for r in b]
        for ra, rb in zip(a, b):
            for k in ra:
                assert ra[k] == pytest.approx(rb[k], rel=1e-4, abs=1e-5), (s, ra["step"], k)
        assert res["manifest"]["trained_together"] == seeds and res["manifest"]["seed"] == s


def test_stacked_group_resumes_exactly(tmp_path):
    seeds = [1, 2]
    configs = [TINY.replace(seed=s) for s in seeds]
    dirs = lambda root: [tmp_path / root / f"seed{s}" for s in seeds]
    full = Trainer(configs, dirs("full"), progress=False).fit()
    first = Trainer(configs, dirs("cut"), progress=False)
    _kill_after(first, 5)
    with pytest.raises(Interrupt):
        first.fit()
    assert (tmp_path / "cut" / "group-seeds-1-2" / "checkpoint.pt").exists()
    resumed = Trainer(configs, dirs("cut"), progress=False).fit()
    for a, b in zip(resumed, full):
        assert a["history"] == b["history"]


def test_losses_change_and_are_logged(tmp_path):
    result = Trainer(TINY, tmp_path, progress=False).fit()[0]
    steps = [h["step"] for h in result["history"]]
    assert steps == [0, 2, 4, 6, 8]
    assert {"loss_ae", "loss_dis", "loss_gen", "loss_gp", "covered_modes"} <= set(result["history"][-1])
    man = result["manifest"]
    assert man["num_steps"] == 8 and man["seed"] == 0 and man["device"] == "cpu"
    assert man["wall_time_s"] > 0 and len(man["git"]["commit"]) in (40, 7)


def test_evaluation_time_is_kept_apart_from_training_time(tmp_path, monkeypatch):
    evaluate = Trainer.evaluate

    def slow_evaluate(self, losses):
        time.sleep(0.1)
        evaluate(self, losses)

    monkeypatch.setattr(Trainer, "evaluate", slow_evaluate)
    man = Trainer(TINY, tmp_path, progress=False).fit()[0]["manifest"]
    assert man["eval_time_s"] >= 5 * 0.1  # evaluations at steps 0, 2, 4, 6, 8
    assert man["wall_time_s"] < 0.5 * man["eval_time_s"]  # the 8 tiny training steps take far less


def test_different_seed_gives_different_run(tmp_path):
    a = Trainer(TINY, tmp_path / "a", progress=False).fit()[0]
    b = Trainer(TINY.replace(seed=1), tmp_path / "b", progress=False).fit()[0]
    assert a["history"][-1]["loss_gen"] != b["history"][-1]["loss_gen"]


def test_refuses_to_resume_with_a_different_config(tmp_path):
    Trainer(TINY, tmp_path, progress=False).fit()
    with pytest.raises(ConfigMismatchError, match="lr: stored 0.001 vs requested 0.002"):
        Trainer(TINY.replace(lr=2e-3), tmp_path, progress=False)
    with pytest.raises(ConfigMismatchError):
        run(TINY.replace(lr=2e-3), tmp_path, progress=False)


def test_run_reuses_a_complete_result(tmp_path):
    first = run(TINY, tmp_path, progress=False)
    (tmp_path / "checkpoint.pt").unlink()
    again = run(TINY, tmp_path, progress=False)
    assert again == json.loads(json.dumps(first))


def test_truncated_checkpoint_falls_back_to_previous(tmp_path):
    config = TINY.replace(num_steps=12)
    t = Trainer(config, tmp_path, progress=False)
    _kill_after(t, 10)  # checkpoints at 4 and 8 exist
    with pytest.raises(Interrupt):
        t.fit()
    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.warns(UserWarning, match="unreadable"):
        resumed = Trainer(config, tmp_path, progress=False)
    assert resumed.step == 4


def test_nan_loss_stops_with_step_and_term(tmp_path):
    t = Trainer(TINY, tmp_path, progress=False)
    with torch.no_grad():
        next(t.nets.net_D.parameters()).fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"step 0: loss term '(ae|dis)' is nan for seed\(s\) \[0\]"):
        t.fit()


def test_resolve_device_rejects_missing_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="not a torch device"):
        resolve_device("gpu0")


def test_bourgan_resumes_exactly_and_stacked_equals_alone(tmp_path):
    """BourGAN's per-seed prior is rebuilt from the seed on resume and in evaluation (2D data: it needs
    a fixed training set)."""
    from gngan.experiments import GRID2D_METHODS

    config = GRID2D_METHODS["bourgan"].replace(num_steps=6, eval_every=2, checkpoint_every=2, eval_samples=60,
                                               batch_size=16, hidden_width=8)
    full = Trainer(config, tmp_path / "full", progress=False).fit()[0]
    first = Trainer(config, tmp_path / "cut", progress=False)
    _kill_after(first, 3)
    with pytest.raises(Interrupt):
        first.fit()
    assert Trainer(config, tmp_path / "cut", progress=False).fit()[0]["history"] == full["history"]
    seeds = [0, 4]
    together = Trainer([config.replace(seed=s) for s in seeds], [tmp_path / f"group/seed{s}" for s in seeds],
                       progress=False).fit()
    for a, b in zip(_history_values(together[0]), _history_values(full)):
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-4, abs=1e-5), (a["step"], k)
    assert together[0]["final"]["covered_modes"] == full["final"]["covered_modes"]


def test_run_killed_before_its_first_checkpoint_restarts_with_a_clean_log(tmp_path):
    config = TINY.replace(num_steps=8, eval_every=2, checkpoint_every=4)
    first = Trainer(config, tmp_path / "run", progress=False)
    _kill_after(first, 3)  # evaluations at 0 and 2 are logged, no checkpoint yet
    with pytest.raises(Interrupt):
        first.fit()
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2
    result = Trainer(config, tmp_path / "run", progress=False).fit()[0]
    steps = [json.loads(x)["step"] for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [0, 2, 4, 6, 8] == [r["step"] for r in result["history"]]


def test_a_run_trains_in_one_trainer_at_a_time(tmp_path):
    first = Trainer(TINY, tmp_path / "run", progress=False)
    assert run_in_use(tmp_path / "run")
    with pytest.raises(RunInUseError, match="another Trainer of this process"):
        Trainer(TINY, tmp_path / "run", progress=False)
    _kill_after(first, 3)
    with pytest.raises(Interrupt):
        first.fit()
    assert not run_in_use(tmp_path / "run"), "an interrupted fit (Ctrl-C in a notebook) releases the lock"
    assert Trainer(TINY, tmp_path / "run", progress=False).fit()[0]["final"]["step"] == TINY.num_steps
    assert not run_in_use(tmp_path / "run")


def test_a_run_held_by_another_process_is_refused_until_that_process_is_killed(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from gngan.trainer import lock_run_dir; "
                               f"f = lock_run_dir({str(run_dir)!r}); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert run_in_use(run_dir)
        with pytest.raises(RunInUseError) as err:
            Trainer(TINY, run_dir, progress=False)
        assert f"being trained by another process (pid {holder.pid})" in str(err.value)
        assert "\n" not in str(err.value)
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert not run_in_use(run_dir), "SIGKILL releases the lock"
    Trainer(TINY, run_dir, progress=False).close()


def test_checkpoint_restores_onto_the_cpu_whatever_the_device(tmp_path):
    """A run resumed on a GPU must read its checkpoint onto the CPU: the noise generators' states and the
    samplers' permutations are CPU tensors (``torch.Generator.set_state`` refuses a CUDA byte tensor). Without
    a GPU here, the trainer's device is set to ``meta`` before reloading: a checkpoint mapped onto it fails."""
    cfg = TINY.replace(data="grid2d", z_dim=2, num_steps=4)  # grid2d: an epoch sampler, with a permutation
    Trainer(cfg, tmp_path / "run", progress=False).fit()
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    trainer.close()
    trainer.device = torch.device("meta")
    trainer._load_checkpoint()
    assert trainer.step == 4
    for g in trainer.noise_gens:
        assert g.get_state().device.type == "cpu"
    for smp in trainer.samplers:
        assert all(t.device.type == "cpu" for t in smp.state_dict().values() if torch.is_tensor(t))
        assert smp.perm.device.type == "cpu"
    for m in trainer.nets.modules().values():
        assert all(p.device.type == "cpu" for p in m.parameters())


def test_result_file_keeps_the_last_evaluation_once(tmp_path):
    """result.json holds the history only (results/ travels to the GPU machine: every byte counts);
    load_result gives back ``final``, the last evaluation, as fit returns it."""
    from gngan.trainer import load_result

    returned = Trainer(TINY.replace(num_steps=4), tmp_path / "run", progress=False).fit()[0]
    stored = json.loads((tmp_path / "run" / "result.json").read_text())
    assert set(stored) == {"manifest", "history"}
    loaded = load_result(tmp_path / "run")
    assert loaded["final"] == stored["history"][-1] == returned["final"]
    assert loaded["history"] == returned["history"]


def test_without_git_the_commit_comes_from_gpu_packs_commit_file(tmp_path, monkeypatch):
    """The device machine's copy of the tree has no .git: manifests name the commit gpu-pack recorded."""
    import json
    import subprocess

    from gngan import trainer

    def no_git(*args, **kwargs):
        raise subprocess.CalledProcessError(128, args[0], "fatal: not a git repository")

    monkeypatch.setattr(trainer.subprocess, "run", no_git)
    monkeypatch.delenv(trainer.COMMIT_FILE_ENV, raising=False)
    assert trainer.git_commit() == {"commit": "unknown", "dirty": None}
    stamp = tmp_path / "commit.json"
    stamp.write_text(json.dumps({"commit": "0a83188", "dirty": False, "package_sha256": trainer.package_sha256()}))
    monkeypatch.setenv(trainer.COMMIT_FILE_ENV, str(stamp))
    assert trainer.git_commit() == {"commit": "0a83188", "dirty": False,
                                    "source": "gpu-pack's commit file; the package matches"}
    # the tree changed after gpu-pack: the commit is named, and dirty
    stamp.write_text(json.dumps({"commit": "0a83188", "dirty": False, "package_sha256": "0" * 64}))
    with pytest.warns(UserWarning, match="differs from the one gpu-pack packed at 0a83188"):
        assert trainer.git_commit() == {"commit": "0a83188", "dirty": True,
                                        "source": "gpu-pack's commit file; the package differs"}
    stamp.write_text("{not json")
    with pytest.warns(UserWarning, match="is not a commit file of gpu-pack"):
        assert trainer.git_commit() == {"commit": "unknown", "dirty": None}


def test_package_sha256_changes_with_any_module(tmp_path, monkeypatch):
    from gngan import trainer

    before = trainer.package_sha256()
    assert before == trainer.package_sha256() and len(before) == 64
    fake = tmp_path / "gngan"
    fake.mkdir()
    for path in Path(trainer.__file__).resolve().parent.glob("*.py"):
        (fake / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(trainer, "__file__", str(fake / "trainer.py"))
    assert trainer.package_sha256() == before
    (fake / "steps.py").write_text((fake / "steps.py").read_text() + "\n")
    assert trainer.package_sha256() != before
