"""Tests of the Table 2 statistics (TV (True), TV (Differential), grid2d_stats) and of the Fig. 4 gradient map."""

import numpy as np
import pytest
import torch

from gngan.data import Grid2D
from gngan.metrics import grid2d_stats, gradient_field, tv_differential, tv_true


# --------------------------------------------------------------------------------------------------
# TV on hand-computed histograms


def test_tv_zero_for_an_exactly_balanced_generator():
    assert tv_true([80] * 25, 2000) == 0.0
    assert tv_differential([80] * 25, 2000) == 0.0


def test_tv_by_hand_small_histograms():
    # K = 4 modes, N = 10 samples, 8 registered (5, 3, 0, 0), 2 off-mode
    # true: |.5-.25| + |.3-.25| + .25 + .25 + 2/10 = 1.0;  differential: |5/8-1/4| + |3/8-1/4| + 1/4 + 1/4 = 1.0
    assert tv_true([5, 3, 0, 0], 10) == pytest.approx(1.0)
    assert tv_differential([5, 3, 0, 0], 10) == pytest.approx(1.0)
    # balanced over the modes but half the samples off-mode: true counts them, differential does not
    assert tv_true([1, 1, 1, 1], 8) == pytest.approx(4 * (1 / 8) + 0.5)
    assert tv_differential([1, 1, 1, 1], 8) == 0.0
    # (4, 2, 2, 0) of N = 8: true |.5-.25| + 2|.25-.25| + .25 = .5 ; differential the same (all registered)
    assert tv_true([4, 2, 2, 0], 8) == pytest.approx(0.5)
    assert tv_differential([4, 2, 2, 0], 8) == pytest.approx(0.5)


def test_tv_values_above_one_and_the_extremes():
    # all 2,000 samples in one of 25 modes: both 2 (1 - 1/25) = 1.92 > 1, as in the paper's VAE rows
    one = [2000] + [0] * 24
    assert tv_true(one, 2000) == pytest.approx(1.92)
    assert tv_differential(one, 2000) == pytest.approx(1.92)
    # nothing registers: everything is off-mode
    assert tv_true([0] * 25, 2000) == pytest.approx(2.0)
    assert tv_differential([0] * 25, 2000) == 2.0
    # 14 balanced modes holding half of the samples (a GAN-like row): true 2 - 2 * 1000/2000 = 1.0
    fourteen = [1000 / 14] * 14 + [0] * 11
    assert tv_true(fourteen, 2000) == pytest.approx(1.0)
    assert tv_differential(fourteen, 2000) == pytest.approx(2 * 11 / 25)


def test_tv_rejects_bad_counts():
    with pytest.raises(ValueError, match="non-negative"):
        tv_true([3, -1], 10)
    with pytest.raises(ValueError, match="at least the 12 registered"):
        tv_differential([6, 6], 10)
    with pytest.raises(ValueError, match="1-D"):
        tv_true(np.zeros((2, 2)), 10)


# --------------------------------------------------------------------------------------------------
# grid2d_stats on constructed samples


def _points_at(centers, counts, jitter, rng):
    pts = [np.repeat(centers[k][None], c, 0) + jitter * rng.uniform(-1, 1, size=(c, 2)) / np.sqrt(2)
           for k, c in enumerate(counts)]
    return np.concatenate(pts)


def test_grid2d_stats_balanced_and_unbalanced():
    ds = Grid2D()
    centers, radius = ds.centers.numpy(), ds.radius
    rng = np.random.default_rng(0)
    s = grid2d_stats(_points_at(centers, [80] * 25, 0.9 * radius, rng), centers, radius)
    assert (s["covered_modes"], s["registered_points"], s["tv_true"], s["tv_differential"]) == (25, 2000, 0.0, 0.0)
    counts = [90] * 20 + [10] + [0] * 4  # mode 20 gets 10 < 20 points: missed
    half_spacing = 0.5 * (2 / (2 * ds.scale))  # midway between neighbouring modes, far from all of them
    far = np.full((190, 2), 0.5 + half_spacing)
    s = grid2d_stats(np.concatenate([_points_at(centers, counts, 0.9 * radius, rng), far]), centers, radius)
    assert s["covered_modes"] == 20 and s["registered_points"] == 1800
    assert s["mode_counts"] == [90] * 20 + [0] * 5
    # true: 20 |90/2000 - 1/25| + 5/25 + 200/2000 off-mode (10 at the missed mode, 190 between modes)
    assert s["tv_true"] == pytest.approx(20 * 0.005 + 0.2 + 0.1)
    # differential: 20 |1/20 - 1/25| + 5/25
    assert s["tv_differential"] == pytest.approx(20 * 0.01 + 0.2)
    # the authors' count (evaluate_toydata of the Dist-GAN code): every point within the radius, the 10 at the
    # missed mode too; covered modes are the same either way
    assert s["registered_points_authors"] == 1810


def test_registered_points_rules_by_hand():
    from gngan.metrics import register_modes

    centers = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    # 3 points at mode 0, 1 at mode 1 (below min_points 2: missed), 1 just outside mode 2's radius, 1 far away
    samples = [[0.0, 0.05], [0.05, 0.0], [-0.05, 0.0], [1.0, 0.09], [0.0, 1.11], [5.0, 5.0]]
    np.testing.assert_array_equal(register_modes(samples, centers, radius=0.1, min_points=2), [3, 0, 0])
    np.testing.assert_array_equal(register_modes(samples, centers, radius=0.1, min_points=2, rule="authors"),
                                  [3, 1, 0])
    s = grid2d_stats(samples, centers, 0.1, min_points=2)
    assert (s["covered_modes"], s["registered_points"], s["registered_points_authors"]) == (1, 3, 4)
    with pytest.raises(ValueError, match="rule='theirs'"):
        register_modes(samples, centers, radius=0.1, rule="theirs")


# --------------------------------------------------------------------------------------------------
# gradient field


def test_gradient_field_of_a_quadratic_score():
    a = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    c = torch.tensor([0.3, -0.2], dtype=torch.float64)

    def score(x):  # s(x) = -(x - c)^T A (x - c), gradient -2 A (x - c)
        d = x - c
        return -((d @ a) * d).sum(-1)

    pts, grads = gradient_field(score, -1.0, (1.0, 3.0), num=5, dtype=torch.float64)
    assert pts.shape == (25, 2) and grads.shape == (25, 2)
    grid = pts.reshape(5, 5, 2)
    torch.testing.assert_close(grid[0, :, 0], torch.linspace(-1, 1, 5, dtype=torch.float64))  # x along columns
    torch.testing.assert_close(grid[:, 0, 1], torch.linspace(-1, 3, 5, dtype=torch.float64))  # y along rows
    torch.testing.assert_close(grads, -2 * (pts - c) @ a)
    assert not grads.requires_grad and not pts.requires_grad


def test_gradient_field_stacked_seeds():
    cs = torch.tensor([[0.0, 0.0], [1.0, -1.0]], dtype=torch.float64)

    def score(x):  # (S, m, 2) -> (S, m): seed s has s(x) = -|x - c_s|^2
        return -((x - cs[:, None, :]) ** 2).sum(-1)

    pts, grads = gradient_field(score, 0.0, 1.0, num=3, num_seeds=2, dtype=torch.float64)
    assert grads.shape == (2, 9, 2)
    for s in range(2):
        torch.testing.assert_close(grads[s], -2 * (pts - cs[s]))
    with pytest.raises(ValueError, match="score_fn must map"):
        gradient_field(lambda x: x, 0.0, 1.0, num=3)
    with pytest.raises(ValueError, match="lo < hi"):
        gradient_field(score, 1.0, 0.0)
