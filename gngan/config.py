"""One frozen dataclass per run; saved next to its results as ``config.json``."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

METHODS = ("gngan", "distgan", "gan", "wgangp", "vae", "ali", "vaegan", "mmdrep", "bourgan")
# methods whose objective has a KL term against N(0, I), so they train and generate with that prior
NORMAL_PRIOR_METHODS = ("vae", "vaegan")
DIS_LOSSES = ("log", "hinge")
GP_ON = ("logit", "score")
DISTGAN_FEATURES = ("disc", "data")
BUDGETS = ("smoke", "cpu", "paper")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run (not where or on what device it runs).

    GN-GAN's variants are switched by weights: ``lambda_r > 0`` adds neighbors embedding
    (+NE), ``lambda_m1``/``lambda_m2 > 0`` add gradient matching (+GM). For Dist-GAN,
    ``lambda_r`` weighs its latent-data distance constraint. ``beta`` weighs the VAE's KL term
    (beta-VAE when != 1).
    """

    method: str = "gngan"
    data: str = "gauss1d"
    seed: int = 0
    num_steps: int = 10_000
    batch_size: int = 64
    z_dim: int = 1
    prior: str = "normal"
    hidden_width: int = 4
    g_hidden_layers: int = 2
    d_hidden_layers: int = 1
    g_out: str = "linear"
    lr: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.9
    lr_decay: float = 1.0
    lr_decay_every: int = 10_000
    d_steps: int = 3
    alpha: float = 0.05
    lambda_r: float = 0.0
    lambda_p: float = 0.1
    lambda_m1: float = 0.1
    lambda_m2: float = 0.1
    lambda_w: float | None = None
    distgan_features: str = "disc"
    dis_loss: str = "log"
    gp_on: str = "logit"
    ne_bandwidth: str = "sigma_sq_is_var"
    ne_detach_sigma: bool = True
    eval_every: int = 500
    eval_samples: int = 2000
    checkpoint_every: int = 1000
    beta: float = 1.0

    def __post_init__(self):
        from gngan.losses import NE_BANDWIDTHS

        choices = {"method": METHODS, "dis_loss": DIS_LOSSES, "gp_on": GP_ON, "distgan_features": DISTGAN_FEATURES, "ne_bandwidth": NE_BANDWIDTHS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"config {name}={getattr(self, name)!r} is not one of {allowed}")
        for name in ("num_steps", "batch_size", "z_dim", "hidden_width", "d_steps", "eval_every",
                     "eval_samples", "checkpoint_every", "lr_decay_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"config {name}={getattr(self, name)} must be a positive integer")
        if self.checkpoint_every % self.eval_every:
            raise ValueError(f"config checkpoint_every={self.checkpoint_every} must be a multiple of "
                             f"eval_every={self.eval_every} so a resumed run logs the same averages")
        for name in ("lr", "alpha", "lambda_r", "lambda_p", "lambda_m1", "lambda_m2", "beta"):
            if getattr(self, name) < 0:
                raise ValueError(f"config {name}={getattr(self, name)} must be >= 0")
        if (self.method == "bourgan") != (self.prior == "bourgain"):
            raise ValueError(f"config method={self.method!r} with prior={self.prior!r}: BourGAN, and only BourGAN, "
                             f"uses the Bourgain mixture prior (prior='bourgain')")
        if self.method in NORMAL_PRIOR_METHODS and self.prior != "normal":
            raise ValueError(f"config method={self.method!r} needs prior='normal' (its KL term is against N(0, I)); "
                             f"got prior={self.prior!r}")

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known keys are {sorted(known)}")
        return cls(**d)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> "RunConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def diff(self, other: "RunConfig") -> dict:
        """{field: (self value, other value)} for the fields that differ."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}
