"""The image sections' training path (config -> nets -> steps -> trainer -> FID evaluator) on tiny CNNs.

The CIFAR-10 dataset is replaced by 48 random images (the trainer's dataset registry is patched), so the
tests need no data files and run in seconds; the Inception evaluator is replaced where only the trainer's
bookkeeping is tested (the notebooks run the real one at smoke budget in CI).
"""

import copy

import pytest
import torch

from gngan import data, experiments, losses, metrics
from gngan.bourgain import sample_latents
from gngan.config import RunConfig
from gngan.data import ImageData
from gngan.steps import Stepper, build_nets, build_optimizers, has_batch_norm, on_each
from gngan.trainer import Trainer

TINY_IMAGES = experiments.IMAGE_BASE.replace(width=0.125, batch_size=8, num_steps=4, eval_every=2,
                                             checkpoint_every=2, fid_real=16, fid_fake=16)
ALL = {f"{sec}/{m}": cfgs[0] for sec in experiments.IMAGE_SECTIONS
       for m, cfgs in experiments.image_configs(sec, "paper").items()}


@pytest.fixture(autouse=True)
def tiny_cifar(monkeypatch):
    images = torch.randint(0, 256, (48, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    monkeypatch.setitem(data.DATASETS, "cifar10", lambda: ImageData("cifar10", images))
    stl = torch.randint(0, 256, (20, 3, 48, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    monkeypatch.setitem(data.DATASETS, "stl10", lambda: ImageData("stl10", stl))
    return images


def _stepper(config):
    dataset = data.make_dataset(config.data)
    nets = build_nets(config, dataset.x_dim)
    return Stepper(config, nets, build_optimizers(config, nets), [dataset.sampler(torch.Generator().manual_seed(0))],
                   [torch.Generator().manual_seed(1)], torch.device("cpu"), [config.seed])


def _params(nets):
    return {f"{k}.{n}": p.detach().clone() for k, m in nets.modules().items() for n, p in m.named_parameters()}


def _tiny(config):
    return config.replace(width=0.125, batch_size=8, d_steps=min(config.d_steps, 2))


@pytest.mark.parametrize("key", sorted(ALL))
def test_every_image_method_trains_its_networks(key):
    config = _tiny(ALL[key])
    st = _stepper(config)
    before = _params(st.nets)
    out = st.iteration()
    assert all(torch.isfinite(v).all() for v in out.values()), out
    after = _params(st.nets)
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    expected = {"net_G", "net_D"} | ({"net_E"} if config.method in ("gngan", "distgan") else set())
    assert changed == expected, (key, changed)
    assert (st.nets.net_E is not None) == (config.method in ("gngan", "distgan"))
    sn = any(hasattr(m, "parametrizations") for m in st.nets.net_D.modules())
    assert sn == (config.method == "sngan")


def test_paper_budget_follows_the_paper():
    ab = experiments.image_configs("03_ablation", "paper")
    assert set(ab) == {"distgan", "gngan_orig", "gngan_ne", "gngan_gm", "gngan_ne_gm"}
    ne_gm = ab["gngan_ne_gm"][0]
    assert (ne_gm.lr, ne_gm.beta1, ne_gm.beta2, ne_gm.batch_size, ne_gm.z_dim) == (2e-4, 0.5, 0.9, 64, 128)
    assert (ne_gm.lambda_p, ne_gm.lambda_r, ne_gm.lambda_m1, ne_gm.lambda_m2, ne_gm.alpha) == (1, 1, 1, 1, 0.05)
    assert ne_gm.num_steps == 350_000 and ne_gm.eval_every == 10_000 and ne_gm.dis_loss == "log"
    assert (ne_gm.fid_real, ne_gm.fid_fake) == (10_000, 5_000)
    orig = ab["gngan_orig"][0]
    assert (orig.lambda_r, orig.lambda_m1, orig.lambda_m2) == (0, 0, 0)
    t3 = experiments.image_configs("04_table3", "paper")
    assert t3["gngan_hinge"][0].dis_loss == "hinge" and t3["gngan_hinge"][0].num_steps == 200_000
    assert t3["sngan"][0].spectral_norm and t3["sngan"][0].lambda_p == 0
    fig7 = experiments.image_configs("05_gan_ne_gm", "paper")
    assert [(fig7[k][0].lambda_r > 0, fig7[k][0].gen_loss) for k in ("gan", "gan_ne", "gan_gm", "gan_ne_gm")] == [
        (False, "own"), (True, "own"), (False, "gm"), (True, "gm")]
    assert {k for k in t3 if k.endswith(("_stl10", "_resnet"))} == {
        "gngan_hinge_stl10", "distgan_hinge_stl10", "sngan_stl10", "wgangp_stl10", "gngan_hinge_resnet", "sngan_resnet"}
    assert t3["sngan_stl10"][0].image_size == 48 and t3["gngan_hinge_resnet"][0].arch == "resnet"
    assert not any(k.endswith(("_stl10", "_resnet")) for k in experiments.image_configs("04_table3", "cpu"))
    with pytest.raises(ValueError, match="unknown image section"):
        experiments.image_configs("06_x", "cpu")
    with pytest.raises(ValueError, match="unknown 03_ablation methods"):
        experiments.image_configs("03_ablation", "cpu", methods=["sngan"])


@pytest.mark.parametrize("change, message", [
    ({"arch": "mlp"}, "image data"),
    ({"data": "grid2d"}, "image data"),
    ({"method": "vae", "prior": "normal"}, "2D section only"),
    ({"method": "gngan", "gen_loss": "gm"}, "standard GAN only"),
    ({"width": 0.0}, "width=0.0"),
])
def test_image_config_validation(change, message):
    with pytest.raises(ValueError, match=message):
        TINY_IMAGES.replace(**change)


def test_batch_norm_nets_see_each_batch_alone():
    st = _stepper(TINY_IMAGES)
    g = st.nets.net_G
    assert has_batch_norm(g) and not has_batch_norm(st.nets.net_D) and not has_batch_norm(st.nets.net_D.body)
    a, b = torch.rand(1, 8, 128) * 2 - 1, torch.rand(1, 8, 128) * 2 - 1
    separate = (g(a), g(b))
    for got, want in zip(on_each(g, a, b), separate):
        torch.testing.assert_close(got, want)
    pooled = g(torch.cat([a, b], 1)).split(8, 1)
    assert not torch.allclose(pooled[0], separate[0]), "train-mode batch norm should depend on the batch"


def test_gan_ne_generator_loss_is_gan_loss_plus_ne():
    config = _tiny(ALL["05_gan_ne_gm/gan_ne"]).replace(lambda_r=0.7)
    st = _stepper(config)
    st.d_step()
    sampler_state = st.samplers[0].state_dict()
    noise_state = st.noise_gens[0].get_state()
    # the same draws the G step will make: a real batch, then z
    x = st.samplers[0](config.batch_size)
    z = sample_latents(config, config.batch_size, 0, st.noise_gens[0])
    with torch.no_grad():
        fake = st.nets.net_G(z[None])[0]
        expected = losses.gan_gen(st.nets.net_D(fake[None])[0]) + 0.7 * losses.neighbors_embedding(z, fake)
    st.samplers[0].load_state_dict(sampler_state)
    st.noise_gens[0].set_state(noise_state)
    got = st.g_step()
    torch.testing.assert_close(got[0], expected, rtol=1e-5, atol=1e-6)
    assert x.shape == (config.batch_size, 3, 32, 32)


def test_gan_gm_generator_loss_is_eq13():
    config = _tiny(ALL["05_gan_ne_gm/gan_gm"])
    st = _stepper(config)
    sampler_state, noise_state = st.samplers[0].state_dict(), st.noise_gens[0].get_state()
    x = st.samplers[0](config.batch_size)
    z = sample_latents(config, config.batch_size, 0, st.noise_gens[0])
    fake = st.nets.net_G(z[None])[0].detach()
    score = lambda t: torch.sigmoid(st.nets.net_D(t))
    expected = losses.gradient_matching(score, x, fake, 1.0, 1.0).detach()
    st.samplers[0].load_state_dict(sampler_state)
    st.noise_gens[0].set_state(noise_state)
    torch.testing.assert_close(st.g_step()[0], expected, rtol=1e-5, atol=1e-6)


def test_image_sampler_draws_model_range_and_resumes():
    ds = data.make_dataset("cifar10")
    s = ds.sampler(torch.Generator().manual_seed(3))
    a = s(20)
    assert a.dtype == torch.float32 and a.shape == (20, 3, 32, 32) and a.min() >= -1 and a.max() <= 1
    state = s.state_dict()
    b = s(40)  # crosses the epoch boundary (48 images)
    s.load_state_dict(state)
    torch.testing.assert_close(s(40), b, rtol=0, atol=0)
    with pytest.raises(ValueError, match="uint8 images"):
        ImageData("x", torch.zeros(2, 3, 4, 4))


def test_fid_reference_images_are_a_fixed_subset(tiny_cifar):
    ds = data.make_dataset("cifar10")
    a, b = metrics.fid_reference_images(ds, 10), metrics.fid_reference_images(ds, 10)
    assert torch.equal(a, b) and len(a) == 10
    rows = {tuple(img.flatten().tolist()) for img in tiny_cifar}
    assert all(tuple(img.flatten().tolist()) in rows for img in a)
    with pytest.raises(ValueError, match="fid_real=49 exceeds"):
        metrics.fid_reference_images(ds, 49)


def test_image_runs_train_one_seed_per_process():
    with pytest.raises(ValueError, match="one seed per process"):
        build_nets(TINY_IMAGES, 3 * 32 * 32, [0, 1])


def _cheap_evaluator(nets, dataset, config, seeds, step, device):
    with torch.no_grad():
        x = metrics.generate_images(nets.net_G, config, seeds[0], 8, device)
    return [{"fid": float(x.float().mean())}]


@pytest.mark.parametrize("key", ["03_ablation/gngan_ne_gm", "04_table3/sngan"])
def test_image_run_resumes_exactly(tmp_path, monkeypatch, key):
    monkeypatch.setitem(metrics.EVALUATORS, "cifar10", _cheap_evaluator)
    config = _tiny(ALL[key]).replace(num_steps=4, eval_every=2, checkpoint_every=2)
    full = Trainer(config, tmp_path / "full", progress=False).fit()[0]
    first = Trainer(config, tmp_path / "cut", progress=False)
    original = first.stepper.iteration

    def iteration():
        if first.step == 3:
            raise KeyboardInterrupt
        return original()

    first.stepper.iteration = iteration
    with pytest.raises(KeyboardInterrupt):
        first.fit()
    resumed = Trainer(config, tmp_path / "cut", progress=False)
    assert resumed.step == 2
    assert resumed.fit()[0]["history"] == full["history"]


@pytest.mark.slow
def test_image_evaluator_computes_fid_and_a_sample_grid(tmp_path):
    config = TINY_IMAGES.replace(num_steps=2, eval_every=2, checkpoint_every=2)
    result = Trainer(config, tmp_path / "run", progress=False).fit()[0]
    assert [r["step"] for r in result["history"]] == [0, 2]
    assert all(r["fid"] > 0 for r in result["history"])
    assert "samples_png" in result["final"] and "samples_png" not in result["history"][0]


def test_cpu_budget_fits_about_twelve_cpu_hours():
    """The image sections' cpu budget, costed from the committed timings (benchmarks/bench_image_steps.py)."""
    timing = {"seconds_per_iteration": {f"{sec}/{m} width=0.5": 2.0 for sec in experiments.IMAGE_SECTIONS
                                        for m in experiments.IMAGE_SECTIONS[sec]}, "fid_seconds_per_image": 0.1}
    cost = experiments.image_seconds_per_iteration("04_table3", "cpu", timing)
    c = experiments.image_configs("04_table3", "cpu")["sngan"][0]
    assert cost["sngan"] == pytest.approx(2.0 + c.fid_fake * 0.1 / c.eval_every)
    assert [len(v) for v in experiments.image_configs("03_ablation", "cpu").values()] == [2] * 5
    if experiments.IMAGE_TIMING.exists():
        hours = 0.0
        for sec in experiments.IMAGE_SECTIONS:
            per_it = experiments.image_seconds_per_iteration(sec, "cpu")
            for m, cfgs in experiments.image_configs(sec, "cpu").items():
                hours += per_it[m] * cfgs[0].num_steps * len(cfgs) / 3600
        assert 6 < hours < 13, hours
        assert experiments.image_cpu_hours("cpu") == pytest.approx(hours)
    runs = sum(len(cfgs) for sec in experiments.IMAGE_SECTIONS for cfgs in experiments.image_configs(sec, "cpu").values())
    steps = experiments.image_configs("03_ablation", "cpu")["distgan"][0].num_steps
    assert experiments.image_cpu_hours("cpu", timing) == pytest.approx(runs * steps * (2.0 + c.fid_fake * 0.1 / c.eval_every) / 3600)
    assert experiments.image_cpu_hours("cpu", {"seconds_per_iteration": {}, "fid_seconds_per_image": 0.1}) is None


def _distgan_tiny(budget="gpu", **changes):
    return _tiny(experiments.image_configs("03_ablation", budget)["distgan"][0]).replace(**changes)


def _replay(st):
    """The (x, z) the next step of ``st`` will draw, with its generators put back to draw them again."""
    sampler_state, noise_state = st.samplers[0].state_dict(), st.noise_gens[0].get_state()
    x = st.samplers[0](st.config.batch_size)
    z = sample_latents(st.config, st.config.batch_size, 0, st.noise_gens[0])
    st.samplers[0].load_state_dict(sampler_state)
    st.noise_gens[0].set_state(noise_state)
    return x, z


def test_distgan_image_ae_step_is_the_authors_code():
    """gpu/paper Dist-GAN: reconstruction mean((f(x) - f(G(E(x))))^2) and the constraint with f(G(E(x))), net_D's
    features, lambda_w = sqrt(d_z / d_f); the AE step updates net_E only."""
    config = _distgan_tiny()
    assert (config.alpha, config.distgan_recon, config.distgan_md_x, config.ae_trains) == (0.5, "disc", "recon", "encoder")
    st = _stepper(config)
    x, z = _replay(st)
    n = st.nets
    with torch.no_grad():
        z_enc = n.net_E(x)
        x_rec, fake = n.net_G(z_enc), n.net_G(z)  # separate calls: G's batch norm sees each batch alone
        f_x, f_rec, f_fake = n.net_D.body(x), n.net_D.body(x_rec), n.net_D.body(fake)
        lambda_w = (config.z_dim / f_x.shape[1]) ** 0.5
        want = ((f_x - f_rec) ** 2).mean() + config.lambda_r * (
            (f_rec - f_fake).mean() - lambda_w * (z_enc - z).mean()) ** 2
    before = _params(n)
    got = st.ae_step()
    torch.testing.assert_close(got[0], want, rtol=1e-5, atol=1e-6)
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], _params(n)[k])}
    assert changed == {"net_E"}


def test_distgan_previous_reading_is_gngan_ae_step_with_its_constraint():
    """The stored Dist-GAN runs of the previous reading: pixel reconstruction, f(x), net_E and net_G updated."""
    config = _tiny(experiments.image_configs("03_ablation", "cpu", methods=["distgan_previous"])["distgan_previous"][0])
    assert (config.alpha, config.distgan_recon, config.distgan_md_x, config.ae_trains) == (
        0.05, "data", "real", "encoder_generator")
    st = _stepper(config)
    x, z = _replay(st)
    n = st.nets
    with torch.no_grad():
        z_enc = n.net_E(x)
        x_rec, fake = n.net_G(z_enc), n.net_G(z)
        f_x, f_fake = n.net_D.body(x), n.net_D.body(fake)
        lambda_w = (config.z_dim / f_x.shape[1]) ** 0.5
        want = ((x - x_rec) ** 2).mean() + ((f_x - f_fake).mean() - lambda_w * (z_enc - z).mean()) ** 2
    before = _params(n)
    torch.testing.assert_close(st.ae_step()[0], want, rtol=1e-5, atol=1e-6)
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], _params(n)[k])}
    assert changed == {"net_E", "net_G"}


@pytest.mark.parametrize("schedule, progress, alpha, label", [
    ("constant", 0.0, 0.5, "real"), ("constant", 0.7, 0.5, "real"), ("distgan_code", 0.4, 0.5, "real"),
    ("distgan_code", 0.625, 0.25, "real"), ("distgan_code", 0.8, 0.0, "real"), ("constant", 0.0, 0.5, "fake")])
def test_distgan_d_step_weights_reconstructions_by_alpha(schedule, progress, alpha, label):
    config = _distgan_tiny(num_steps=1000, alpha_schedule=schedule, recon_label=label)
    st = _stepper(config)
    st.step = int(progress * config.num_steps)
    x, z = _replay(st)
    n = st.nets
    with torch.no_grad():
        fake, recon = n.net_G(z), n.net_G(n.net_E(x))
        l_real, l_recon, l_fake = n.net_D(x), n.net_D(recon), n.net_D(fake)
        sp = torch.nn.functional.softplus
        recon_term = sp(-l_recon) if label == "real" else sp(l_recon)
        want = (1 - alpha) * sp(-l_real).mean() + alpha * recon_term.mean() + sp(l_fake).mean()
    loss, _ = st.d_step()
    torch.testing.assert_close(loss[0], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("key, dis_loss", [("gan", "log"), ("gangp", "log"), ("sngan", "hinge"),
                                           ("wgangp", "wasserstein")])
def test_baseline_d_step_applies_the_loss_its_config_names(key, dis_loss):
    section = "05_gan_ne_gm" if key == "gan" else "04_table3"
    config = _tiny(experiments.image_configs(section, "cpu", methods=[key])[key][0])
    assert config.dis_loss == dis_loss
    st = _stepper(config)
    x, z = _replay(st)
    with torch.no_grad():  # one net_D call on both batches, from a copy: spectral norm's power iteration moves on
        fake = st.nets.net_G(z)
        l_real, l_fake = copy.deepcopy(st.nets.net_D)(torch.cat([x, fake], -4)).flatten().split([len(x), len(fake)])
    sp, relu = torch.nn.functional.softplus, torch.relu
    want = {"log": sp(-l_real).mean() + sp(l_fake).mean(),
            "hinge": relu(1 - l_real).mean() + relu(1 + l_fake).mean(),
            "wasserstein": l_fake.mean() - l_real.mean()}[dis_loss]
    loss, _ = st.d_step()
    torch.testing.assert_close(loss[0], want, rtol=1e-5, atol=1e-6)


def test_table3_baselines_use_miyatos_prior_and_init_except_in_their_previous_reading():
    gpu, cpu = experiments.image_configs("04_table3", "gpu"), experiments.image_configs("04_table3", "cpu")
    previous = experiments.previous_reading_configs("04_table3", "cpu")
    for m in ("sngan", "wgangp", "gangp"):
        for budget in (gpu, cpu):
            assert (budget[m][0].prior, budget[m][0].init) == ("normal", "normal02"), m
        assert (previous[m + "_previous"][0].prior, previous[m + "_previous"][0].init) == ("uniform", "reference"), m
    assert (gpu["gngan_hinge"][0].prior, gpu["gngan_hinge"][0].init) == ("uniform", "reference")
    st = _stepper(_tiny(gpu["sngan"][0]))
    z = _replay(st)[1]
    assert z.abs().max() > 1, "N(0, I) draws beyond [-1, 1] among 8 x 128 numbers"
    for net in (st.nets.net_G, st.nets.net_D):
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
                w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
                if w.numel() >= 1000:
                    assert abs(w.std().item() - 0.02) < 0.003, (type(m).__name__, w.std().item())
                assert m.bias is None or not m.bias.any()
