"""Tests of gngan.bourgain: the Bourgain embedding, the distance scale and the mixture prior of BourGAN."""

import math

import numpy as np
import pytest
import torch

from gngan import bourgain
from gngan.bourgain import BourgainPrior


def grid_points(per_mode=6, std=0.05, seed=0):
    """A small version of the 2D data: 25 tight clusters at {-4..4}^2 (original units) with labels."""
    rng = np.random.default_rng(seed)
    v = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    centers = np.array([(a, b) for a in v for b in v])
    labels = np.repeat(np.arange(25), per_mode)
    return centers[labels] + std * rng.normal(size=(len(labels), 2)), labels


def test_num_scales():
    assert bourgain.num_scales(2000) == 11
    assert bourgain.num_scales(1024) == 10 and bourgain.num_scales(1025) == 11
    assert bourgain.num_scales(1) == 1
    assert bourgain.num_scales(100, p=1 / 3) == math.ceil(math.log(100) / math.log(3))
    with pytest.raises(ValueError, match="p=1"):
        bourgain.num_scales(10, p=1)


def test_subsets_shape_reproducibility_and_inclusion_rates():
    n, m = 4000, 20
    sub = bourgain.bourgain_subsets(n, np.random.default_rng(1), m=m)
    k = bourgain.num_scales(n)
    assert sub.shape == (k * m, n) and sub.dtype == bool
    np.testing.assert_array_equal(sub, bourgain.bourgain_subsets(n, np.random.default_rng(1), m=m))
    rates = sub.mean(1).reshape(k, m).mean(1)  # row j * m + i has inclusion probability 2^-(j+1)
    want = 0.5 ** np.arange(1, k + 1)
    np.testing.assert_allclose(rates[:4], want[:4], rtol=0.05)


def test_coordinates_are_distances_to_the_subsets():
    pts, _ = grid_points(per_mode=1)
    d = bourgain.pairwise_distances(pts)
    sub = bourgain.bourgain_subsets(len(pts), np.random.default_rng(2), m=3)
    sub[0] = False  # an empty subset gives a 0 coordinate
    y = bourgain.bourgain_coordinates(d, sub)
    for c in range(len(pts)):
        for r in range(len(sub)):
            members = [s for s in range(len(pts)) if sub[r, s]]
            want = min(math.dist(pts[c], pts[s]) for s in members) if members else 0.0
            assert y[c, r] == pytest.approx(want, abs=1e-12)


def test_embedding_is_lipschitz_normalised_and_keeps_the_clusters():
    pts, labels = grid_points()
    d = bourgain.pairwise_distances(pts)
    raw = bourgain.bourgain_embedding(pts, np.random.default_rng(3), normalize=False)
    assert raw.shape == (len(pts), 5 * bourgain.num_scales(len(pts)))
    # each coordinate d(., S) is 1-Lipschitz (triangle inequality)
    assert (np.abs(raw[:, None, :] - raw[None, :, :]) <= d[:, :, None] + 1e-12).all()
    y = bourgain.normalize_embedding(raw)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)
    assert (y ** 2).mean() == pytest.approx(1.0)
    np.testing.assert_allclose(y, bourgain.bourgain_embedding(pts, np.random.default_rng(3)))
    # modes stay modes: every point's nearest embedded neighbour belongs to its own cluster
    e = bourgain.pairwise_distances(y)
    np.fill_diagonal(e, np.inf)
    assert (labels[e.argmin(1)] == labels).all()


def test_distance_scale_by_hand():
    dx = np.array([[0.0, 2.0, 3.0], [2.0, 0.0, 1.0], [3.0, 1.0, 0.0]])
    dy = np.array([[0.0, 4.0, 2.0], [4.0, 0.0, 4.0], [2.0, 4.0, 0.0]])
    assert bourgain.distance_scale(dx, dy) == pytest.approx(1.5)  # ratios 0.5, 1.5, 0.25
    assert bourgain.distance_scale(dx, dy, sqrt=True) == pytest.approx(math.sqrt(1.5))
    assert bourgain.distance_scale(dx, dy, reduce="median") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown reduction"):
        bourgain.distance_scale(dx, dy, reduce="mean")


def test_mixture_latents_by_hand():
    centers = torch.tensor([[0.0, 0.0], [10.0, -10.0]])
    z = bourgain.mixture_latents(centers, torch.tensor([1, 0, 1]), torch.tensor([[1.0, 2.0], [0.0, 0.0], [-1.0, 0.5]]),
                                 sigma=0.1)
    torch.testing.assert_close(z, torch.tensor([[10.1, -9.8], [0.0, 0.0], [9.9, -9.95]]))
    with pytest.raises(ValueError, match="need index"):
        bourgain.mixture_latents(centers, torch.tensor([0]), torch.zeros(1, 3))


def test_prior_from_data_samples_near_the_centres_reproducibly():
    pts, _ = grid_points(per_mode=8)
    prior = BourgainPrior.from_data(torch.tensor(pts), num_points=150, generator=np.random.default_rng(4))
    assert prior.z_dim == 5 * bourgain.num_scales(150) and prior.centers.shape == (150, prior.z_dim)
    assert prior.sigma == bourgain.BOURGAIN_SIGMA
    # scale = max d_data / d_latent over the subsample: scaled latent distances dominate data distances
    again = BourgainPrior.from_data(torch.tensor(pts), num_points=150, generator=np.random.default_rng(4))
    torch.testing.assert_close(prior.centers, again.centers)
    assert prior.scale == again.scale > 0
    z = prior.sample(64, torch.Generator().manual_seed(0))
    torch.testing.assert_close(z, prior.sample(64, torch.Generator().manual_seed(0)))
    nearest = torch.cdist(z, prior.centers).min(1).values
    assert (nearest < 6 * prior.sigma * math.sqrt(prior.z_dim)).all()
    with pytest.raises(ValueError, match="num_points"):
        BourgainPrior.from_data(torch.tensor(pts), num_points=1, generator=np.random.default_rng(0))


def test_scale_makes_scaled_latent_distances_dominate():
    pts, _ = grid_points(per_mode=2)
    d = bourgain.pairwise_distances(pts)
    y = bourgain.bourgain_embedding(pts, np.random.default_rng(5), dists=d)
    e = bourgain.pairwise_distances(y)
    s = bourgain.distance_scale(d, e)
    off = ~np.eye(len(d), dtype=bool)
    assert (s * e[off] >= d[off] - 1e-12).all()
    assert np.isclose(s * e[off], d[off]).any()  # tight for the worst pair
