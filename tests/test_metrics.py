import numpy as np
import pytest
import torch

from gngan.config import RunConfig
from gngan.data import gauss1d
from gngan.metrics import evaluate_gauss1d, fair_share_min_points, register_modes
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
