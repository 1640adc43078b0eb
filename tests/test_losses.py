"""Tests of gngan.losses against hand computations and an independent loop implementation of Eq. 2-6."""

import math

import numpy as np
import pytest
import torch

from gngan import losses
from gngan.losses import NE_BANDWIDTHS

SIGMA_OPTIONS = ("sigma_sq_is_var", "sigma_is_var")


def t64(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


# --------------------------------------------------------------------------------------------------
# independent reference for V_R: explicit loops over i, j, k written from the paper's equations


def ref_dist(a, i, j):
    return math.sqrt(sum((a[i][c] - a[j][c]) ** 2 for c in range(len(a[i]))))


def ref_pair_distance_variance(a):
    n = len(a)
    ds = [ref_dist(a, i, j) for i in range(n) for j in range(i + 1, n)]
    m = sum(ds) / len(ds)
    return sum((d - m) ** 2 for d in ds) / len(ds)


def ref_joint(a, bandwidth, var=None):
    """p_ij of Eq. 3-4 (or the 2018 proposal's joint Eq. 3) as a list of lists; var fixes the bandwidth."""
    n = len(a)
    if bandwidth == "joint":
        total = 0.0
        for k in range(n):
            for l in range(n):
                if k != l:
                    total += 1.0 / (1.0 + ref_dist(a, k, l) ** 2)
        return [[0.0 if i == j else (1.0 / (1.0 + ref_dist(a, i, j) ** 2)) / total for j in range(n)]
                for i in range(n)]
    v = ref_pair_distance_variance(a) if var is None else var
    sigma = math.sqrt(v) if bandwidth == "sigma_sq_is_var" else v

    def kernel(i, j):
        return 1.0 / (1.0 + ref_dist(a, i, j) ** 2 / (2.0 * sigma ** 2))

    def cond(j, i):  # p_{j|i}
        denom = 0.0
        for k in range(n):
            if k != i:
                denom += kernel(k, i)
        return kernel(j, i) / denom

    return [[0.0 if i == j else (cond(i, j) + cond(j, i)) / (2.0 * n) for j in range(n)] for i in range(n)]


def ref_ne(z, x, bandwidth, var_z=None, var_x=None):
    z = np.asarray(z, dtype=np.float64).reshape(len(z), -1).tolist()
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1).tolist()
    p = ref_joint(z, bandwidth, var_z)
    q = ref_joint(x, bandwidth, var_x)
    kl = 0.0
    for i in range(len(z)):
        for j in range(len(z)):
            if i != j:
                kl += p[i][j] * math.log(p[i][j] / q[i][j])
    return kl


@pytest.fixture
def zx():
    rng = np.random.default_rng(0)
    return rng.normal(size=(7, 2)), rng.normal(size=(7, 3, 2, 2))


# --------------------------------------------------------------------------------------------------
# 1. neighbors_embedding against the loop reference


@pytest.mark.parametrize("bandwidth", NE_BANDWIDTHS)
def test_ne_matches_loop_reference(zx, bandwidth):
    z, x = zx
    got = losses.neighbors_embedding(t64(z), t64(x), bandwidth=bandwidth)
    want = ref_ne(z, x, bandwidth)
    assert want > 1e-3
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bandwidth", SIGMA_OPTIONS)
def test_ne_reference_is_sensitive_to_bandwidth(zx, bandwidth):
    """The variance in the reference is on Euclidean distances; the same data with v halved differs."""
    z, x = zx
    zl = np.asarray(z).reshape(7, -1).tolist()
    xl = np.asarray(x).reshape(7, -1).tolist()
    full = ref_ne(z, x, bandwidth)
    other = ref_ne(z, x, bandwidth, ref_pair_distance_variance(zl) / 2, ref_pair_distance_variance(xl) / 2)
    assert abs(full - other) > 1e-4


def test_ne_float32_close_to_float64(zx):
    z, x = zx
    got = losses.neighbors_embedding(t64(z).float(), t64(x).float())
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), torch.tensor(ref_ne(z, x, "sigma_sq_is_var"), dtype=torch.float64),
                               rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------------------------------
# 2. invariances: KL = 0 iff the two neighbour structures agree


def _zero(value):
    torch.testing.assert_close(value, torch.zeros((), dtype=torch.float64), rtol=0, atol=1e-12)


@pytest.mark.parametrize("bandwidth", NE_BANDWIDTHS)
def test_ne_zero_for_identical_structure(bandwidth):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(9, 4))
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    _zero(losses.neighbors_embedding(t64(z), t64(z), bandwidth=bandwidth))
    _zero(losses.neighbors_embedding(t64(z), t64(z @ q), bandwidth=bandwidth))
    _zero(losses.neighbors_embedding(t64(z), t64(z + rng.normal(size=(1, 4)) * 10), bandwidth=bandwidth))
    perm = np.roll(np.arange(9), 1)
    assert losses.neighbors_embedding(t64(z), t64(z[perm]), bandwidth=bandwidth) > 1e-3


def test_ne_scale_invariance_tells_options_apart():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(9, 3))
    _zero(losses.neighbors_embedding(t64(z), t64(3.7 * z), bandwidth="sigma_sq_is_var"))
    assert losses.neighbors_embedding(t64(z), t64(3.7 * z), bandwidth="sigma_is_var") > 1e-3
    assert losses.neighbors_embedding(t64(z), t64(3.7 * z), bandwidth="joint") > 1e-3


def test_ne_coincident_points_are_finite():
    z = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = torch.zeros(5, 3, dtype=torch.float64, requires_grad=True)
    for detach in (True, False):
        value = losses.neighbors_embedding(z, x, detach_sigma=detach)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(x.grad).all()
        x.grad = None


# --------------------------------------------------------------------------------------------------
# 3. gradients of neighbors_embedding


@pytest.mark.parametrize("bandwidth", NE_BANDWIDTHS)
def test_ne_gradcheck_full_function(zx, bandwidth):
    z, x = (t64(a).requires_grad_(True) for a in zx)
    detach = bandwidth == "joint"  # sigma-free: detaching nothing must still be exact
    assert torch.autograd.gradcheck(
        lambda z_, x_: losses.neighbors_embedding(z_, x_, bandwidth=bandwidth, detach_sigma=detach), (z, x))
    if bandwidth != "joint":
        assert torch.autograd.gradcheck(
            lambda z_, x_: losses.neighbors_embedding(z_, x_, bandwidth=bandwidth, detach_sigma=False), (z, x))


@pytest.mark.parametrize("bandwidth", SIGMA_OPTIONS)
def test_ne_detached_sigma_gradient_is_fixed_bandwidth_gradient(zx, bandwidth):
    """detach_sigma=True: the gradient is the finite difference of Eq. 2 with both bandwidths held fixed."""
    z0, x0 = zx
    z, x = (t64(a).requires_grad_(True) for a in zx)
    value = losses.neighbors_embedding(z, x, bandwidth=bandwidth, detach_sigma=True)
    gz, gx = torch.autograd.grad(value, (z, x))
    var_z = ref_pair_distance_variance(z0.reshape(7, -1).tolist())
    var_x = ref_pair_distance_variance(x0.reshape(7, -1).tolist())

    def fd(arr, f, h=1e-6):
        out = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            up, dn = arr.copy(), arr.copy()
            up[idx] += h
            dn[idx] -= h
            out[idx] = (f(up) - f(dn)) / (2 * h)
        return out

    fd_z = fd(z0, lambda a: ref_ne(a, x0, bandwidth, var_z, var_x))
    fd_x = fd(x0, lambda a: ref_ne(z0, a, bandwidth, var_z, var_x))
    torch.testing.assert_close(gz, t64(fd_z), rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(gx, t64(fd_x), rtol=1e-5, atol=1e-8)
    gz_full, gx_full = torch.autograd.grad(
        losses.neighbors_embedding(z, x, bandwidth=bandwidth, detach_sigma=False), (z, x))
    assert (gx_full - gx).abs().max() > 1e-6


# --------------------------------------------------------------------------------------------------
# 4. gradient matching


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _linear_score(w, b):
    return lambda x: torch.sigmoid(x.flatten(1) @ w + b)


def test_gradient_matching_closed_form():
    rng = np.random.default_rng(3)
    w, b = rng.normal(size=6), 0.3
    x_real, x_fake = rng.normal(size=(5, 2, 3)), rng.normal(size=(4, 2, 3)) + 0.5
    m1, m2 = 0.7, 1.3

    def stats(x):
        x = x.reshape(len(x), -1)
        s = _sigmoid(x @ w + b)
        return s.mean(), (s * (1 - s) * np.linalg.norm(w)).mean(), np.abs(s * (1 - s) * (x @ w)).mean()

    (sr, nr, ir), (sf, nf, i_f) = stats(x_real), stats(x_fake)
    want = abs(sr - sf) + m1 * (nr - nf) ** 2 + m2 * (ir - i_f) ** 2
    got = losses.gradient_matching(_linear_score(t64(w), b), t64(x_real), t64(x_fake), lambda_m1=m1, lambda_m2=m2)
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64))
    # each term separately, so a term with the wrong sign or weight cannot hide behind the others
    for l1, l2, term in ((1.0, 0.0, (nr - nf) ** 2), (0.0, 1.0, (ir - i_f) ** 2)):
        got = losses.gradient_matching(_linear_score(t64(w), b), t64(x_real), t64(x_fake), l1, l2)
        torch.testing.assert_close(got, torch.tensor(abs(sr - sf) + term, dtype=torch.float64))


def test_gradient_matching_real_side_is_a_constant():
    """No graph from the real side: D's parameters get gradient through the fake side only."""
    rng = np.random.default_rng(15)
    w0, b = rng.normal(size=3), 0.2
    x_real, x_fake = rng.normal(size=(5, 3)), rng.normal(size=(6, 3))
    s = _sigmoid(x_real @ w0 + b)
    c_s, c_n, c_i = s.mean(), (s * (1 - s)).mean() * np.linalg.norm(w0), np.abs(s * (1 - s) * (x_real @ w0)).mean()

    w = t64(w0).requires_grad_(True)
    got = torch.autograd.grad(losses.gradient_matching(_linear_score(w, b), t64(x_real), t64(x_fake)), w)[0]
    sf = torch.sigmoid(t64(x_fake) @ w + b)
    want_loss = ((c_s - sf.mean()).abs() + (c_n - (sf * (1 - sf)).mean() * w.norm()) ** 2
                 + (c_i - (sf * (1 - sf) * (t64(x_fake) @ w)).abs().mean()) ** 2)
    torch.testing.assert_close(got, torch.autograd.grad(want_loss, w)[0])


def test_gradient_matching_zero_for_same_batch():
    rng = np.random.default_rng(4)
    w = t64(rng.normal(size=3))
    x = t64(rng.normal(size=(6, 3)))
    _zero(losses.gradient_matching(_linear_score(w, -0.2), x, x.clone()))


def test_gradient_matching_without_lambdas_is_score_distance():
    rng = np.random.default_rng(5)
    w = t64(rng.normal(size=3))
    D = _linear_score(w, 0.1)
    x_real, x_fake = t64(rng.normal(size=(6, 3))), t64(rng.normal(size=(6, 3)))
    got = losses.gradient_matching(D, x_real, x_fake, lambda_m1=0.0, lambda_m2=0.0)
    torch.testing.assert_close(got, losses.score_distance_gen(D(x_real), D(x_fake)))
    assert got > 1e-3


def _quadratic_score():
    """A score whose input gradient depends non-trivially on x (so the double backprop matters)."""
    gen = torch.Generator().manual_seed(6)
    w1 = torch.randn(3, 5, dtype=torch.float64, generator=gen)
    w2 = torch.randn(5, dtype=torch.float64, generator=gen)
    return lambda x: torch.sigmoid(torch.tanh(x @ w1) @ w2)


def test_gradient_matching_reaches_generator_through_gradient_terms():
    gen = torch.Generator().manual_seed(7)
    D = _quadratic_score()
    x_real = torch.randn(8, 3, dtype=torch.float64, generator=gen)
    z = torch.randn(8, 2, dtype=torch.float64, generator=gen)
    A = torch.randn(2, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    x_real.requires_grad_(True)

    def grad_of(l1, l2):
        loss = losses.gradient_matching(D, x_real, z @ A, lambda_m1=l1, lambda_m2=l2)
        return torch.autograd.grad(loss, A)[0]

    g_score = grad_of(0.0, 0.0)
    for l1, l2 in ((1.0, 0.0), (0.0, 1.0)):
        g_term = grad_of(l1, l2) - g_score  # gradient of the lambda_m term alone
        assert g_term.abs().max() > 1e-4

    loss = losses.gradient_matching(D, x_real, z @ A, 1.0, 1.0)
    loss.backward()
    assert x_real.grad is None  # the real side is a constant
    assert A.grad is not None


def test_gradient_matching_gradcheck_wrt_fake():
    gen = torch.Generator().manual_seed(8)
    D = _quadratic_score()
    x_real = torch.randn(6, 3, dtype=torch.float64, generator=gen)
    x_fake = torch.randn(5, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    for l1, l2 in ((1.0, 0.0), (0.0, 1.0), (0.5, 2.0)):
        assert torch.autograd.gradcheck(lambda xf: losses.gradient_matching(D, x_real, xf, l1, l2), (x_fake,))


def _relu_logit(leak=0.0, seed=9, stacked_seeds=None):
    """A two-hidden-layer (Leaky)ReLU MLP logit, x (n, 3) -> (n, 1), or per seed (S, n, 3) -> (S, n, 1)."""
    gen = torch.Generator().manual_seed(seed)
    lead = () if stacked_seeds is None else (stacked_seeds,)
    shapes = [(3, 7), (7,), (7, 5), (5,), (5, 1), (1,)]
    w1, b1, w2, b2, w3, b3 = (torch.randn(*lead, *s, dtype=torch.float64, generator=gen) for s in shapes)

    def lin(h, w, b):
        return h @ w + (b if stacked_seeds is None else b[:, None, :])

    act = lambda h: torch.nn.functional.leaky_relu(h, leak)
    return lambda x: lin(act(lin(act(lin(x, w1, b1)), w2, b2)), w3, b3)


@pytest.mark.parametrize("leak", [0.0, 0.1])
@pytest.mark.parametrize("l1, l2", [(1.0, 0.0), (0.0, 1.0), (0.7, 1.3), (0.0, 0.0)])
def test_gradient_matching_linearized_equals_double_backward_for_relu_nets(leak, l1, l2):
    """Same value and same gradient w.r.t. the fake batch (what reaches net_G) as the double backward."""
    gen = torch.Generator().manual_seed(10)
    D_logit = _relu_logit(leak)
    x_real = torch.randn(9, 3, dtype=torch.float64, generator=gen)
    x_fake = torch.randn(8, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    want = losses.gradient_matching(lambda x: torch.sigmoid(D_logit(x)), x_real, x_fake, l1, l2)
    got = losses.gradient_matching_linearized(D_logit, x_real, x_fake, l1, l2)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(torch.autograd.grad(got, x_fake)[0], torch.autograd.grad(want, x_fake)[0])


def test_gradient_matching_linearized_stacked_equals_per_seed():
    gen = torch.Generator().manual_seed(11)
    S = 3
    D_stacked = _relu_logit(0.1, stacked_seeds=S)
    x_real = torch.randn(S, 6, 3, dtype=torch.float64, generator=gen)
    x_fake = torch.randn(S, 5, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    want = losses.gradient_matching(lambda x: torch.sigmoid(D_stacked(x)), x_real, x_fake, 0.5, 2.0, stacked=True)
    got = losses.gradient_matching_linearized(D_stacked, x_real, x_fake, 0.5, 2.0, stacked=True)
    assert got.shape == (S,)
    torch.testing.assert_close(got, want)
    g_got, = torch.autograd.grad(got.sum(), x_fake)
    g_want, = torch.autograd.grad(want.sum(), x_fake)
    torch.testing.assert_close(g_got, g_want)


def test_gradient_matching_linearized_is_wrong_for_curved_nets():
    """The requirement is real: with tanh the input gradient varies with x and the shortcut misses that."""
    gen = torch.Generator().manual_seed(12)
    w1 = torch.randn(3, 5, dtype=torch.float64, generator=gen)
    w2 = torch.randn(5, dtype=torch.float64, generator=gen)
    D_logit = lambda x: torch.tanh(x @ w1) @ w2
    x_real = torch.randn(6, 3, dtype=torch.float64, generator=gen)
    x_fake = torch.randn(6, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    want = losses.gradient_matching(lambda x: torch.sigmoid(D_logit(x)), x_real, x_fake, 1.0, 1.0)
    got = losses.gradient_matching_linearized(D_logit, x_real, x_fake, 1.0, 1.0)
    torch.testing.assert_close(got, want)  # values agree: only the gradient relies on linearity
    g_got, = torch.autograd.grad(got, x_fake)
    g_want, = torch.autograd.grad(want, x_fake)
    assert (g_got - g_want).abs().max() > 1e-3


# --------------------------------------------------------------------------------------------------
# 5. gradient penalty


def test_gradient_penalty_linear_critic():
    rng = np.random.default_rng(9)
    w = rng.normal(size=4) * 0.4
    wt = t64(w).requires_grad_(True)
    x_real, x_fake = t64(rng.normal(size=(5, 2, 2))), t64(rng.normal(size=(5, 2, 2)))
    gp = losses.gradient_penalty(lambda x: x.flatten(1) @ wt + 0.5, x_real, x_fake,
                                 generator=torch.Generator().manual_seed(0))
    norm = np.linalg.norm(w)
    torch.testing.assert_close(gp, torch.tensor((norm - 1) ** 2, dtype=torch.float64))
    gp.backward()  # create_graph: the penalty trains the critic
    torch.testing.assert_close(wt.grad, t64(2 * (norm - 1) * w / norm))


def test_gradient_penalty_quadratic_critic_with_given_mu():
    rng = np.random.default_rng(10)
    x_real, x_fake = rng.normal(size=(4, 3, 1)), rng.normal(size=(4, 3, 1))
    mu = np.array([0.0, 0.25, 0.6, 1.0])
    x_hat = mu[:, None, None] * x_real + (1 - mu[:, None, None]) * x_fake
    want = np.mean([(np.linalg.norm(x_hat[i]) - 1) ** 2 for i in range(4)])
    D = lambda x: 0.5 * (x ** 2).flatten(1).sum(1, keepdim=True)  # noqa: E731  (n, 1) output accepted
    got = losses.gradient_penalty(D, t64(x_real), t64(x_fake), mu=t64(mu))
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64))


def test_gradient_penalty_draws_mu_from_generator():
    gen = torch.Generator().manual_seed(11)
    x_real, x_fake = torch.randn(6, 3, generator=gen), torch.randn(6, 3, generator=gen)
    D = lambda x: 0.5 * (x ** 2).sum(1)  # noqa: E731
    got = losses.gradient_penalty(D, x_real, x_fake, generator=torch.Generator().manual_seed(3))
    mu = torch.rand(6, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(got, losses.gradient_penalty(D, x_real, x_fake, mu=mu))


# --------------------------------------------------------------------------------------------------
# 6. the remaining losses against hand computations


def test_gngan_dis_log_and_hinge():
    lr, lc, lf = np.array([0.3, -1.2, 2.0]), np.array([0.5, -0.4]), np.array([-0.7, 1.1, 0.2, -2.5])
    alpha = 0.05
    s = _sigmoid
    want_log = -((1 - alpha) * np.mean(np.log(s(lr))) + alpha * np.mean(np.log(s(lc))) + np.mean(np.log(1 - s(lf))))
    want_hinge = -((1 - alpha) * np.mean(s(lr)) + alpha * np.mean(s(lc)) - np.mean(s(lf)))
    got_log = losses.gngan_dis(t64(lr), t64(lc)[:, None], t64(lf), alpha=alpha, loss="log")
    got_hinge = losses.gngan_dis(t64(lr)[:, None], t64(lc), t64(lf), alpha=alpha, loss="hinge")
    torch.testing.assert_close(got_log, torch.tensor(want_log, dtype=torch.float64))
    torch.testing.assert_close(got_hinge, torch.tensor(want_hinge, dtype=torch.float64))
    # alpha weighs the reconstructions
    got = losses.gngan_dis(t64(lr), t64(lc), t64(lf), alpha=0.3, loss="log")
    want = -(0.7 * np.mean(np.log(s(lr))) + 0.3 * np.mean(np.log(s(lc))) + np.mean(np.log(1 - s(lf))))
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64))


def test_gngan_dis_with_reconstructions_labelled_fake_as_the_authors_2d_code():
    lr, lc, lf = np.array([0.3, -1.2, 2.0]), np.array([0.5, -0.4]), np.array([-0.7, 1.1, 0.2, -2.5])
    s = _sigmoid
    # distgan_toy2d.py: D_loss = (d_loss_real + d_loss_recon) * 0.5 + d_loss_fake, reconstructions with label 0
    want = (0.5 * (-np.mean(np.log(s(lr))) - np.mean(np.log(1 - s(lc)))) - np.mean(np.log(1 - s(lf))))
    got = losses.gngan_dis(t64(lr), t64(lc), t64(lf), alpha=0.5, loss="log", recon_label="fake")
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64))
    want_hinge = -(0.5 * np.mean(s(lr)) - 0.5 * np.mean(s(lc)) - np.mean(s(lf)))
    got_hinge = losses.gngan_dis(t64(lr), t64(lc), t64(lf), alpha=0.5, loss="hinge", recon_label="fake")
    torch.testing.assert_close(got_hinge, torch.tensor(want_hinge, dtype=torch.float64))
    with pytest.raises(ValueError, match="unknown reconstruction label 'none'"):
        losses.gngan_dis(t64(lr), t64(lc), t64(lf), recon_label="none")


def test_gngan_dis_large_logits_stay_finite():
    worst = torch.tensor([-50.0, -50.0])
    got = losses.gngan_dis(worst, worst, -worst, alpha=0.05, loss="log")
    # -log sigmoid(-50) = 50 + log1p(e^-50) = 50 to float32 precision, and likewise for each term
    torch.testing.assert_close(got, torch.tensor(100.0))
    best = losses.gngan_dis(-worst, -worst, worst, loss="log")
    assert torch.isfinite(best) and 0 <= best < 1e-20
    hinge = losses.gngan_dis(-worst, -worst, worst, loss="hinge")
    torch.testing.assert_close(hinge, torch.tensor(-1.0))


def test_gan_and_wgan_losses():
    lr, lf = np.array([0.4, -1.0, 3.0]), np.array([-0.2, 0.9])
    s = _sigmoid
    torch.testing.assert_close(losses.gan_dis(t64(lr), t64(lf)[:, None]),
                               torch.tensor(-np.mean(np.log(s(lr))) - np.mean(np.log(1 - s(lf))), dtype=torch.float64))
    torch.testing.assert_close(losses.gan_gen(t64(lf)), torch.tensor(-np.mean(np.log(s(lf))), dtype=torch.float64))
    torch.testing.assert_close(losses.wgan_dis(t64(lr), t64(lf)), torch.tensor(lf.mean() - lr.mean(), dtype=torch.float64))
    torch.testing.assert_close(losses.wgan_gen(t64(lf)[:, None]), torch.tensor(-lf.mean(), dtype=torch.float64))


def test_score_distance_and_reconstruction():
    sr, sf = np.array([0.9, 0.8, 0.6]), np.array([0.1, 0.5])
    torch.testing.assert_close(losses.score_distance_gen(t64(sr), t64(sf)),
                               torch.tensor(abs(sr.mean() - sf.mean()), dtype=torch.float64))
    torch.testing.assert_close(losses.score_distance_gen(t64(sf), t64(sr)),
                               torch.tensor(abs(sr.mean() - sf.mean()), dtype=torch.float64))
    rng = np.random.default_rng(12)
    x, xr = rng.normal(size=(3, 2, 2)), rng.normal(size=(3, 2, 2))
    torch.testing.assert_close(losses.reconstruction_ae(t64(x), t64(xr)),
                               torch.tensor(np.mean((x - xr) ** 2), dtype=torch.float64))


def test_distgan_ae():
    rng = np.random.default_rng(13)
    x, xr = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    z_enc, z = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    f_real, f_fake = rng.normal(size=(4, 8)), rng.normal(size=(4, 8))
    rec = np.mean((x - xr) ** 2)
    for lambda_w, lw in ((None, math.sqrt(2 / 8)), (0.9, 0.9)):
        want = rec + 0.3 * (np.mean(f_real - f_fake) - lw * np.mean(z_enc - z)) ** 2
        got = losses.distgan_ae(t64(x), t64(xr), t64(z_enc), t64(z), t64(f_real), t64(f_fake),
                                lambda_r=0.3, lambda_w=lambda_w)
        torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64))


def test_gngan_ae(zx):
    z, xa = zx
    rng = np.random.default_rng(14)
    x, xr = t64(rng.normal(size=(3, 4))), t64(rng.normal(size=(3, 4)))
    torch.testing.assert_close(losses.gngan_ae(x, xr, None, None, lambda_r=0.0), losses.reconstruction_ae(x, xr))
    got = losses.gngan_ae(x, xr, t64(z), t64(xa), lambda_r=0.5, bandwidth="sigma_is_var")
    want = np.mean((x.numpy() - xr.numpy()) ** 2) + 0.5 * ref_ne(z, xa, "sigma_is_var")
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64))


def test_gngan_ae_stacked_equals_each_seed():
    g = torch.Generator().manual_seed(8)
    x, xr = (torch.rand(3, 5, 2, 2, generator=g, dtype=torch.float64) for _ in range(2))
    z_all, x_all = torch.rand(3, 10, 2, generator=g, dtype=torch.float64), torch.rand(3, 10, 4, generator=g, dtype=torch.float64)
    for lambda_r in (0.0, 0.7):
        stacked = losses.gngan_ae(x, xr, z_all, x_all, lambda_r=lambda_r, stacked=True)
        alone = torch.stack([losses.gngan_ae(x[i], xr[i], z_all[i], x_all[i], lambda_r=lambda_r) for i in range(3)])
        torch.testing.assert_close(stacked, alone, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------------------------------
# 7. bad input


def test_bad_input_raises_helpful_errors():
    z, x = torch.randn(2, 2), torch.randn(2, 5)
    with pytest.raises(ValueError, match="at least 3 points"):
        losses.neighbors_embedding(z, x)
    with pytest.raises(ValueError, match="z has 4 points but x has 5"):
        losses.neighbors_embedding(torch.randn(4, 2), torch.randn(5, 3))
    with pytest.raises(ValueError, match="unknown NE bandwidth 'sigma'"):
        losses.neighbors_embedding(torch.randn(4, 2), torch.randn(4, 3), bandwidth="sigma")
    with pytest.raises(ValueError, match="unknown discriminator loss 'wasserstein'"):
        losses.gngan_dis(torch.zeros(3), torch.zeros(3), torch.zeros(3), loss="wasserstein")
    with pytest.raises(ValueError, match="alpha"):
        losses.gngan_dis(torch.zeros(3), torch.zeros(3), torch.zeros(3), alpha=1.5)
    with pytest.raises(ValueError, match=r"shape \(n,\) or \(n, 1\); got \(3, 2\)"):
        losses.gan_dis(torch.zeros(3, 2), torch.zeros(3))
    with pytest.raises(ValueError, match="same shape"):
        losses.reconstruction_ae(torch.zeros(3, 4), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="same shape"):
        losses.gradient_penalty(lambda x: x.sum(1), torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"mu must have shape \(3,\)"):
        losses.gradient_penalty(lambda x: x.sum(1), torch.zeros(3, 2), torch.zeros(3, 2), mu=torch.zeros(3, 1))
    with pytest.raises(ValueError, match="needs z_all and x_all"):
        losses.gngan_ae(torch.zeros(3, 2), torch.zeros(3, 2), None, None, lambda_r=1.0)
    with pytest.raises(ValueError, match="one value per sample"):
        losses.gradient_matching(lambda x: x, torch.zeros(3, 2), torch.zeros(3, 2))


def test_stacked_gradient_matching_and_penalty_equal_per_seed_values():
    """stacked=True gives each seed's own loss, and each seed's gradient only reaches that seed."""
    torch.manual_seed(0)
    S, n, d = 3, 6, 2
    w = torch.randn(S, d, dtype=torch.float64)

    def score(x):  # a different linear D per seed: (S, n, d) -> (S, n)
        return torch.sigmoid((x * w[:, None, :]).sum(-1))

    x_real = torch.randn(S, n, d, dtype=torch.float64)
    theta = torch.randn(S, 1, d, dtype=torch.float64, requires_grad=True)
    x_fake = torch.randn(S, n, d, dtype=torch.float64) * 2 + theta
    mu = torch.rand(S, n, dtype=torch.float64)
    gradient_matching, gradient_penalty = losses.gradient_matching, losses.gradient_penalty
    stacked_gm = gradient_matching(score, x_real, x_fake, 0.7, 0.3, stacked=True)
    stacked_gp = gradient_penalty(score, x_real, x_fake, mu=mu, stacked=True)
    assert stacked_gm.shape == (S,) and stacked_gp.shape == (S,)
    for s in range(S):
        single = lambda x, s=s: torch.sigmoid(x @ w[s])
        torch.testing.assert_close(stacked_gm[s], gradient_matching(single, x_real[s], x_fake[s], 0.7, 0.3))
        torch.testing.assert_close(stacked_gp[s], gradient_penalty(single, x_real[s], x_fake[s], mu=mu[s]))
    g, = torch.autograd.grad(stacked_gm[1], theta)
    assert g[0].abs().sum() == 0 and g[2].abs().sum() == 0 and g[1].abs().sum() > 0


@pytest.mark.parametrize("bandwidth", ["sigma_sq_is_var", "sigma_is_var", "joint"])
def test_neighbors_embedding_stacked_equals_each_seed(bandwidth):
    g = torch.Generator().manual_seed(5)
    z, x = torch.rand(3, 9, 2, generator=g, dtype=torch.float64), torch.rand(3, 9, 4, generator=g, dtype=torch.float64)
    stacked = losses.neighbors_embedding(z, x, bandwidth, stacked=True)
    alone = torch.stack([losses.neighbors_embedding(z[i], x[i], bandwidth) for i in range(3)])
    torch.testing.assert_close(stacked, alone, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="pass each latent point"):
        losses.neighbors_embedding(z, x[:, :8], bandwidth, stacked=True)


@pytest.mark.parametrize("bandwidth", SIGMA_OPTIONS)
def test_ne_hand_written_gradient_equals_autograd(bandwidth):
    """The fixed-bandwidth NE (hand-written backward) against autograd through the same forward formulas,
    stacked, under vmap (as steps.per_seed calls it) and with only one input requiring a gradient."""
    from gngan.steps import per_seed

    g = torch.Generator().manual_seed(11)
    z = torch.rand(3, 12, 2, generator=g, dtype=torch.float64, requires_grad=True)
    x = torch.rand(3, 12, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)

    def by_autograd(z_, x_):
        flat = [t.reshape(*t.shape[:2], -1) for t in (z_, x_)]
        return losses._kl_off_diagonal(*(losses._joint(t, bandwidth, detach_sigma=True) for t in flat))

    want = by_autograd(z, x)
    want_grads = torch.autograd.grad(want.sum(), (z, x))
    for got in (losses.neighbors_embedding(z, x, bandwidth, stacked=True),
                per_seed(losses.neighbors_embedding, z, x, bandwidth=bandwidth)):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-15)
        for a, b in zip(torch.autograd.grad(got.sum(), (z, x)), want_grads):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-13)
    gx, = torch.autograd.grad(losses.neighbors_embedding(z.detach(), x, bandwidth, stacked=True).sum(), x)
    torch.testing.assert_close(gx, want_grads[1], rtol=1e-9, atol=1e-13)


def test_distgan_ae_in_feature_space_as_the_authors_image_code():
    """The authors' image code: mean((f(x) - f(G(E(x))))^2) + lambda_r (mean(f(G(E(x))) - f(G(z))) - lambda_w mean(E(x) - z))^2."""
    f_x = t64([[1.0, 2.0], [0.0, -1.0]])
    f_rec = t64([[0.0, 2.0], [1.0, 1.0]])
    f_fake = t64([[0.5, 0.5], [0.5, 0.5]])
    z_enc, z = t64([[0.2], [0.4]]), t64([[0.0], [0.0]])
    # reconstruction: squared differences 1, 0, 1, 4 -> mean 1.5; md_x = mean(f_rec - f_fake) = (4 - 2) / 4 = 0.5;
    # md_z = 0.3, lambda_w = sqrt(1 / 2); constraint (0.5 - 0.3 / sqrt(2))^2
    want = 1.5 + 2.0 * (0.5 - 0.3 / math.sqrt(2)) ** 2
    got = losses.distgan_ae(f_x, f_rec, z_enc, z, f_rec, f_fake, lambda_r=2.0)
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64))


def test_alpha_at_follows_the_distgan_image_code():
    assert losses.alpha_at(0.5, 0.9) == 0.5 and losses.alpha_at(0.05, 0.0, "constant") == 0.05
    # tntrung/gan distgan_image/distgan.py (6e67fe3) lines 197-203: w_recon = 0.05 - mu, mu = clip((0.1 t - 0.05) 2, 0, 0.05)
    for t, w_recon in ((0.0, 0.05), (0.5, 0.05), (0.6, 0.03), (0.625, 0.025), (0.7, 0.01), (0.75, 0.0), (1.0, 0.0)):
        assert losses.alpha_at(0.05, t, "distgan_code") == pytest.approx(w_recon, abs=1e-12), t
    assert losses.alpha_at(0.5, 0.625, "distgan_code") == pytest.approx(0.25)
    with pytest.raises(ValueError, match="unknown alpha schedule"):
        losses.alpha_at(0.05, 0.5, "cosine")
    with pytest.raises(ValueError, match="alpha=1.5"):
        losses.alpha_at(1.5, 0.5)
