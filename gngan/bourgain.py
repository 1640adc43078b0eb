"""BourGAN's latent prior (Xiao, Zhong, Zheng, NeurIPS 2018): a Bourgain embedding of a data subsample
into l2, and the mixture of Gaussians centred on the embedded points that replaces the GAN's prior.

What is implemented (the randomized construction of Bourgain's theorem, as the authors' public code
builds it; book/baselines.md says which details come from where):

* K = ceil(log n / log(1/p)) scales; at scale j = 1..K, m random subsets S_{i,j} (i = 1..m), each
  containing every point independently with probability p^j (default p = 1/2, m = 5);
* coordinate (i, j) of point x is its distance to the subset, d(x, S_{i,j}) = min_{s in S_{i,j}} d(x, s)
  (0 for an empty subset, as in that code: a constant coordinate changes no distance);
* the K * m coordinates are centred over the subsample and scaled so that the mean squared coordinate
  is 1 (the authors' normalisation), which fixes the scale of the latent space.

The latent dimension K * m is thus set by the subsample size n (n = 2,000 gives 11 * 5 = 55).
The generator's distance loss (gngan.losses.bourgan_dist) compares data distances with latent distances
times ``distance_scale``.

All randomness comes from an explicit generator (``numpy.random.Generator`` for the embedding, which
runs once before training; ``torch.Generator`` for the per-batch latent codes).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.distance import pdist, squareform

from gngan.data import make_dataset, sample_prior

# std of each mixture component, in the units of the normalised embedding (authors' code: eps = 0.01)
BOURGAIN_SIGMA = 0.01
SCALE_REDUCTIONS = ("max", "median")


def pairwise_distances(points) -> np.ndarray:
    """(n, ...) -> (n, n) Euclidean distances (float64, exact zeros on the diagonal)."""
    a = np.asarray(points, dtype=np.float64)
    if a.ndim == 0 or len(a) == 0:
        raise ValueError(f"points must have shape (n, ...) with n >= 1; got {a.shape}")
    a = a.reshape(len(a), -1)
    return squareform(pdist(a, metric="euclidean")) if len(a) > 1 else np.zeros((1, 1))


def num_scales(n: int, p: float = 0.5) -> int:
    """K = ceil(log n / log(1/p)), the number of subset scales for n points (at least 1)."""
    if n < 1:
        raise ValueError(f"need at least one point, got n={n}")
    if not 0 < p < 1:
        raise ValueError(f"p={p} must lie in (0, 1) (the subset inclusion probability base)")
    return max(1, math.ceil(math.log(n) / math.log(1 / p) - 1e-12))


def bourgain_subsets(n: int, generator: np.random.Generator, m: int = 5, p: float = 0.5) -> np.ndarray:
    """Random subsets of Bourgain's construction as a boolean matrix (K * m, n).

    Row r = j * m + i (scale j = 0..K-1, repetition i = 0..m-1) marks the members of S_{i,j}: each of
    the n points is included independently with probability p^(j+1).
    """
    if m < 1:
        raise ValueError(f"m={m} must be >= 1 (subsets per scale)")
    k = num_scales(n, p)
    probs = np.repeat(p ** np.arange(1, k + 1, dtype=np.float64), m)
    return generator.random((k * m, n)) < probs[:, None]


def bourgain_coordinates(dists: np.ndarray, subsets: np.ndarray) -> np.ndarray:
    """Coordinates d(x_c, S_r) = min_{s in S_r} d(x_c, x_s), shape (n, R), from an (n, n) distance matrix
    and an (R, n) membership matrix; 0 where S_r is empty."""
    dists = np.asarray(dists, dtype=np.float64)
    subsets = np.asarray(subsets, dtype=bool)
    n = dists.shape[0]
    if dists.shape != (n, n) or subsets.ndim != 2 or subsets.shape[1] != n:
        raise ValueError(f"need an (n, n) distance matrix and (R, n) subsets; got {dists.shape} and {subsets.shape}")
    out = np.zeros((n, subsets.shape[0]))
    for r, member in enumerate(subsets):
        if member.any():
            out[:, r] = dists[:, member].min(axis=1)
    return out


def normalize_embedding(y: np.ndarray) -> np.ndarray:
    """Centre the coordinates over the points and scale so that the mean squared coordinate is 1
    (every row then has root-mean-square norm sqrt(dim)), as the authors' code does."""
    y = np.asarray(y, dtype=np.float64)
    y = y - y.mean(axis=0, keepdims=True)
    rms = np.sqrt((y ** 2).sum() / y.size)
    if rms == 0:
        raise ValueError("the embedding is constant (all points coincide?); it cannot be normalised")
    return y / rms


def bourgain_embedding(points, generator: np.random.Generator, m: int = 5, p: float = 0.5,
                       dists: np.ndarray | None = None, normalize: bool = True) -> np.ndarray:
    """Bourgain embedding of n points (n, ...) into l2 of dimension K * m (see the module docstring).

    ``dists`` may give the (n, n) distance matrix of any metric instead of Euclidean distances of
    ``points``. Returns float64 (n, K * m); normalised with ``normalize_embedding`` unless normalize=False.
    """
    d = pairwise_distances(points) if dists is None else np.asarray(dists, dtype=np.float64)
    y = bourgain_coordinates(d, bourgain_subsets(d.shape[0], generator, m=m, p=p))
    return normalize_embedding(y) if normalize else y


def distance_scale(data_dists: np.ndarray, embed_dists: np.ndarray, reduce: str = "max",
                   sqrt: bool = False) -> float:
    """The factor ``scale`` of L_dist, which compares log d_data with log(scale * d_latent).

    reduce="max": max over pairs i != j (with positive distances) of d_data / d_embed, as the authors'
    code; "median": the median ratio. sqrt=True takes the square root of the ratios as that code does
    (immaterial when data and embedding distances are of the same size, as in their unscaled data; not
    in our [0, 1]-rescaled data, hence off by default).
    """
    if reduce not in SCALE_REDUCTIONS:
        raise ValueError(f"unknown reduction {reduce!r}; use one of {SCALE_REDUCTIONS}")
    dx, dy = np.asarray(data_dists, dtype=np.float64), np.asarray(embed_dists, dtype=np.float64)
    if dx.shape != dy.shape or dx.ndim != 2 or dx.shape[0] != dx.shape[1]:
        raise ValueError(f"need two (n, n) distance matrices of the same shape; got {dx.shape} and {dy.shape}")
    off = ~np.eye(len(dx), dtype=bool) & (dy > 0)
    if not off.any():
        raise ValueError("no pair of distinct embedded points: cannot compute a distance scale")
    ratio = dx[off] / dy[off]
    if sqrt:
        ratio = np.sqrt(ratio)
    return float(ratio.max() if reduce == "max" else np.median(ratio))


def mixture_latents(centers: torch.Tensor, index: torch.Tensor, eps: torch.Tensor,
                    sigma: float = BOURGAIN_SIGMA) -> torch.Tensor:
    """Pure sampling map of the BourGAN prior: z = centers[index] + sigma * eps.

    centers: (k, z_dim); index: (n,) integer component labels; eps: (n, z_dim) standard normal."""
    if sigma < 0:
        raise ValueError(f"sigma={sigma} must be >= 0")
    if index.dim() != 1 or eps.shape != (index.shape[0], centers.shape[1]):
        raise ValueError(f"need index (n,) and eps (n, {centers.shape[1]}); got {tuple(index.shape)} "
                         f"and {tuple(eps.shape)}")
    return centers[index] + sigma * eps


@dataclass(frozen=True)
class BourgainPrior:
    """The latent distribution of BourGAN: (1/k) sum_i N(centers_i, sigma^2 I), with the centres the
    embedded subsample and ``scale`` the factor of L_dist. ``z_dim`` replaces the config's z_dim."""

    centers: torch.Tensor
    sigma: float = BOURGAIN_SIGMA
    scale: float = 1.0

    @property
    def z_dim(self) -> int:
        return self.centers.shape[1]

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, z_dim) codes: a uniformly chosen centre plus N(0, sigma^2 I) noise."""
        index = torch.randint(len(self.centers), (n,), generator=generator)
        eps = torch.randn(n, self.z_dim, generator=generator, dtype=self.centers.dtype)
        return mixture_latents(self.centers, index, eps, self.sigma)

    @classmethod
    def from_data(cls, points: torch.Tensor, num_points: int, generator: np.random.Generator,
                  m: int = 5, p: float = 0.5, sigma: float = BOURGAIN_SIGMA, reduce: str = "max",
                  sqrt: bool = False, dtype: torch.dtype = torch.float32) -> "BourgainPrior":
        """Embed ``num_points`` points drawn without replacement from ``points`` (N, ...) and build the
        prior; the subsample, the subsets and nothing else use ``generator``."""
        pts = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
        if not 2 <= num_points <= len(pts):
            raise ValueError(f"num_points={num_points} must lie in [2, {len(pts)}]")
        sub = pts[generator.choice(len(pts), size=num_points, replace=False)]
        d = pairwise_distances(sub)
        y = bourgain_embedding(sub, generator, m=m, p=p, dists=d)
        scale = distance_scale(d, pairwise_distances(y), reduce=reduce, sqrt=sqrt)
        return cls(centers=torch.as_tensor(y, dtype=dtype), sigma=sigma, scale=scale)


# BourGAN's subsample size: the book's n = 2,000, which sets z_dim = 5 * 11 = 55
BOURGAN_POINTS = 2000


@functools.lru_cache(maxsize=32)
def seed_prior(data: str, seed: int) -> BourgainPrior:
    """Seed ``seed``'s prior: its own subsample of ``data``'s fixed training set and its own embedding,
    from ``seed`` alone (so a seed has the same prior alone or stacked, in training and evaluation)."""
    dataset = make_dataset(data)
    if not hasattr(dataset, "points"):
        raise ValueError(f"the Bourgain prior needs a fixed training set; dataset {data!r} has none")
    return BourgainPrior.from_data(dataset.points(), BOURGAN_POINTS, np.random.default_rng(seed))


def sample_latents(config, n: int, seed: int, generator: torch.Generator) -> torch.Tensor:
    """(n, z_dim) codes from ``config.prior``: N(0, I), U[-1, 1]^z_dim or seed ``seed``'s Bourgain mixture."""
    if config.prior != "bourgain":
        return sample_prior(config.prior, n, config.z_dim, generator)
    prior = seed_prior(config.data, seed)
    if prior.z_dim != config.z_dim:
        raise ValueError(f"config z_dim={config.z_dim} but the Bourgain embedding of {BOURGAN_POINTS} points "
                         f"has {prior.z_dim} dimensions; set z_dim={prior.z_dim}")
    return prior.sample(n, generator)
