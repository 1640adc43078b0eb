"""The launchers: local jobs give what inline training gives, a killed job resumes, SLURM jobs are submitted with
their resources and resubmit themselves when pre-empted (submitit's own SLURM test double)."""

import json
import os
import signal
import time
from pathlib import Path

import pytest

from gngan import experiments, launch
from gngan.__main__ import main


def _stored(root: Path, section: str, budget: str) -> dict[str, dict]:
    """{run path: its history and final record} of every stored result under ``root`` (manifests differ: times)."""
    out = {}
    for p in sorted(root.rglob("result.json")):
        r = json.loads(p.read_text())
        out[str(p.relative_to(root))] = {"history": r["history"], "config": r["manifest"]["config"]}
    return out


def test_jobs_are_the_run_groups_not_stored_yet(tmp_path):
    configs = experiments.toy1d_configs("smoke", seeds=[0, 1])
    jobs = launch.jobs_for("01_1d", "smoke", configs, root=tmp_path)
    # the 1D networks stack their seeds: one job per method, both seeds
    assert [(j.method, j.seeds) for j in jobs] == [(m, (0, 1)) for m in configs]
    assert jobs[0].argv() == ["section", "01_1d", "--budget", "smoke", "--methods", jobs[0].method, "--seeds", "0,1",
                              "--device", "cpu", "--quiet", "--results-root", str(tmp_path)]
    images = experiments.image_configs("05_gan_ne_gm", "smoke", seeds=[0, 1], methods=["gan"])
    assert [j.seeds for j in launch.jobs_for("05_gan_ne_gm", "smoke", images, root=tmp_path)] == [(0,), (1,)]


@pytest.mark.parametrize("argv, message", [
    (["--launcher", "local"], "needs either --jobs N"),
    (["--launcher", "local", "--jobs", "2", "--gpus", "0"], "not both or neither"),
    (["--launcher", "slurm", "--time-min", "60"], "needs --partition"),
])
def test_launcher_options_are_checked_in_one_line(tmp_path, capsys, argv, message):
    code = main(["section", "01_1d", "--budget", "smoke", "--results-root", str(tmp_path),
                 "--jobs-dir", str(tmp_path / "jobs"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_environment_is_set_for_the_block_only(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    monkeypatch.delenv("GNGAN_TEST_UNSET", raising=False)
    with launch._environment(OMP_NUM_THREADS="1", GNGAN_TEST_UNSET="x"):
        assert (os.environ["OMP_NUM_THREADS"], os.environ["GNGAN_TEST_UNSET"]) == ("1", "x")
    assert os.environ["OMP_NUM_THREADS"] == "4" and "GNGAN_TEST_UNSET" not in os.environ
    with launch._environment(OMP_NUM_THREADS=None):
        assert "OMP_NUM_THREADS" not in os.environ
    assert os.environ["OMP_NUM_THREADS"] == "4"


@pytest.mark.parametrize("content, message", [
    ("{", "is not valid JSON"),
    ('{"partition": "gpu", "time": 60}', "sets ['time']; it may set"),
    ('{"partition": "gpu", "time_min": "60"}', "time_min is '60'; it must be a positive integer"),
    ('{"partition": "gpu", "time_min": 0}', "time_min is 0; it must be a positive integer"),
    ('{"partition": "gpu", "time_min": 60, "gpus_per_job": 1.5}', "gpus_per_job is 1.5; it must be a positive"),
    ('{"partition": 3, "time_min": 60}', "partition is 3; it must be a string"),
])
def test_slurm_config_values_are_checked_in_one_line(tmp_path, capsys, content, message):
    (tmp_path / "slurm.json").write_text(content)
    code = main(["section", "01_1d", "--budget", "smoke", "--results-root", str(tmp_path), "--launcher", "slurm",
                 "--slurm-config", str(tmp_path / "slurm.json"), "--jobs-dir", str(tmp_path / "jobs")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_local_launcher_with_two_cpu_jobs_stores_what_inline_training_stores(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    inline, local = tmp_path / "inline", tmp_path / "local"
    assert main(["section", "01_1d", "--budget", "smoke", "--results-root", str(inline), "--quiet"]) == 0
    assert main(["section", "01_1d", "--budget", "smoke", "--results-root", str(local), "--launcher", "local",
                 "--jobs", "2", "--jobs-dir", str(tmp_path / "jobs")]) == 0
    out = capsys.readouterr().out
    assert out.count("started 01_1d-smoke-") == 2 and "all 2 jobs finished" in out
    assert os.environ["OMP_NUM_THREADS"] == "2", "the jobs' one-thread setting leaked into the launching process"
    a, b = _stored(inline, "01_1d", "smoke"), _stored(local, "01_1d", "smoke")
    assert len(a) == 2 and a == b
    rows = launch.job_rows("smoke", tmp_path / "jobs")
    assert [r[3] for r in rows] == ["finished", "finished"] and all(Path(r[4]).exists() for r in rows)
    assert main(["status", "--budget", "smoke", "--results-root", str(local), "--jobs-dir", str(tmp_path / "jobs")]) == 0
    listed = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("  01_1d-smoke-")]
    assert [(w[1], w[3], w[4]) for w in listed] == [("local", "finished", r[4]) for r in rows]
    # everything stored: nothing to launch
    assert main(["section", "01_1d", "--budget", "smoke", "--results-root", str(local), "--launcher", "local",
                 "--jobs", "2", "--jobs-dir", str(tmp_path / "jobs")]) == 0
    assert "every run is stored" in capsys.readouterr().out


def _descendants(pid: int) -> list[int]:
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out += children.get(p, [])
        todo += children.get(p, [])
    return out


def _alive(pid: int) -> bool:
    """Is any thread of ``pid`` still running? A killed process holds its files and locks until every one of its
    threads has exited, though its main thread may already show as a zombie."""
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
                return True
        except OSError:
            continue
    return False


@pytest.mark.skipif(not Path("/proc").exists(), reason="finds the job's processes through /proc")
def test_a_local_job_killed_mid_run_resumes_to_the_same_result(tmp_path):
    steps = 1500  # evaluates and checkpoints every 75 iterations (toy1d_configs with num_steps)
    configs = experiments.toy1d_configs("smoke", num_steps=steps)
    configs = {"gngan_gm": configs["gngan_gm"]}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    experiments.run_section("01_1d", configs, "smoke", num_steps=steps, root=whole, progress=False)
    jobs = launch.jobs_for("01_1d", "smoke", configs, num_steps=steps, root=killed)
    folder = tmp_path / "jobs"
    folder.mkdir()
    executor = launch._local_executor(folder)
    executor.update_parameters(timeout_min=60, gpus_per_node=0)
    sub = executor.submit(jobs[0])
    launch._register(folder, jobs[0], "local", sub.job_id, sub.paths)
    ckpt = experiments.run_dir("01_1d", "smoke", "gngan_gm", 0, steps, killed)
    deadline = time.time() + 120
    while not any(ckpt.glob("checkpoint*")) and time.time() < deadline and not sub.done():
        time.sleep(0.05)
    assert not sub.done(), "the job finished before it could be killed: give it more iterations"
    pids = [*_descendants(sub._process.pid), sub._process.pid]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    sub._process.wait()
    deadline = time.time() + 30
    while any(_alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.05)
    assert not (ckpt / "result.json").exists()
    assert launch.job_rows("smoke", folder)[0][3] == "stopped"
    # the same command again: the job resumes from its checkpoint and ends where the uninterrupted run ended
    assert launch.launch(jobs, launch.LaunchOptions("local", jobs=1, folder=folder), poll_seconds=0.2) == 0
    assert _stored(killed, "01_1d", "smoke") == _stored(whole, "01_1d", "smoke")
    segments = json.loads((ckpt / "result.json").read_text())["manifest"]["git_segments"]
    assert segments[0]["from_step"] == 0 and 0 < segments[-1]["from_step"] < steps  # it did resume


def test_slurm_jobs_are_submitted_with_their_resources_and_resubmit_themselves_when_preempted(tmp_path, capsys,
                                                                                              monkeypatch):
    from unittest.mock import patch

    from submitit.core import job_environment, utils
    from submitit.slurm import slurm
    from submitit.slurm.test_slurm import mocked_slurm

    (tmp_path / "slurm.json").write_text(json.dumps({"partition": "gpu", "time_min": 120, "account": "proj"}))
    with mocked_slurm():
        code = main(["section", "01_1d", "--budget", "smoke", "--results-root", str(tmp_path / "results"),
                     "--launcher", "slurm", "--slurm-config", str(tmp_path / "slurm.json"), "--time-min", "90",
                     "--jobs-dir", str(tmp_path / "jobs")])
    assert code == 0
    assert capsys.readouterr().out.count("as SLURM job") == 2
    scripts = sorted((tmp_path / "jobs").glob("*_submission.sh"))
    assert len(scripts) == 2
    text = scripts[0].read_text()
    for line in ("#SBATCH --partition=gpu", "#SBATCH --time=90", "#SBATCH --account=proj", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --signal=USR2@90", "#SBATCH --job-name=01_1d-smoke-"):
        assert line in text, line  # the command line's --time-min wins over the file's
    entry = json.loads((tmp_path / "jobs" / launch.REGISTRY).read_text().splitlines()[0])
    assert entry["launcher"] == "slurm" and entry["device"] == "cuda"
    assert launch.job_rows("smoke", tmp_path / "jobs")[0][3] == "queued"
    # pre-emption: the job's signal handler checkpoints (Job.checkpoint) and requeues the same job
    job = slurm.SlurmJob(folder=tmp_path / "jobs", job_id=entry["job_id"])
    monkeypatch.setenv("SLURM_JOB_ID", entry["job_id"])
    delayed = utils.DelayedSubmission.load(job.paths.submitted_pickle)
    handler = job_environment.SignalHandler(slurm.SlurmJobEnvironment(), job.paths, delayed)
    with patch("submitit.slurm.slurm.SlurmJobEnvironment._requeue", return_value=None) as requeue, \
            pytest.raises(SystemExit):
        handler.checkpoint_and_try_requeue(slurm.SlurmJobEnvironment._usr_sig())
    requeue.assert_called_once()
    again = utils.DelayedSubmission.load(job.paths.submitted_pickle)
    assert isinstance(again.function, launch.Job) and again.function == delayed.function
