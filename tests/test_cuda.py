"""The image path on a CUDA GPU: every method's iteration agrees with the CPU's, a run resumes on the GPU as if
never stopped, and the FID features agree with the CPU's. Skipped without a GPU; tools/gpu-run.sh runs this
file on the device machine before it trains."""

import pytest
import torch

from gngan import data, experiments, fid, metrics
from gngan.data import ImageData
from gngan.steps import Stepper, build_nets, build_optimizers
from gngan.trainer import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

GPU_METHODS = {f"{sec}/{m}": cfgs[0] for sec in experiments.GPU_SECTION_ORDER
               for m, cfgs in experiments.image_configs(sec, "gpu").items()}


@pytest.fixture(autouse=True)
def fp32_and_random_images(monkeypatch):
    """fp32 everywhere (PyTorch's default lets cuDNN convolutions run in TF32) and 48 random images for CIFAR-10."""
    flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.deterministic
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic = True
    images = torch.randint(0, 256, (48, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    monkeypatch.setitem(data.DATASETS, "cifar10", lambda: ImageData("cifar10", images))
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.deterministic = flags


def _tiny(config):
    fields = {"width": 0.25, "batch_size": 16}
    if "precision" in type(config).__dataclass_fields__:
        fields["precision"] = "fp32"
    return config.replace(**fields)


def _one_iteration(config, device):
    """(losses, {network: all its parameters' changes in the iteration as one vector}) of one iteration."""
    dataset = data.make_dataset(config.data)
    nets = build_nets(config, dataset.x_dim)
    for m in nets.modules().values():
        m.to(device)
    st = Stepper(config, nets, build_optimizers(config, nets), [dataset.sampler(torch.Generator().manual_seed(0))],
                 [torch.Generator().manual_seed(1)], torch.device(device), [config.seed])
    before = {k: [p.detach().cpu().clone() for p in m.parameters()] for k, m in nets.modules().items()}
    losses = {k: v.cpu() for k, v in st.iteration().items()}
    updates = {k: torch.cat([(p.detach().cpu() - b).flatten() for p, b in zip(m.parameters(), before[k])])
               for k, m in nets.modules().items()}
    return losses, updates


# How far a network's update may differ, ||gpu - cpu|| / ||cpu||. Not a rounding-level bound: Adam's first step is
# lr * g / (|g| + eps), so elements whose gradient is round-off sized move by up to lr either way, and the later
# steps of the iteration (AE, then G; 5 D steps) see those weights. float32 against float64 on the CPU (width 0.25,
# batch 16) moved the updates by up to 0.155 (net_G of sngan and gangp; 1e-4 to 7e-2 elsewhere) and single
# elements by 2 lr, while the losses agreed to 1e-3 of their tolerance: the losses are the precise check; this one
# catches an update that goes wrong on the whole (none: 1.0; reversed: 2.0).
UPDATE_TOLERANCE = 0.5


@pytest.mark.parametrize("key", sorted(GPU_METHODS))
def test_an_iteration_on_the_gpu_equals_the_cpus(key):
    config = _tiny(GPU_METHODS[key])
    cpu_losses, cpu_updates = _one_iteration(config, "cpu")
    gpu_losses, gpu_updates = _one_iteration(config, "cuda")
    for k, v in cpu_losses.items():
        torch.testing.assert_close(gpu_losses[k], v, rtol=1e-3, atol=1e-4, msg=f"{key} loss {k}")
    moved = {k: float((gpu_updates[k].double() - v.double()).norm() / v.double().norm()) for k, v in cpu_updates.items()}
    assert all(m <= UPDATE_TOLERANCE for m in moved.values()), f"{key}: the updates differ by {moved}"


def _cheap_evaluator(nets, dataset, config, seeds, step, device):
    with torch.no_grad():
        x = metrics.generate_images(nets.net_G, config, seeds[0], 8, device)
    return [{"fid": float(x.float().mean())}]


@pytest.mark.parametrize("key", ["03_ablation/gngan_ne_gm", "04_table3/wgangp"])
def test_a_run_resumes_on_the_gpu_as_if_never_stopped(tmp_path, monkeypatch, key):
    monkeypatch.setitem(metrics.EVALUATORS, "cifar10", _cheap_evaluator)
    config = _tiny(GPU_METHODS[key]).replace(num_steps=4, eval_every=2, checkpoint_every=2)
    full = Trainer(config, tmp_path / "full", device="cuda", progress=False).fit()[0]
    first = Trainer(config, tmp_path / "cut", device="cuda", progress=False)
    original = first.stepper.iteration

    def iteration():
        if first.step == 3:
            raise KeyboardInterrupt
        return original()

    first.stepper.iteration = iteration
    with pytest.raises(KeyboardInterrupt):
        first.fit()
    resumed = Trainer(config, tmp_path / "cut", device="cuda", progress=False)
    assert resumed.step == 2
    got = resumed.fit()[0]["history"]
    assert [r["step"] for r in got] == [r["step"] for r in full["history"]]
    for a, b in zip(got, full["history"]):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-6)


def test_fid_features_on_the_gpu_equal_the_cpus():
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    on_cpu = fid.inception_features(images, batch_size=8, device="cpu")
    torch.backends.cudnn.allow_tf32 = True  # the features must be fp32 whatever the training run set
    on_gpu = fid.inception_features(images, batch_size=8, device="cuda")
    assert abs(on_gpu - on_cpu).max() < 1e-3 * max(1.0, abs(on_cpu).max())


@pytest.mark.parametrize("key", ["03_ablation/gngan_ne_gm", "04_table3/wgangp"])
def test_an_iteration_synchronizes_with_the_host_once(key):
    """The batches drawn on the CPU reach the GPU without waiting (page-locked, non-blocking) and the losses are
    checked for finiteness once an iteration: one synchronizing call, where a blocking copy per batch and a check
    per update made several (WGAN-GP: 5 D steps)."""
    config = _tiny(GPU_METHODS[key])
    dataset = data.make_dataset(config.data)
    nets = build_nets(config, dataset.x_dim)
    for m in nets.modules().values():
        m.to("cuda")
    st = Stepper(config, nets, build_optimizers(config, nets), [dataset.sampler(torch.Generator().manual_seed(0))],
                 [torch.Generator().manual_seed(1)], torch.device("cuda"), [config.seed])
    st.iteration()  # warm-up: first calls allocate, load kernels, create handles
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with pytest.warns(UserWarning) as caught:
            st.iteration()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert len(syncs) == 1, [str(w.message).splitlines()[0] for w in syncs]
