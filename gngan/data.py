"""Datasets and priors. All randomness goes through explicit ``torch.Generator`` objects so a
run can be checkpointed and resumed exactly, and each seed of a stacked group keeps its own stream."""

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


class InfiniteSampler:
    """Fresh samples from a distribution each batch; ``state`` is only its generator."""

    def __init__(self, dataset, generator: torch.Generator):
        self.dataset, self.generator = dataset, generator

    def __call__(self, n: int) -> torch.Tensor:
        return self.dataset.sample(n, self.generator)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


class EpochSampler:
    """Minibatches of a fixed point set without replacement, reshuffled every epoch."""

    def __init__(self, points: torch.Tensor, generator: torch.Generator):
        self.points, self.generator = points, generator
        self.perm = torch.randperm(len(points), generator=generator)
        self.pos = 0

    def __call__(self, n: int) -> torch.Tensor:
        idx = []
        while n > 0:
            if self.pos == len(self.perm):
                self.perm = torch.randperm(len(self.points), generator=self.generator)
                self.pos = 0
            take = min(n, len(self.perm) - self.pos)
            idx.append(self.perm[self.pos:self.pos + take])
            self.pos += take
            n -= take
        return self.points[torch.cat(idx)]

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.perm, self.pos = state["perm"].clone(), state["pos"]


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

    def sampler(self, generator: torch.Generator) -> InfiniteSampler:
        return InfiniteSampler(self, generator)

    def density(self, grid: torch.Tensor) -> torch.Tensor:
        """Density of a 1D mixture on ``grid`` (m,) -> (m,)."""
        if self.x_dim != 1:
            raise ValueError("density() is defined for 1D mixtures only")
        d = (grid[:, None] - self.centers[None, :, 0]) / self.std
        return torch.exp(-0.5 * d**2).mean(1) / (self.std * math.sqrt(2 * math.pi))


def gauss1d() -> GaussianMixture:
    """The 1D data of the paper's Fig. 2: three modes (means and std are our reading; see the ledger)."""
    return GaussianMixture(means=((-4.0,), (0.0,), (4.0,)), std=0.5)


@dataclass(frozen=True)
class Grid2D:
    """The 2D data of Table 2: 25 Gaussians (std 0.05) at {-4,-2,0,2,4}^2, a fixed set of 50,000 points
    (2,000 per mode), rescaled to x' = (x / M + 1) / 2 with M = 4.18 as the Dist-GAN code does.
    ``centers``, ``std`` and ``radius`` are in rescaled units."""

    num_points: int = 50_000
    raw_std: float = 0.05
    scale: float = 4.18
    data_seed: int = 1234

    @property
    def x_dim(self) -> int:
        return 2

    def rescale(self, x: torch.Tensor) -> torch.Tensor:
        return (x / self.scale + 1) / 2

    @property
    def raw_centers(self) -> torch.Tensor:
        v = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        return torch.cartesian_prod(v, v)

    @property
    def centers(self) -> torch.Tensor:
        return self.rescale(self.raw_centers)

    @property
    def std(self) -> float:
        return self.raw_std / (2 * self.scale)

    @property
    def radius(self) -> float:
        """The registration threshold of the Dist-GAN code, 0.1 / (M sqrt 2) in rescaled units."""
        return 0.1 / (self.scale * math.sqrt(2))

    def points(self) -> torch.Tensor:
        """The fixed training set (the same for every seed, drawn from ``data_seed``)."""
        g = torch.Generator().manual_seed(self.data_seed)
        per_mode = self.num_points // 25
        k = torch.arange(25).repeat_interleave(per_mode)
        raw = self.raw_centers[k] + self.raw_std * torch.randn(len(k), 2, generator=g)
        return self.rescale(raw)

    def sampler(self, generator: torch.Generator) -> EpochSampler:
        return EpochSampler(self.points(), generator)


class ImageSampler(EpochSampler):
    """Minibatches of uint8 images without replacement, reshuffled every epoch, as float32 in [-1, 1]."""

    def __call__(self, n: int) -> torch.Tensor:
        from gngan.images import to_model_range

        return to_model_range(super().__call__(n))


class ImageData:
    """An image training set for the trainer: uint8 images (N, 3, H, W), drawn in [-1, 1]."""

    def __init__(self, name: str, images: torch.Tensor, source: str = ""):
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"{name}: expected uint8 images (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        self.name, self.images, self.source = name, images, source

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    @property
    def x_dim(self) -> int:
        return self.images[0].numel()

    def sampler(self, generator: torch.Generator) -> ImageSampler:
        return ImageSampler(self.images, generator)


# The CIFAR-10 source a process trains on (gngan.images.CIFAR10_SOURCES), set by gngan.experiments for a budget
# (experiments.data_source_for); unset, cifar10_train uses "auto". An environment variable, so that worker processes
# (gngan.gpurun) inherit it.
CIFAR10_SOURCE_ENV = "GNGAN_CIFAR10_SOURCE"


def cifar10_train(source: str | None = None) -> ImageData:
    """CIFAR-10's 50,000 training images from ``source`` (default: ``$GNGAN_CIFAR10_SOURCE``, else "auto":
    torchvision's files when present, else the offline JPEG mirror). "torchvision" downloads the exact dataset
    when its files are absent (online only). The source used is the dataset's ``source``, which each run
    records (``data_source`` of its last evaluation)."""
    import os

    from gngan.images import cifar10, cifar10_source

    chosen = cifar10_source(source=source or os.environ.get(CIFAR10_SOURCE_ENV) or "auto")
    images = cifar10(split="train", source=chosen, download=chosen == "torchvision")[0]
    return ImageData("cifar10", images, source=chosen)


def stl10_train() -> ImageData:
    """STL-10's 100,000 unlabeled images at 48x48."""
    from gngan.images import stl10_unlabeled

    return ImageData("stl10", stl10_unlabeled(size=48), source="stl10 unlabeled, 48x48")


DATASETS = {"gauss1d": gauss1d, "grid2d": Grid2D, "cifar10": cifar10_train, "stl10": stl10_train}


def make_dataset(name: str):
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; use one of {sorted(DATASETS)}")
    return DATASETS[name]()
