"""Tests of the 2D baselines' objectives in gngan.losses (VAE, beta-VAE, ALI, VAE-GAN, BourGAN, MMD-GAN-rep)
against hand computations and NumPy loop references written from the papers' formulas."""

import math
from functools import partial

import numpy as np
import pytest
import torch
from torch.func import vmap

from gngan import losses
from gngan.data import Grid2D


def t64(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


def close(got, want, **kw):
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), **kw)


def sig(a):
    return 1.0 / (1.0 + np.exp(-np.asarray(a, dtype=np.float64)))


RNG = np.random.default_rng(20190101)


# --------------------------------------------------------------------------------------------------
# VAE / beta-VAE


def ref_kl(mu, logvar):
    total = 0.0
    for i in range(len(mu)):
        for j in range(len(mu[i])):
            total += 0.5 * (mu[i][j] ** 2 + math.exp(logvar[i][j]) - 1.0 - logvar[i][j])
    return total / len(mu)


def test_reparameterize_and_kl_by_hand():
    mu, logvar, eps = np.array([[0.5, -1.0]]), np.array([[math.log(4.0), 0.0]]), np.array([[1.0, -2.0]])
    close(losses.reparameterize(t64(mu), t64(logvar), t64(eps)), [[0.5 + 2.0 * 1.0, -1.0 - 2.0]])
    # KL of N(0.5, 4) x N(-1, 1) to N(0, I): 1/2 (0.25 + 4 - 1 - log 4) + 1/2 (1 + 1 - 1 - 0)
    close(losses.kl_normal(t64(mu), t64(logvar)), 0.5 * (3.25 - math.log(4.0)) + 0.5)
    z = np.zeros((3, 2))
    close(losses.kl_normal(t64(z), t64(z)), 0.0)
    mu, logvar = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3))
    close(losses.kl_normal(t64(mu), t64(logvar)), ref_kl(mu, logvar))


def test_vae_sigma_is_the_data_std_in_rescaled_units():
    assert losses.VAE_SIGMA == pytest.approx(Grid2D().std, rel=1e-12)
    assert losses.VAE_SIGMA == pytest.approx(0.05 / (2 * 4.18))


@pytest.mark.parametrize("beta,sigma", [(1.0, losses.VAE_SIGMA), (4.0, 0.3)])
def test_vae_gaussian_negative_elbo(beta, sigma):
    x, xr = RNG.uniform(size=(4, 2)), RNG.uniform(size=(4, 2))
    mu, logvar = RNG.normal(size=(4, 2)), RNG.normal(size=(4, 2)) * 0.3
    nll = 0.0
    for i in range(4):
        for d in range(2):  # -log N(x; xr, sigma^2), summed over the 2 coordinates
            nll += (x[i, d] - xr[i, d]) ** 2 / (2 * sigma ** 2) + 0.5 * math.log(2 * math.pi * sigma ** 2)
    want = nll / 4 + beta * ref_kl(mu, logvar)
    got = losses.vae_ae(t64(x), t64(xr), t64(mu), t64(logvar), beta=beta, sigma=sigma)
    close(got, want)


def test_vae_bernoulli_and_beta_weighs_only_the_kl():
    x, xr = RNG.uniform(size=(3, 2)), RNG.uniform(0.1, 0.9, size=(3, 2))
    mu, logvar = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))
    bce = -np.sum(x * np.log(xr) + (1 - x) * np.log(1 - xr)) / 3
    got = losses.vae_ae(t64(x), t64(xr), t64(mu), t64(logvar), beta=0.0, recon="bernoulli")
    close(got, bce)
    b1 = losses.vae_ae(t64(x), t64(xr), t64(mu), t64(logvar), beta=1.0, recon="bernoulli")
    b5 = losses.vae_ae(t64(x), t64(xr), t64(mu), t64(logvar), beta=5.0, recon="bernoulli")
    close(b5 - b1, 4.0 * ref_kl(mu, logvar))


# --------------------------------------------------------------------------------------------------
# ALI / BiGAN and VAE-GAN


def test_ali_losses_by_hand():
    le, lg = np.array([0.3, -1.5, 2.0]), np.array([-0.4, 0.8])
    want_d = -np.mean(np.log(sig(le))) - np.mean(np.log(1 - sig(lg)))
    want_g = -np.mean(np.log(1 - sig(le))) - np.mean(np.log(sig(lg)))
    close(losses.ali_dis(t64(le), t64(lg)[:, None]), want_d)
    close(losses.ali_gen(t64(le)[:, None], t64(lg)), want_g)


def test_vaegan_losses_by_hand():
    fr, fc = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    mu, logvar = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))
    lr, lc, lp = np.array([0.2, -0.7, 1.1]), np.array([0.5, -2.0, 0.1]), np.array([-0.3, 0.9, 0.4])
    llike = np.mean([0.5 * np.sum((fr[i] - fc[i]) ** 2) for i in range(3)])
    close(losses.feature_nll(t64(fr), t64(fc)), llike)
    close(losses.vaegan_enc(t64(mu), t64(logvar), t64(fr), t64(fc)), ref_kl(mu, logvar) + llike)
    gamma = 0.37
    want_dec = gamma * llike - np.mean(np.log(sig(lc))) - np.mean(np.log(sig(lp)))
    close(losses.vaegan_dec(t64(fr), t64(fc), t64(lc), t64(lp), gamma=gamma), want_dec)
    close(losses.vaegan_dec(t64(fr), t64(fc), t64(lc), t64(lp)), losses.VAEGAN_GAMMA * llike
          - np.mean(np.log(sig(lc))) - np.mean(np.log(sig(lp))))
    want_dis = -np.mean(np.log(sig(lr))) - np.mean(np.log(1 - sig(lc))) - np.mean(np.log(1 - sig(lp)))
    close(losses.vaegan_dis(t64(lr), t64(lc), t64(lp)), want_dis)


# --------------------------------------------------------------------------------------------------
# BourGAN


def ref_bourgan_dist(x, z, scale, pairs, eps=1e-12):
    n = len(x)
    if pairs == "halves":
        idx = [(i, i + n // 2) for i in range(n // 2)]
    else:
        idx = [(i, j) for i in range(n) for j in range(i + 1, n)]
    terms = []
    for i, j in idx:
        dx = math.sqrt(sum((x[i][c] - x[j][c]) ** 2 for c in range(len(x[i]))) + eps)
        dz = math.sqrt(sum((z[i][c] - z[j][c]) ** 2 for c in range(len(z[i]))) + eps)
        terms.append((math.log(dx) - math.log(scale * dz)) ** 2)
    return sum(terms) / len(terms)


@pytest.mark.parametrize("pairs", losses.BOURGAN_PAIRS)
def test_bourgan_dist_matches_loop(pairs):
    x, z = RNG.uniform(size=(6, 2)), RNG.normal(size=(6, 5))
    got = losses.bourgan_dist(t64(x), t64(z), scale=0.3, pairs=pairs)
    want = ref_bourgan_dist(x.tolist(), z.tolist(), 0.3, pairs)
    assert want > 1e-2
    close(got, want, rtol=1e-10, atol=1e-12)


def test_bourgan_dist_zero_for_a_scaled_isometry_and_finite_under_collapse():
    z = RNG.normal(size=(7, 3))
    q, _ = np.linalg.qr(RNG.normal(size=(3, 3)))
    x = 0.25 * z @ q + 0.5
    close(losses.bourgan_dist(t64(x), t64(z), scale=0.25), 0.0, atol=1e-10, rtol=0)
    assert losses.bourgan_dist(t64(x), t64(z), scale=1.0) > 1.0  # (log 0.25)^2 ~ 1.92
    xc = torch.zeros(7, 2, dtype=torch.float64, requires_grad=True)  # every sample identical
    value = losses.bourgan_dist(xc + 0.5, t64(z))
    value.backward()
    assert torch.isfinite(value) and value > 100 and torch.isfinite(xc.grad).all()


def test_bourgan_per_seed_scale_can_be_folded_into_z():
    """Stacked seeds with different scales: vmap over scale_s * z with scale=1 gives each seed's loss."""
    x, z = t64(RNG.uniform(size=(S, 6, 2))), t64(RNG.normal(size=(S, 6, 4)))
    scales = [0.1, 0.5, 2.0]
    got = vmap(losses.bourgan_dist)(x, z * t64(scales)[:, None, None])
    want = torch.stack([losses.bourgan_dist(x[s], z[s], scale=scales[s]) for s in range(S)])
    torch.testing.assert_close(got, want)


def test_bourgan_gen_adds_beta_times_distance():
    logit, x, z = RNG.normal(size=6), RNG.uniform(size=(6, 2)), RNG.normal(size=(6, 4))
    got = losses.bourgan_gen(t64(logit), t64(x), t64(z), beta=0.7, scale=2.0)
    want = -np.mean(np.log(sig(logit))) + 0.7 * ref_bourgan_dist(x.tolist(), z.tolist(), 2.0, "all")
    close(got, want)


# --------------------------------------------------------------------------------------------------
# MMD-GAN with the repulsive loss


def ref_k(a, b, sigmas, clip=None):
    d2 = sum((a[c] - b[c]) ** 2 for c in range(len(a)))
    if clip == "upper":
        d2 = min(d2, losses.MMD_BOUNDS[1])
    elif clip == "lower":
        d2 = max(d2, losses.MMD_BOUNDS[0])
    return sum(math.exp(-d2 / (2 * s * s)) for s in sigmas)


def ref_mean_pairs(a, b, sigmas, same, clip=None):
    vals = [ref_k(a[i], b[j], sigmas, clip) for i in range(len(a)) for j in range(len(b)) if not (same and i == j)]
    return sum(vals) / len(vals)


SIGMAS = (0.5, 2.0)


def test_gaussian_kernel_matches_double_loop():
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(5, 3))
    want = [[ref_k(a[i], b[j], SIGMAS) for j in range(5)] for i in range(4)]
    close(losses.gaussian_kernel(t64(a), t64(b), SIGMAS), want)


def test_mmd2_unbiased_and_mmd_gen_match_double_loop():
    x, y = RNG.normal(size=(5, 3)), RNG.normal(size=(6, 3)) + 0.4
    want = (ref_mean_pairs(x, x, SIGMAS, True) + ref_mean_pairs(y, y, SIGMAS, True)
            - 2 * ref_mean_pairs(x, y, SIGMAS, False))
    close(losses.mmd2_unbiased(t64(x), t64(y), SIGMAS), want)
    close(losses.mmd_gen(t64(x), t64(y), SIGMAS), want)
    # unbiased: can be negative, e.g. for two samples of the same distribution
    a, b = RNG.normal(size=(40, 2)), RNG.normal(size=(40, 2))
    assert abs(losses.mmd2_unbiased(t64(a), t64(b))) < 0.1


@pytest.mark.parametrize("kernel", losses.MMD_KERNELS)
def test_mmd_rep_dis_matches_double_loop(kernel):
    x, y = RNG.normal(size=(6, 2)) * 1.5, RNG.normal(size=(5, 2)) * 0.3  # both clips active for rbf-b
    if kernel == "rbf":
        want = ref_mean_pairs(x, x, SIGMAS, True) - ref_mean_pairs(y, y, SIGMAS, True)
        got = losses.mmd_rep_dis(t64(x), t64(y), SIGMAS, kernel=kernel)
    else:
        want = ref_mean_pairs(x, x, (1.0,), True, "upper") - ref_mean_pairs(y, y, (1.0,), True, "lower")
        assert want != pytest.approx(ref_mean_pairs(x, x, (1.0,), True) - ref_mean_pairs(y, y, (1.0,), True))
        got = losses.mmd_rep_dis(t64(x), t64(y), kernel=kernel)
    close(got, want)


def test_bounded_kernel_stops_repelling_far_real_pairs():
    """Real pairs further apart than sqrt(b_u) get no gradient from rbf-b, but do from rbf."""
    x = t64([[0.0, 0.0], [3.0, 0.0]]).requires_grad_(True)  # squared distance 9 > b_u = 4
    y = t64([[0.0, 0.0], [0.1, 0.0]])
    g_b, = torch.autograd.grad(losses.mmd_rep_dis(x, y, kernel="rbf-b"), x)
    g, = torch.autograd.grad(losses.mmd_rep_dis(x, y, kernel="rbf"), x)
    assert g_b.abs().max() == 0 and g.abs().max() > 1e-3


# --------------------------------------------------------------------------------------------------
# vmap: each loss on a stacked seed axis equals the loss of each seed


S = 3


def stacked(*shape):
    return torch.tensor(RNG.normal(size=(S,) + shape), dtype=torch.float64)


CASES = {
    "reparameterize": (losses.reparameterize, (stacked(5, 2), stacked(5, 2), stacked(5, 2)), {}),
    "vae_gauss": (losses.vae_ae, (stacked(5, 2), stacked(5, 2), stacked(5, 2), stacked(5, 2)), {"beta": 2.0}),
    "vae_bern": (losses.vae_ae, (stacked(5, 2).sigmoid(), stacked(5, 2).sigmoid(), stacked(5, 2), stacked(5, 2)),
                 {"recon": "bernoulli"}),
    "ali_dis": (losses.ali_dis, (stacked(5), stacked(4, 1)), {}),
    "ali_gen": (losses.ali_gen, (stacked(5), stacked(4)), {}),
    "vaegan_enc": (losses.vaegan_enc, (stacked(5, 2), stacked(5, 2), stacked(5, 8), stacked(5, 8)), {}),
    "vaegan_dec": (losses.vaegan_dec, (stacked(5, 8), stacked(5, 8), stacked(5), stacked(5)), {"gamma": 0.5}),
    "vaegan_dis": (losses.vaegan_dis, (stacked(5), stacked(5), stacked(5)), {}),
    "bourgan_all": (losses.bourgan_gen, (stacked(6), stacked(6, 2), stacked(6, 4)), {"scale": 0.5}),
    "bourgan_halves": (losses.bourgan_dist, (stacked(6, 2), stacked(6, 4)), {"pairs": "halves"}),
    "mmd_gen": (losses.mmd_gen, (stacked(5, 3), stacked(6, 3)), {"sigmas": SIGMAS}),
    "mmd_rep": (losses.mmd_rep_dis, (stacked(5, 3), stacked(6, 3)), {}),
    "mmd_rep_b": (losses.mmd_rep_dis, (stacked(5, 3), stacked(6, 3)), {"kernel": "rbf-b"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_vmap_over_seeds_equals_each_seed(name):
    fn, args, kw = CASES[name]
    got = vmap(partial(fn, **kw))(*args)
    want = torch.stack([fn(*(a[s] for a in args), **kw) for s in range(S)])
    torch.testing.assert_close(got, want)


def test_gradcheck_bourgan_and_bounded_mmd():
    x = torch.tensor(RNG.uniform(size=(5, 2)), dtype=torch.float64, requires_grad=True)
    z = t64(RNG.normal(size=(5, 3)))
    assert torch.autograd.gradcheck(lambda a: losses.bourgan_dist(a, z, scale=0.4), (x,))
    fr = torch.tensor(RNG.normal(size=(4, 2)), dtype=torch.float64, requires_grad=True)
    ff = torch.tensor(RNG.normal(size=(4, 2)) * 0.2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: losses.mmd_rep_dis(a, b, kernel="rbf-b"), (fr, ff))


# --------------------------------------------------------------------------------------------------
# bad input


def test_bad_input_raises_helpful_errors():
    z2 = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="unknown VAE likelihood 'laplace'"):
        losses.vae_ae(z2, z2, z2, z2, recon="laplace")
    with pytest.raises(ValueError, match="beta=-1"):
        losses.vae_ae(z2, z2, z2, z2, beta=-1)
    with pytest.raises(ValueError, match="sigma=0"):
        losses.vae_ae(z2, z2, z2, z2, sigma=0)
    with pytest.raises(ValueError, match="mu .* and logvar .* must have the same shape"):
        losses.kl_normal(z2, torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"one value per sample"):
        losses.ali_dis(torch.zeros(4, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="gamma"):
        losses.vaegan_dec(z2, z2, torch.zeros(4), torch.zeros(4), gamma=-0.1)
    with pytest.raises(ValueError, match="unknown BourGAN pairing"):
        losses.bourgan_dist(z2, z2, pairs="random")
    with pytest.raises(ValueError, match="even batch"):
        losses.bourgan_dist(torch.zeros(5, 2), torch.zeros(5, 2), pairs="halves")
    with pytest.raises(ValueError, match="x_fake has 4 samples but z has 3"):
        losses.bourgan_dist(z2, torch.zeros(3, 2))
    with pytest.raises(ValueError, match="scale"):
        losses.bourgan_dist(z2, z2, scale=0.0)
    with pytest.raises(ValueError, match="unknown MMD kernel 'imq'"):
        losses.mmd_rep_dis(z2, z2, kernel="imq")
    with pytest.raises(ValueError, match="features per sample"):
        losses.mmd_gen(z2, torch.zeros(4, 3))
    with pytest.raises(ValueError, match="at least 2 samples"):
        losses.mmd_gen(torch.zeros(1, 2), z2)
    with pytest.raises(ValueError, match="bandwidths"):
        losses.gaussian_kernel(z2, z2, sigmas=())
    with pytest.raises(ValueError, match="b_l < b_u"):
        losses.mmd_rep_dis(z2, z2, kernel="rbf-b", bounds=(4.0, 0.25))
