import pytest
import torch
from torch.func import vmap

from gngan import losses
from gngan.bourgain import sample_latents, seed_prior
from gngan.config import RunConfig
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


BASELINES = ["vae", "beta_vae", "ali", "vaegan", "mmdrep", "bourgan"]


@pytest.mark.parametrize("method", BASELINES)
def test_baselines_train_with_finite_losses(method):
    config = GRID2D_METHODS[method].replace(batch_size=32)
    stepper = _stepper(config, [0, 1])
    before = {k: [p.detach().clone() for p in m.parameters()] for k, m in stepper.nets.modules().items()}
    outs = [stepper.iteration() for _ in range(5)]
    for out in outs:
        assert out and all(v.shape == (2,) and torch.isfinite(v).all() for v in out.values()), (method, out)
    for k, m in stepper.nets.modules().items():
        assert any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters())), (method, k)


def test_baseline_networks():
    def shapes(method):
        nets = build_nets(GRID2D_METHODS[method], 2, [0, 1])
        x = torch.rand(2, 5, 2)
        return nets, x

    nets, x = shapes("vae")
    assert nets.net_D is None and nets.net_E(x).shape == (2, 5, 4)  # (mu, logvar)
    nets, x = shapes("vaegan")
    assert nets.net_E(x).shape == (2, 5, 4) and nets.net_D(x).shape == (2, 5)
    nets, x = shapes("ali")
    assert nets.net_E(x).shape == (2, 5, 2) and nets.net_D(torch.cat([x, x], -1)).shape == (2, 5)
    assert nets.net_D.body(torch.cat([x, x], -1)).shape == (2, 5, 64)
    nets, _ = shapes("mmdrep")
    assert nets.net_E is None
    assert GRID2D_METHODS["beta_vae"].beta > 1 == GRID2D_METHODS["vae"].beta


def test_vaegan_updates_each_network_on_its_own_loss():
    """The encoder's step must not see the GAN terms: its gradient equals that of vaegan_enc alone."""
    config = GRID2D_METHODS["vaegan"].replace(batch_size=16)
    stepper = _stepper(config, [4])
    n = stepper.nets
    torch.manual_seed(0)
    x = torch.rand(1, 16, 2)
    calls = []
    original = stepper._update

    def spy(opt_name, loss, term, retain_graph=False):
        params = [p for g in stepper.opts[opt_name].param_groups for p in g["params"]]
        calls.append((opt_name, {id(p) for p in params}))
        return original(opt_name, loss, term, retain_graph)

    stepper._update = spy
    stepper._x = lambda: x
    stepper.iteration()
    assert [c[0] for c in calls] == ["E", "G", "D"]
    ids = {k: {id(p) for p in m.parameters()} for k, m in n.modules().items()}
    assert [c[1] for c in calls] == [ids["net_E"], ids["net_G"], ids["net_D"]]


@pytest.mark.parametrize("change, message", [
    ({"method": "vae", "prior": "uniform"}, "prior='normal'"),
    ({"method": "vaegan", "prior": "uniform"}, "prior='normal'"),
    ({"method": "vae", "beta": -1.0}, "beta=-1.0"),
    ({"method": "bourgan", "prior": "uniform"}, "prior='bourgain'"),
    ({"method": "gan", "prior": "bourgain"}, "prior='bourgain'"),
])
def test_baseline_config_validation(change, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**change)
    assert RunConfig(method="ali", prior="uniform").beta == 1.0


def test_bourgan_prior_is_per_seed_and_sets_z_dim():
    config = GRID2D_METHODS["bourgan"]
    a = sample_latents(config, 7, 0, torch.Generator().manual_seed(1))
    assert a.shape == (7, 55)
    torch.testing.assert_close(a, sample_latents(config, 7, 0, torch.Generator().manual_seed(1)))
    assert seed_prior("grid2d", 0).scale != seed_prior("grid2d", 1).scale
    with pytest.raises(ValueError, match="set z_dim=55"):
        sample_latents(config.replace(z_dim=2), 7, 0, torch.Generator())


@pytest.mark.parametrize("method", ["gngan_gm", "gngan_ne_gm"])
def test_gm_backward_linear_trains_as_double(method):
    """Both ways of differentiating Eq. 13 give the same 2D training, iteration by iteration."""
    config = GRID2D_METHODS[method].replace(batch_size=32, d_steps=2)
    runs = [_stepper(config.replace(gm_backward=gm), [0, 4]) for gm in ("double", "linear")]
    for step in range(4):
        a, b = (r.iteration() for r in runs)
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6, msg=f"{method} step {step} {k}")
    for p, q in zip(runs[0].nets.net_G.parameters(), runs[1].nets.net_G.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)


def test_vae_step_uses_the_configured_decoder_sigma():
    """With the same draws, the VAE loss at three decoder stds obeys L(s) = SS / (2 s^2) + log(2 pi s^2) + KL
    (D = 2): the squared error SS solved from two of them predicts the third."""
    import math

    base = GRID2D_METHODS["vae"].replace(batch_size=32)
    loss = {s: _stepper(base.replace(vae_sigma=s), [0]).vae_step()[0].item() for s in (0.01, 0.05, 0.2)}
    f = lambda s: 1 / (2 * s ** 2)
    g = lambda s: math.log(2 * math.pi * s ** 2)
    ss = ((loss[0.01] - loss[0.05]) - (g(0.01) - g(0.05))) / (f(0.01) - f(0.05))
    predicted = loss[0.05] + ss * (f(0.2) - f(0.05)) + g(0.2) - g(0.05)
    assert loss[0.2] == pytest.approx(predicted, rel=1e-4)


def test_a_non_finite_loss_is_named_by_its_first_term_once_the_iteration_ends():
    """The finiteness check runs once an iteration (one host sync on a GPU); the error names the first term in
    the iteration's order that is not finite, its seed and the step."""
    from gngan.steps import NonFiniteLossError

    config = GRID2D_METHODS["gngan_gm"].replace(batch_size=16, d_steps=2)
    stepper = _stepper(config, [3, 5])
    original = stepper._update
    terms = []

    def planted(opt_name, loss, term, retain_graph=False):
        terms.append(term)
        if term == "gen" or (term == "dis" and terms.count("dis") == 2):  # the second D update, and the G update
            loss = loss * torch.tensor([1.0, float("inf")] if term == "dis" else [float("nan"), 1.0])
        return original(opt_name, loss, term, retain_graph)

    stepper._update = planted
    with pytest.raises(NonFiniteLossError, match=r"step 0: loss term 'dis' is inf for seed\(s\) \[5\]"):
        stepper.iteration()
    assert terms == ["ae", "dis", "dis", "gen"] and stepper.step == 0
