import numpy as np
import pytest
import torch

from gngan.config import RunConfig
from gngan.data import gauss1d
from gngan.metrics import evaluate_gauss1d, fair_share_min_points, precision_recall_density_coverage, register_modes
from gngan.steps import build_nets


def test_register_modes_counts_by_hand():
    centers = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    samples = np.array([
        [0.05, 0.0], [0.0, -0.09], [-0.1, 0.0],  # mode 0: 3 inside (0.1 is on the boundary)
        [2.0, 0.05], [1.95, 0.0],                # mode 1: 2 inside
        [0.0, 2.3],                              # near mode 2 but outside the radius
        [1.0, 1.0],                              # nowhere
    ])
    np.testing.assert_array_equal(register_modes(samples, centers, radius=0.1, min_points=1), [3, 2, 0])
    np.testing.assert_array_equal(register_modes(samples, centers, radius=0.1, min_points=3), [3, 0, 0])
    np.testing.assert_array_equal(register_modes(samples, centers, radius=0.5, min_points=1), [3, 2, 1])


def test_register_modes_1d_and_errors():
    np.testing.assert_array_equal(register_modes([-4.1, 0.2, 0.3, 9.0], [-4.0, 0.0, 4.0], radius=1, min_points=1),
                                  [1, 2, 0])
    with pytest.raises(ValueError, match="dimension"):
        register_modes(np.zeros((3, 2)), np.zeros((2, 3)), radius=1)
    with pytest.raises(ValueError, match="radius"):
        register_modes(np.zeros((3, 2)), np.zeros((2, 2)), radius=0)


def test_fair_share_matches_the_2d_protocol():
    assert fair_share_min_points(2000, 25) == 20
    assert fair_share_min_points(2000, 3) == 167


def test_evaluate_gauss1d_on_a_generator_that_outputs_the_data():
    """A generator that reproduces the mixture exactly covers all three modes."""
    ds = gauss1d()
    config = RunConfig(eval_samples=3000)
    nets = build_nets(config, 1)

    class Mixture(torch.nn.Module):
        def forward(self, z):  # (S, n, 1)
            k = (z[..., 0] > 0.43).long() + (z[..., 0] > -0.43).long()  # ~equal thirds of N(0, 1)
            return ds.centers[k] + ds.std * 0.5 * torch.randn(z.shape[:2] + (1,))

    nets.net_G = Mixture()
    (out,) = evaluate_gauss1d(nets, ds, config, [0], 0, "cpu")
    assert out["covered_modes"] == 3
    assert abs(sum(out["mode_counts"]) - 3000) < 30
    assert len(out["snapshot"]["hist_density"]) == 80 and len(out["snapshot"]["d_score"]) == 161
    nets = build_nets(config, 1, seeds=[0, 1])
    nets.net_G = lambda z: torch.zeros(z.shape[:2] + (1,))
    assert [e["covered_modes"] for e in evaluate_gauss1d(nets, ds, config, [0, 1], 0, "cpu")] == [1, 1]


# ------------------------------------------------------------------------------------- PRDC

def _prdc_brute_force(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Naeem et al.'s four definitions literally, in float64 NumPy: full distance matrices by differences,
    radii by sorting (column 0 of a sorted row is the sample itself), memberships by loops."""
    def dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    r = np.sort(dist(real, real), axis=1)[:, k]
    s = np.sort(dist(fake, fake), axis=1)[:, k]
    d = dist(real, fake)
    n, m = d.shape
    precision = sum(any(d[i, j] < r[i] for i in range(n)) for j in range(m)) / m
    recall = sum(any(d[i, j] < s[j] for j in range(m)) for i in range(n)) / n
    density = sum(d[i, j] < r[i] for i in range(n) for j in range(m)) / (k * m)
    coverage = sum(any(d[i, j] < r[i] for j in range(m)) for i in range(n)) / n
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


def test_prdc_by_hand_1d():
    """k = 1. Real radii (nearest other real): 0 -> 1, 1 -> 1, 3 -> 2, 7 -> 4, 30 -> 23; fake radii:
    0.5 -> 2, 2.5 -> 2, 11 -> 8.5. Fake 0.5 lies in the balls of 0 and 1, fake 2.5 in that of 3, fake 11
    in that of 30 and exactly on the boundary of 7's (|11 - 7| = 4 = r): outside, as the balls are open.
    Real 30 is in no fake ball (19 > 8.5)."""
    real = torch.tensor([[0.0], [1.0], [3.0], [7.0], [30.0]])
    fake = torch.tensor([[0.5], [2.5], [11.0]])
    got = precision_recall_density_coverage(real, fake, k=1)
    torch.testing.assert_close(got, {"precision": 1.0, "recall": 4 / 5, "density": 4 / 3, "coverage": 4 / 5})
    assert all(isinstance(v, float) for v in got.values())


def test_prdc_by_hand_2d():
    """k = 2, reals at the unit square's corners: every real radius is 1. Fake (0.5, 0.5) is 0.71 from all
    four corners, (1, 1.5) is 0.5 from (1, 1) only, (3, 0) is 2 or more from all; the fakes' radii
    (sqrt 6.5, sqrt 6.5, 2.5) hold every corner."""
    real = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    fake = torch.tensor([[0.5, 0.5], [3.0, 0.0], [1.0, 1.5]])
    got = precision_recall_density_coverage(real, fake, k=2)
    torch.testing.assert_close(got, {"precision": 2 / 3, "recall": 1.0, "density": 5 / 6, "coverage": 1.0})
    # roles swapped: the balls (radii sqrt 6.5, sqrt 6.5, 2.5) around the three points hold 2, 3, 2, 3 of
    # the corners (0,0), (1,0), (0,1), (1,1); (3, 0) is in no corner's unit ball
    swapped = precision_recall_density_coverage(fake, real, k=2)
    torch.testing.assert_close(swapped, {"precision": 1.0, "recall": 2 / 3, "density": 10 / 8, "coverage": 1.0})


@pytest.mark.parametrize("k", [1, 3, 5, 9])
def test_prdc_equals_brute_force_numpy(k):
    rng = np.random.default_rng(k)
    real = rng.normal(size=(37, 6))
    fake = 0.7 * rng.normal(size=(29, 6)) + 0.4
    want = _prdc_brute_force(real, fake, k)
    # chunk_rows 5 splits both matrices into uneven chunks; float32 input is widened to float64
    for chunk_rows in (5, 1024):
        got = precision_recall_density_coverage(torch.from_numpy(real), torch.from_numpy(fake), k,
                                                chunk_rows=chunk_rows)
        torch.testing.assert_close(got, want)
    got32 = precision_recall_density_coverage(torch.from_numpy(real).float(), fake.astype(np.float32), k)
    torch.testing.assert_close(got32, _prdc_brute_force(real.astype(np.float32).astype(np.float64),
                                                        fake.astype(np.float32).astype(np.float64), k))


def test_prdc_identical_sets_and_far_sets():
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(50, 4)))
    # every fake is a real sample (distance 0 < its radius), so the three fractions are 1 (density is not fixed)
    same = precision_recall_density_coverage(x, x.clone(), k=3)
    assert (same["precision"], same["recall"], same["coverage"]) == (1.0, 1.0, 1.0)
    far = precision_recall_density_coverage(x, x + 100, k=3)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_errors_are_one_clear_line():
    x = torch.zeros(10, 4)
    with pytest.raises(ValueError, match=r"same D; got \(10, 4\) and \(10, 3\)") as info:
        precision_recall_density_coverage(x, torch.zeros(10, 3))
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=r"1 <= k < min\(N, M\) = 6") as info:
        precision_recall_density_coverage(x, torch.zeros(6, 4), k=6)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="k=0"):
        precision_recall_density_coverage(x, x, k=0)
    with pytest.raises(ValueError, match="NaN"):
        precision_recall_density_coverage(x, torch.full((10, 4), float("nan")))


def test_prdc_with_precomputed_real_radii_is_the_same():
    """A run's evaluations share one real set: its radii, computed once, give the same four numbers."""
    from gngan.metrics import knn_radii, precision_recall_density_coverage

    g = torch.Generator().manual_seed(5)
    real, fake = torch.randn(60, 4, generator=g), torch.randn(40, 4, generator=g) + 0.3
    direct = precision_recall_density_coverage(real, fake, k=3, chunk_rows=7)
    radii = knn_radii(real, k=3)
    brute = torch.cdist(real.double(), real.double()).sort(dim=1).values[:, 3]
    torch.testing.assert_close(radii, brute)
    assert precision_recall_density_coverage(real, fake, k=3, real_radii=radii) == direct
    with pytest.raises(ValueError, match="one radius per real sample"):
        precision_recall_density_coverage(real, fake, k=3, real_radii=radii[:5])
