"""A section's missing runs as jobs, fanned out through submitit: ``local`` (parallel processes on this machine, one
per GPU or N one-thread CPU jobs, submitit's LocalExecutor) or ``slurm`` (one SLURM job per run group, its
SlurmExecutor); ``inline`` (one group after another in this process) is `python -m gngan section` without a launcher.

A job is one run group, the seeds of a method that train together (all of them stacked for the MLPs, one seed for
the image networks, ``trainer.training_groups``), and runs the same resumable command a reader could type:
`python -m gngan section <section> --budget <b> --methods <m> --seeds <s>`. So a killed, pre-empted or timed-out
job resumes from its checkpoint when it runs again (submitit resubmits it: ``Job.checkpoint``), and the run
directory's lock keeps two jobs from training one run at once. Every submission is appended to
``<jobs dir>/jobs.jsonl``; ``job_rows`` reads each one's state back for `python -m gngan status`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from gngan.config import RunConfig

LAUNCHERS = ("inline", "local", "slurm")
DEFAULT_JOBS_DIR = Path(__file__).resolve().parent.parent / "logs" / "jobs"
REGISTRY = "jobs.jsonl"
# the keys a --slurm-config JSON file may set (the command line's options of the same name win)
SLURM_KEYS = ("partition", "time_min", "gpus_per_job", "account", "cpus_per_job", "mem_gb")


@dataclass(frozen=True)
class Job:
    """One run group of a section at a budget, as the `section` command trains it (pickled by submitit)."""

    section: str
    budget: str
    method: str
    seeds: tuple[int, ...]
    num_steps: int | None = None
    results_root: str | None = None
    device: str = "cpu"
    threads: int | None = None  # CPU jobs: torch threads (1: N jobs share N cores)

    @property
    def name(self) -> str:
        return f"{self.section}-{self.budget}-{self.method}-seeds-{'-'.join(map(str, self.seeds))}"

    def argv(self) -> list[str]:
        """The arguments of `python -m gngan` this job runs."""
        out = ["section", self.section, "--budget", self.budget, "--methods", self.method,
               "--seeds", ",".join(map(str, self.seeds)), "--device", self.device, "--quiet"]
        if self.num_steps is not None:
            out += ["--num-steps", str(self.num_steps)]
        if self.results_root is not None:
            out += ["--results-root", self.results_root]
        return out

    def __call__(self) -> str:
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)
        from gngan.__main__ import main

        code = main(self.argv())
        if code:
            raise RuntimeError(f"{self.name}: `python -m gngan {' '.join(self.argv())}` exited with {code}")
        return self.name

    def checkpoint(self, *args, **kwargs):
        """submitit calls this when the job is pre-empted or reaches its time limit: resubmit the same job, which
        resumes from the run's last checkpoint (at most ``checkpoint_every`` iterations are lost)."""
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


def jobs_for(section: str, budget: str, configs: dict[str, list[RunConfig]], num_steps: int | None = None,
             root: Path | None = None) -> list[Job]:
    """One job per run group of the runs of ``configs`` not stored yet, in the order of ``configs``."""
    from gngan import experiments
    from gngan.trainer import training_groups

    jobs = []
    for method, seeds in experiments.missing_runs(section, configs, budget, num_steps, root).items():
        cfgs = [c for c in configs[method] if c.seed in seeds]
        for group in training_groups(cfgs):
            jobs.append(Job(section, budget, method, tuple(cfgs[i].seed for i in group), num_steps,
                            None if root is None else str(root)))
    return jobs


@dataclass(frozen=True)
class LaunchOptions:
    """How to fan jobs out: ``local`` with ``jobs`` one-thread CPU jobs or one job per GPU of ``gpus`` at once;
    ``slurm`` with a partition, a time limit per job (minutes), GPUs per job and an optional account."""

    launcher: str
    jobs: int | None = None
    gpus: tuple[int, ...] = ()
    partition: str | None = None
    time_min: int | None = None
    gpus_per_job: int = 1
    account: str | None = None
    cpus_per_job: int | None = None
    mem_gb: int | None = None
    folder: Path = field(default=DEFAULT_JOBS_DIR)

    def __post_init__(self):
        if self.launcher not in LAUNCHERS[1:]:
            raise ValueError(f"launcher {self.launcher!r} fans nothing out; choose one of {LAUNCHERS[1:]}")
        if self.launcher == "local":
            if (self.jobs is None) == (not self.gpus):
                raise ValueError("--launcher local needs either --jobs N (N one-thread CPU jobs) or --gpus 0,1,... "
                                 "(one job per GPU), not both or neither")
            if self.jobs is not None and self.jobs < 1:
                raise ValueError(f"--jobs {self.jobs}: give at least 1")
        if self.launcher == "slurm":
            missing = [k for k in ("partition", "time_min") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"--launcher slurm needs {' and '.join('--' + k.replace('_', '-') for k in missing)} "
                                 "(on the command line or in --slurm-config)")

    @classmethod
    def from_args(cls, args) -> LaunchOptions:
        """The options of `python -m gngan section`: a --slurm-config JSON file first, the command line over it."""
        values = {}
        if getattr(args, "slurm_config", None):
            path = Path(args.slurm_config)
            if not path.exists():
                raise ValueError(f"--slurm-config {path} does not exist")
            try:
                values = json.loads(path.read_text())
            except json.JSONDecodeError as err:
                raise ValueError(f"--slurm-config {path} is not valid JSON ({err})") from None
            unknown = sorted(set(values) - set(SLURM_KEYS))
            if unknown:
                raise ValueError(f"--slurm-config {path} sets {unknown}; it may set {list(SLURM_KEYS)}")
            for key, value in values.items():
                text = key in ("partition", "account")
                if not (isinstance(value, str) if text else type(value) is int and value > 0):
                    raise ValueError(f"--slurm-config {path}: {key} is {value!r}; it must be "
                                     + ("a string" if text else "a positive integer"))
        for key in ("partition", "time_min", "gpus_per_job", "account"):
            if getattr(args, key, None) is not None:
                values[key] = getattr(args, key)
        gpus = tuple(int(g) for g in args.gpus.split(",")) if getattr(args, "gpus", None) else ()
        folder = Path(args.jobs_dir) if getattr(args, "jobs_dir", None) else DEFAULT_JOBS_DIR
        return cls(launcher=args.launcher, jobs=getattr(args, "jobs", None), gpus=gpus, folder=folder, **values)


def _register(folder: Path, job: Job, launcher: str, job_id: str, paths) -> None:
    entry = {**asdict(job), "name": job.name, "launcher": launcher, "job_id": job_id, "folder": str(folder),
             "stdout": str(paths.stdout), "stderr": str(paths.stderr), "result": str(paths.result_pickle),
             "submitted": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with open(folder / REGISTRY, "a") as f:
        f.write(json.dumps(entry) + "\n")


def _local_executor(folder: Path):
    import submitit

    return submitit.LocalExecutor(folder=folder)


def launch(jobs: list[Job], options: LaunchOptions, poll_seconds: float = 1.0) -> int:
    """Run ``jobs`` as ``options`` say. ``local`` waits for all of them (as many at once as slots: CPU jobs or
    GPUs) and returns 1 if any failed; ``slurm`` submits them and returns at once. Each submission is registered."""
    options.folder.mkdir(parents=True, exist_ok=True)
    if options.launcher == "slurm":
        return _launch_slurm(jobs, options)
    return _launch_local(jobs, options, poll_seconds)


@contextlib.contextmanager
def _environment(**values: str | None):
    """Set (or, for None, remove) environment variables for the block only: the launching process keeps its own."""
    def put(items):
        for k, v in items:
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    before = {k: os.environ.get(k) for k in values}
    put(values.items())
    try:
        yield
    finally:
        put(before.items())


def _launch_local(jobs: list[Job], options: LaunchOptions, poll_seconds: float) -> int:
    executor = _local_executor(options.folder)
    slots: list[int | None] = list(options.gpus) if options.gpus else [None] * options.jobs
    waiting, running, failed = list(jobs), {}, []
    while waiting or running:
        for slot in [s for s in range(len(slots)) if s not in running]:
            if not waiting:
                break
            job = waiting.pop(0)
            gpu = slots[slot]
            # a week per job: local jobs are not pre-empted, and submitit's default limit would stop long ones
            if gpu is None:  # one thread each: N jobs on N cores without oversubscribing them
                job = replace(job, device="cpu", threads=1)
                executor.update_parameters(timeout_min=7 * 24 * 60, gpus_per_node=0)
            else:
                job = replace(job, device="cuda")
                executor.update_parameters(timeout_min=7 * 24 * 60, gpus_per_node=1, visible_gpus=[gpu])
            # the job's process inherits the environment it is submitted in
            with _environment(OMP_NUM_THREADS="1") if gpu is None else contextlib.nullcontext():
                sub = executor.submit(job)
            _register(options.folder, job, "local", sub.job_id, sub.paths)
            print(f"started {job.name} ({'GPU ' + str(gpu) if gpu is not None else 'CPU'}; log {sub.paths.stdout})")
            running[slot] = (job, sub)
        time.sleep(poll_seconds)
        for slot, (job, sub) in list(running.items()):
            if sub.done():
                del running[slot]
                try:
                    sub.result()
                    print(f"finished {job.name}")
                except Exception:  # noqa: BLE001  the job's own traceback is in its log
                    failed.append(job)
                    print(f"failed {job.name}: see {sub.paths.stderr}")
    if failed:
        print(f"{len(failed)} of {len(jobs)} jobs failed; rerun the same command to resume them")
        return 1
    print(f"all {len(jobs)} jobs finished")
    return 0


def slurm_executor(options: LaunchOptions):
    """submitit's SLURM executor with ``options``' resources (a job pre-empted or at its time limit is signalled
    90 s before, and resubmits itself: ``Job.checkpoint``)."""
    import submitit

    executor = submitit.AutoExecutor(folder=options.folder, cluster="slurm")
    params = {"slurm_partition": options.partition, "timeout_min": options.time_min,
              "gpus_per_node": options.gpus_per_job, "tasks_per_node": 1, "nodes": 1, "slurm_signal_delay_s": 90}
    if options.account:
        params["slurm_account"] = options.account
    if options.cpus_per_job:
        params["cpus_per_task"] = options.cpus_per_job
    if options.mem_gb:
        params["mem_gb"] = options.mem_gb
    executor.update_parameters(**params)
    return executor


def _launch_slurm(jobs: list[Job], options: LaunchOptions) -> int:
    executor = slurm_executor(options)
    device = "cuda" if options.gpus_per_job else "cpu"
    for job in jobs:
        job = replace(job, device=device)
        executor.update_parameters(name=job.name)
        sub = executor.submit(job)
        _register(options.folder, job, "slurm", sub.job_id, sub.paths)
        print(f"submitted {job.name} as SLURM job {sub.job_id} (log {sub.paths.stdout})")
    print(f"{len(jobs)} jobs submitted; `python -m gngan status --budget {jobs[0].budget}` shows them")
    return 0


def job_state(entry: dict) -> str:
    """A registered job's state, from what it left on disk: finished when every seed's result is stored; running
    while a process holds one of its runs' locks; failed when submitit pickled an error for it; stopped when a
    local job's process ended without either (killed: rerun the command to resume); otherwise queued (SLURM)."""
    from gngan import experiments

    root = None if entry["results_root"] is None else Path(entry["results_root"])
    dirs = [experiments.run_dir(entry["section"], entry["budget"], entry["method"], s, entry["num_steps"], root)
            for s in entry["seeds"]]
    if all((d / "result.json").exists() for d in dirs):
        return "finished"
    if experiments.training_now(entry["section"], entry["budget"], entry["method"], entry["seeds"],
                                entry["num_steps"], root):
        return "running"
    result = Path(entry["result"])
    if result.exists():
        try:
            outcome = pickle.loads(result.read_bytes())[0]
        except Exception:  # noqa: BLE001  a half-written pickle: the job is ending
            return "running"
        if outcome == "error":
            return "failed"
    return "stopped" if entry["launcher"] == "local" else "queued"


def job_rows(budget: str | None = None, folder: Path = DEFAULT_JOBS_DIR) -> list[list[str]]:
    """[job, launcher, job id, state, log] per registered job (the latest submission of each name), for ``budget``
    or all; empty without a registry."""
    path = Path(folder) / REGISTRY
    if not path.exists():
        return []
    latest = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if budget is None or entry["budget"] == budget:
            latest[entry["name"]] = entry
    return [[e["name"], e["launcher"], e["job_id"], job_state(e), e["stdout"]] for e in latest.values()]
