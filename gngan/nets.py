"""Networks of the synthetic experiments (paper: 1D text and Table 1).

Every network holds the weights of ``num_seeds`` independent runs stacked on a leading axis, so
several seeds train in one process with batched matrix products: inputs are (S, n, d) and outputs
(S, n, ...). With ``num_seeds == 1`` a plain (n, d) batch is accepted too.

Models only define ``forward``. The discriminator's logit is ``net_D(x)``; its penultimate
features (used by Dist-GAN's latent-data distance) are ``net_D.body(x)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

OUTPUT_ACTIVATIONS = ("linear", "sigmoid")


class StackedLinear(nn.Module):
    """``num_seeds`` independent affine maps: (S, n, d_in) -> (S, n, d_out)."""

    def __init__(self, num_seeds: int, d_in: int, d_out: int):
        super().__init__()
        self.d_in, self.d_out = d_in, d_out
        self.weight = nn.Parameter(torch.empty(num_seeds, d_in, d_out))
        self.bias = nn.Parameter(torch.empty(num_seeds, 1, d_out))
        for s in range(num_seeds):
            self.reset_seed(s, None)

    def reset_seed(self, s: int, generator: torch.Generator | None) -> None:
        """nn.Linear's default initialisation, U(-1/sqrt(d_in), 1/sqrt(d_in)), for seed slot ``s``."""
        bound = 1 / math.sqrt(self.d_in)
        with torch.no_grad():
            w = torch.rand(self.d_out, self.d_in, generator=generator) * 2 - 1
            b = torch.rand(self.d_out, generator=generator) * 2 - 1
            self.weight[s].copy_(bound * w.T)
            self.bias[s, 0].copy_(bound * b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            if self.weight.shape[0] != 1:
                raise ValueError(f"a network of {self.weight.shape[0]} stacked seeds needs input (S, n, d), got (n, d)")
            return torch.addmm(self.bias[0], x, self.weight[0])
        if x.shape[0] > 1 and self.d_out == 1:
            # batched gemm with one output column is slow, and its backward is a slower outer product
            return (x * self.weight.mT).sum(-1, keepdim=True) + self.bias
        if x.shape[0] > 1 and self.d_out * 16 <= self.d_in:
            # MKL's batched gemm is slow for a long, narrow weight (e.g. 64 x 2) as the right factor;
            # the transposed product (S, d_out, n) with it on the left is about twice as fast.
            return torch.baddbmm(self.bias.mT, self.weight.mT, x.mT).mT
        return torch.baddbmm(self.bias, x, self.weight)


def mlp(num_seeds: int, d_in: int, d_out: int, width: int, num_hidden: int) -> nn.Sequential:
    """``num_hidden`` ReLU layers of ``width`` units, then a linear layer to ``d_out``."""
    if num_hidden < 0 or width < 1:
        raise ValueError(f"mlp needs num_hidden >= 0 and width >= 1, got {num_hidden} and {width}")
    layers: list[nn.Module] = []
    d = d_in
    for _ in range(num_hidden):
        layers += [StackedLinear(num_seeds, d, width), nn.ReLU(inplace=True)]
        d = width
    layers.append(StackedLinear(num_seeds, d, d_out))
    return nn.Sequential(*layers)


def init_seeds(nets: list[nn.Module], seeds: list[int]) -> None:
    """Initialise seed slot s of every network from ``seeds[s]`` alone, in a fixed order, so a seed
    starts from the same weights whether it trains alone or stacked with others."""
    for s, seed in enumerate(seeds):
        gen = torch.Generator().manual_seed(seed)
        for net in nets:
            for layer in net.modules():
                if isinstance(layer, StackedLinear):
                    layer.reset_seed(s, gen)


def _output(name: str) -> nn.Module:
    if name not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"unknown output activation {name!r}; use one of {OUTPUT_ACTIVATIONS}")
    return nn.Sigmoid() if name == "sigmoid" else nn.Identity()


class MLPGenerator(nn.Module):
    """net_G: (S, n, z_dim) -> (S, n, x_dim)."""

    def __init__(self, z_dim: int, x_dim: int, width: int, num_hidden: int, out: str = "linear",
                 num_seeds: int = 1):
        super().__init__()
        self.net = mlp(num_seeds, z_dim, x_dim, width, num_hidden)
        self.out = _output(out)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(z))


class MLPEncoder(nn.Module):
    """net_E: (S, n, x_dim) -> (S, n, z_dim), linear output (as the Dist-GAN encoder)."""

    def __init__(self, x_dim: int, z_dim: int, width: int, num_hidden: int, num_seeds: int = 1):
        super().__init__()
        self.net = mlp(num_seeds, x_dim, z_dim, width, num_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLPDiscriminator(nn.Module):
    """net_D: (S, n, x_dim) -> (S, n) logits; the score of the paper is ``sigmoid(net_D(x))``."""

    def __init__(self, x_dim: int, width: int, num_hidden: int, num_seeds: int = 1):
        super().__init__()
        if num_hidden < 1:
            raise ValueError("the discriminator needs at least one hidden layer (its features feed Dist-GAN)")
        self.body = mlp(num_seeds, x_dim, width, width, num_hidden - 1)
        self.body.append(nn.ReLU(inplace=True))
        self.head = StackedLinear(num_seeds, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(-1)
