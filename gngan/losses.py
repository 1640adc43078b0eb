"""The objectives of GN-GAN (Tran, Bui, Cheung, AAAI 2019) and of the baselines, one function per equation.

Every loss is a quantity to MINIMISE and is named for the network it trains: ``*_ae`` (net_E and net_G
in the auto-encoder step), ``*_dis`` (net_D), ``*_gen`` (net_G). Equation numbers refer to the GN-GAN
paper. Functions are pure: tensors (or a callable D) in, a scalar tensor out.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

NE_BANDWIDTHS = ("sigma_sq_is_var", "sigma_is_var", "joint")
GNGAN_DIS_LOSSES = ("log", "hinge")
# the label net_D learns for the reconstructions net_G(net_E(x)) in gngan_dis: "real" (Eq. 7, the Dist-GAN image code)
# or "fake" (the authors' public 2D Dist-GAN code)
RECON_LABELS = ("real", "fake")

# Floor for the pairwise-distance variance: only there to avoid 0/0 when every point of the batch
# coincides (then all distances are 0 and the kernel is 1 whatever the bandwidth).
_MIN_VAR = 1e-12


# --------------------------------------------------------------------------------------------------
# helpers


def _per_sample(t: Tensor, name: str) -> Tensor:
    """Accept one value per sample, shape (n,) or (n, 1); return shape (n,)."""
    if t.dim() == 1 or (t.dim() == 2 and t.shape[1] == 1):
        return t.reshape(-1)
    raise ValueError(f"{name} must hold one value per sample, shape (n,) or (n, 1); got {tuple(t.shape)}")


def _scores(t: Tensor, lead: int, name: str) -> Tensor:
    """One value per sample: shape ``batch`` or ``batch + (1,)`` where ``batch`` has ``lead`` axes
    ((n,) or, stacked, (S, n)); returns shape ``batch``."""
    if t.dim() == lead:
        return t
    if t.dim() == lead + 1 and t.shape[-1] == 1:
        return t.squeeze(-1)
    want = "(S, n) or (S, n, 1)" if lead == 2 else "(n,) or (n, 1)"
    raise ValueError(f"{name} must hold one value per sample, shape {want}; got {tuple(t.shape)}")


def _same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} {tuple(a.shape)} and {name_b} {tuple(b.shape)} must have the same shape")


def _pairwise_sq_dists(a: Tensor) -> Tensor:
    """(..., n, d) -> (..., n, n) squared Euclidean distances, exact zeros on the diagonal.

    Gram form, so memory is O(n^2 + n d) rather than O(n^2 d) for image batches. Centring first
    removes the common offset (e.g. images in [0, 1]) that would otherwise cost precision in the
    |a|^2 + |b|^2 - 2 a.b cancellation; distances are translation invariant so nothing else changes.
    Leading axes (e.g. a seed axis) are independent batches.
    """
    a = a - a.mean(dim=-2, keepdim=True)
    sq_norm = (a * a).sum(dim=-1)
    sq = sq_norm[..., :, None] + sq_norm[..., None, :] - 2.0 * (a @ a.transpose(-1, -2))
    sq = 0.5 * (sq + sq.transpose(-1, -2))
    eye = torch.eye(a.shape[-2], dtype=torch.bool, device=a.device)
    return sq.clamp_min(0.0).masked_fill(eye, 0.0)


def _distance_variance(sq: Tensor) -> Tensor:
    """Population variance of the Euclidean distances d_ij over the pairs i != j; (..., n, n) -> (...).

    Over the whole matrix with the diagonal masked, not a gather of the pairs i < j (the same pairs
    twice, so the same mean and variance, without an indexing pass)."""
    n = sq.shape[-1]
    off = ~torch.eye(n, dtype=torch.bool, device=sq.device)
    # sqrt has an infinite derivative at 0 (the diagonal, coincident points); use 0 there instead of NaN.
    pos = sq > 0
    d = torch.where(pos, torch.sqrt(torch.where(pos, sq, torch.ones_like(sq))), torch.zeros_like(sq))
    pairs = n * (n - 1)
    mean = d.sum(dim=(-2, -1), keepdim=True) / pairs
    dev = torch.where(off, d - mean, torch.zeros_like(d))
    return ((dev * dev).sum(dim=(-2, -1)) / pairs).clamp_min(_MIN_VAR)


def _conditional(sq: Tensor, sigma_sq: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Kernel weights w_ij = (1 + d_ij^2 / 2 sigma^2)^-1 (zero diagonal), their row sums r_i and the
    conditional p_{j|i} = w_ij / r_i of Eqs. 4 and 6: row i is the kernel centred on point i."""
    n = sq.shape[-1]
    off = 1.0 - torch.eye(n, dtype=sq.dtype, device=sq.device)
    w = off / (1.0 + sq / (2.0 * sigma_sq[..., None, None]))
    r = w.sum(dim=-1, keepdim=True)
    return w, r, w / r


def _joint(points: Tensor, bandwidth: str, detach_sigma: bool) -> Tensor:
    """(..., n, d) -> (..., n, n) joint neighbour distribution p_ij of Eqs. 3-6 (zero diagonal), per leading index.

    Computed in probability space (kernel weights, row sums, symmetrisation): the heavy-tailed kernel
    (1 + u)^-1 never underflows, and this avoids logsumexp/logaddexp, which are several times slower on CPU.
    """
    n = points.shape[-2]
    sq = _pairwise_sq_dists(points)
    if bandwidth == "joint":
        w = (1.0 - torch.eye(n, dtype=points.dtype, device=points.device)) / (1.0 + sq)
        return w / w.sum(dim=(-2, -1), keepdim=True)
    if detach_sigma:
        with torch.no_grad():
            v = _distance_variance(sq)
    else:
        v = _distance_variance(sq)
    _, _, cond = _conditional(sq, v if bandwidth == "sigma_sq_is_var" else v * v)
    return (cond + cond.transpose(-1, -2)) / (2 * n)


def _kl_off_diagonal(p: Tensor, q: Tensor) -> Tensor:
    """sum over i != j of p_ij log(p_ij / q_ij); (..., n, n) -> (...). log(p + 1) = 0 on the zero diagonal
    keeps its terms (and their gradients) exactly zero."""
    eye = torch.eye(p.shape[-1], dtype=p.dtype, device=p.device)
    return (p * (torch.log(p + eye) - torch.log(q + eye))).sum(dim=(-2, -1))


def _fixed_bandwidth_space(a: Tensor, bandwidth: str) -> list[Tensor]:
    """The forward of one space of Eq. 2 with a constant bandwidth: [a centred, c = 1 / 2 sigma^2 as
    (..., 1, 1), kernel weights w, row sums r, conditional C = w / r]. The same formulas as
    ``_pairwise_sq_dists``, ``_distance_variance`` and ``_conditional``, written in place: it runs without
    autograd, and every pass saved over the n x n matrices counts on CPU."""
    n = a.shape[-2]
    a = a - a.mean(dim=-2, keepdim=True)
    sq_norm = (a * a).sum(dim=-1)
    sq = (sq_norm[..., :, None] + sq_norm[..., None, :]).sub_(2.0 * (a @ a.transpose(-1, -2)))
    sq = (sq + sq.transpose(-1, -2)).mul_(0.5).clamp_min_(0.0)
    sq.diagonal(dim1=-2, dim2=-1).zero_()
    pairs = n * (n - 1)
    d = sq.sqrt()
    mean = d.sum(dim=(-2, -1), keepdim=True) / pairs
    dev = d.sub_(mean)
    dev.diagonal(dim1=-2, dim2=-1).zero_()
    v = (dev.mul_(dev).sum(dim=(-2, -1), keepdim=True) / pairs).clamp_min_(_MIN_VAR)
    c = 0.5 / (v if bandwidth == "sigma_sq_is_var" else v * v)
    w = sq.mul_(c).add_(1.0).reciprocal_()
    w.diagonal(dim1=-2, dim2=-1).zero_()
    r = w.sum(dim=-1, keepdim=True)
    return [a, c, w, r, w / r]


class _NeighborsEmbeddingFixedBandwidth(torch.autograd.Function):
    """Eq. 2 with both bandwidths held constant (``detach_sigma``), its gradient written out by hand.

    Same value and gradient as differentiating ``_joint`` and ``_kl_off_diagonal`` with autograd (tested to
    float64 round-off), in about half the time on CPU: autograd's graph runs some forty elementwise
    passes over each n x n matrix, the chain rule below about a dozen. The derivation, per space with
    M = (C + C^T) / 2n, C = w / r, w = (1 + c d^2)^-1, c = 1 / 2 sigma^2:
    dC = (dM + dM^T) / 2n; dw_ij = (dC_ij - sum_k dC_ik C_ik) / r_i; d(d^2)_ij = -c w_ij^2 dw_ij;
    da_i = 2 sum_j S_ij (a_i - a_j) with S = d(d^2) + d(d^2)^T. dKL/dP = log P - log Q + 1, dKL/dQ = -P / Q.
    """

    generate_vmap_rule = True  # vmap (steps.per_seed) runs forward and backward as they are, batched

    @staticmethod
    def forward(z: Tensor, x: Tensor, bandwidth: str):
        saved = []
        for a in (z, x):
            saved += _fixed_bandwidth_space(a, bandwidth)
        n = z.shape[-2]
        p = (saved[4] + saved[4].transpose(-1, -2)).mul_(1.0 / (2 * n))
        q = (saved[9] + saved[9].transpose(-1, -2)).mul_(1.0 / (2 * n))
        # log(p + 1) = 0 on the zero diagonal, as in _kl_off_diagonal
        eye = torch.eye(n, dtype=p.dtype, device=p.device)
        log_p, log_q = torch.log(p + eye), torch.log(q + eye)
        return (p * (log_p - log_q)).sum(dim=(-2, -1)), tuple(saved + [p, q, log_p, log_q])

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.mark_non_differentiable(*output[1])
        ctx.save_for_backward(*output[1])

    @staticmethod
    def backward(ctx, grad, *_):
        *spaces, p, q, log_p, log_q = ctx.saved_tensors
        n = p.shape[-1]
        grad = grad[..., None, None]
        d_p = (log_p - log_q).add_(1.0).mul_(grad)
        d_q = (p / (q + torch.eye(n, dtype=q.dtype, device=q.device))).mul_(-grad)
        out = []
        for i, d_m in enumerate((d_p, d_q)):
            if not ctx.needs_input_grad[i]:
                out.append(None)
                continue
            a, c, w, r, cond = spaces[5 * i:5 * i + 5]
            d_c = (d_m + d_m.transpose(-1, -2)).mul_(1.0 / (2 * n))
            d_sq = (d_c - (d_c * cond).sum(dim=-1, keepdim=True)).div_(r).mul_(w).mul_(w).mul_(c).neg_()
            s = d_sq + d_sq.transpose(-1, -2)
            out.append(2.0 * (s.sum(dim=-1, keepdim=True) * a - s @ a))
        return out[0], out[1], None


def neighbors_embedding(z: Tensor, x: Tensor, bandwidth: str = "sigma_sq_is_var",
                        detach_sigma: bool = True, stacked: bool = False) -> Tensor:
    """V_R of Eq. 2: KL(P || Q) between the neighbour distributions of latent and data points.

    Args:
        z: latent points, shape (n, d_z) (anything with n rows; flattened to (n, -1)).
        x: their images under net_G, shape (n, ...); flattened to (n, -1).
        bandwidth: how sigma of Eq. 4 / Eq. 6 is read, with v the population variance of the
            Euclidean distances over the pairs i < j of one batch:
            "sigma_sq_is_var": sigma^2 = v, kernel (1 + d^2 / (2 v))^-1, invariant to scaling the inputs;
            "sigma_is_var":    sigma = v (the paper's words taken literally), kernel (1 + d^2 / (2 v^2))^-1;
            "joint":           the 2018 proposal's (1 + d^2)^-1 normalised over all ordered pairs k != l.
        detach_sigma: treat the bandwidth as a constant (no gradient through v).
        stacked: independent runs on a leading seed axis, z (S, n, ...), x (S, n, ...); returns (S,),
            each seed's value, computed in one batched pass (no vmap).

    Returns:
        scalar, sum over i != j of p_ij log(p_ij / q_ij) (p_ii = q_ii = 0); (S,) when stacked.
    """
    if bandwidth not in NE_BANDWIDTHS:
        raise ValueError(f"unknown NE bandwidth {bandwidth!r}; use one of {NE_BANDWIDTHS}")
    lead = 1 if stacked else 0
    if z.shape[:lead + 1] != x.shape[:lead + 1]:
        raise ValueError(f"z has {z.shape[lead]} points but x has {x.shape[lead]}; pass each latent point with "
                         f"its own image")
    n = z.shape[lead]
    if n < 3:
        raise ValueError(f"neighbors_embedding needs at least 3 points (got {n}): with fewer the "
                         f"neighbour distributions are trivial; use a larger batch")
    z, x = z.reshape(*z.shape[:lead + 1], -1), x.reshape(*x.shape[:lead + 1], -1)
    if detach_sigma and bandwidth != "joint":
        return _NeighborsEmbeddingFixedBandwidth.apply(z, x, bandwidth)[0]
    return _kl_off_diagonal(_joint(z, bandwidth, detach_sigma), _joint(x, bandwidth, detach_sigma))


# --------------------------------------------------------------------------------------------------
# auto-encoder step


def reconstruction_ae(x: Tensor, x_recon: Tensor, stacked: bool = False) -> Tensor:
    """First term of Eq. 1: mean over all elements of (x - x_recon)^2; x, x_recon of shape (n, ...).
    stacked=True: a leading seed axis, (S, n, ...) -> (S,), each seed's mean."""
    _same_shape(x, x_recon, "x", "x_recon")
    sq = (x - x_recon) ** 2
    return sq.flatten(1).mean(-1) if stacked else sq.mean()


def gngan_ae(x: Tensor, x_recon: Tensor, z_all: Tensor | None, x_all: Tensor | None, lambda_r: float = 1.0,
             bandwidth: str = "sigma_sq_is_var", detach_sigma: bool = True, stacked: bool = False) -> Tensor:
    """V_AE of Eq. 1: reconstruction_ae(x, x_recon) + lambda_r * neighbors_embedding(z_all, x_all).

    x, x_recon: (n, ...). z_all: (m, d_z), encoded and prior latents merged; x_all: (m, ...), their
    reconstructions and generated samples. With lambda_r == 0 the NE term is not computed and
    z_all, x_all may be None. stacked=True: a leading seed axis on every tensor; returns (S,).
    """
    loss = reconstruction_ae(x, x_recon, stacked=stacked)
    if lambda_r == 0:
        return loss
    if z_all is None or x_all is None:
        raise ValueError("gngan_ae with lambda_r != 0 needs z_all and x_all (the merged latents and their images)")
    return loss + lambda_r * neighbors_embedding(z_all, x_all, bandwidth=bandwidth, detach_sigma=detach_sigma,
                                                 stacked=stacked)


def distgan_ae(x: Tensor, x_recon: Tensor, z_enc: Tensor, z: Tensor, f_real: Tensor, f_fake: Tensor,
               lambda_r: float = 1.0, lambda_w: float | None = None) -> Tensor:
    """Dist-GAN's auto-encoder loss (the baseline Eq. 1 replaces).

    reconstruction_ae(x, x_recon) + lambda_r * (mean(f_real - f_fake) - lambda_w * mean(z_enc - z))^2,
    means over all elements. x, x_recon: (n, ...), the pair reconstructed: images (Eq. 1's first term) or
    their net_D features f(x), f(G(E(x))) (the authors' image code, ``mean((f_real - f_recon)^2)``);
    z_enc = net_E(x), z: (n, z_dim); f_real, f_fake: (n, d_f), the features of the real side (of x, or
    of the reconstructions G(E(x)) as the authors' image code) and of net_G(z). lambda_w defaults to
    sqrt(z_dim / d_f).
    """
    _same_shape(z_enc, z, "z_enc", "z")
    _same_shape(f_real, f_fake, "f_real", "f_fake")
    if lambda_w is None:
        lambda_w = math.sqrt(z[0].numel() / f_real[0].numel())
    md_x = (f_real - f_fake).mean()
    md_z = (z_enc - z).mean()
    return reconstruction_ae(x, x_recon) + lambda_r * (md_x - lambda_w * md_z) ** 2


# --------------------------------------------------------------------------------------------------
# discriminator step


ALPHA_SCHEDULES = ("constant", "distgan_code")


def alpha_at(alpha: float, t: float, schedule: str = "constant") -> float:
    """The weight of Eq. 7's reconstructions-as-real term V_C at training progress t = step / num_steps in [0, 1].

    "constant": alpha (the paper's Eq. 7). "distgan_code": the current Dist-GAN image code (tntrung/gan
    distgan_image/distgan.py at 6e67fe3, lines 197-203: w_recon = 0.05 - mu, mu = clip(0.2 t - 0.1, 0, 0.05)),
    generalised to any alpha: alpha * (1 - clip(4 t - 2, 0, 1)), i.e. alpha until t = 1/2, then linearly to 0 at
    t = 3/4 and 0 after (the real term's weight 1 - alpha_t grows to 1 as in that code).
    """
    if schedule not in ALPHA_SCHEDULES:
        raise ValueError(f"unknown alpha schedule {schedule!r}; use one of {ALPHA_SCHEDULES}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha={alpha} must lie in [0, 1]")
    if schedule == "constant":
        return alpha
    return alpha * (1.0 - min(max(4.0 * t - 2.0, 0.0), 1.0))


def gradient_penalty(D: Callable[[Tensor], Tensor], x_real: Tensor, x_fake: Tensor, mu: Tensor | None = None,
                     generator: torch.Generator | None = None, stacked: bool = False) -> Tensor:
    """V_P of Eq. 7: mean over the batch of (||grad_{x_hat} D(x_hat)||_2 - 1)^2.

    x_hat = mu x_real + (1 - mu) x_fake with one mu ~ U[0, 1] per sample (drawn with ``generator``
    unless ``mu`` of shape (n,) is given). x_real, x_fake: (n, ...). D maps (n, ...) to (n,) or (n, 1)
    and is used as given (the trainer passes the logit). The graph is kept so the D step can
    backpropagate through the penalty; x_hat itself is a constant (V_P trains net_D only).

    stacked=True: independent runs on a leading seed axis: x_* (S, n, ...), mu (S, n), D maps
    (S, n, ...) to (S, n); returns each seed's V_P, shape (S,).
    """
    _same_shape(x_real, x_fake, "x_real", "x_fake")
    lead = 2 if stacked else 1
    batch = tuple(x_real.shape[:lead])
    if mu is None:
        mu = torch.rand(batch, generator=generator, dtype=x_real.dtype, device=x_real.device)
    elif tuple(mu.shape) != batch:
        raise ValueError(f"mu must have shape {batch}, one mixing weight per sample; got {tuple(mu.shape)}")
    mu = mu.to(dtype=x_real.dtype, device=x_real.device).reshape(batch + (1,) * (x_real.dim() - lead))
    with torch.enable_grad():
        x_hat = (mu * x_real + (1 - mu) * x_fake).detach().requires_grad_(True)
        out = _scores(D(x_hat), lead, "D(x_hat)")
        grad, = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((grad.flatten(lead).norm(dim=-1) - 1) ** 2).mean(-1)


def gngan_dis(logit_real: Tensor, logit_recon: Tensor, logit_fake: Tensor, alpha: float = 0.05,
              loss: str = "log", recon_label: str = "real") -> Tensor:
    """-V_D of Eq. 7 ("log") or of Eq. 8 ("hinge"), without the penalty (the caller adds lambda_p * V_P).

    logit_*: net_D's logits, shape (n,) or (n, 1), for real x, reconstructions net_G(net_E(x)) and
    fakes net_G(z). D = sigmoid(logit).
    "log":   -[(1 - alpha) E log D(x) + alpha E log D(G(E(x))) + E log(1 - D(G(z)))]
    "hinge": -[(1 - alpha) E D(x) + alpha E D(G(E(x))) - E D(G(z))]
    ``recon_label="fake"`` labels the reconstructions fake instead (the authors' 2D Dist-GAN code, alpha = 0.5):
    "log" -[(1 - alpha) E log D(x) + alpha E log(1 - D(G(E(x)))) + E log(1 - D(G(z)))]; "hinge" flips the sign of
    the reconstructions' term.
    """
    if loss not in GNGAN_DIS_LOSSES:
        raise ValueError(f"unknown discriminator loss {loss!r}; use one of {GNGAN_DIS_LOSSES}")
    if recon_label not in RECON_LABELS:
        raise ValueError(f"unknown reconstruction label {recon_label!r}; use one of {RECON_LABELS}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha={alpha} must lie in [0, 1] (it weights the reconstructions-as-real term)")
    l_real = _per_sample(logit_real, "logit_real")
    l_recon = _per_sample(logit_recon, "logit_recon")
    l_fake = _per_sample(logit_fake, "logit_fake")
    sign = 1.0 if recon_label == "real" else -1.0
    if loss == "log":
        # -log s(l) = softplus(-l), -log(1 - s(l)) = softplus(l): finite for any logit
        return ((1 - alpha) * F.softplus(-l_real).mean() + alpha * F.softplus(-sign * l_recon).mean()
                + F.softplus(l_fake).mean())
    return -((1 - alpha) * torch.sigmoid(l_real).mean() + sign * alpha * torch.sigmoid(l_recon).mean()
             - torch.sigmoid(l_fake).mean())


def gan_dis(logit_real: Tensor, logit_fake: Tensor) -> Tensor:
    """Standard GAN (Goodfellow et al. 2014) net_D loss: BCE(real -> 1) + BCE(fake -> 0); logits (n,) or (n, 1)."""
    l_real = _per_sample(logit_real, "logit_real")
    l_fake = _per_sample(logit_fake, "logit_fake")
    return F.softplus(-l_real).mean() + F.softplus(l_fake).mean()


def wgan_dis(critic_real: Tensor, critic_fake: Tensor) -> Tensor:
    """WGAN-GP critic loss E C(G(z)) - E C(x) without the penalty; critic values (n,) or (n, 1)."""
    return _per_sample(critic_fake, "critic_fake").mean() - _per_sample(critic_real, "critic_real").mean()


# --------------------------------------------------------------------------------------------------
# generator step


def gradient_matching(D: Callable[[Tensor], Tensor], x_real: Tensor, x_fake: Tensor, lambda_m1: float = 1.0,
                      lambda_m2: float = 1.0, stacked: bool = False) -> Tensor:
    """V_G of Eq. 13 in the paper's practical form (the paragraph under Eq. 13).

    |E D(x) - E D(G(z))|
      + lambda_m1 (E ||grad D(x)|| - E ||grad D(G(z))||)^2
      + lambda_m2 (E |grad D(x)^T x| - E |grad D(G(z))^T G(z)|)^2

    D maps a batch (n, ...) to scores in (0, 1) of shape (n,) or (n, 1), e.g.
    ``lambda x: torch.sigmoid(net_D(x))``. x_real: (n_r, ...), x_fake = net_G(z): (n_f, ...).
    Gradients are per sample, taken w.r.t. the sample and flattened. The loss reaches net_G through
    x_fake also via the gradient terms (double backprop); the real side is a constant.
    Per-sample gradients come from differentiating sum_i D(x_i), which requires D to treat samples
    independently (no batch norm in train mode or other cross-sample interaction).

    stacked=True: independent runs on a leading seed axis: x_* (S, n, ...), D maps (S, n, ...) to
    (S, n); returns each seed's V_G, shape (S,).
    """
    lead = 2 if stacked else 1
    with_grads = lambda_m1 != 0 or lambda_m2 != 0
    if not with_grads:
        with torch.no_grad():
            s_real = _scores(D(x_real), lead, "D(x_real)")
        s_fake = _scores(D(x_fake), lead, "D(x_fake)")
        return (s_real.mean(-1) - s_fake.mean(-1)).abs()

    with torch.enable_grad():
        xr = x_real.detach().requires_grad_(True)
        s_real = _scores(D(xr), lead, "D(x_real)")
        g_real, = torch.autograd.grad(s_real.sum(), xr)
        s_real = s_real.detach()

        xf = x_fake if x_fake.requires_grad else x_fake.detach().requires_grad_(True)
        s_fake = _scores(D(xf), lead, "D(x_fake)")
        g_fake, = torch.autograd.grad(s_fake.sum(), xf, create_graph=True)

    return _gm_terms(s_real, s_fake, g_real.flatten(lead), g_fake.flatten(lead), xr.detach().flatten(lead),
                     xf.flatten(lead), lambda_m1, lambda_m2)


def _gm_terms(s_real: Tensor, s_fake: Tensor, g_real: Tensor, g_fake: Tensor, x_real: Tensor, x_fake: Tensor,
              lambda_m1: float, lambda_m2: float) -> Tensor:
    """The three terms of Eq. 13 from scores (..., n) and flattened gradients and samples (..., n, d)."""
    norm_term = g_real.norm(dim=-1).mean(-1) - g_fake.norm(dim=-1).mean(-1)
    inner_term = (g_real * x_real).sum(-1).abs().mean(-1) - (g_fake * x_fake).sum(-1).abs().mean(-1)
    score_term = (s_real.mean(-1) - s_fake.mean(-1)).abs()
    return score_term + lambda_m1 * norm_term ** 2 + lambda_m2 * inner_term ** 2


def gradient_matching_linearized(D_logit: Callable[[Tensor], Tensor], x_real: Tensor, x_fake: Tensor,
                                 lambda_m1: float = 1.0, lambda_m2: float = 1.0, stacked: bool = False) -> Tensor:
    """V_G of Eq. 13, equal to ``gradient_matching(lambda x: sigmoid(D_logit(x)), ...)`` in value and in its
    gradient w.r.t. x_fake when the logit ``D_logit`` is piecewise linear in its input (linear and conv layers,
    ReLU / LeakyReLU, average pooling, spectral norm; no batch norm in train mode): every net_D of gngan.

    Shapes as ``gradient_matching``; D_logit returns logits (n,) or (n, 1) ((S, n) or (S, n, 1) stacked).
    For such a net, u = grad D_logit(x) is constant around almost every x, so with s = sigmoid(D_logit(x))
    the score gradient is grad s = s (1 - s) u and its Jacobian w.r.t. x is s (1 - s)(1 - 2 s) u u^T (what
    double backprop computes too, since the derivative of ReLU's mask is zero). Both follow from the exact
    first-order expansion D_logit(x_fake) = a + u . (x_fake - x_fake.detach()), so the double backward
    through net_D is replaced by elementwise work: one input-gradient pass per side and no second-order pass.
    Unlike ``gradient_matching``, no gradient reaches net_D's parameters (the generator step needs none).
    """
    lead = 2 if stacked else 1
    if lambda_m1 == 0 and lambda_m2 == 0:
        return gradient_matching(lambda x: torch.sigmoid(D_logit(x)), x_real, x_fake, 0.0, 0.0, stacked)

    def logit_and_grad(x: Tensor, name: str) -> tuple[Tensor, Tensor]:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            a = _scores(D_logit(x), lead, name)
            u, = torch.autograd.grad(a.sum(), x)
        return a.detach(), u.flatten(lead)

    # two passes, not one over both batches concatenated: that measured 25% slower on CPU
    a_real, u_real = logit_and_grad(x_real, "D_logit(x_real)")
    a_fake, u_fake = logit_and_grad(x_fake, "D_logit(x_fake)")
    xf = x_fake.flatten(lead)
    a_fake = a_fake + ((xf - xf.detach()) * u_fake).sum(-1)
    s_real, s_fake = torch.sigmoid(a_real), torch.sigmoid(a_fake)
    g_real = (s_real * (1 - s_real)).unsqueeze(-1) * u_real
    g_fake = (s_fake * (1 - s_fake)).unsqueeze(-1) * u_fake
    return _gm_terms(s_real, s_fake, g_real, g_fake, x_real.detach().flatten(lead), xf, lambda_m1, lambda_m2)


def score_distance_gen(score_real: Tensor, score_fake: Tensor) -> Tensor:
    """Dist-GAN's net_G loss |E D(x) - E D(G(z))| on scores in (0, 1) of any shape (the first term of Eq. 13)."""
    return (score_real.mean() - score_fake.mean()).abs()


def gan_gen(logit_fake: Tensor) -> Tensor:
    """Non-saturating GAN net_G loss -E log sigmoid(logit_fake); logits (n,) or (n, 1)."""
    return F.softplus(-_per_sample(logit_fake, "logit_fake")).mean()


def wgan_gen(critic_fake: Tensor) -> Tensor:
    """WGAN net_G loss -E C(G(z)); critic values (n,) or (n, 1)."""
    return -_per_sample(critic_fake, "critic_fake").mean()


# --------------------------------------------------------------------------------------------------
# baselines of the 2D experiment (Table 2): VAE / beta-VAE, ALI / BiGAN, VAE-GAN, BourGAN, MMD-GAN-rep
#
# Each objective follows its own paper (book/baselines.md gives the formulas, the sources and what we
# chose where the sources leave a detail open). Like the functions above they are pure and
# vmap-compatible: single-seed tensors (n, ...) in, a scalar out; no control flow on tensor values.

VAE_RECONS = ("gaussian", "bernoulli")
MMD_KERNELS = ("rbf", "rbf-b")
BOURGAN_PAIRS = ("all", "halves")

# Decoder std of the VAE's Gaussian likelihood, in the rescaled units the networks see: the data's own
# within-mode std, 0.05 in original units, i.e. 0.05 / (2 M) with M = 4.18 (about 0.00598). With it the
# model class contains the data distribution (decoder mean = a mode centre, noise = the mode's noise).
VAE_SIGMA = 0.05 / (2 * 4.18)
# gamma of VAE-GAN's decoder loss gamma * L_llike - L_GAN: the class default w = 1e-2 of the authors' code
# (their decoder gradient is w grad L_llike + (1 - w) grad(-L_GAN), so gamma = w / (1 - w) ~ 0.0101).
VAEGAN_GAMMA = 1e-2
# weight of BourGAN's distance loss ("alpha" = 0.1 in the authors' code)
BOURGAN_BETA = 0.1
# MMD-GAN-rep (Wang et al. 2019, authors' code): Gaussian kernel bandwidth 1 on D's output; the bounded
# kernel "rbf-b" clips squared distances of real pairs at b_u = 4 and of generated pairs at b_l = 0.25
MMD_SIGMAS = (1.0,)
MMD_BOUNDS = (0.25, 4.0)


def _rows(t: Tensor, name: str) -> Tensor:
    """(n, ...) -> (n, k): one flattened row per sample; a 1-D tensor is n samples of one value."""
    if t.dim() == 0:
        raise ValueError(f"{name} must hold one row per sample, shape (n, ...); got a scalar")
    return t.reshape(t.shape[0], -1)


def _check_latents(mu: Tensor, logvar: Tensor) -> None:
    _same_shape(mu, logvar, "mu", "logvar")
    if mu.dim() != 2:
        raise ValueError(f"mu and logvar must have shape (n, z_dim); got {tuple(mu.shape)}")


def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
    """Kingma & Welling (2014), Sec. 2.4: z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) passed in.

    mu, logvar, eps: (n, z_dim). Returns z of shape (n, z_dim), differentiable in mu and logvar.
    """
    _check_latents(mu, logvar)
    _same_shape(mu, eps, "mu", "eps")
    return mu + torch.exp(0.5 * logvar) * eps


def kl_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) summed over latent dimensions, averaged over the batch.

    Kingma & Welling (2014), Appendix B: per sample 1/2 sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j).
    mu, logvar: (n, z_dim). The L_prior of VAE-GAN (Larsen et al. 2016) is the same quantity.
    """
    _check_latents(mu, logvar)
    return 0.5 * (mu ** 2 + torch.exp(logvar) - 1.0 - logvar).sum(dim=1).mean()


def vae_ae(x: Tensor, x_recon: Tensor, mu: Tensor, logvar: Tensor, beta: float = 1.0,
           recon: str = "gaussian", sigma: float = VAE_SIGMA) -> Tensor:
    """Negative ELBO of the VAE (Kingma & Welling 2014, Eq. 10), or of the beta-VAE (Higgins et al.
    2017) when beta != 1: per sample -log p(x | z) + beta * KL(q(z | x) || N(0, I)), averaged
    over the batch, with one z ~ q(z | x) per sample (x_recon = net_G(reparameterize(mu, logvar, eps))).

    x, x_recon: (n, ...) data and decoder output; mu, logvar = net_E(x) split in two, each (n, z_dim).
    recon: the decoder likelihood, per sample summed over the elements of x:
        "gaussian":  N(x; x_recon, sigma^2 I): |x - x_recon|^2 / (2 sigma^2) + D/2 log(2 pi sigma^2),
                     D elements per sample; the constant makes the value a true negative ELBO in nats.
        "bernoulli": -sum[x log x_recon + (1 - x) log(1 - x_recon)] with x_recon in (0, 1) (clamped
                     to [1e-6, 1 - 1e-6]); the usual cross-entropy for data in [0, 1], not a density.
    sigma: the Gaussian decoder std (default VAE_SIGMA, the data's within-mode std in rescaled units).
    Only beta * sigma^2 matters for the optimum of the Gaussian case; both are kept explicit.
    """
    _same_shape(x, x_recon, "x", "x_recon")
    if recon not in VAE_RECONS:
        raise ValueError(f"unknown VAE likelihood {recon!r}; use one of {VAE_RECONS}")
    if beta < 0:
        raise ValueError(f"beta={beta} must be >= 0 (it weights the KL term)")
    if sigma <= 0:
        raise ValueError(f"sigma={sigma} must be positive (the std of the Gaussian decoder)")
    xs, xr = _rows(x, "x"), _rows(x_recon, "x_recon")
    if recon == "gaussian":
        nll = ((xs - xr) ** 2).sum(dim=1) / (2.0 * sigma ** 2) + 0.5 * xs.shape[1] * math.log(2 * math.pi * sigma ** 2)
    else:
        p = xr.clamp(1e-6, 1 - 1e-6)
        nll = -(xs * torch.log(p) + (1 - xs) * torch.log1p(-p)).sum(dim=1)
    return nll.mean() + beta * kl_normal(mu, logvar)


def ali_dis(logit_enc_pair: Tensor, logit_gen_pair: Tensor) -> Tensor:
    """ALI / BiGAN net_D loss (Dumoulin et al. 2016, Algorithm 1; Donahue et al. 2016):
    -E log D(x, E(x)) - E log(1 - D(G(z), z)): encoder pairs are labelled 1, generator pairs 0.

    logit_enc_pair = net_D(cat[x, net_E(x)]), logit_gen_pair = net_D(cat[net_G(z), z]); (n,) or (n, 1).
    """
    l_enc = _per_sample(logit_enc_pair, "logit_enc_pair")
    l_gen = _per_sample(logit_gen_pair, "logit_gen_pair")
    return F.softplus(-l_enc).mean() + F.softplus(l_gen).mean()


def ali_gen(logit_enc_pair: Tensor, logit_gen_pair: Tensor) -> Tensor:
    """ALI / BiGAN loss of net_G and net_E, trained jointly: the non-saturating swapped-label form of
    ALI's Algorithm 1, -E log(1 - D(x, E(x))) - E log D(G(z), z). Logits as in ali_dis.
    """
    l_enc = _per_sample(logit_enc_pair, "logit_enc_pair")
    l_gen = _per_sample(logit_gen_pair, "logit_gen_pair")
    return F.softplus(l_enc).mean() + F.softplus(-l_gen).mean()


def feature_nll(f_real: Tensor, f_recon: Tensor) -> Tensor:
    """VAE-GAN's L_llike^{Dis_l} (Larsen et al. 2016) without its constant: the negative
    log-likelihood of N(Dis_l(x); Dis_l(x_tilde), I), 1/2 |Dis_l(x) - Dis_l(x_tilde)|^2 summed over
    features and averaged over the batch. f_real = net_D.body(x), f_recon = net_D.body(net_G(z ~ q(z|x))),
    both (n, ...).
    """
    _same_shape(f_real, f_recon, "f_real", "f_recon")
    return 0.5 * ((_rows(f_real, "f_real") - _rows(f_recon, "f_recon")) ** 2).sum(dim=1).mean()


def vaegan_enc(mu: Tensor, logvar: Tensor, f_real: Tensor, f_recon: Tensor) -> Tensor:
    """VAE-GAN net_E loss (Larsen et al. 2016, Algorithm 1): L_prior + L_llike^{Dis_l}
    = kl_normal(mu, logvar) + feature_nll(f_real, f_recon). No GAN term reaches the encoder."""
    return kl_normal(mu, logvar) + feature_nll(f_real, f_recon)


def vaegan_dec(f_real: Tensor, f_recon: Tensor, logit_recon: Tensor, logit_prior: Tensor,
               gamma: float = VAEGAN_GAMMA) -> Tensor:
    """VAE-GAN net_G (decoder) loss (Larsen et al. 2016, Algorithm 1): gamma * L_llike^{Dis_l} plus
    the decoder's share of the GAN game, in the non-saturating form
    -E log D(x_tilde) - E log D(x_p) (instead of the minimax E log(1 - D(.))).

    f_real, f_recon as in feature_nll; logit_recon = net_D(x_tilde), x_tilde = net_G(z ~ q(z | x));
    logit_prior = net_D(x_p), x_p = net_G(z_p), z_p ~ N(0, I); logits (n,) or (n, 1).
    """
    if gamma < 0:
        raise ValueError(f"gamma={gamma} must be >= 0 (it weights the feature reconstruction)")
    l_rec = _per_sample(logit_recon, "logit_recon")
    l_pri = _per_sample(logit_prior, "logit_prior")
    return gamma * feature_nll(f_real, f_recon) + F.softplus(-l_rec).mean() + F.softplus(-l_pri).mean()


def vaegan_dis(logit_real: Tensor, logit_recon: Tensor, logit_prior: Tensor) -> Tensor:
    """VAE-GAN net_D loss (Larsen et al. 2016, Algorithm 1), -L_GAN with three terms:
    -E log D(x) - E log(1 - D(x_tilde)) - E log(1 - D(x_p)); logits (n,) or (n, 1) as in vaegan_dec."""
    l_real = _per_sample(logit_real, "logit_real")
    l_rec = _per_sample(logit_recon, "logit_recon")
    l_pri = _per_sample(logit_prior, "logit_prior")
    return F.softplus(-l_real).mean() + F.softplus(l_rec).mean() + F.softplus(l_pri).mean()


def _exact_sq_dists(a: Tensor, b: Tensor) -> Tensor:
    """(n, k), (m, k) -> (n, m) squared Euclidean distances from explicit differences (exact for nearby
    points, where the Gram form loses digits; memory O(n m k), fine for 2D data and feature vectors)."""
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(dim=-1)


def _gram_sq_dists(a: Tensor, b: Tensor) -> Tensor:
    """(n, k), (m, k) -> (n, m) squared Euclidean distances in Gram form |a|^2 + |b|^2 - 2 a.b: O(n m)
    memory and one matrix product, about 40x faster than explicit differences for 128 x 128 x 64 on CPU.
    Kernels of MMD tolerate its rounding near zero distance (exp(-d^2) is flat there)."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return sq.clamp_min(0.0)


def bourgan_dist(x_fake: Tensor, z: Tensor, scale: float = 1.0, pairs: str = "all",
                 eps: float = 1e-12) -> Tensor:
    """BourGAN's distance loss L_dist (Xiao, Zhong, Zheng 2018): the mean over pairs (i, j) of
    (log d(G(z_i), G(z_j)) - log(scale * |z_i - z_j|))^2, Euclidean distances in both spaces.

    x_fake = net_G(z): (n, ...); z: (n, z_dim) drawn from the Bourgain mixture prior.
    scale: the data-to-latent distance factor of the embedding (gngan.bourgain.distance_scale).
    pairs: "all": every pair i < j of the batch (a U-statistic of E_{z, z'});
           "halves": (i, i + n/2), as the authors' code pairs two independent batches.
    eps: distances are sqrt(d^2 + eps), so coincident samples (a collapsed generator) give a large
         finite penalty instead of log 0.
    z enters only through scale * |z_i - z_j|: under vmap with a different scale per seed, pass
    scale_s * z and scale=1.
    """
    if pairs not in BOURGAN_PAIRS:
        raise ValueError(f"unknown BourGAN pairing {pairs!r}; use one of {BOURGAN_PAIRS}")
    if scale <= 0:
        raise ValueError(f"scale={scale} must be positive (it multiplies latent distances inside a log)")
    xs, zs = _rows(x_fake, "x_fake"), _rows(z, "z")
    n = xs.shape[0]
    if zs.shape[0] != n:
        raise ValueError(f"x_fake has {n} samples but z has {zs.shape[0]}; pass each code with its sample")
    if pairs == "halves":
        if n < 2 or n % 2:
            raise ValueError(f"pairs='halves' needs an even batch of at least 2 samples; got {n}")
        h = n // 2
        sq_x = ((xs[:h] - xs[h:]) ** 2).sum(dim=1)
        sq_z = ((zs[:h] - zs[h:]) ** 2).sum(dim=1)
    else:
        if n < 2:
            raise ValueError(f"bourgan_dist needs at least 2 samples to form a pair; got {n}")
        off = ~torch.eye(n, dtype=torch.bool, device=xs.device)
        sq_x = _exact_sq_dists(xs, xs)[off]
        sq_z = _exact_sq_dists(zs, zs)[off]
    log_ratio = 0.5 * torch.log(sq_x + eps) - 0.5 * torch.log(sq_z + eps) - math.log(scale)
    return (log_ratio ** 2).mean()


def bourgan_gen(logit_fake: Tensor, x_fake: Tensor, z: Tensor, beta: float = BOURGAN_BETA,
                scale: float = 1.0, pairs: str = "all") -> Tensor:
    """BourGAN net_G loss: the non-saturating GAN loss plus beta * L_dist,
    gan_gen(logit_fake) + beta * bourgan_dist(x_fake, z, scale, pairs).

    logit_fake = net_D(x_fake): (n,) or (n, 1); x_fake = net_G(z): (n, ...); z: (n, z_dim).
    """
    if beta < 0:
        raise ValueError(f"beta={beta} must be >= 0 (it weights the distance loss)")
    return gan_gen(logit_fake) + beta * bourgan_dist(x_fake, z, scale=scale, pairs=pairs)


def gaussian_kernel(a: Tensor, b: Tensor, sigmas: tuple[float, ...] = MMD_SIGMAS) -> Tensor:
    """Sum of Gaussian RBF kernels, k(a_i, b_j) = sum_s exp(-|a_i - b_j|^2 / (2 s^2)).

    a: (n, ...), b: (m, ...), flattened per sample to the same length. Returns (n, m).
    """
    a, b = _rows(a, "a"), _rows(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a has {a.shape[1]} features per sample but b has {b.shape[1]}")
    if len(sigmas) == 0 or min(sigmas) <= 0:
        raise ValueError(f"sigmas={sigmas} must be a non-empty tuple of positive bandwidths")
    sq = _gram_sq_dists(a, b)
    return sum(torch.exp(-sq / (2.0 * s * s)) for s in sigmas)


def _mean_off_diagonal(k: Tensor) -> Tensor:
    n = k.shape[0]
    if n < 2:
        raise ValueError(f"unbiased MMD estimators need at least 2 samples per side; got {n}")
    return (k.sum() - torch.diagonal(k).sum()) / (n * (n - 1))


def mmd2_unbiased(f_real: Tensor, f_fake: Tensor, sigmas: tuple[float, ...] = MMD_SIGMAS) -> Tensor:
    """Unbiased estimate of MMD^2 (Gretton et al. 2012, MMD_u^2):
    mean_{i != j} k(x_i, x_j) + mean_{i != j} k(y_i, y_j) - 2 mean_{i, j} k(x_i, y_j),
    with k = gaussian_kernel(., ., sigmas). f_real: (n, ...), f_fake: (m, ...)."""
    k_xx = gaussian_kernel(f_real, f_real, sigmas)
    k_yy = gaussian_kernel(f_fake, f_fake, sigmas)
    k_xy = gaussian_kernel(f_real, f_fake, sigmas)
    return _mean_off_diagonal(k_xx) + _mean_off_diagonal(k_yy) - 2.0 * k_xy.mean()


def mmd_gen(f_real: Tensor, f_fake: Tensor, sigmas: tuple[float, ...] = MMD_SIGMAS) -> Tensor:
    """MMD-GAN net_G loss (Li et al. 2017; kept by Wang et al. 2019 as L_G): the attractive MMD^2,
    mmd2_unbiased(f_real, f_fake) on discriminator outputs f = net_D(x) of real and generated samples,
    (n, ...) and (m, ...). Only the f_fake side depends on net_G."""
    return mmd2_unbiased(f_real, f_fake, sigmas)


def mmd_rep_dis(f_real: Tensor, f_fake: Tensor, sigmas: tuple[float, ...] = MMD_SIGMAS,
                kernel: str = "rbf", bounds: tuple[float, float] = MMD_BOUNDS) -> Tensor:
    """Repulsive net_D loss of MMD-GAN-rep (Wang, Sun, Halgamuge, ICLR 2019):
    L_D^rep = mean_{i != j} k_D(x_i, x_j) - mean_{i != j} k_D(y_i, y_j), x real, y generated,
    k_D(a, b) = k(D(a), D(b)); it pushes real outputs apart and pulls generated outputs together.

    f_real = net_D(x): (n, ...), f_fake = net_D(G(z)): (m, ...).
    kernel: "rbf":   gaussian_kernel with bandwidths ``sigmas`` (the authors' "rep" setting: sigma = 1);
            "rbf-b": their bounded kernel, squared distances clipped to min(d^2, b_u) for real
                     pairs and max(d^2, b_l) for generated pairs, (b_l, b_u) = bounds = (0.25, 4).
    """
    if kernel not in MMD_KERNELS:
        raise ValueError(f"unknown MMD kernel {kernel!r}; use one of {MMD_KERNELS}")
    if kernel == "rbf":
        return (_mean_off_diagonal(gaussian_kernel(f_real, f_real, sigmas))
                - _mean_off_diagonal(gaussian_kernel(f_fake, f_fake, sigmas)))
    lower, upper = bounds
    if not 0 <= lower < upper:
        raise ValueError(f"bounds={bounds} must satisfy 0 <= b_l < b_u (squared-distance clips)")
    if len(sigmas) == 0 or min(sigmas) <= 0:
        raise ValueError(f"sigmas={sigmas} must be a non-empty tuple of positive bandwidths")
    fr, ff = _rows(f_real, "f_real"), _rows(f_fake, "f_fake")
    if fr.shape[1] != ff.shape[1]:
        raise ValueError(f"f_real has {fr.shape[1]} features per sample but f_fake has {ff.shape[1]}")
    sq_xx = _exact_sq_dists(fr, fr).clamp(max=upper)
    sq_yy = _exact_sq_dists(ff, ff).clamp(min=lower)
    k_xx = sum(torch.exp(-sq_xx / (2.0 * s * s)) for s in sigmas)
    k_yy = sum(torch.exp(-sq_yy / (2.0 * s * s)) for s in sigmas)
    return _mean_off_diagonal(k_xx) - _mean_off_diagonal(k_yy)


# --------------------------------------------------------------------------------------------------
# image baselines (Table 3)


def hinge_dis(logit_real: Tensor, logit_fake: Tensor) -> Tensor:
    """SN-GAN's hinge net_D loss (Miyato et al. 2018, Eq. 16 of Lim & Ye's geometric GAN):
    E relu(1 - D(x)) + E relu(1 + D(G(z))) on the raw outputs D (logits), shapes (n,) or (n, 1).
    Its generator loss is -E D(G(z)), which is :func:`wgan_gen`."""
    l_real = _per_sample(logit_real, "logit_real")
    l_fake = _per_sample(logit_fake, "logit_fake")
    return F.relu(1 - l_real).mean() + F.relu(1 + l_fake).mean()
