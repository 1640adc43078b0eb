"""The update steps of every method (Algorithm 1: AE step, D step(s), G step), in one place.

The steps train S independent seeds at once: every tensor carries a leading seed axis (S, n, ...),
each seed draws its batches from its own generators, and each loss is the sum over seeds of that
seed's loss (computed by the single-seed function under ``torch.func.vmap``), so the gradients of
different seeds never mix and Adam, being elementwise, updates each seed as if it trained alone.

Each step draws its own fresh batch of data and noise, as the Dist-GAN code does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from torch.func import vmap

from gngan import losses
from gngan.config import RunConfig
from gngan.data import sample_prior
from gngan.nets import MLPDiscriminator, MLPEncoder, MLPGenerator, init_seeds

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


def build_nets(config: RunConfig, x_dim: int, seeds: list[int] | None = None) -> Nets:
    """Networks for ``seeds`` (default ``[config.seed]``), each seed slot initialised from its seed."""
    seeds = [config.seed] if seeds is None else list(seeds)
    w, s = config.hidden_width, len(seeds)
    nets = Nets(
        net_G=MLPGenerator(config.z_dim, x_dim, w, config.g_hidden_layers, out=config.g_out, num_seeds=s),
        net_D=MLPDiscriminator(x_dim, w, config.d_hidden_layers, num_seeds=s),
        net_E=MLPEncoder(x_dim, config.z_dim, w, config.g_hidden_layers, num_seeds=s)
        if USES_ENCODER[config.method] else None,
    )
    init_seeds(list(nets.modules().values()), seeds)
    return nets


def build_optimizers(config: RunConfig, nets: Nets) -> dict[str, torch.optim.Optimizer]:
    """Separate Adam states for the AE step (E and G), the D step and the G step."""

    def adam(params):
        return torch.optim.Adam(params, lr=config.lr, betas=(config.beta1, config.beta2), fused=True)

    opts = {"D": adam(nets.net_D.parameters()), "G": adam(nets.net_G.parameters())}
    if nets.net_E is not None:
        opts["AE"] = adam(list(nets.net_E.parameters()) + list(nets.net_G.parameters()))
    return opts


def per_seed(fn, *args, **kwargs) -> torch.Tensor:
    """(S,) values of the single-seed loss ``fn`` on seed-stacked arguments."""
    if args[0].shape[0] == 1:  # vmap's overhead would cost a lone seed more than the loss itself
        return fn(*(a[0] for a in args), **kwargs).unsqueeze(0)
    return vmap(partial(fn, **kwargs))(*args)


def on_each(net: nn.Module, *batches: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``net`` applied to each (S, n_i, ...) batch, in one call on their concatenation (fewer, larger ops)."""
    return net(torch.cat(batches, 1)).split([b.shape[1] for b in batches], 1)


class Stepper:
    """Runs one training iteration of ``config.method`` for all seeds; owns no state beyond references."""

    def __init__(self, config: RunConfig, nets: Nets, opts: dict, samplers: list, noise_gens: list[torch.Generator],
                 device: torch.device, seeds: list[int]):
        self.config, self.nets, self.opts = config, nets, opts
        self.samplers, self.noise_gens, self.device, self.seeds = samplers, noise_gens, device, seeds
        self.step = 0

    def _x(self) -> torch.Tensor:
        return torch.stack([s(self.config.batch_size) for s in self.samplers]).to(self.device)

    def _z(self) -> torch.Tensor:
        c = self.config
        return torch.stack([sample_prior(c.prior, c.batch_size, c.z_dim, g) for g in self.noise_gens]).to(self.device)

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.nets.net_D(x))

    def _update(self, opt_name: str, per_seed_loss: torch.Tensor, term: str) -> torch.Tensor:
        values = per_seed_loss.detach()
        if not torch.isfinite(values).all():
            bad = ~torch.isfinite(values)
            which = [self.seeds[i] for i in bad.nonzero().flatten().tolist()]
            raise NonFiniteLossError(
                f"step {self.step}: loss term '{term}' is {values[bad][0].item()} for seed(s) {which}; "
                f"lower lr or the lambda weights, or resume from an earlier checkpoint")
        opt = self.opts[opt_name]
        params = [p for group in opt.param_groups for p in group["params"]]
        opt.zero_grad(set_to_none=True)
        # only the stepped networks' gradients: the G step's loss passes through net_D
        per_seed_loss.sum().backward(inputs=params)
        opt.step()
        return values

    def _penalty(self, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        if self.config.lambda_p == 0:
            return torch.zeros(len(self.seeds), device=self.device)
        mu = torch.stack([torch.rand(x.shape[1], generator=g) for g in self.noise_gens]).to(self.device)
        critic = self.nets.net_D if self.config.gp_on == "logit" else self._score
        return losses.gradient_penalty(critic, x, fake, mu=mu, stacked=True)

    def ae_step(self) -> torch.Tensor:
        c, n = self.config, self.nets
        x, z = self._x(), self._z()
        z_enc = n.net_E(x)
        if c.method == "gngan" and c.lambda_r == 0:
            loss = per_seed(losses.reconstruction_ae, x, n.net_G(z_enc))
        elif c.method == "gngan":
            x_rec, fake = on_each(n.net_G, z_enc, z)
            loss = per_seed(losses.gngan_ae, x, x_rec, torch.cat([z_enc, z], 1), torch.cat([x_rec, fake], 1),
                            lambda_r=c.lambda_r, bandwidth=c.ne_bandwidth, detach_sigma=c.ne_detach_sigma)
        else:
            x_rec, fake = on_each(n.net_G, z_enc, z)
            f_real, f_fake = (x, fake) if c.distgan_features == "data" else on_each(n.net_D.body, x, fake)
            loss = per_seed(losses.distgan_ae, x, x_rec, z_enc, z, f_real, f_fake,
                            lambda_r=c.lambda_r, lambda_w=c.lambda_w)
        return self._update("AE", loss, "ae")

    def d_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        c, n = self.config, self.nets
        x, z = self._x(), self._z()
        with torch.no_grad():
            if n.net_E is None:
                fake = n.net_G(z)
                batches = (x, fake)
            else:
                fake, recon = on_each(n.net_G, z, n.net_E(x))
                batches = (x, recon, fake)
        logits = on_each(n.net_D, *batches)
        if c.method in ("gngan", "distgan"):
            loss = per_seed(losses.gngan_dis, *logits, alpha=c.alpha, loss=c.dis_loss)
        elif c.method == "gan":
            loss = per_seed(losses.gan_dis, *logits)
        else:
            loss = per_seed(losses.wgan_dis, *logits)
        gp = self._penalty(x, fake) if c.method != "gan" else torch.zeros(len(self.seeds), device=self.device)
        self._update("D", loss + c.lambda_p * gp, "dis")
        return loss.detach(), gp.detach()

    def g_step(self) -> torch.Tensor:
        c, n = self.config, self.nets
        x, z = self._x(), self._z()
        fake = n.net_G(z)
        if c.method == "gngan":
            loss = losses.gradient_matching(self._score, x, fake, lambda_m1=c.lambda_m1, lambda_m2=c.lambda_m2,
                                            stacked=True)
        elif c.method == "distgan":
            with torch.no_grad():
                score_real = self._score(x)
            loss = per_seed(losses.score_distance_gen, score_real, self._score(fake))
        elif c.method == "gan":
            loss = per_seed(losses.gan_gen, n.net_D(fake))
        else:
            loss = per_seed(losses.wgan_gen, n.net_D(fake))
        return self._update("G", loss, "gen")

    def iteration(self) -> dict[str, torch.Tensor]:
        """One iteration of Algorithm 1; returns the (S,) loss values of each term."""
        out = {}
        if self.nets.net_E is not None:
            out["ae"] = self.ae_step()
        d = [self.d_step() for _ in range(self.config.d_steps)]
        out["dis"] = torch.stack([v[0] for v in d]).mean(0)
        out["gp"] = torch.stack([v[1] for v in d]).mean(0)
        out["gen"] = self.g_step()
        self.step += 1
        return out
