"""Mode statistics of the synthetic experiments, and the per-dataset evaluators the trainer calls."""

from __future__ import annotations

import math

import numpy as np
import torch

from gngan.bourgain import sample_latents


# How registered points are counted (ledger row 15): "ours" drops the samples of a missed mode; "authors" counts
# every sample within the radius, as evaluate_toydata of the Dist-GAN code does (np.sum(evaluate[1:])).
REGISTERED_POINTS_RULES = ("ours", "authors")


def register_modes(samples, centers, radius: float, min_points: int = 20, rule: str = "ours") -> np.ndarray:
    """Per-mode counts of registered samples.

    A sample registers to its nearest centre when it lies within ``radius`` of it. With ``rule="ours"``
    (the default) a mode with fewer than ``min_points`` registered samples is missed and its count is set
    to 0, so ``(counts > 0).sum()`` is the number of covered modes and ``counts.sum()`` the number of
    registered points (points near a missed mode do not count). With ``rule="authors"`` the counts are
    kept as they are (the Dist-GAN code's count: every sample within the radius); then a mode is covered
    when its count is at least ``min_points``, not when it is positive.

    samples: (n, d) or (n,); centers: (k, d) or (k,). Returns an int64 array of shape (k,).
    """
    if rule not in REGISTERED_POINTS_RULES:
        raise ValueError(f"rule={rule!r} is not one of {REGISTERED_POINTS_RULES}")
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
    if rule == "ours":
        counts[counts < min_points] = 0
    return counts


def fair_share_min_points(num_samples: int, num_modes: int, fraction: float = 0.25) -> int:
    """The 2D protocol's rule (20 of 2,000 samples over 25 modes = 25% of a mode's fair share 80),
    applied to any number of modes."""
    return math.ceil(fraction * num_samples / num_modes)


def eval_latents(config, seeds: list[int], step: int, device) -> torch.Tensor:
    """(S, eval_samples, z_dim) evaluation codes, drawn per seed from a generator of (seed, step) alone,
    so evaluation never touches the training streams and is the same alone or stacked."""
    zs = [sample_latents(config, config.eval_samples, seed, torch.Generator().manual_seed(1_000_003 * seed + step))
          for seed in seeds]
    return torch.stack(zs).to(device)


def data_critic(nets, config):
    """net_D when it scores a data point x, else None: the VAE has no D, ALI's D scores (x, z) pairs and
    MMD-rep's D is a feature map (its logit head is never trained)."""
    net_d = getattr(nets, "net_D", None)
    return None if config.method in ("ali", "mmdrep") else net_d


def evaluate_gauss1d(nets, dataset, config, seeds: list[int], step: int, device) -> list[dict]:
    """Per seed: covered modes of the 1D mixture plus a snapshot (histogram of G, D score curve) for plots."""
    z = eval_latents(config, seeds, step, device)
    grid = torch.linspace(-8, 8, 161)
    with torch.no_grad():
        xs = nets.net_G(z).cpu()[..., 0]
        critic = data_critic(nets, config)
        scores = [None] * len(seeds) if critic is None else \
            torch.sigmoid(critic(grid[None, :, None].expand(len(seeds), -1, -1).to(device))).cpu()
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
                **({} if score is None else {"d_score": np.round(score.numpy().astype(np.float64), 5).tolist()}),
            },
        })
    return out


GRID2D_FINAL_SAMPLES = 500
GRID2D_FIELD = {"lo": 0.0, "hi": 1.0, "num": 21}


def evaluate_grid2d(nets, dataset, config, seeds: list[int], step: int, device) -> list[dict]:
    """Per seed: Table 2's statistics of ``eval_samples`` generated points; at the last step also a
    subset of the samples and the discriminator score's gradient field (Fig. 4), for the book."""
    z = eval_latents(config, seeds, step, device)
    with torch.no_grad():
        xs = nets.net_G(z).cpu().numpy()
    out = [grid2d_stats(x, dataset.centers.numpy(), dataset.radius, min_points=20) for x in xs]
    if step == config.num_steps:
        grads = None
        critic = data_critic(nets, config)
        if critic is not None:
            score = (lambda p: torch.sigmoid(critic(p))) if config.method != "wgangp" else critic
            _, grads = gradient_field(score, num_seeds=len(seeds), device=device, **GRID2D_FIELD)
            grads = grads.cpu().numpy()
        for i, rec in enumerate(out):
            rec["samples"] = np.round(xs[i, :GRID2D_FINAL_SAMPLES], 4).tolist()
            if grads is not None:
                rec["d_gradient_field"] = np.round(grads[i], 6).tolist()
    return out


SNAPSHOT_GRIDS = {"gauss1d": {"hist_edges": np.linspace(-8, 8, 81), "d_grid": np.linspace(-8, 8, 161)}}


# --------------------------------------------------------------------------------------------------
# Table 2 statistics of the 2D grid and the gradient maps of Fig. 4 (book/baselines.md, "TV")


def _mode_counts(counts, num_samples: int) -> np.ndarray:
    c = np.asarray(counts)
    if c.ndim != 1 or len(c) == 0 or not np.issubdtype(c.dtype, np.number) or (c < 0).any():
        raise ValueError(f"counts must be a non-empty 1-D array of non-negative per-mode counts; got {c!r}")
    if num_samples <= 0 or c.sum() > num_samples:
        raise ValueError(f"num_samples={num_samples} must be positive and at least the {c.sum()} registered points")
    return c.astype(np.float64)


def tv_true(counts, num_samples: int) -> float:
    """TV (True) of Table 2, our reading: the L1 distance (without the usual 1/2, as the paper's values
    exceed 1) between the generated distribution over K modes plus an "off-mode" outcome and the true
    distribution, uniform over the K modes:

        sum_k |c_k / N - 1 / K| + (N - sum_k c_k) / N

    c_k = register_modes counts (missed modes are 0), N = num_samples generated samples; unregistered
    samples, and samples at missed modes, are off-mode mass. 0 iff all N samples register and split
    equally over the K modes; at most 2 (everything off-mode).
    """
    c = _mode_counts(counts, num_samples)
    return float(np.abs(c / num_samples - 1.0 / len(c)).sum() + (num_samples - c.sum()) / num_samples)


def tv_differential(counts, num_samples: int) -> float:
    """TV (Differential) of Table 2, our reading: the L1 distance between the registered samples'
    distribution over the K modes and uniform over the K modes,

        sum_k |c_k / P - 1 / K|,   P = sum_k c_k (registered points),

    i.e. mode balance among what did register, whatever fraction of the N samples that is. 0 iff the
    registered points split equally over all K modes; 2 (1 - 1/K) for a single mode; defined as 2 when
    nothing registers. ``num_samples`` only validates the counts.
    """
    c = _mode_counts(counts, num_samples)
    total = c.sum()
    if total == 0:
        return 2.0
    return float(np.abs(c / total - 1.0 / len(c)).sum())


def grid2d_stats(samples, centers, radius: float, min_points: int = 20) -> dict:
    """Table 2 statistics of one set of generated samples (n, 2) for the modes ``centers`` (K, 2):
    covered modes, registered points (ours: the samples of covered modes), the authors' registered points
    (``registered_points_authors``: every sample within the radius, ``register_modes(rule="authors")``),
    TV (True), TV (Differential) and the per-mode counts (ours)."""
    n = len(np.asarray(samples))
    every = register_modes(samples, centers, radius=radius, min_points=min_points, rule="authors")
    counts = np.where(every < min_points, 0, every)  # register_modes(rule="ours") without a second pass
    return {
        "covered_modes": int((counts > 0).sum()),
        "registered_points": int(counts.sum()),
        "registered_points_authors": int(every.sum()),
        "tv_true": tv_true(counts, n),
        "tv_differential": tv_differential(counts, n),
        "mode_counts": counts.tolist(),
    }


def gradient_field(score_fn, lo, hi, num: int = 21, num_seeds: int | None = None,
                   dtype: torch.dtype = torch.float32, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of a discriminator score on a regular 2D grid, for the quiver plots of Fig. 4.

    lo, hi: the grid's corners, floats (same for both axes) or pairs (x, y); num points per axis.
    score_fn maps (m, 2) to (m,) or (m, 1) (e.g. ``lambda x: torch.sigmoid(net_D(x))``); with
    num_seeds = S it maps (S, m, 2) to (S, m) and every seed gets the same grid.
    Returns (points, grads): points (num * num, 2) with points.reshape(num, num, 2)[i, j] = (x_j, y_i);
    grads of shape (num * num, 2), or (S, num * num, 2) with num_seeds. Both detached.
    """
    if num < 2:
        raise ValueError(f"num={num} must be >= 2 grid points per axis")
    lo2 = np.broadcast_to(np.asarray(lo, dtype=np.float64), (2,))
    hi2 = np.broadcast_to(np.asarray(hi, dtype=np.float64), (2,))
    if (hi2 <= lo2).any():
        raise ValueError(f"need lo < hi on both axes; got lo={lo}, hi={hi}")
    xs = torch.linspace(float(lo2[0]), float(hi2[0]), num, dtype=dtype, device=device)
    ys = torch.linspace(float(lo2[1]), float(hi2[1]), num, dtype=dtype, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([gx, gy], dim=-1).reshape(-1, 2)
    with torch.enable_grad():
        p = points if num_seeds is None else points.expand(num_seeds, -1, -1)
        p = p.detach().clone().requires_grad_(True)
        out = score_fn(p)
        want = tuple(p.shape[:-1])
        if tuple(out.shape) not in (want, want + (1,)):
            raise ValueError(f"score_fn must map {tuple(p.shape)} to {want} or {want + (1,)}; got {tuple(out.shape)}")
        grads, = torch.autograd.grad(out.sum(), p)
    return points.detach(), grads.detach()


# --------------------------------------------------------------------------------------------------
# images: FID (10K real training images, 5K generated, as the paper)

FID_REFERENCE_SEED = 0
FINAL_GRID_IMAGES = 64


def fid_reference_images(dataset, n: int) -> torch.Tensor:
    """The ``n`` real training images FID compares against: a fixed random subset (the same for every
    run and method), uint8 (n, 3, H, W)."""
    if n > len(dataset.images):
        raise ValueError(f"fid_real={n} exceeds the {len(dataset.images)} training images of {dataset.name}")
    idx = torch.randperm(len(dataset.images), generator=torch.Generator().manual_seed(FID_REFERENCE_SEED))[:n]
    return dataset.images[idx.sort().values]


def fid_reference(dataset, n: int, device=None, with_features: bool = False):
    """Cached Inception statistics of :func:`fid_reference_images` (``data/fid_stats_<name>-train-<n>.npz``,
    recomputed when the images or the Inception weights differ, e.g. the JPEG mirror vs torchvision's exact
    files); computed on ``device`` (default: a GPU when there is one). ``with_features``: (stats, features)."""
    from gngan import fid

    return fid.reference_stats(f"{dataset.name}-train-{n}", fid_reference_images(dataset, n), batch_size=100,
                               device=device, with_features=with_features)


PRDC_K = 5  # Naeem et al.'s (and the prdc package's) default number of neighbours
_REAL_RADII: dict[tuple, torch.Tensor] = {}


def _real_radii(features: torch.Tensor, key: tuple) -> torch.Tensor:
    """knn_radii of a reference set, computed once per process (every evaluation of a run shares them)."""
    if key not in _REAL_RADII:
        _REAL_RADII.clear()
        _REAL_RADII[key] = knn_radii(features, PRDC_K)
    return _REAL_RADII[key]


def generate_images(net_G, config, seed: int, n: int, device, batch_size: int = 250) -> torch.Tensor:
    """``n`` uint8 images from fixed latent codes of (seed) alone, the same at every evaluation."""
    from gngan.images import from_model_range

    z = sample_latents(config, n, seed, torch.Generator().manual_seed(1_000_003 * seed + 7))
    out = []
    with torch.no_grad():
        for i in range(0, n, batch_size):
            out.append(from_model_range(net_G(z[i:i + batch_size].to(device)).cpu()))
    return torch.cat(out)


def evaluate_images(nets, dataset, config, seeds: list[int], step: int, device) -> list[dict]:
    """FID of ``config.fid_fake`` generated images against ``config.fid_real`` real training images
    (pytorch-fid's Inception and Frechet distance), and from the same features precision, recall, density
    and coverage (k = PRDC_K); at the last step also a PNG grid of 64 samples and which data and Inception
    weights the numbers come from."""
    import base64
    import time

    from gngan import fid
    from gngan.images import grid_png

    (seed,) = seeds
    start = time.perf_counter()
    ref, real = fid_reference(dataset, config.fid_real, device, with_features=True)
    fake = generate_images(nets.net_G, config, seed, config.fid_fake, device)
    # "eigh": pytorch-fid's Frechet distance to ~1e-7 relative (tests/test_fid.py), 10x faster than sqrtm
    features = fid.inception_features(fake, batch_size=100, device=device)
    value = fid.fid_from_features(fid.FIDStats.from_features(features), ref, method="eigh")
    real = torch.as_tensor(real).to(device)
    prdc = precision_recall_density_coverage(
        real, torch.as_tensor(features), PRDC_K,
        real_radii=_real_radii(real, (ref.images_sha256, ref.weights, str(device), PRDC_K)))
    rec = {"fid": round(value, 4), **{k: round(v, 4) for k, v in prdc.items()},
           "eval_seconds": round(time.perf_counter() - start, 1)}
    if step == config.num_steps:
        rec["data_source"] = getattr(dataset, "source", "")
        rec["fid_reference_sha256"] = ref.images_sha256
        rec["fid_weights"] = ref.weights
        png = grid_png(fake[:FINAL_GRID_IMAGES], nrow=8, padding=1, pad_value=255)
        rec["samples_png"] = base64.b64encode(png).decode("ascii")
    return [rec]


def precision_recall_density_coverage(real_features, fake_features, k: int = 5, *,
                                      chunk_rows: int = 1024, real_radii=None) -> dict[str, float]:
    """Precision, recall, density and coverage of Naeem et al. 2020, "Reliable Fidelity and Diversity
    Metrics for Generative Models" (ICML), as their ``prdc`` package (0.2) computes them.

    real_features X (N, D), fake_features Y (M, D): tensors (or arrays) of e.g. Inception pool3 features.
    Euclidean distances; r_i = distance from X_i to its k-th nearest other real sample, s_j likewise among
    the fakes; B(x, r) = {y : ||y - x|| < r}, open, as the package compares (``<``), so a point exactly on
    a radius is outside.

        precision = (1/M) sum_j 1[Y_j in some B(X_i, r_i)]
        recall    = (1/N) sum_i 1[X_i in some B(Y_j, s_j)]
        density   = (1/(kM)) sum_j sum_i 1[Y_j in B(X_i, r_i)]       (can exceed 1)
        coverage  = (1/N) sum_i 1[some Y_j in B(X_i, r_i)]

    Computed in float64 on real_features' device (CPU or CUDA), ``chunk_rows`` rows of each distance
    matrix at a time, so memory stays ~chunk_rows x max(N, M) x 8 bytes per temporary. Returns a dict of
    four floats. ``real_radii``: the r_i of these real features and this k (``knn_radii``), when already
    computed: a run's evaluations share one real set, and its N x N distances cost the most.
    """
    x = torch.as_tensor(real_features)
    y = torch.as_tensor(fake_features)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"real and fake features must be (N, D) and (M, D) with the same D; got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < min(len(x), len(y)):
        raise ValueError(f"k={k!r} must be an integer with 1 <= k < min(N, M) = {min(len(x), len(y))} "
                         f"(the k-th nearest neighbour other than the sample itself)")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows={chunk_rows} must be >= 1")
    x = x.to(torch.float64)
    y = y.to(device=x.device, dtype=torch.float64)
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError("features contain NaN or infinite values; check the feature extraction")

    def distances(a, b):
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
        return d2.clamp_min_(0).sqrt_()

    if real_radii is None:
        r = knn_radii(x, k, chunk_rows)
    else:
        r = torch.as_tensor(real_radii).to(device=x.device, dtype=torch.float64)
        if r.shape != (len(x),):
            raise ValueError(f"real_radii has shape {tuple(r.shape)}, not ({len(x)},): one radius per real sample")
    s = knn_radii(y, k, chunk_rows)
    in_real_balls = torch.zeros(len(y), dtype=torch.float64, device=x.device)
    recalled = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    covered = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    for i in range(0, len(x), chunk_rows):
        d = distances(x[i:i + chunk_rows], y)
        inside = d < r[i:i + chunk_rows, None]
        in_real_balls += inside.sum(0)
        covered[i:i + chunk_rows] = inside.any(1)
        recalled[i:i + chunk_rows] = (d < s[None, :]).any(1)
    return {"precision": (in_real_balls > 0).double().mean().item(),
            "recall": recalled.double().mean().item(),
            "density": (in_real_balls.sum() / (k * len(y))).item(),
            "coverage": covered.double().mean().item()}


def knn_radii(features, k: int = 5, chunk_rows: int = 1024) -> torch.Tensor:
    """(N,) float64 distances from each of ``features`` (N, D) to its k-th nearest other sample: the real
    radii r_i of :func:`precision_recall_density_coverage`, to compute once per real set."""
    x = torch.as_tensor(features).to(torch.float64)
    if x.ndim != 2 or not 1 <= k < len(x):
        raise ValueError(f"need features (N, D) with 1 <= k < N; got {tuple(x.shape)} and k={k}")
    out = torch.empty(len(x), dtype=torch.float64, device=x.device)
    for i in range(0, len(x), chunk_rows):
        a = x[i:i + chunk_rows]
        d = ((a * a).sum(1)[:, None] + (x * x).sum(1)[None, :] - 2 * a @ x.T).clamp_min_(0).sqrt_()
        # the expansion can leave a sample ~1e-7 from itself: set 0, the row's smallest, so the (k+1)-th
        # smallest is the k-th nearest other sample
        rows = torch.arange(len(d), device=x.device)
        d[rows, rows + i] = 0
        out[i:i + chunk_rows] = d.topk(k + 1, dim=1, largest=False).values[:, k]
    return out


EVALUATORS = {"gauss1d": evaluate_gauss1d, "grid2d": evaluate_grid2d, "cifar10": evaluate_images,
              "stl10": evaluate_images}
