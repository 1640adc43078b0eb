import torch

from gngan.nets import MLPDiscriminator, MLPEncoder, MLPGenerator


def _linear_layers(m):
    return [l for l in m.modules() if isinstance(l, torch.nn.Linear)]


def test_1d_sizes_follow_the_paper_text():
    """E and G: three fully-connected layers; D: two; 4 units per hidden layer."""
    g, e, d = MLPGenerator(1, 1, 4, 2), MLPEncoder(1, 1, 4, 2), MLPDiscriminator(1, 4, 1)
    assert [(l.in_features, l.out_features) for l in _linear_layers(g)] == [(1, 4), (4, 4), (4, 1)]
    assert len(_linear_layers(e)) == 3
    assert [(l.in_features, l.out_features) for l in _linear_layers(d)] == [(1, 4), (4, 1)]


def test_table1_sizes():
    d = MLPDiscriminator(2, 64, 2)
    assert [(l.in_features, l.out_features) for l in _linear_layers(d)] == [(2, 64), (64, 64), (64, 1)]
    assert d(torch.zeros(5, 2)).shape == (5,)
    assert d.body(torch.zeros(5, 2)).shape == (5, 64)
    g = MLPGenerator(2, 2, 64, 2, out="sigmoid")
    y = g(torch.randn(7, 2) * 100)
    assert y.shape == (7, 2) and (y >= 0).all() and (y <= 1).all()
