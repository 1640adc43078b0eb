"""Mode statistics of the synthetic experiments, and the per-dataset evaluators the trainer calls."""

from __future__ import annotations

import math

import numpy as np
import torch

from gngan.data import sample_prior


def register_modes(samples, centers, radius: float, min_points: int = 20) -> np.ndarray:
    """Per-mode counts of registered samples.

    A sample registers to its nearest centre when it lies within ``radius`` of it. A mode with
    fewer than ``min_points`` registered samples is missed and its count is set to 0, so
    ``(counts > 0).sum()`` is the number of covered modes and ``counts.sum()`` the number of
    registered points (points near a missed mode do not count).

    samples: (n, d) or (n,); centers: (k, d) or (k,). Returns an int64 array of shape (k,).
    """
    s = np.asarray(samples, dtype=np.float64)
    c = np.asarray(centers, dtype=np.float64)
    s = s.reshape(len(s), -1)
    c = c.reshape(len(c), -1)
    if s.shape[1] != c.shape[1]:
        raise ValueError(f"samples have dimension {s.shape[1]} but centers have {c.shape[1]}")
    if radius <= 0:
        raise ValueError(f"radius must be positive, got {radius}")
    dist = np.sqrt(((s[:, None, :] - c[None, :, :]) ** 2).sum(-1))
    nearest = dist.argmin(1)
    inside = dist[np.arange(len(s)), nearest] <= radius
    counts = np.bincount(nearest[inside], minlength=len(c)).astype(np.int64)
    counts[counts < min_points] = 0
    return counts


def fair_share_min_points(num_samples: int, num_modes: int, fraction: float = 0.25) -> int:
    """The 2D protocol's rule (20 of 2,000 samples over 25 modes = 25% of a mode's fair share 80),
    applied to any number of modes."""
    return math.ceil(fraction * num_samples / num_modes)


def eval_latents(config, seeds: list[int], step: int, device) -> torch.Tensor:
    """(S, eval_samples, z_dim) evaluation codes, drawn per seed from a generator of (seed, step) alone,
    so evaluation never touches the training streams and is the same alone or stacked."""
    zs = [sample_prior(config.prior, config.eval_samples, config.z_dim,
                       torch.Generator().manual_seed(1_000_003 * seed + step)) for seed in seeds]
    return torch.stack(zs).to(device)


def evaluate_gauss1d(nets, dataset, config, seeds: list[int], step: int, device) -> list[dict]:
    """Per seed: covered modes of the 1D mixture plus a snapshot (histogram of G, D score curve) for plots."""
    z = eval_latents(config, seeds, step, device)
    grid = torch.linspace(-8, 8, 161)
    with torch.no_grad():
        xs = nets.net_G(z).cpu()[..., 0]
        scores = torch.sigmoid(nets.net_D(grid[None, :, None].expand(len(seeds), -1, -1).to(device))).cpu()
    centers = dataset.centers.reshape(-1).numpy()
    edges = np.linspace(-8, 8, 81)
    out = []
    for x, score in zip(xs, scores):
        counts = register_modes(x.numpy(), centers, radius=3 * dataset.std,
                                min_points=fair_share_min_points(len(x), len(centers)))
        hist, _ = np.histogram(x.numpy(), bins=edges, density=False)
        out.append({
            "covered_modes": int((counts > 0).sum()),
            "registered_points": int(counts.sum()),
            "mode_counts": counts.tolist(),
            "gen_mean": float(x.mean()),
            "gen_std": float(x.std()),
            "snapshot": {
                "hist_density": np.round(hist / (len(x) * np.diff(edges)), 5).tolist(),
                "d_score": np.round(score.numpy().astype(np.float64), 5).tolist(),
            },
        })
    return out


def evaluate_grid2d(nets, dataset, config, seeds: list[int], step: int, device) -> list[dict]:
    """Per seed: the 2D protocol's mode statistics of ``eval_samples`` generated points."""
    z = eval_latents(config, seeds, step, device)
    with torch.no_grad():
        xs = nets.net_G(z).cpu().numpy()
    out = []
    for x in xs:
        counts = register_modes(x, dataset.centers.numpy(), radius=dataset.radius, min_points=20)
        out.append({
            "covered_modes": int((counts > 0).sum()),
            "registered_points": int(counts.sum()),
            "mode_counts": counts.tolist(),
        })
    return out


SNAPSHOT_GRIDS = {"gauss1d": {"hist_edges": np.linspace(-8, 8, 81), "d_grid": np.linspace(-8, 8, 161)}}
EVALUATORS = {"gauss1d": evaluate_gauss1d, "grid2d": evaluate_grid2d}
