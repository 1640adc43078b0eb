"""The update steps of every method (Algorithm 1: AE step, D step(s), G step), in one place.

Each step draws its own fresh batch of data and noise, as the Dist-GAN code does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from gngan import losses
from gngan.config import RunConfig
from gngan.data import sample_prior
from gngan.nets import MLPDiscriminator, MLPEncoder, MLPGenerator

USES_ENCODER = {"gngan": True, "distgan": True, "gan": False, "wgangp": False}


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite."""


@dataclass
class Nets:
    net_G: nn.Module
    net_D: nn.Module
    net_E: nn.Module | None = None

    def modules(self) -> dict[str, nn.Module]:
        return {k: v for k, v in vars(self).items() if v is not None}


def build_nets(config: RunConfig, x_dim: int) -> Nets:
    w = config.hidden_width
    net_G = MLPGenerator(config.z_dim, x_dim, w, config.g_hidden_layers, out=config.g_out)
    net_D = MLPDiscriminator(x_dim, w, config.d_hidden_layers)
    net_E = MLPEncoder(x_dim, config.z_dim, w, config.g_hidden_layers) if USES_ENCODER[config.method] else None
    return Nets(net_G=net_G, net_D=net_D, net_E=net_E)


def build_optimizers(config: RunConfig, nets: Nets) -> dict[str, torch.optim.Optimizer]:
    """Separate Adam states for the AE step (E and G), the D step and the G step."""

    def adam(params):
        return torch.optim.Adam(params, lr=config.lr, betas=(config.beta1, config.beta2))

    opts = {"D": adam(nets.net_D.parameters()), "G": adam(nets.net_G.parameters())}
    if nets.net_E is not None:
        opts["AE"] = adam(list(nets.net_E.parameters()) + list(nets.net_G.parameters()))
    return opts


class Stepper:
    """Runs one training iteration of ``config.method``; owns no state beyond references."""

    def __init__(self, config: RunConfig, nets: Nets, opts: dict, dataset, device: torch.device,
                 data_gen: torch.Generator, noise_gen: torch.Generator):
        self.config, self.nets, self.opts, self.dataset = config, nets, opts, dataset
        self.device, self.data_gen, self.noise_gen = device, data_gen, noise_gen
        self.step = 0

    def _x(self) -> torch.Tensor:
        return self.dataset.sample(self.config.batch_size, self.data_gen).to(self.device)

    def _z(self) -> torch.Tensor:
        c = self.config
        return sample_prior(c.prior, c.batch_size, c.z_dim, self.noise_gen).to(self.device)

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.nets.net_D(x))

    def _gp_critic(self) -> Callable[[torch.Tensor], torch.Tensor]:
        return self.nets.net_D if self.config.gp_on == "logit" else self._score

    def _update(self, opt_name: str, loss: torch.Tensor, term: str) -> float:
        value = loss.item()
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"step {self.step}: loss term '{term}' is {value}; lower lr or the lambda weights, "
                f"or resume from an earlier checkpoint")
        for module in self.nets.modules().values():
            module.zero_grad(set_to_none=True)
        loss.backward()
        self.opts[opt_name].step()
        return value

    def _penalty(self, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        if self.config.lambda_p == 0:
            return torch.zeros((), device=self.device)
        mu = torch.rand(x.shape[0], generator=self.noise_gen).to(self.device)
        return losses.gradient_penalty(self._gp_critic(), x, fake, mu=mu)

    def ae_step(self) -> float:
        c, n = self.config, self.nets
        x, z = self._x(), self._z()
        z_enc = n.net_E(x)
        x_rec = n.net_G(z_enc)
        if c.method == "gngan":
            if c.lambda_r > 0:
                z_all, x_all = torch.cat([z_enc, z]), torch.cat([x_rec, n.net_G(z)])
            else:
                z_all = x_all = None
            loss = losses.gngan_ae(x, x_rec, z_all, x_all, lambda_r=c.lambda_r,
                                   bandwidth=c.ne_bandwidth, detach_sigma=c.ne_detach_sigma)
        else:
            fake = n.net_G(z)
            f_real, f_fake = (x, fake) if c.distgan_features == "data" else (n.net_D.body(x), n.net_D.body(fake))
            loss = losses.distgan_ae(x, x_rec, z_enc, z, f_real, f_fake, lambda_r=c.lambda_r, lambda_w=c.lambda_w)
        return self._update("AE", loss, "ae")

    def d_step(self) -> dict[str, float]:
        c, n = self.config, self.nets
        x, z = self._x(), self._z()
        with torch.no_grad():
            fake = n.net_G(z)
            recon = n.net_G(n.net_E(x)) if n.net_E is not None else None
        if c.method in ("gngan", "distgan"):
            loss = losses.gngan_dis(n.net_D(x), n.net_D(recon), n.net_D(fake), alpha=c.alpha, loss=c.dis_loss)
        elif c.method == "gan":
            loss = losses.gan_dis(n.net_D(x), n.net_D(fake))
        else:
            loss = losses.wgan_dis(n.net_D(x), n.net_D(fake))
        gp = self._penalty(x, fake) if c.method != "gan" else torch.zeros((), device=self.device)
        dis = loss.item()
        self._update("D", loss + c.lambda_p * gp, "dis")
        return {"dis": dis, "gp": gp.item()}

    def g_step(self) -> float:
        c, n = self.config, self.nets
        x, z = self._x(), self._z()
        fake = n.net_G(z)
        if c.method == "gngan":
            loss = losses.gradient_matching(self._score, x, fake, lambda_m1=c.lambda_m1, lambda_m2=c.lambda_m2)
        elif c.method == "distgan":
            with torch.no_grad():
                score_real = self._score(x)
            loss = losses.score_distance_gen(score_real, self._score(fake))
        elif c.method == "gan":
            loss = losses.gan_gen(n.net_D(fake))
        else:
            loss = losses.wgan_gen(n.net_D(fake))
        return self._update("G", loss, "gen")

    def iteration(self) -> dict[str, float]:
        """One iteration of Algorithm 1; returns the loss values."""
        out = {}
        if self.nets.net_E is not None:
            out["ae"] = self.ae_step()
        d = [self.d_step() for _ in range(self.config.d_steps)]
        out["dis"] = sum(v["dis"] for v in d) / len(d)
        out["gp"] = sum(v["gp"] for v in d) / len(d)
        out["gen"] = self.g_step()
        self.step += 1
        return out
