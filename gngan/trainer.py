"""The training loop: seeding, progress, metrics, atomic checkpoints, exact resume, run manifests."""

from __future__ import annotations

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
from tqdm.auto import tqdm

import gngan
from gngan.config import RunConfig
from gngan.data import make_dataset
from gngan.metrics import EVALUATORS
from gngan.steps import Stepper, build_nets, build_optimizers

CHECKPOINT = "checkpoint.pt"
PREVIOUS_CHECKPOINT = "checkpoint.prev.pt"
RESULT = "result.json"
METRICS = "metrics.jsonl"


class ConfigMismatchError(ValueError):
    """A run directory holds a run with a different config."""


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


def git_commit() -> dict:
    """The commit of the gngan source tree and whether it had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "gngan"],
                               capture_output=True, text=True, check=True).stdout.strip() != ""
        return {"commit": head, "dirty": dirty}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None}


def _check_same_config(stored: RunConfig, config: RunConfig, where: Path) -> None:
    if stored != config:
        diff = ", ".join(f"{k}: stored {a!r} vs requested {b!r}" for k, (a, b) in stored.diff(config).items())
        raise ConfigMismatchError(
            f"{where} holds a run with a different config ({diff}); use another run directory or delete it")


class Trainer:
    """Trains one run of ``config`` in ``run_dir``, resuming from its checkpoint if there is one."""

    def __init__(self, config: RunConfig, run_dir: str | Path, device: str = "cpu", progress: bool = True):
        self.config = config
        self.run_dir = Path(run_dir)
        self.device = resolve_device(device)
        self.progress = progress
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.run_dir / "config.json"
        if config_path.exists():
            _check_same_config(RunConfig.load(config_path), config, self.run_dir)
        else:
            config.save(config_path)

        torch.manual_seed(config.seed)
        self.dataset = make_dataset(config.data)
        self.nets = build_nets(config, self.dataset.x_dim)
        for module in self.nets.modules().values():
            module.to(self.device)
        self.opts = build_optimizers(config, self.nets)
        self.scheds = {k: torch.optim.lr_scheduler.StepLR(o, step_size=config.lr_decay_every, gamma=config.lr_decay)
                       for k, o in self.opts.items()}
        self.data_gen = torch.Generator().manual_seed(2 * config.seed)
        self.noise_gen = torch.Generator().manual_seed(2 * config.seed + 1)
        self.stepper = Stepper(config, self.nets, self.opts, self.dataset, self.device, self.data_gen, self.noise_gen)
        self.history: list[dict] = []
        self.elapsed = 0.0
        self._load_checkpoint()

    @property
    def step(self) -> int:
        return self.stepper.step

    def _state(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "step": self.step,
            "nets": {k: m.state_dict() for k, m in self.nets.modules().items()},
            "opts": {k: o.state_dict() for k, o in self.opts.items()},
            "scheds": {k: s.state_dict() for k, s in self.scheds.items()},
            "data_gen": self.data_gen.get_state(),
            "noise_gen": self.noise_gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
            "elapsed": self.elapsed,
        }

    def save_checkpoint(self) -> None:
        """Write-then-rename, keeping the previous checkpoint in case this one is ever truncated."""
        path, tmp = self.run_dir / CHECKPOINT, self.run_dir / (CHECKPOINT + ".tmp")
        torch.save(self._state(), tmp)
        if path.exists():
            os.replace(path, self.run_dir / PREVIOUS_CHECKPOINT)
        os.replace(tmp, path)

    def _read_checkpoint(self) -> dict | None:
        for name in (CHECKPOINT, PREVIOUS_CHECKPOINT):
            path = self.run_dir / name
            if not path.exists():
                continue
            try:
                return torch.load(path, map_location=self.device, weights_only=False)
            except Exception as err:  # a truncated file raises various errors depending on where it was cut
                warnings.warn(f"checkpoint {path} is unreadable ({type(err).__name__}); trying the previous one")
        return None

    def _load_checkpoint(self) -> None:
        state = self._read_checkpoint()
        if state is None:
            return
        _check_same_config(RunConfig.from_dict(state["config"]), self.config, self.run_dir)
        for k, m in self.nets.modules().items():
            m.load_state_dict(state["nets"][k])
        for k, o in self.opts.items():
            o.load_state_dict(state["opts"][k])
        for k, s in self.scheds.items():
            s.load_state_dict(state["scheds"][k])
        self.data_gen.set_state(state["data_gen"])
        self.noise_gen.set_state(state["noise_gen"])
        torch.set_rng_state(state["torch_rng"])
        self.history = state["history"]
        self.elapsed = state["elapsed"]
        self.stepper.step = state["step"]
        self._rewrite_metrics()

    def _rewrite_metrics(self) -> None:
        with open(self.run_dir / METRICS, "w") as f:
            for rec in self.history:
                f.write(json.dumps(rec) + "\n")

    def evaluate(self, losses: dict[str, float]) -> dict:
        for m in self.nets.modules().values():
            m.eval()
        rec = {"step": self.step, **{f"loss_{k}": round(v, 6) for k, v in losses.items()}}
        rec.update(EVALUATORS[self.config.data](self.nets, self.dataset, self.config, self.step, self.device))
        for m in self.nets.modules().values():
            m.train()
        self.history.append(rec)
        with open(self.run_dir / METRICS, "a") as f:
            f.write(json.dumps(rec) + "\n")
        return rec

    def manifest(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "seed": self.config.seed,
            "num_steps": self.step,
            "device": str(self.device),
            "device_name": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "wall_time_s": round(self.elapsed, 2),
            "git": git_commit(),
            "gngan_version": gngan.__version__,
            "torch_version": torch.__version__,
            "python_version": sys.version.split()[0],
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    def fit(self) -> dict:
        c = self.config
        if self.step == 0 and not self.history:
            self.evaluate({})
        sums: dict[str, float] = {}
        count = 0
        bar = tqdm(total=c.num_steps, initial=self.step, disable=not self.progress,
                   desc=f"{c.method} seed {c.seed}", leave=False)
        start = time.perf_counter()
        while self.step < c.num_steps:
            out = self.stepper.iteration()
            for s in self.scheds.values():
                s.step()
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + v
            count += 1
            bar.update(1)
            if self.step % c.eval_every == 0 or self.step == c.num_steps:
                self.elapsed += time.perf_counter() - start
                start = time.perf_counter()
                self.evaluate({k: v / count for k, v in sums.items()})
                sums, count = {}, 0
            if self.step % c.checkpoint_every == 0 or self.step == c.num_steps:
                self.elapsed += time.perf_counter() - start
                start = time.perf_counter()
                self.save_checkpoint()
        bar.close()
        result = {"manifest": self.manifest(), "final": self.history[-1], "history": self.history}
        tmp = self.run_dir / (RESULT + ".tmp")
        tmp.write_text(json.dumps(result) + "\n")
        os.replace(tmp, self.run_dir / RESULT)
        return result


def load_result(run_dir: str | Path) -> dict | None:
    path = Path(run_dir) / RESULT
    return json.loads(path.read_text()) if path.exists() else None


def run(config: RunConfig, run_dir: str | Path, device: str = "cpu", progress: bool = True) -> dict:
    """The stored result of ``config`` in ``run_dir`` if it is complete, else train (or resume) it."""
    result = load_result(run_dir)
    if result is not None:
        _check_same_config(RunConfig.from_dict(result["manifest"]["config"]), config, Path(run_dir))
        return result
    return Trainer(config, run_dir, device=device, progress=progress).fit()
