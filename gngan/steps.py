"""The update steps of every method (Algorithm 1: AE step, D step(s), G step), in one place.

The steps train S independent seeds at once: every tensor carries a leading seed axis (S, n, ...),
each seed draws its batches from its own generators, and each loss is the sum over seeds of that
seed's loss (computed by the single-seed function under ``torch.func.vmap``), so the gradients of
different seeds never mix and Adam, being elementwise, updates each seed as if it trained alone.

Each step draws its own fresh batch of data and noise, as the Dist-GAN code does.

``config.precision`` sets the arithmetic of the iterations: torch's process-wide float32 flags
(``precision_flags``, which the trainer holds for the whole run) and, for "bf16", autocast around each
iteration's forward computations (``Stepper.iteration``; the backward passes run outside it).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import cache, partial

import torch
from torch import nn
from torch.func import vmap

from gngan import losses
from gngan.bourgain import sample_latents, seed_prior
from gngan.config import PRECISIONS, RunConfig
from gngan.data import sample_prior
from gngan.nets import MLPDiscriminator, MLPEncoder, MLPGenerator, init_seeds

USES_ENCODER = {"gngan": True, "distgan": True, "gan": False, "wgangp": False,
                "vae": True, "ali": True, "vaegan": True, "mmdrep": False, "bourgan": False,
                "sngan": False, "gangp": False}
# net_D objectives without a gradient penalty (SN-GAN's Lipschitz control is spectral norm instead)
NO_PENALTY = ("gan", "bourgan", "sngan")
# net_D's loss on (real, fake) logits for the methods other than GN-GAN and Dist-GAN, by config dis_loss
# (config.METHOD_DIS_LOSSES names each method's; ALI, VAEGAN and MMD-rep have steps of their own)
DIS_LOSS_FNS = {"log": losses.gan_dis, "hinge": losses.hinge_dis, "wasserstein": losses.wgan_dis}
# encoders that output a Gaussian posterior, (mu, logvar), hence 2 * z_dim numbers
VARIATIONAL = ("vae", "vaegan")


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite."""


# the autocast dtype of each precision (the others run the forward computations in float32)
AUTOCAST_DTYPES = {"bf16": torch.bfloat16}


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {PRECISIONS}")


def _float32_matmul_precision() -> str | None:
    try:
        return torch.get_float32_matmul_precision()
    except RuntimeError:  # torch refuses once its legacy and per-backend (fp32_precision) settings disagree
        return None


@contextmanager
def precision_flags(precision: str):
    """Hold torch's process-wide float32 flags for ``precision`` ("tf32": float32 matrix products and
    convolutions may use TF32 tensor cores, float32 matmul precision "high"; "fp32" and "bf16": they may not,
    "highest"), restoring the flags found on exit, also when the body raises. They act on CUDA only. "fp32"
    switches cuDNN's TF32 off too: PyTorch's default (``torch.backends.cudnn.allow_tf32 = True``) would run
    float32 convolutions in TF32 unasked.

    The matmul precision is set with ``torch.set_float32_matmul_precision``, which keeps torch's per-backend
    settings (``fp32_precision`` of CUDA and of the CPU's oneDNN) in step: torch refuses to read the matmul
    precision while they disagree, as after ``torch.backends.cuda.matmul.allow_tf32 = False`` alone."""
    _check_precision(precision)
    try:
        saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, _float32_matmul_precision()
    except RuntimeError as err:
        raise RuntimeError(f"cannot read torch's TF32 flags ({str(err).split(',')[0]}): set them with "
                           f"torch.set_float32_matmul_precision and torch.backends.cudnn.allow_tf32, not "
                           f"their fp32_precision attributes") from None
    tf32 = precision == "tf32"
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        if saved[2] is None:  # found unreadable: put back what could be read
            torch.backends.cuda.matmul.allow_tf32 = saved[0]
        else:
            torch.set_float32_matmul_precision(saved[2])
        torch.backends.cudnn.allow_tf32 = saved[1]


def flags_in_effect(precision: str) -> dict:
    """What a run at ``precision`` computes with, for its manifest: torch's float32 flags as they are now
    (call it inside ``precision_flags``) and the dtype its iterations autocast to (None: no autocast)."""
    _check_precision(precision)
    dtype = AUTOCAST_DTYPES.get(precision)
    return {"precision": precision,
            "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "float32_matmul_precision": _float32_matmul_precision(),
            "autocast_dtype": None if dtype is None else str(dtype).removeprefix("torch.")}


@dataclass
class Nets:
    net_G: nn.Module
    net_D: nn.Module | None
    net_E: nn.Module | None = None

    def modules(self) -> dict[str, nn.Module]:
        return {k: v for k, v in vars(self).items() if v is not None}


def build_nets(config: RunConfig, x_dim: int, seeds: list[int] | None = None) -> Nets:
    """Networks for ``seeds`` (default ``[config.seed]``), each seed slot initialised from its seed."""
    seeds = [config.seed] if seeds is None else list(seeds)
    if not stacks_seeds(config):
        return _build_image_nets(config, seeds)
    w, s, m = config.hidden_width, len(seeds), config.method
    d_in = x_dim + config.z_dim if m == "ali" else x_dim  # ALI's D sees joint pairs cat[x, z]
    e_out = 2 * config.z_dim if m in VARIATIONAL else config.z_dim
    nets = Nets(
        net_G=MLPGenerator(config.z_dim, x_dim, w, config.g_hidden_layers, out=config.g_out, num_seeds=s),
        net_D=MLPDiscriminator(d_in, w, config.d_hidden_layers, num_seeds=s) if m != "vae" else None,
        net_E=MLPEncoder(x_dim, e_out, w, config.g_hidden_layers, num_seeds=s) if USES_ENCODER[m] else None,
    )
    init_seeds(list(nets.modules().values()), seeds)
    return nets


def stacks_seeds(config: RunConfig) -> bool:
    """Whether several seeds of ``config`` train in one process with stacked weights: the MLPs do; the
    image networks hold one set of weights (their batch norm would pool the statistics of stacked seeds)."""
    return config.arch == "mlp"


def _build_image_nets(config: RunConfig, seeds: list[int]) -> Nets:
    from gngan.cnn import build_image_nets

    if len(seeds) != 1:
        raise ValueError(f"image runs train one seed per process (batch norm would pool the statistics of "
                         f"stacked seeds); got seeds {seeds}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seeds[0])
        nets = build_image_nets(config.arch, config.image_size, z_dim=config.z_dim, width=config.width,
                                spectral_norm=config.spectral_norm, with_encoder=USES_ENCODER[config.method],
                                init=config.init)
    return Nets(**nets)


def build_optimizers(config: RunConfig, nets: Nets) -> dict[str, torch.optim.Optimizer]:
    """Separate Adam states per update: the AE step (E and G, or E alone with ``ae_trains="encoder"`` as the
    Dist-GAN image code), the D step and the G step; ALI's G step updates G and E together, VAE-GAN updates E, G
    and D each on its own loss, the VAE has only the AE step."""

    def adam(*nets_):
        params = [p for net in nets_ for p in net.parameters()]
        return torch.optim.Adam(params, lr=config.lr, betas=(config.beta1, config.beta2), fused=True)

    n = nets
    if config.method == "vae":
        return {"AE": adam(n.net_E, n.net_G)}
    if config.method == "ali":
        return {"D": adam(n.net_D), "G": adam(n.net_G, n.net_E)}
    if config.method == "vaegan":
        return {"E": adam(n.net_E), "G": adam(n.net_G), "D": adam(n.net_D)}
    opts = {"D": adam(n.net_D), "G": adam(n.net_G)}
    if n.net_E is not None:
        opts["AE"] = adam(n.net_E) if config.ae_trains == "encoder" else adam(n.net_E, n.net_G)
    return opts


def per_seed(fn, *args, **kwargs) -> torch.Tensor:
    """(S,) values of the single-seed loss ``fn`` on seed-stacked arguments."""
    if args[0].shape[0] == 1:  # vmap's overhead would cost a lone seed more than the loss itself
        return fn(*(a[0] for a in args), **kwargs).unsqueeze(0)
    return vmap(partial(fn, **kwargs))(*args)


def has_batch_norm(net) -> bool:
    """Whether ``net`` (a module, or a bound method of one such as ``net_D.body``) has batch norm."""
    module = net if isinstance(net, nn.Module) else getattr(net, "__self__", None)
    return isinstance(module, nn.Module) and any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                                 for m in module.modules())


def on_each(net: nn.Module, *batches: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``net`` applied to each (S, n_i, ...) batch, in one call on their concatenation (fewer, larger ops),
    or one call per batch when ``net`` has batch norm, whose statistics would otherwise pool the batches
    (the authors' code calls G separately on E(x) and on z)."""
    if has_batch_norm(net):
        return tuple(net(b) for b in batches)
    return net(torch.cat(batches, 1)).split([b.shape[1] for b in batches], 1)


@cache
def _can_pin_memory() -> bool:
    """Whether this process can page-lock host memory for its GPU (a sandbox may refuse); if not, batches go to the
    GPU with blocking copies, slower but the same numbers, and a warning says so once."""
    try:
        torch.empty(1).pin_memory()
        return True
    except RuntimeError as err:
        warnings.warn(f"page-locked host memory unavailable ({str(err).splitlines()[0]}): batches are copied to "
                      f"the GPU with blocking copies (slower, same numbers)")
        return False


class Stepper:
    """Runs one training iteration of ``config.method`` for all seeds; owns no state beyond references."""

    def __init__(self, config: RunConfig, nets: Nets, opts: dict, samplers: list, noise_gens: list[torch.Generator],
                 device: torch.device, seeds: list[int]):
        self.config, self.nets, self.opts = config, nets, opts
        self.samplers, self.noise_gens, self.device, self.seeds = samplers, noise_gens, device, seeds
        self.step = 0
        self._losses_to_check: list[tuple[str, torch.Tensor]] = []

    def _to_device(self, host: torch.Tensor) -> torch.Tensor:
        """A batch drawn on the CPU (each seed's own generator, so CPU and GPU runs draw the same numbers) on the
        run's device. To a GPU it goes from page-locked memory without waiting: torch's blocking copy from pageable
        memory synchronizes the stream, so the CPU would wait for every kernel queued before it, several times an
        iteration."""
        if self.device.type != "cuda" or host.device.type != "cpu" or not _can_pin_memory():
            return host.to(self.device)
        return host.pin_memory().to(self.device, non_blocking=True)

    def _x(self) -> torch.Tensor:
        return self._to_device(torch.stack([s(self.config.batch_size) for s in self.samplers]))

    def _z(self) -> torch.Tensor:
        c = self.config
        return self._to_device(torch.stack([sample_latents(c, c.batch_size, s, g)
                                            for s, g in zip(self.seeds, self.noise_gens)]))

    def _eps(self, like: torch.Tensor) -> torch.Tensor:
        """N(0, I) reparameterization noise shaped like ``like`` (S, n, z_dim), from each seed's own stream."""
        _, n, z_dim = like.shape
        return self._to_device(torch.stack([sample_prior("normal", n, z_dim, g) for g in self.noise_gens]))

    def _posterior_sample(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z ~ q(z | x), mu, logvar) of the variational encoder."""
        mu, logvar = self.nets.net_E(x).chunk(2, dim=-1)
        return per_seed(losses.reparameterize, mu, logvar, self._eps(mu)), mu, logvar

    def _ali_pairs(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ALI's joint pairs: encoder pairs (x, E(x)) and generator pairs (G(z), z)."""
        return torch.cat([x, self.nets.net_E(x)], -1), torch.cat([self.nets.net_G(z), z], -1)

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.nets.net_D(x))

    def _gradient_matching(self, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.gm_backward == "linear":
            return losses.gradient_matching_linearized(self.nets.net_D, x, fake, c.lambda_m1, c.lambda_m2, stacked=True)
        return losses.gradient_matching(self._score, x, fake, c.lambda_m1, c.lambda_m2, stacked=True)

    def _autocast(self, enabled: bool = True):
        """Autocast to the precision's dtype (``enabled``) or out of it (not ``enabled``); nothing for fp32/tf32."""
        dtype = AUTOCAST_DTYPES.get(self.config.precision)
        if dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=dtype, enabled=enabled)

    def _neighbors_embedding(self, loss_fn, *args, **kwargs) -> torch.Tensor:
        """An NE loss in float32 even under autocast: its Gram-form distances lose the pairs' differences to
        bf16 rounding, and its hand-written backward fails on mixed dtypes (a bf16 x with a float32 z)."""
        with self._autocast(enabled=False):
            return loss_fn(*(a.float() for a in args), **kwargs)

    def _update(self, opt_name: str, per_seed_loss: torch.Tensor, term: str,
                retain_graph: bool = False) -> torch.Tensor:
        values = per_seed_loss.detach()
        self._losses_to_check.append((term, values))
        opt = self.opts[opt_name]
        params = [p for group in opt.param_groups for p in group["params"]]
        opt.zero_grad(set_to_none=True)
        with self._autocast(enabled=False):  # autocast is for forward computations; backward follows their dtypes
            # only the stepped networks' gradients: the G step's loss passes through net_D
            per_seed_loss.sum().backward(inputs=params, retain_graph=retain_graph)
            opt.step()
        return values

    def _raise_unless_finite(self) -> None:
        """Every loss term of this iteration finite, or NonFiniteLossError naming the first that is not: checked
        once an iteration (one host synchronization, where one per update would stall a GPU several times an
        iteration). The updates after a non-finite loss have run by then; the trainer saves nothing after it."""
        checks = self._losses_to_check
        if not checks or bool(torch.stack([torch.isfinite(v).all() for _, v in checks]).all()):
            return
        term, values = next((t, v) for t, v in checks if not torch.isfinite(v).all())
        bad = ~torch.isfinite(values)
        which = [self.seeds[i] for i in bad.nonzero().flatten().tolist()]
        raise NonFiniteLossError(
            f"step {self.step}: loss term '{term}' is {values[bad][0].item()} for seed(s) {which}; "
            f"lower lr or the lambda weights, or resume from an earlier checkpoint")

    def _penalty(self, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        if self.config.lambda_p == 0:
            return torch.zeros(len(self.seeds), device=self.device)
        mu = self._to_device(torch.stack([torch.rand(x.shape[1], generator=g) for g in self.noise_gens]))
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
            # stacked rather than per_seed: vmap's batching of the n x n NE matrices costs ~25% more
            loss = self._neighbors_embedding(losses.gngan_ae, x, x_rec, torch.cat([z_enc, z], 1),
                                             torch.cat([x_rec, fake], 1), lambda_r=c.lambda_r,
                                             bandwidth=c.ne_bandwidth, detach_sigma=c.ne_detach_sigma, stacked=True)
        else:
            x_rec, fake = on_each(n.net_G, z_enc, z)
            if c.distgan_features == "data":
                recon, f_real, f_fake = (x, x_rec), x, fake
            elif (c.distgan_recon, c.distgan_md_x) == ("data", "real"):
                recon, (f_real, f_fake) = (x, x_rec), on_each(n.net_D.body, x, fake)
            else:  # the authors' image code: net_D's features of x, G(E(x)) and G(z)
                f_x, f_rec, f_fake = on_each(n.net_D.body, x, x_rec, fake)
                recon = (f_x, f_rec) if c.distgan_recon == "disc" else (x, x_rec)
                f_real = f_rec if c.distgan_md_x == "recon" else f_x
            loss = per_seed(losses.distgan_ae, *recon, z_enc, z, f_real, f_fake,
                            lambda_r=c.lambda_r, lambda_w=c.lambda_w)
        return self._update("AE", loss, "ae")

    def d_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        c, n = self.config, self.nets
        x, z = self._x(), self._z()
        no_gp = torch.zeros(len(self.seeds), device=self.device)
        if c.method == "ali":
            with torch.no_grad():
                pairs = self._ali_pairs(x, z)
            loss = per_seed(losses.ali_dis, *on_each(n.net_D, *pairs))
            self._update("D", loss, "dis")
            return loss.detach(), no_gp
        if c.method == "mmdrep":
            with torch.no_grad():
                fake = n.net_G(z)
            loss = per_seed(losses.mmd_rep_dis, *on_each(n.net_D.body, x, fake))
            self._update("D", loss, "dis")
            return loss.detach(), no_gp
        with torch.no_grad():
            if n.net_E is None:
                fake = n.net_G(z)
                batches = (x, fake)
            else:
                fake, recon = on_each(n.net_G, z, n.net_E(x))
                batches = (x, recon, fake)
        logits = on_each(n.net_D, *batches)
        if c.method in ("gngan", "distgan"):
            alpha = losses.alpha_at(c.alpha, self.step / c.num_steps, c.alpha_schedule)
            loss = per_seed(losses.gngan_dis, *logits, alpha=alpha, loss=c.dis_loss,
                            recon_label=c.recon_label)
        else:
            loss = per_seed(DIS_LOSS_FNS[c.dis_loss], *logits)
        gp = self._penalty(x, fake) if c.method not in NO_PENALTY else no_gp
        self._update("D", loss + c.lambda_p * gp, "dis")
        return loss.detach(), gp.detach()

    def g_step(self) -> torch.Tensor:
        c, n = self.config, self.nets
        x, z = self._x(), self._z()
        if c.method == "ali":
            return self._update("G", per_seed(losses.ali_gen, *on_each(n.net_D, *self._ali_pairs(x, z))), "gen")
        fake = n.net_G(z)
        if c.method == "mmdrep":
            loss = per_seed(losses.mmd_gen, *on_each(n.net_D.body, x, fake))
        elif c.method == "gngan":
            loss = self._gradient_matching(x, fake)
        elif c.method == "distgan":
            with torch.no_grad():
                score_real = self._score(x)
            loss = per_seed(losses.score_distance_gen, score_real, self._score(fake))
        elif c.method == "gan":
            if c.gen_loss == "gm":
                loss = self._gradient_matching(x, fake)
            else:
                loss = per_seed(losses.gan_gen, n.net_D(fake))
            if c.lambda_r > 0:
                loss = loss + c.lambda_r * self._neighbors_embedding(
                    losses.neighbors_embedding, z, fake, bandwidth=c.ne_bandwidth, detach_sigma=c.ne_detach_sigma,
                    stacked=True)
        elif c.method == "gangp":
            loss = per_seed(losses.gan_gen, n.net_D(fake))
        elif c.method == "bourgan":
            # L_dist sees z only through scale * |z_i - z_j|, so each seed's own scale goes into its z
            scales = torch.tensor([seed_prior(c.data, s).scale for s in self.seeds], device=self.device)
            loss = per_seed(losses.bourgan_gen, n.net_D(fake), fake, scales[:, None, None] * z)
        else:  # WGAN-GP's and SN-GAN's (hinge) generator loss, -E D(G(z))
            loss = per_seed(losses.wgan_gen, n.net_D(fake))
        return self._update("G", loss, "gen")

    def vae_step(self) -> torch.Tensor:
        x = self._x()
        z, mu, logvar = self._posterior_sample(x)
        loss = per_seed(losses.vae_ae, x, self.nets.net_G(z), mu, logvar, beta=self.config.beta,
                        recon=self.config.vae_recon, sigma=self.config.vae_sigma)
        return self._update("AE", loss, "ae")

    def vaegan_step(self) -> dict[str, torch.Tensor]:
        """Larsen et al.'s Algorithm 1: from one batch, E, G and D each step on their own loss."""
        n = self.nets
        x = self._x()
        z_enc, mu, logvar = self._posterior_sample(x)
        x_rec, x_p = on_each(n.net_G, z_enc, self._z())
        f_real, f_rec = on_each(n.net_D.body, x, x_rec)
        logit_rec, logit_p = on_each(n.net_D, x_rec, x_p)
        out = {"enc": self._update("E", per_seed(losses.vaegan_enc, mu, logvar, f_real, f_rec), "enc",
                                   retain_graph=True),
               "gen": self._update("G", per_seed(losses.vaegan_dec, f_real, f_rec, logit_rec, logit_p), "gen")}
        logits = on_each(n.net_D, x, x_rec.detach(), x_p.detach())
        out["dis"] = self._update("D", per_seed(losses.vaegan_dis, *logits), "dis")
        return out

    def iteration(self) -> dict[str, torch.Tensor]:
        """One iteration of Algorithm 1 (or of the baseline's own scheme); returns the (S,) float32 loss values of
        each term (under autocast a loss may be bf16; the trainer sums thousands of them)."""
        self._losses_to_check = []  # only this iteration's (steps called one by one, as benchmarks do, add to it)
        with self._autocast():
            if self.config.method == "vae":
                out = {"ae": self.vae_step()}
            elif self.config.method == "vaegan":
                out = self.vaegan_step()
            else:
                out = {"ae": self.ae_step()} if self.config.method in ("gngan", "distgan") else {}
                d = [self.d_step() for _ in range(self.config.d_steps)]
                out["dis"] = torch.stack([v[0].float() for v in d]).mean(0)
                out["gp"] = torch.stack([v[1].float() for v in d]).mean(0)
                out["gen"] = self.g_step()
        self._raise_unless_finite()
        self.step += 1
        return {k: v.float() for k, v in out.items()}
