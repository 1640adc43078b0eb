"""Networks of the synthetic experiments (paper: 1D text and Table 1).

Models only define ``forward``. The discriminator's logit is ``net_D(x)``; its
penultimate features (used by Dist-GAN's latent-data distance) are
``net_D.body(x)``.
"""

from __future__ import annotations

import torch
from torch import nn

OUTPUT_ACTIVATIONS = ("linear", "sigmoid")


def mlp(d_in: int, d_out: int, width: int, num_hidden: int) -> nn.Sequential:
    """``num_hidden`` ReLU layers of ``width`` units, then a linear layer to ``d_out``."""
    if num_hidden < 0 or width < 1:
        raise ValueError(f"mlp needs num_hidden >= 0 and width >= 1, got {num_hidden} and {width}")
    layers: list[nn.Module] = []
    d = d_in
    for _ in range(num_hidden):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    layers.append(nn.Linear(d, d_out))
    return nn.Sequential(*layers)


def _output(name: str) -> nn.Module:
    if name not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"unknown output activation {name!r}; use one of {OUTPUT_ACTIVATIONS}")
    return nn.Sigmoid() if name == "sigmoid" else nn.Identity()


class MLPGenerator(nn.Module):
    """net_G: (n, z_dim) -> (n, x_dim)."""

    def __init__(self, z_dim: int, x_dim: int, width: int, num_hidden: int, out: str = "linear"):
        super().__init__()
        self.net = mlp(z_dim, x_dim, width, num_hidden)
        self.out = _output(out)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(z))


class MLPEncoder(nn.Module):
    """net_E: (n, x_dim) -> (n, z_dim), linear output (as the Dist-GAN encoder)."""

    def __init__(self, x_dim: int, z_dim: int, width: int, num_hidden: int):
        super().__init__()
        self.net = mlp(x_dim, z_dim, width, num_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLPDiscriminator(nn.Module):
    """net_D: (n, x_dim) -> (n,) logits; the score of the paper is ``sigmoid(net_D(x))``."""

    def __init__(self, x_dim: int, width: int, num_hidden: int):
        super().__init__()
        if num_hidden < 1:
            raise ValueError("the discriminator needs at least one hidden layer (its features feed Dist-GAN)")
        self.body = mlp(x_dim, width, width, num_hidden - 1)
        self.body.append(nn.ReLU())
        self.head = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(-1)
