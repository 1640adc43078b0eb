import pytest
import torch
from torch.func import vmap

from gngan import losses
from gngan.data import make_dataset
from gngan.experiments import GRID2D_METHODS
from gngan.nets import MLPDiscriminator, StackedLinear, init_seeds
from gngan.steps import Stepper, build_nets, build_optimizers, on_each, per_seed


def _stepper(config, seeds):
    dataset = make_dataset(config.data)
    nets = build_nets(config, dataset.x_dim, seeds)
    samplers = [dataset.sampler(torch.Generator().manual_seed(2 * s)) for s in seeds]
    noise_gens = [torch.Generator().manual_seed(2 * s + 1) for s in seeds]
    return Stepper(config, nets, build_optimizers(config, nets), samplers, noise_gens, torch.device("cpu"), seeds)


@pytest.mark.parametrize("method", sorted(GRID2D_METHODS))
def test_2d_configs_stacked_equal_alone(method):
    """The 2D nets (64 wide, outputs of 1 and 2 units) take the code paths used only for S > 1."""
    config = GRID2D_METHODS[method].replace(batch_size=32, d_steps=min(2, GRID2D_METHODS[method].d_steps))
    seeds = [3, 0, 5]
    stacked = _stepper(config, seeds)
    together = [stacked.iteration() for _ in range(3)]
    for i, s in enumerate(seeds):
        alone = _stepper(config, [s])
        for step, out in enumerate(together):
            for k, v in alone.iteration().items():
                assert out[k][i].item() == pytest.approx(v[0].item(), rel=1e-4, abs=1e-6), (method, s, step, k)


@pytest.mark.parametrize("d_out", [1, 2, 64])
def test_stacked_layer_equals_each_seed_alone(d_out):
    """Stacked layers compute narrow outputs differently (see StackedLinear.forward)."""
    layer = StackedLinear(3, 64, d_out)
    init_seeds([layer], [1, 2, 3])
    x = torch.randn(3, 10, 64)
    out = layer(x)
    assert out.shape == (3, 10, d_out)
    for s in range(3):
        torch.testing.assert_close(out[s], x[s] @ layer.weight[s] + layer.bias[s])


def test_on_each_equals_separate_calls():
    net = MLPDiscriminator(2, 64, 2, num_seeds=2)
    a, b, c = torch.randn(2, 5, 2), torch.randn(2, 7, 2), torch.randn(2, 3, 2)
    for got, x in zip(on_each(net, a, b, c), (a, b, c)):
        torch.testing.assert_close(got, net(x))


def test_per_seed_of_one_seed_equals_vmap():
    a, b = torch.randn(1, 16), torch.randn(1, 16)
    got = per_seed(losses.gngan_dis, a, b, a, alpha=0.1)
    assert got.shape == (1,)
    torch.testing.assert_close(got, vmap(lambda *t: losses.gngan_dis(*t, alpha=0.1))(a, b, a))
