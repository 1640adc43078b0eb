"""The paper's experiments as sets of run configs, per budget, and where their results live.

Budgets: ``smoke`` (seconds, CI), ``cpu`` (what the book shows, run on 2 CPU cores),
``paper`` (the paper's protocol, for GPU users).
"""

from __future__ import annotations

from pathlib import Path

from gngan.config import BUDGETS, RunConfig
from gngan.trainer import run_group

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_ROOT = REPO_ROOT / "results"

TOY1D_BASE = RunConfig(
    data="gauss1d", z_dim=1, prior="normal", hidden_width=4, g_hidden_layers=2, d_hidden_layers=1,
    batch_size=64, lr=1e-3, beta1=0.5, beta2=0.9, d_steps=3, alpha=0.05, lambda_p=0.1,
    num_steps=10_000, eval_every=500, checkpoint_every=1000, eval_samples=2000,
)

TOY1D_METHODS = {
    "gngan_gm": TOY1D_BASE.replace(method="gngan", lambda_r=0.0, lambda_m1=0.1, lambda_m2=0.1),
    # data-space distances, as the Dist-GAN code's synthetic experiments (lambda_w = sqrt(1/1) = 1)
    "distgan": TOY1D_BASE.replace(method="distgan", lambda_r=1.0, lambda_m1=0.0, lambda_m2=0.0,
                                  distgan_features="data"),
}
METHOD_LABELS = {"gngan_gm": "GN-GAN (+GM)", "distgan": "Dist-GAN"}

TOY1D_BUDGETS = {
    "smoke": {"seeds": [0], "num_steps": 60, "eval_every": 20, "checkpoint_every": 20, "eval_samples": 500},
    "cpu": {"seeds": list(range(10)), "num_steps": 10_000},
    "paper": {"seeds": list(range(10)), "num_steps": 10_000},
}


def check_budget(budget: str) -> None:
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; use one of {BUDGETS}")


def check_positive(name: str, value) -> None:
    if value is not None and (not isinstance(value, int) or value < 1):
        raise ValueError(f"{name}={value!r} must be a positive integer or None (None = the budget's value)")


def toy1d_configs(budget: str, seeds: list[int] | None = None, num_steps: int | None = None) -> dict[str, list[RunConfig]]:
    """{method: [one config per seed]} for the 1D section at ``budget``; ``seeds``/``num_steps`` override it."""
    check_budget(budget)
    check_positive("num_steps", num_steps)
    spec = dict(TOY1D_BUDGETS[budget])
    budget_seeds = spec.pop("seeds")
    seeds = budget_seeds if seeds is None else list(seeds)
    if not seeds or any(not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds={seeds!r} must be a non-empty list of non-negative integers")
    if num_steps is not None:
        spec["num_steps"] = num_steps
        spec["eval_every"] = spec["checkpoint_every"] = max(1, num_steps // 20)
    return {m: [base.replace(seed=s, **spec) for s in seeds] for m, base in TOY1D_METHODS.items()}


def run_dir(section: str, budget: str, method: str, seed: int, num_steps: int | None = None,
            root: Path | None = None) -> Path:
    """results/<section>/<budget>/<method>/seed<k>; smoke runs go under results/smoke/ (not committed)."""
    root = RESULTS_ROOT if root is None else Path(root)
    tag = budget if num_steps is None else f"{budget}-{num_steps}steps"
    base = root / "smoke" if budget == "smoke" else root
    return base / section / tag / method / f"seed{seed}"


def run_section(section: str, configs: dict[str, list[RunConfig]], budget: str, device: str = "cpu",
                num_steps: int | None = None, root: Path | None = None, train: bool = True,
                progress: bool = True) -> dict[str, list[dict]]:
    """Results of every config, reusing stored runs; the missing seeds of a method train together
    (stacked), unless ``train`` is False."""
    out: dict[str, list[dict]] = {}
    for method, cfgs in configs.items():
        dirs = [run_dir(section, budget, method, c.seed, num_steps, root) for c in cfgs]
        out[method] = run_group(cfgs, dirs, device=device, progress=progress, train=train)
    return out
