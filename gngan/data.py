"""Datasets and priors. All randomness goes through explicit ``torch.Generator`` objects so a
run can be checkpointed and resumed exactly."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

PRIORS = ("normal", "uniform")


def sample_prior(prior: str, n: int, z_dim: int, generator: torch.Generator) -> torch.Tensor:
    """(n, z_dim) latent codes: N(0, I) or U[-1, 1]^z_dim."""
    if prior == "normal":
        return torch.randn(n, z_dim, generator=generator)
    if prior == "uniform":
        return torch.rand(n, z_dim, generator=generator) * 2 - 1
    raise ValueError(f"unknown prior {prior!r}; use one of {PRIORS}")


@dataclass(frozen=True)
class GaussianMixture:
    """Equal-weight mixture of isotropic Gaussians; sampled fresh each batch (infinite data)."""

    means: tuple[tuple[float, ...], ...]
    std: float

    @property
    def centers(self) -> torch.Tensor:
        return torch.tensor(self.means, dtype=torch.float32)

    @property
    def x_dim(self) -> int:
        return len(self.means[0])

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        k = torch.randint(len(self.means), (n,), generator=generator)
        return self.centers[k] + self.std * torch.randn(n, self.x_dim, generator=generator)

    def density(self, grid: torch.Tensor) -> torch.Tensor:
        """Density of a 1D mixture on ``grid`` (m,) -> (m,)."""
        if self.x_dim != 1:
            raise ValueError("density() is defined for 1D mixtures only")
        d = (grid[:, None] - self.centers[None, :, 0]) / self.std
        return torch.exp(-0.5 * d**2).mean(1) / (self.std * math.sqrt(2 * math.pi))


def gauss1d() -> GaussianMixture:
    """The 1D data of the paper's Fig. 2: three modes (means and std are our reading; see the ledger)."""
    return GaussianMixture(means=((-4.0,), (0.0,), (4.0,)), std=0.5)


DATASETS = {"gauss1d": gauss1d}


def make_dataset(name: str):
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; use one of {sorted(DATASETS)}")
    return DATASETS[name]()
