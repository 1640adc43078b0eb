"""Image networks (gngan/cnn.py): shapes, parameter counts, spectral norm, per-sample independence of D."""

import os
import time

import pytest
import torch

from gngan import losses
from gngan.cnn import (ARCHS, CNNDiscriminator, CNNGenerator, ImageEncoder, ResNetDiscriminator,
                       ResNetGenerator, build_image_nets, count_parameters)

W = 1 / 16  # tiny widths: CNN D 4..32 channels, CNN G 32..4, ResNet 16/8, encoder 8..32
Z = 16


def _nets(arch, size, sn=False, width=W):
    torch.manual_seed(0)
    return build_image_nets(arch, size, z_dim=Z, width=width, spectral_norm=sn)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("size", [32, 48])
def test_shapes_with_and_without_seed_axis(arch, size):
    nets = _nets(arch, size)
    G, D, E = nets["net_G"], nets["net_D"], nets["net_E"]
    n = 3
    z = torch.rand(n, Z) * 2 - 1
    x = G(z)
    assert x.shape == (n, 3, size, size)
    assert x.abs().max() <= 1
    assert D(x).shape == (n,)
    assert D.body(x).shape == (n, D.feature_dim)
    assert E(x).shape == (n, Z)
    xs = G(z[None])
    assert xs.shape == (1, n, 3, size, size)
    assert D(xs).shape == (1, n)
    assert D.body(xs).shape == (1, n, D.feature_dim)
    assert E(xs).shape == (1, n, Z)
    # D has no batch norm: any seed axis is fine and equals the flat batch; G and E refuse S > 1.
    xx = torch.rand(2, n, 3, size, size) * 2 - 1
    torch.testing.assert_close(D(xx), D(xx.flatten(0, 1)).view(2, n))
    with pytest.raises(ValueError, match="S > 1"):
        G(torch.rand(2, n, Z))
    with pytest.raises(ValueError, match="S > 1"):
        E(xx)


def test_shape_errors():
    nets = _nets("cnn", 32)
    with pytest.raises(ValueError, match="32x32"):
        nets["net_D"](torch.zeros(2, 3, 48, 48))
    with pytest.raises(ValueError, match="32x32"):
        nets["net_E"](torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="latent"):
        nets["net_G"](torch.zeros(2, Z + 1))
    with pytest.raises(ValueError, match="image_size"):
        build_image_nets("cnn", 64)
    with pytest.raises(ValueError, match="arch"):
        build_image_nets("dcgan", 32)
    with pytest.raises(ValueError, match="width"):
        build_image_nets("cnn", 32, width=0)
    with pytest.raises(ValueError, match="init"):
        build_image_nets("cnn", 32, init="normal")
    assert build_image_nets("resnet", 32, with_encoder=False, width=W)["net_E"] is None
    pt = build_image_nets("resnet", 32, z_dim=Z, width=W, spectral_norm=True, init="pytorch")
    assert pt["net_D"](pt["net_G"](torch.rand(2, Z))).shape == (2,)


def test_parameter_counts_full_width():
    """Hand counts from Miyato et al. Table 3 (weights + biases; no bias before batch norm; BN has
    2 parameters per feature), z_dim = 128."""
    g32 = (128 * 4 * 4 * 512          # dense 128 -> 4x4x512, no bias (BN follows)
           + 2 * 4 * 4 * 512          # BatchNorm1d over the 8192 dense features
           + 512 * 256 * 16 + 2 * 256  # deconv4x4 512->256, BN
           + 256 * 128 * 16 + 2 * 128  # deconv4x4 256->128, BN
           + 128 * 64 * 16 + 2 * 64    # deconv4x4 128->64, BN
           + 64 * 3 * 9 + 3)          # conv3x3 64->3 with bias
    assert g32 == 3_820_099
    g48 = g32 + (128 + 2) * (6 * 6 - 4 * 4) * 512  # dense and its BN grow to 6x6x512
    assert g48 == 5_151_299
    convs = [(3, 64, 3), (64, 64, 4), (64, 128, 3), (128, 128, 4), (128, 256, 3), (256, 256, 4), (256, 512, 3)]
    d_conv = sum(ci * co * k * k + co for ci, co, k in convs)
    assert d_conv == 2_927_680
    d32, d48 = d_conv + 4 * 4 * 512 + 1, d_conv + 6 * 6 * 512 + 1  # dense -> 1 with bias
    assert (d32, d48) == (2_935_873, 2_946_113)
    e32 = (3 * 128 * 25 + 128          # conv5x5 3->128 with bias
           + 128 * 256 * 25 + 2 * 256  # conv5x5 128->256, BN
           + 256 * 512 * 25 + 2 * 512  # conv5x5 256->512, BN
           + 4 * 4 * 512 * 128 + 128)  # linear 8192 -> 128
    assert e32 == 5_155_968
    for size, g, d, e in [(32, g32, d32, e32), (48, g48, d48, e32 + (6 * 6 - 4 * 4) * 512 * 128)]:
        assert count_parameters(CNNGenerator(size)) == g
        assert count_parameters(CNNDiscriminator(size)) == d
        assert count_parameters(CNNDiscriminator(size, spectral_norm=True)) == d  # u, v are buffers
        assert count_parameters(ImageEncoder(size)) == e
    # ResNet (Miyato Table 4): up-block = 2 BN(256) + 2 conv3x3 256->256 + conv1x1 shortcut, all with bias
    up = 2 * 512 + 2 * (256 * 256 * 9 + 256) + 256 * 256 + 256
    rg = 128 * 4 * 4 * 256 + 4 * 4 * 256 + 3 * up + 512 + 256 * 3 * 9 + 3
    assert rg == 4_276_739
    c3 = 128 * 128 * 9 + 128
    rd = (3 * 128 * 9 + 128 + c3 + 3 * 128 + 128) + (2 * c3 + 128 * 128 + 128) + 4 * c3 + 128
    assert rd == 1_053_824
    assert count_parameters(ResNetGenerator(32)) == rg
    assert count_parameters(ResNetDiscriminator(32)) == rd


@pytest.mark.parametrize("arch", ARCHS)
def test_spectral_norm_unit_sigma(arch):
    D = _nets(arch, 32, sn=True, width=1 / 8)["net_D"].train()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        for _ in range(5):
            D(x)
    D.eval()  # read the normalised weights without a further power iteration
    mats = [m for m in D.modules() if hasattr(m, "parametrizations")]
    assert len(mats) == (8 if arch == "cnn" else 11)  # 7 convs + dense; 3 + 3 + 2 + 2 convs + dense
    with torch.no_grad():
        for m in mats:
            w = m.weight
            sigma = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2)
            assert abs(sigma.item() - 1) < 0.05, (m, sigma.item())
    # without spectral norm the weights are far from unit norm (sanity of the check itself)
    D0 = _nets(arch, 32, sn=False, width=1 / 8)["net_D"]
    sig0 = [torch.linalg.matrix_norm(m.weight.detach().reshape(m.weight.shape[0], -1), ord=2).item()
            for m in D0.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert max(abs(s - 1) for s in sig0) > 0.2


@pytest.mark.parametrize("arch", ARCHS)
def test_discriminator_treats_samples_independently(arch):
    D = _nets(arch, 32, sn=True)["net_D"].train()
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    jac = torch.autograd.functional.jacobian(lambda t: D(t), x)  # (3, 3, 3, 32, 32)
    per = jac.flatten(2).abs().sum(-1)  # [i, j] = sum |d D(x)[i] / d x[j]|
    off = per - torch.diag(torch.diag(per))
    assert off.max() == 0
    assert (torch.diag(per) > 0).all()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("sn", [False, True])
def test_double_backprop(arch, sn):
    D = _nets(arch, 32, sn=sn)["net_D"].train()
    x = (torch.rand(1, 4, 3, 32, 32) * 2 - 1).requires_grad_(True)
    g, = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    assert g.shape == x.shape
    D(torch.rand(1, 2, 3, 32, 32))  # another forward (another power iteration) before the backward
    loss = (g.flatten(2).norm(dim=-1) - 1).pow(2).mean()
    loss.backward()
    # every weight receives a finite, non-zero gradient; biases may not (D is piecewise linear, so its
    # input gradient depends on the biases only through the activation pattern: zero or None)
    for name, p in D.named_parameters():
        if name.endswith("bias"):
            assert p.grad is None or (p.grad == 0).all()
        else:
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_timing_full_width_cnn_batch64():
    """Timing print only (run with -s); one thread unless GNGAN_TIMING_THREADS is set."""
    torch.set_num_threads(int(os.environ.get("GNGAN_TIMING_THREADS", "1")))
    torch.manual_seed(0)
    nets = build_image_nets("cnn", 32)
    G, D = nets["net_G"], nets["net_D"]
    z = torch.rand(64, 128) * 2 - 1
    t0 = time.perf_counter()
    G(z).sum().backward()
    t1 = time.perf_counter()
    x = torch.rand(64, 3, 32, 32) * 2 - 1
    D(x).sum().backward()
    t2 = time.perf_counter()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n[timing] full-width CNN, batch 64, CPU, {torch.get_num_threads()} thread(s), load {load:.2f}: "
          f"G fwd+bwd {1e3 * (t1 - t0):.0f} ms, D fwd+bwd {1e3 * (t2 - t1):.0f} ms")


@pytest.mark.parametrize("arch, sn", [("cnn", False), ("cnn", True), ("resnet", False), ("resnet", True)])
def test_every_image_discriminator_admits_the_linearized_gradient_matching(arch, sn):
    """gm_backward='linear' assumes net_D's logit is piecewise linear in x: check it on each image net_D
    (with spectral norm in eval mode, so both computations see the same normalised weights)."""
    nets = _nets(arch, 32, sn=sn)
    net_G, net_D = nets["net_G"].double(), nets["net_D"].double().eval()
    gen = torch.Generator().manual_seed(1)
    z = torch.rand(6, Z, dtype=torch.float64, generator=gen) * 2 - 1
    x_real = torch.rand(6, 3, 32, 32, dtype=torch.float64, generator=gen) * 2 - 1
    grads = []
    for gm in (lambda f: losses.gradient_matching(lambda x: torch.sigmoid(net_D(x)), x_real, f, 1.0, 1.0),
               lambda f: losses.gradient_matching_linearized(net_D, x_real, f, 1.0, 1.0)):
        loss = gm(net_G(z))
        grads.append([loss] + list(torch.autograd.grad(loss, list(net_G.parameters()))))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)
