import torch

from gngan.nets import MLPDiscriminator, MLPEncoder, MLPGenerator, StackedLinear, init_seeds


def _linear_layers(m):
    return [l for l in m.modules() if isinstance(l, StackedLinear)]


def test_1d_sizes_follow_the_paper_text():
    """E and G: three fully-connected layers; D: two; 4 units per hidden layer."""
    g, e, d = MLPGenerator(1, 1, 4, 2), MLPEncoder(1, 1, 4, 2), MLPDiscriminator(1, 4, 1)
    assert [(l.d_in, l.d_out) for l in _linear_layers(g)] == [(1, 4), (4, 4), (4, 1)]
    assert len(_linear_layers(e)) == 3
    assert [(l.d_in, l.d_out) for l in _linear_layers(d)] == [(1, 4), (4, 1)]


def test_table1_sizes():
    d = MLPDiscriminator(2, 64, 2)
    assert [(l.d_in, l.d_out) for l in _linear_layers(d)] == [(2, 64), (64, 64), (64, 1)]
    assert d(torch.zeros(5, 2)).shape == (5,)
    assert d.body(torch.zeros(5, 2)).shape == (5, 64)
    g = MLPGenerator(2, 2, 64, 2, out="sigmoid")
    y = g(torch.randn(7, 2) * 100)
    assert y.shape == (7, 2) and (y >= 0).all() and (y <= 1).all()


def test_stacked_slots_equal_separate_networks():
    """Slot s of a 3-seed stack computes what a 1-seed network initialised from seed s computes."""
    seeds = [4, 0, 9]
    stacked = MLPDiscriminator(2, 8, 2, num_seeds=3)
    init_seeds([stacked], seeds)
    x = torch.randn(3, 5, 2)
    out = stacked(x)
    assert out.shape == (3, 5)
    for s, seed in enumerate(seeds):
        alone = MLPDiscriminator(2, 8, 2)
        init_seeds([alone], [seed])
        torch.testing.assert_close(out[s], alone(x[s]))
        torch.testing.assert_close(alone(x[s]), alone(x[s : s + 1])[0])


def test_init_matches_torch_default_bounds():
    layer = StackedLinear(2, 16, 4)
    init_seeds([layer], [0, 1])
    assert layer.weight.abs().max() <= 0.25 and layer.bias.abs().max() <= 0.25
    assert not torch.equal(layer.weight[0], layer.weight[1])


def test_a_stack_refuses_unstacked_input():
    import pytest

    with pytest.raises(ValueError, match="stacked seeds needs input"):
        MLPGenerator(1, 1, 4, 2, num_seeds=2)(torch.zeros(5, 1))
