"""The training loop: seeding, progress, metrics, atomic checkpoints, exact resume, run manifests.

A ``Trainer`` trains one config for one or several seeds at once (stacked weights, see
``gngan.steps``). Every seed keeps its own run directory with ``config.json``, ``metrics.jsonl`` and,
when finished, ``result.json``; the group's checkpoint lives in one directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import torch
from tqdm import tqdm

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; two processes must not train one run there
    fcntl = None

import gngan
from gngan.config import RunConfig
from gngan.data import make_dataset
from gngan.metrics import EVALUATORS
from gngan.steps import Stepper, build_nets, build_optimizers, flags_in_effect, precision_flags, stacks_seeds

CHECKPOINT = "checkpoint.pt"
PREVIOUS_CHECKPOINT = "checkpoint.prev.pt"
RESULT = "result.json"
METRICS = "metrics.jsonl"


class ConfigMismatchError(ValueError):
    """A run directory holds a run with a different config."""


class RunInUseError(RuntimeError):
    """Another process is training this run directory."""


LOCK = ".lock"


def lock_run_dir(run_dir: Path):
    """Hold an exclusive lock on ``run_dir/.lock`` while this process trains the run, so a second process
    (a notebook while ``python -m gngan section`` runs, say) cannot train it at the same time. The lock is
    released when the returned file is closed or the process ends (SIGKILL too). Raises RunInUseError."""
    f = open(Path(run_dir) / LOCK, "a+")
    if fcntl is None:
        return f
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        owner = f.read().strip() or "unknown"
        f.close()
        who = "another Trainer of this process" if owner == str(os.getpid()) else f"another process (pid {owner})"
        raise RunInUseError(f"{run_dir} is being trained by {who}; wait for it to finish or stop it, "
                            f"then rerun") from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def run_in_use(run_dir: Path) -> bool:
    """Is another process (or another Trainer of this one) training ``run_dir`` now?"""
    path = Path(run_dir) / LOCK
    if fcntl is None or not path.exists():
        return False
    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def resolve_device(device: str | torch.device) -> torch.device:
    """torch.device for ``device``, or one clear error when it is not available here."""
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device {device!r} is not a torch device ({err}); use 'cpu' or 'cuda'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but no CUDA GPU is available here; use device='cpu'")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} requested but MPS is not available here; use device='cpu'")
    return dev


COMMIT_FILE_ENV = "GNGAN_COMMIT_FILE"


def package_sha256() -> str:
    """sha256 of the gngan package's source (each module's name and bytes, in name order): which code ran, where
    git cannot say."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(f"{path.name}\n".encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def git_commit() -> dict:
    """The commit of the gngan source tree and whether its package files had uncommitted changes. Where the tree
    is no git checkout (the device machine's copy of it has no .git), the commit ``gpu-pack`` recorded when it
    packed the tree, in the file ``$GNGAN_COMMIT_FILE`` names (tools/gpu-run.sh sets it), dirty if the package
    differs from the one packed (``package_sha256``); else "unknown"."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "gngan"],
                               capture_output=True, text=True, check=True).stdout.strip() != ""
        return {"commit": head, "dirty": dirty}
    except (OSError, subprocess.CalledProcessError):
        stamp = os.environ.get(COMMIT_FILE_ENV)
        if not stamp:
            return {"commit": "unknown", "dirty": None}
        try:
            recorded = json.loads(Path(stamp).read_text())
            commit, packed = str(recorded["commit"]), recorded["package_sha256"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            warnings.warn(f"{stamp} (${COMMIT_FILE_ENV}) is not a commit file of gpu-pack ({type(err).__name__}: "
                          f"{err}); the commit is recorded as unknown")
            return {"commit": "unknown", "dirty": None}
        if packed != package_sha256():
            warnings.warn(f"the gngan package differs from the one gpu-pack packed at {commit[:10]}: its runs are "
                          f"recorded as that commit, dirty")
            return {"commit": commit, "dirty": True, "source": "gpu-pack's commit file; the package differs"}
        return {"commit": commit, "dirty": False, "source": "gpu-pack's commit file; the package matches"}


# The code a process runs is the code it imported: record the tree's state now, not when a run ends.
GIT_AT_IMPORT = git_commit()


def _check_same_config(stored: RunConfig, config: RunConfig, where: Path) -> None:
    if stored != config:
        diff = ", ".join(f"{k}: stored {a!r} vs requested {b!r}" for k, (a, b) in stored.diff(config).items())
        raise ConfigMismatchError(
            f"{where} holds a run with a different config ({diff}); use another run directory or delete it")


def group_dir(run_dirs: list[Path], seeds: list[int]) -> Path:
    """Where a group's checkpoint lives: the run directory itself for one seed."""
    if len(run_dirs) == 1:
        return Path(run_dirs[0])
    return Path(run_dirs[0]).parent / ("group-seeds-" + "-".join(map(str, seeds)))


def training_groups(configs: list[RunConfig]) -> list[list[int]]:
    """Indices of ``configs`` (one method, one per seed) that train together: all of them as one stacked
    group for the MLPs, one seed at a time for the image networks."""
    indices = list(range(len(configs)))
    return [indices] if stacks_seeds(configs[0]) else [[i] for i in indices]


def read_checkpoint(ckpt_dir: Path, map_location="cpu") -> dict | None:
    """A group's checkpoint state: the latest readable of its checkpoint and the previous one, else None."""
    for name in (CHECKPOINT, PREVIOUS_CHECKPOINT):
        path = Path(ckpt_dir) / name
        if not path.exists():
            continue
        try:
            return torch.load(path, map_location=map_location, weights_only=False)
        except Exception as err:  # a truncated file raises various errors depending on where it was cut
            warnings.warn(f"checkpoint {path} is unreadable ({type(err).__name__}); trying the previous one")
    return None


def checkpoint_step(ckpt_dir: Path) -> int | None:
    """The step a group would resume from (``read_checkpoint``), else None."""
    state = read_checkpoint(ckpt_dir)
    return None if state is None else int(state["step"])


class Trainer:
    """Trains ``configs`` (equal but for the seed) together, resuming from their checkpoint if there is one."""

    def __init__(self, configs: RunConfig | list[RunConfig], run_dirs: str | Path | list, device: str = "cpu",
                 progress: bool = True, checkpoint_dir: str | Path | None = None):
        if isinstance(configs, RunConfig):
            configs, run_dirs = [configs], [run_dirs]
        self.configs, self.run_dirs = list(configs), [Path(d) for d in run_dirs]
        if not self.configs or len(self.configs) != len(self.run_dirs):
            raise ValueError("Trainer needs one run directory per config")
        self.seeds = [c.seed for c in self.configs]
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds {self.seeds} must be distinct")
        self.config = config = self.configs[0]
        for c in self.configs[1:]:
            if c.replace(seed=config.seed) != config:
                raise ValueError(f"configs trained together may differ only in their seed: {config.diff(c)}")
        self.device = resolve_device(device)
        self.progress = progress
        self.ckpt_dir = Path(checkpoint_dir) if checkpoint_dir else group_dir(self.run_dirs, self.seeds)
        self.numerics: dict | None = None  # the precision flags fit trains with (steps.flags_in_effect)
        self._locks = []
        for d in self.run_dirs:
            d.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _lock(self) -> None:
        try:
            for d in self.run_dirs:
                self._locks.append(lock_run_dir(d))
        except RunInUseError:
            self.close()
            raise

    def close(self) -> None:
        """Release the run directories' locks (``fit`` does when it returns or raises)."""
        for f in self._locks:
            f.close()
        self._locks = []

    def _setup(self) -> None:
        config = self.config
        for c, d in zip(self.configs, self.run_dirs):
            if (d / "config.json").exists():
                _check_same_config(RunConfig.load(d / "config.json"), c, d)
            else:
                c.save(d / "config.json")
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)

        self.dataset = make_dataset(config.data)
        self.nets = build_nets(config, self.dataset.x_dim, self.seeds)
        for module in self.nets.modules().values():
            module.to(self.device)
        self.opts = build_optimizers(config, self.nets)
        self.scheds = {k: torch.optim.lr_scheduler.StepLR(o, step_size=config.lr_decay_every, gamma=config.lr_decay)
                       for k, o in self.opts.items()}
        self.samplers = [self.dataset.sampler(torch.Generator().manual_seed(2 * s)) for s in self.seeds]
        self.noise_gens = [torch.Generator().manual_seed(2 * s + 1) for s in self.seeds]
        self.stepper = Stepper(config, self.nets, self.opts, self.samplers, self.noise_gens, self.device, self.seeds)
        self.history: list[list[dict]] = [[] for _ in self.seeds]
        self.elapsed = 0.0  # seconds in training iterations
        self.eval_elapsed = 0.0  # seconds in evaluations and checkpoint writing
        self.segments: list[dict] = []
        self._load_checkpoint()
        # which code trained which steps, when a run is resumed by a later commit
        self.segments.append({**GIT_AT_IMPORT, "from_step": self.step})

    @property
    def step(self) -> int:
        return self.stepper.step

    def _state(self) -> dict:
        return {
            "configs": [c.to_dict() for c in self.configs],
            "step": self.step,
            "nets": {k: m.state_dict() for k, m in self.nets.modules().items()},
            "opts": {k: o.state_dict() for k, o in self.opts.items()},
            "scheds": {k: s.state_dict() for k, s in self.scheds.items()},
            "samplers": [s.state_dict() for s in self.samplers],
            "noise_gens": [g.get_state() for g in self.noise_gens],
            "history": self.history,
            "elapsed": self.elapsed,
            "eval_elapsed": self.eval_elapsed,
            "segments": self.segments,
        }

    def save_checkpoint(self) -> None:
        """Write-then-rename, keeping the previous checkpoint in case this one is ever truncated."""
        path, tmp = self.ckpt_dir / CHECKPOINT, self.ckpt_dir / (CHECKPOINT + ".tmp")
        torch.save(self._state(), tmp)
        if path.exists():
            os.replace(path, self.ckpt_dir / PREVIOUS_CHECKPOINT)
        os.replace(tmp, path)

    def _load_checkpoint(self) -> None:
        # Always onto the CPU: the RNG states and the samplers' permutations live there (a CPU
        # torch.Generator takes only a CPU byte tensor); load_state_dict moves weights and optimiser
        # state onto the device of the networks they load into.
        state = read_checkpoint(self.ckpt_dir, "cpu")
        if state is None:
            # a run killed before its first checkpoint restarts from step 0: drop what it had logged
            for d in self.run_dirs:
                (d / METRICS).unlink(missing_ok=True)
            return
        stored = [RunConfig.from_dict(d) for d in state["configs"]]
        if [c.seed for c in stored] != self.seeds:
            raise ConfigMismatchError(f"{self.ckpt_dir} holds a checkpoint of seeds {[c.seed for c in stored]}, "
                                      f"not {self.seeds}; use another directory or delete it")
        for s, c in zip(stored, self.configs):
            _check_same_config(s, c, self.ckpt_dir)
        for k, m in self.nets.modules().items():
            m.load_state_dict(state["nets"][k])
        for k, o in self.opts.items():
            o.load_state_dict(state["opts"][k])
        for k, s in self.scheds.items():
            s.load_state_dict(state["scheds"][k])
        for smp, st in zip(self.samplers, state["samplers"]):
            smp.load_state_dict(st)
        for g, st in zip(self.noise_gens, state["noise_gens"]):
            g.set_state(st)
        self.history = state["history"]
        self.elapsed = state["elapsed"]
        self.eval_elapsed = state.get("eval_elapsed", 0.0)  # absent from checkpoints written before it existed
        self.segments = state.get("segments", [])
        self.stepper.step = state["step"]
        for hist, d in zip(self.history, self.run_dirs):
            with open(d / METRICS, "w") as f:
                for rec in hist:
                    f.write(json.dumps(rec) + "\n")

    def evaluate(self, losses: dict[str, torch.Tensor]) -> None:
        for m in self.nets.modules().values():
            m.eval()
        with precision_flags("fp32"):  # FID and the other metrics are float32 whatever the run trains in
            evals = EVALUATORS[self.config.data](self.nets, self.dataset, self.config, self.seeds, self.step,
                                                 self.device)
        for m in self.nets.modules().values():
            m.train()
        for i, (ev, d) in enumerate(zip(evals, self.run_dirs)):
            rec = {"step": self.step, **{f"loss_{k}": round(float(v[i]), 6) for k, v in losses.items()}, **ev}
            self.history[i].append(rec)
            with open(d / METRICS, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def _overhead(self, work, *args) -> None:
        """Run an evaluation or a checkpoint write, counted in eval_elapsed, not in training time."""
        tick = time.perf_counter()
        work(*args)
        self.eval_elapsed += time.perf_counter() - tick

    def manifest(self, seed: int) -> dict:
        numerics = self.numerics
        if numerics is None:  # not trained by this Trainer yet: the flags fit would set
            with precision_flags(self.config.precision):
                numerics = flags_in_effect(self.config.precision)
        return {
            "config": self.configs[self.seeds.index(seed)].to_dict(),
            "seed": seed,
            "num_steps": self.step,
            "trained_together": self.seeds,
            "device": str(self.device),
            "device_name": torch.cuda.get_device_name(self.device) if self.device.type == "cuda"
            else platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "precision": self.config.precision,
            "precision_flags": numerics,
            "wall_time_s": round(self.elapsed, 2),
            "eval_time_s": round(self.eval_elapsed, 2),
            "git": GIT_AT_IMPORT,
            "git_segments": self.segments,
            "gngan_version": gngan.__version__,
            "torch_version": torch.__version__,
            "python_version": sys.version.split()[0],
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    def fit(self) -> list[dict]:
        """Train to ``num_steps``; returns one result per seed (also written to each run's result.json). The run
        directories' locks are released when it returns or raises (a Ctrl-C in a notebook must not keep them),
        and torch's process-wide precision flags, set for ``config.precision``, are restored (a notebook may
        run several trainers)."""
        if not self._locks:
            self._lock()
        try:
            with precision_flags(self.config.precision):
                self.numerics = flags_in_effect(self.config.precision)
                return self._fit()
        finally:
            self.close()

    def _fit(self) -> list[dict]:
        c = self.config
        if self.step == 0 and not self.history[0]:
            self._overhead(self.evaluate, {})
        sums: dict[str, torch.Tensor] = {}
        count = 0
        # the run directory's parent names the variant (gan_ne, gngan_ne_gm, ...); config.method does not
        name = self.run_dirs[0].parent.name or c.method
        label = f"{name} seed {self.seeds[0]}" if len(self.seeds) == 1 else f"{name} {len(self.seeds)} seeds"
        bar = tqdm(total=c.num_steps, initial=self.step, disable=not self.progress, desc=label, leave=False)
        start = time.perf_counter()
        while self.step < c.num_steps:
            out = self.stepper.iteration()
            for s in self.scheds.values():
                s.step()
            for k, v in out.items():
                sums[k] = sums.get(k, 0) + v
            count += 1
            bar.update(1)
            if self.step % c.eval_every == 0 or self.step == c.num_steps:
                self.elapsed += time.perf_counter() - start
                self._overhead(self.evaluate, {k: v / count for k, v in sums.items()})
                sums, count = {}, 0
                start = time.perf_counter()
            if self.step % c.checkpoint_every == 0 or self.step == c.num_steps:
                self.elapsed += time.perf_counter() - start
                self._overhead(self.save_checkpoint)
                start = time.perf_counter()
        bar.close()
        results = []
        for seed, hist, d in zip(self.seeds, self.history, self.run_dirs):
            result = {"manifest": self.manifest(seed), "history": hist}
            tmp = d / (RESULT + ".tmp")
            tmp.write_text(json.dumps(result) + "\n")
            os.replace(tmp, d / RESULT)
            results.append({**result, "final": hist[-1]})
        return results


def load_result(run_dir: str | Path) -> dict | None:
    """A finished run's ``result.json``: its manifest and evaluation history, plus ``final``, the last
    evaluation (not stored twice: the file keeps it once, in the history)."""
    path = Path(run_dir) / RESULT
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    result.setdefault("final", result["history"][-1])
    return result


def run_group(configs: list[RunConfig], run_dirs: list, device: str = "cpu", progress: bool = True,
              train: bool = True) -> list[dict]:
    """Stored results where complete (the config must match), training the missing seeds together (image
    runs, whose networks hold one set of weights, one seed after another)."""
    results: list[dict | None] = []
    for c, d in zip(configs, run_dirs):
        r = load_result(d)
        if r is not None:
            _check_same_config(RunConfig.from_dict(r["manifest"]["config"]), c, Path(d))
        results.append(r)
    missing = [i for i, r in enumerate(results) if r is None]
    if missing and not train:
        raise FileNotFoundError(f"no stored result in {run_dirs[missing[0]]}; run with train=True")
    if not missing:
        return results
    for group in [[missing[j] for j in g] for g in training_groups([configs[i] for i in missing])]:
        trained = Trainer([configs[i] for i in group], [run_dirs[i] for i in group], device=device,
                          progress=progress).fit()
        for i, r in zip(group, trained):
            results[i] = r
    return results


def run(config: RunConfig, run_dir: str | Path, device: str = "cpu", progress: bool = True) -> dict:
    """The stored result of ``config`` in ``run_dir`` if it is complete, else train (or resume) it."""
    return run_group([config], [run_dir], device=device, progress=progress)[0]
