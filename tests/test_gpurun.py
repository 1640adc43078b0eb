"""The gpu budget's path: plan, stop rule, the whole tools/gpu-run.sh on a CPU at tiny size, the import."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from gngan import experiments, gpurun
from gngan.trainer import load_result

REPO = Path(__file__).resolve().parents[1]
TWO = ["gan", "gan_ne"]  # two runs of 05_gan_ne_gm: enough for two concurrent workers


def test_budget_runs_follow_the_section_order_and_the_budget():
    runs = gpurun.budget_runs()
    sections = [r.section for r in runs]
    assert sections == sorted(sections, key=experiments.GPU_SECTION_ORDER.index)
    assert [r.name for r in runs if r.section == "03_ablation"][:2] == ["03_ablation/distgan/seed0",
                                                                       "03_ablation/distgan/seed1"]
    assert len(runs) == 5 * 2 + 4 + 5
    for r in runs:
        c = r.config
        assert (c.width, c.batch_size, c.fid_fake, c.fid_real) == (1.0, 64, 5_000, 10_000)
        assert c.num_steps >= 20_000 and c.num_steps // c.eval_every >= 5
    tiny = gpurun.budget_runs(tiny=True, sections=["05_gan_ne_gm"], methods=TWO)
    assert [r.name for r in tiny] == ["05_gan_ne_gm/gan/seed0", "05_gan_ne_gm/gan_ne/seed0"]
    assert tiny[0].config == runs[10].config.replace(**gpurun.TINY)


def test_budget_runs_refuse_unknown_names():
    with pytest.raises(ValueError, match="unknown image sections"):
        gpurun.budget_runs(sections=["02_2d"])
    with pytest.raises(ValueError, match="not in sections"):
        gpurun.budget_runs(sections=["05_gan_ne_gm"], methods=["sngan"])


def test_pending_runs_skip_stored_results(tmp_path):
    runs = gpurun.budget_runs(tiny=True, sections=["05_gan_ne_gm"])
    d = gpurun.run_directory(runs[1], tmp_path)
    d.mkdir(parents=True)
    (d / "result.json").write_text(json.dumps({"manifest": {}, "history": [{"step": 6}]}))
    assert gpurun.pending_runs(runs, tmp_path) == [runs[0], *runs[2:]]


def test_runs_to_stop_drops_the_last_runs_until_the_rest_fit():
    state = {"a": {"step": 0, "num_steps": 100, "running": True},
             "b": {"step": 50, "num_steps": 100, "running": True},
             "c": {"step": 0, "num_steps": 100, "running": True},
             "d": {"step": 100, "num_steps": 100, "running": False}}
    flops = {"a": 2, "b": 4, "c": 10, "d": 1}
    # work left: a 200 + b 200 + c 1000 = 1400 FLOP; rate 10 FLOP/s
    assert gpurun.runs_to_stop(state, flops, rate=10, seconds_left=150, margin=1.0) == []
    assert gpurun.runs_to_stop(state, flops, rate=10, seconds_left=139, margin=1.0) == ["c"]
    assert gpurun.runs_to_stop(state, flops, rate=10, seconds_left=39, margin=1.0) == ["c", "b"]
    assert gpurun.runs_to_stop(state, flops, rate=10, seconds_left=0, margin=1.0) == ["c", "b", "a"]
    assert gpurun.runs_to_stop(state, flops, rate=10, seconds_left=140, margin=1.05) == ["c"]
    assert gpurun.runs_to_stop(state, flops, rate=0, seconds_left=1) == []


def _gpu_run_sh(out: Path, root: Path, tmp: Path, minutes: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "GNGAN_GPU_DEVICE": "cpu",
           "GNGAN_GPU_MINUTES": str(minutes), "GNGAN_CARRY": str(tmp / "carry"), "TMPDIR": str(tmp),
           "OMP_NUM_THREADS": "1", "GNGAN_WEIGHTS_STAGE": str(tmp / "staged"),
           "GNGAN_GPU_ARGS": f"--tiny --sections 05_gan_ne_gm --methods {','.join(TWO)} --results-root {root} "
                             f"--warmup-seconds 1 --check-every-seconds 1"}
    return subprocess.run(["bash", str(REPO / "tools" / "gpu-run.sh")], env=env, capture_output=True, text=True,
                          timeout=600)


def _stage(tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "tools" / "gpu-stage-weights.sh")], capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable, "GNGAN_WEIGHTS_CARRY": str(tmp / "weights-carry"),
                               "GNGAN_WEIGHTS_STAGE": str(tmp / "staged")}, timeout=300)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The two device calls, on this CPU at tiny size, with the fp16 FID weights split as gpu-pack splits them:
    tools/gpu-stage-weights.sh leaves the first part outside the tree, then tools/gpu-run.sh joins it with the
    second, carried in its own call, and trains."""
    from gngan import carry, fid

    tmp = tmp_path_factory.mktemp("gpu")
    whole = fid.save_compact_weights(tmp / "pt_inception-fp16.pt", "fp16")
    n = whole.stat().st_size
    carry.split_file(whole, (n // 2, n - n // 2), (tmp / "weights-carry", tmp / "carry" / "inception"))
    staged = _stage(tmp)
    assert staged.returncode == 0 and "staged and checked" in staged.stdout, staged.stderr[-2000:]
    assert sorted(p.name for p in (tmp / "staged").iterdir()) == ["pt_inception-fp16.pt.part1"]
    out = tmp / "out"
    proc = _gpu_run_sh(out, tmp / "stored", tmp, minutes=4)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp / "staged" / "pt_inception-fp16.pt").read_bytes() == whole.read_bytes()
    return out, proc


def test_gpu_run_sh_trains_and_packs_within_the_device_limits(finished):
    out, proc = finished
    assert "== machine" in proc.stdout and "torch" in proc.stdout
    files = [p for p in out.rglob("*") if p.is_file()]
    assert 0 < len(files) <= 8
    assert all(len(p.relative_to(out).parts) <= 3 and p.stat().st_size <= 16 * 2**20 for p in files)
    record = json.loads((out / gpurun.RUN_FILE).read_text())
    assert record["machine"]["device"] == "cpu" and record["tiny"]
    assert {n: r["status"] for n, r in record["runs"].items()} == {f"05_gan_ne_gm/{m}/seed0": "done" for m in TWO}
    assert all(r["step"] == r["num_steps"] == gpurun.TINY["num_steps"] for r in record["runs"].values())
    assert all(v > 0 for v in record["flops_per_iteration"].values())
    with tarfile.open(out / "05_gan_ne_gm.tar.gz") as tar:
        names = tar.getnames()
        result = json.loads(tar.extractfile("05_gan_ne_gm/gan/seed0/result.json").read())
    assert "05_gan_ne_gm/gan/seed0/config.json" in names
    assert not any(n.endswith(("metrics.jsonl", ".pt", ".lock")) for n in names)  # finished: the log is in result.json
    assert [h["step"] for h in result["history"]] == [0, 3, 6]
    assert all(h["fid"] > 0 for h in result["history"])
    for h in result["history"]:  # precision/recall from the same Inception features (k = 5)
        assert all(0 <= h[k] <= 1 for k in ("precision", "recall", "coverage")) and h["density"] >= 0
    assert result["history"][-1]["fid_weights"].startswith("fp16 ")  # the staged compact weights were used


def test_gpu_import_stores_finished_runs_with_their_provenance(finished, tmp_path):
    out, _ = finished
    with pytest.raises(ValueError, match="tiny test run"):
        gpurun.gpu_import(out)
    names = gpurun.gpu_import(out, root=tmp_path, allow_tiny=True)
    assert names == [f"05_gan_ne_gm/{m}/seed0" for m in TWO]
    stored = load_result(experiments.run_dir("05_gan_ne_gm", "gpu", "gan", 0, root=tmp_path))
    assert stored["manifest"]["gpu_run"]["machine"]["device"] == "cpu"
    assert stored["final"] == stored["history"][-1]
    with pytest.raises(ValueError, match="already holds a result"):
        gpurun.gpu_import(out, root=tmp_path, allow_tiny=True)


def test_gpu_import_refuses_a_config_that_is_not_the_budgets(finished, tmp_path):
    out, _ = finished
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / gpurun.RUN_FILE).write_text((out / gpurun.RUN_FILE).read_text())
    with tarfile.open(out / "05_gan_ne_gm.tar.gz") as src, tarfile.open(changed / "05_gan_ne_gm.tar.gz", "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isfile() else None
            if m.name.endswith("gan/seed0/result.json"):
                r = json.loads(data)
                r["manifest"]["config"]["lr"] = 1.0
                data = json.dumps(r).encode()
                m.size = len(data)
            dst.addfile(m, None if data is None else __import__("io").BytesIO(data))
    with pytest.raises(ValueError, match="config differs"):
        gpurun.gpu_import(changed, root=tmp_path / "r", allow_tiny=True)


def test_every_run_still_training_at_the_deadline_is_stopped(tmp_path):
    """Workers told to stop (their deadline passes before their first iteration) exit cleanly; a stopped run
    brings its log home, never a result."""
    import time

    runs = gpurun.budget_runs(tiny=True, sections=["05_gan_ne_gm"], methods=TWO)
    gpurun.prepare(runs, "cpu", log=lambda m: None)  # as gpu_run does: the workers must not race on the caches
    orch = gpurun.Orchestrator(runs, {r.slug: 1 for r in runs}, tmp_path / "stage", "cpu",
                               deadline=time.time() + 2, warmup_s=1, check_every_s=1, log=lambda m: None)
    orch.start(tiny=True)
    out = orch.watch()
    assert {e["stop"] for e in out["events"] if e.get("why") == "deadline reached"} == {r.slug for r in runs}
    assert [p.returncode for p in orch.procs.values()] == [gpurun.STOPPED_EXIT] * 2
    assert all(json.loads(orch._files(r)[0].read_text())["status"] == "stopped" for r in runs)
    (tmp_path / "out").mkdir()
    assert gpurun.pack(tmp_path / "stage", tmp_path / "out", runs) == ["05_gan_ne_gm.tar.gz"]
    with tarfile.open(tmp_path / "out" / "05_gan_ne_gm.tar.gz") as tar:
        names = tar.getnames()
    assert "05_gan_ne_gm/gan/seed0/metrics.jsonl" in names and "05_gan_ne_gm/gan/seed0/result.json" not in names


def test_gpu_benchmark_records_the_gpu_machine_not_this_one(tmp_path):
    record = {"started_at": "2026-12-05T10:00:00+00:00", "machine": {"torch": "2.11.0+cu130", "gpu": "NVIDIA H200"},
              "commit": {"commit": "abc", "dirty": False}, "training_wall_s": 100.0,
              "throughput": [{"t": 50, "flop_per_s": 2e14, "iterations_per_s": 400.0},
                             {"t": 60, "flop_per_s": 3e14, "iterations_per_s": 600.0},
                             {"t": 70, "flop_per_s": 1e14, "iterations_per_s": 200.0}],
              "runs": {"a": {"status": "done", "step": 20_000}, "b": {"status": "stopped", "step": 10_000}}}
    stored = gpurun.write_gpu_benchmark(record, tmp_path / "gpu_run.json")
    assert (stored["git_commit"], stored["torch_version"]) == ("abc", "2.11.0+cu130")
    agg = stored["aggregate"]
    assert agg["median_aggregate_iterations_per_s"] == 400.0 and agg["median_aggregate_tflop_per_s"] == 200.0
    assert agg["mean_aggregate_iterations_per_s"] == 300.0 and (agg["runs_done"], agg["runs_stopped"]) == (1, 1)
    assert json.loads((tmp_path / "gpu_run.json").read_text()) == stored


def test_planned_minutes_are_flop_over_the_planning_rate():
    runs = gpurun.budget_runs(sections=["05_gan_ne_gm"])
    flops = {r.slug: 3e11 for r in runs}  # 0.3 TFLOP per iteration
    # 4 runs x 20,000 iterations x 0.3 TFLOP = 24,000 TFLOP; at 100 TFLOP/s 240 s = 4 minutes
    assert gpurun.planned_minutes(runs, flops, tflops=100.0) == {"05_gan_ne_gm": pytest.approx(4.0)}
    stored = gpurun.iteration_flops(gpurun.budget_runs())  # the committed count covers the whole budget
    minutes = gpurun.planned_minutes(gpurun.budget_runs(), stored)
    assert list(minutes) == list(experiments.GPU_SECTION_ORDER) and sum(minutes.values()) > 8


def test_runs_that_cannot_finish_even_at_the_optimistic_rate_never_start():
    runs = gpurun.budget_runs(sections=["05_gan_ne_gm"])  # 4 runs of 20,000 iterations
    flops = {r.slug: 3e11 for r in runs}
    # at 300 TFLOP/s a run takes 20,000 x 0.3 TFLOP / 300 TFLOP/s = 20 s: 50 s fit two, the last two wait
    start, wait = gpurun.startable(runs, flops, seconds=50, tflops=300)
    assert start == runs[:2] and wait == runs[2:]
    assert gpurun.startable(runs, flops, seconds=80, tflops=300) == (runs, [])


def test_gpu_run_sh_gives_training_only_what_is_left_of_the_device_call(tmp_path):
    """The device call is killed at 600 s: when the steps before training took long, gpu-run gets fewer minutes
    (here the call's share is 80 s, so at most (80 - 20) / 60 = 1 minute of the 6.5 asked for)."""
    from gngan import carry

    (tmp_path / "w.pt").write_bytes(b"weights")  # only joined; --help stops before it is read
    carry.split_file(tmp_path / "w.pt", (3, 4), (tmp_path / "staged", tmp_path / "carry" / "inception"))
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable, "GNGAN_GPU_DEVICE": "cpu",
           "GNGAN_GPU_MINUTES": "6.5", "GNGAN_GPU_CALL_SECONDS": "80", "GNGAN_CARRY": str(tmp_path / "carry"),
           "GNGAN_WEIGHTS_STAGE": str(tmp_path / "staged"), "TMPDIR": str(tmp_path), "GNGAN_GPU_ARGS": "--help"}
    proc = subprocess.run(["bash", str(REPO / "tools" / "gpu-run.sh")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    minutes = float(proc.stdout.split("gpu-run gets ", 1)[1].split()[0])
    assert 0 < minutes <= 1.0


def test_gpu_run_sh_stops_at_once_when_the_staged_part_of_the_weights_is_missing(tmp_path):
    """Call 2 on a machine that did not keep call 1's part (it went back after ~30 s idle): one line, exit 2,
    before any minute is spent."""
    from gngan import carry

    (tmp_path / "w.pt").write_bytes(b"weights")
    carry.split_file(tmp_path / "w.pt", (3, 4), (tmp_path / "not-staged", tmp_path / "carry" / "inception"))
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable, "GNGAN_GPU_DEVICE": "cpu",
           "GNGAN_CARRY": str(tmp_path / "carry"), "GNGAN_WEIGHTS_STAGE": str(tmp_path / "staged"),
           "TMPDIR": str(tmp_path), "GNGAN_GPU_ARGS": "--help"}
    proc = subprocess.run(["bash", str(REPO / "tools" / "gpu-run.sh")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2
    assert "gpu-run: the FID Inception weights are not complete on this machine" in proc.stderr
    assert "w.pt.part1 (part of w.pt) is in none of" in proc.stderr
    assert "== train" not in proc.stdout


def test_the_stage_script_needs_no_wheel_and_refuses_a_corrupt_part(tmp_path):
    """Call 1 runs before pytorch-fid is installed there: staging only copies and checks sha256 (stdlib)."""
    from gngan import carry

    (tmp_path / "w.pt").write_bytes(b"weights")
    carry.split_file(tmp_path / "w.pt", (3, 4), (tmp_path / "weights-carry", tmp_path / "carry" / "inception"))
    source = (REPO / "gngan" / "carry.py").read_text()
    assert "import torch" not in source and "pytorch_fid" not in source
    assert _stage(tmp_path).returncode == 0
    (tmp_path / "weights-carry" / "w.pt.part1").write_bytes(b"wex")  # same size, other bytes
    bad = _stage(tmp_path)
    assert bad.returncode == 2 and "sha256 is not the manifest's" in bad.stderr
    (tmp_path / "weights-carry" / "inception.json").unlink()
    assert "run 'python -m gngan gpu-pack' here first" in _stage(tmp_path).stderr


def test_runs_too_slow_even_alone_never_start_and_are_stopped():
    """A run is bounded by its own time per iteration alone (its CPU core launching kernels), whatever the
    aggregate rate: 20 iterations at 1 s alone need 20 s (x 1.1 margin in the watch)."""
    runs = gpurun.budget_runs(tiny=True, sections=["05_gan_ne_gm"])[:3]
    runs = [gpurun.PlannedRun(r.section, r.method, r.seed, r.config.replace(num_steps=20)) for r in runs]
    flops = {r.slug: 1 for r in runs}
    alone = {runs[0].slug: 1.0, runs[1].slug: 0.5}  # runs[2] not timed: kept
    start, wait = gpurun.startable(runs, flops, seconds=15, tflops=1, alone_s=alone)
    assert start == runs[1:] and wait == runs[:1]
    state = {r.slug: {"step": 10, "num_steps": 20, "running": True} for r in runs}
    assert gpurun.too_slow_alone(state, alone, seconds_left=10.5) == [runs[0].slug]  # 10 x 1.0 x 1.1 = 11
    assert gpurun.too_slow_alone(state, alone, seconds_left=11.5) == []
    state[runs[0].slug]["running"] = False
    assert gpurun.too_slow_alone(state, alone, seconds_left=0) == [runs[1].slug]


def test_packed_sections_leave_out_checkpoints_also_half_written_ones(tmp_path):
    run = gpurun.budget_runs(tiny=True, sections=["05_gan_ne_gm"])[0]
    d = gpurun.run_directory(run, tmp_path / "results")
    d.mkdir(parents=True)
    for name in ("config.json", "result.json", "checkpoint.pt", "checkpoint.prev.pt", "checkpoint.pt.tmp", ".lock"):
        (d / name).write_text("{}")
    (tmp_path / "out").mkdir()
    assert gpurun.pack(tmp_path, tmp_path / "out", [run]) == ["05_gan_ne_gm.tar.gz"]
    with tarfile.open(tmp_path / "out" / "05_gan_ne_gm.tar.gz") as tar:
        assert sorted(Path(n).name for n in tar.getnames() if "." in Path(n).name) == ["config.json", "result.json"]


def test_a_method_whose_check_raises_is_refused_and_the_others_go_on(monkeypatch):
    from gngan import costs

    runs = gpurun.budget_runs(tiny=True, sections=["05_gan_ne_gm"], methods=TWO)

    def time_iterations(config, device, iterations=10):
        if config.method == "gan" and config.lambda_r > 0:  # gan_ne
            raise RuntimeError("CUDA error: an illegal memory access was encountered\nmore lines")
        return 0.01

    monkeypatch.setattr(costs, "time_iterations", time_iterations)
    monkeypatch.setattr(costs, "precision_agreement", lambda *a, **k: {"within": True})
    logged = []
    got = gpurun.check_and_time(runs, "cpu", logged.append)
    assert got["refused"] == ["05_gan_ne_gm/gan_ne"]
    assert got["check_errors"] == {"05_gan_ne_gm/gan_ne": "RuntimeError: CUDA error: an illegal memory access was "
                                                          "encountered"}
    assert set(got["alone"]) == {"05_gan_ne_gm/gan"}
    assert any("its runs are not trained" in line for line in logged)


def test_both_device_calls_fit_with_todays_tree():
    """What gpu-pack will carry: the tree (every call), the fp16 weights split over the two calls, CIFAR-10 and the
    wheel in call 2. Fails here, in CI, when results/ grows past what the device machine takes, not there."""
    from gngan import carry, images

    cifar = images.mirror_dir() / images.CIFAR10_JPEG_FILE
    if not cifar.is_file():
        pytest.skip(f"{cifar} not here")
    weights = json.loads((REPO / "results" / "benchmarks" / "inception_compact.json").read_text())
    weights = weights["schemes"][gpurun.WEIGHTS_SCHEME]["bytes"]
    tree = gpurun.travelling_bytes(REPO)["total"]
    wheel_and_manifests = 64 * 1024
    first, second = carry.split_sizes(weights, (tree + wheel_and_manifests, tree + cifar.stat().st_size
                                                + wheel_and_manifests), gpurun.TRAVEL_LIMIT)
    assert first + second == weights


def test_gpu_pack_refuses_uncommitted_code(tmp_path, monkeypatch):
    """The runs on the GPU name gpu-pack's commit: packing code that is not committed is refused, before anything
    is downloaded or copied."""
    monkeypatch.setattr(gpurun, "GIT_AT_IMPORT", {"commit": "0a83188", "dirty": True})
    with pytest.raises(ValueError, match="gngan/ has uncommitted changes or no commit .*: commit them first"):
        gpurun.pack_carry(tmp_path)
    assert not any(tmp_path.iterdir())
