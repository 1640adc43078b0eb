"""RunConfig.precision: the process-wide flags it sets and restores, autocast around the forward computations
only, what the manifest records, and gngan.costs.precision_agreement (with TF32 emulated on the CPU, since
the TF32 flags do nothing here)."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from gngan import costs, experiments, losses, steps
from gngan.config import RunConfig
from gngan.steps import Stepper, flags_in_effect, precision_flags
from gngan.trainer import Trainer

TINY = RunConfig(method="gngan", num_steps=4, eval_every=2, checkpoint_every=2, eval_samples=60, batch_size=16,
                 d_steps=1, lambda_r=0.5)
# GN-GAN (+NE+GM) on the CIFAR-10 CNN at 1/8 width, batch 8 (random images: no dataset needed)
IMAGE = experiments.IMAGE_SECTIONS["03_ablation"]["gngan_ne_gm"].replace(width=0.125, batch_size=8)


def _flags():
    return (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
            torch.get_float32_matmul_precision())


@pytest.fixture
def odd_flags():
    """Flags no precision sets (matmul TF32 on, cuDNN's off), restored to torch's defaults after the test."""
    torch.set_float32_matmul_precision("high")
    torch.backends.cudnn.allow_tf32 = False
    yield _flags()
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.allow_tf32 = True


@pytest.mark.parametrize("precision, inside", [("fp32", (False, False, "highest")), ("tf32", (True, True, "high")),
                                               ("bf16", (False, False, "highest"))])
def test_precision_flags_set_and_restore(odd_flags, precision, inside):
    with precision_flags(precision):
        assert _flags() == inside
    assert _flags() == odd_flags
    with pytest.raises(KeyError), precision_flags(precision):
        raise KeyError("the body fails")
    assert _flags() == odd_flags


def test_precision_flags_restore_a_medium_matmul_precision():
    torch.set_float32_matmul_precision("medium")
    try:
        with precision_flags("fp32"):
            assert torch.get_float32_matmul_precision() == "highest"
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision("highest")


def test_flags_stay_readable_when_other_code_sets_allow_tf32_afterwards():
    """Code that sets ``matmul.allow_tf32`` directly (tests/test_cuda.py does) after a run must not leave torch
    unable to read its matmul precision."""
    for precision in ("tf32", "fp32"):
        with precision_flags(precision):
            pass
        for value in (True, False):
            torch.backends.cuda.matmul.allow_tf32 = value
            assert torch.get_float32_matmul_precision() == ("high" if value else "highest")


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision='fp16' is not one of"), precision_flags("fp16"):
        pass


class Interrupt(Exception):
    pass


def test_fit_trains_with_the_configs_flags_evaluates_in_fp32_and_restores(tmp_path, odd_flags, monkeypatch):
    seen = {"train": set(), "eval": set()}
    iteration = Stepper.iteration

    def spy_iteration(self):
        seen["train"].add(_flags())
        return iteration(self)

    from gngan import trainer as trainer_module

    evaluate = trainer_module.EVALUATORS["gauss1d"]

    def spy_evaluate(*args):
        seen["eval"].add(_flags())
        return evaluate(*args)

    monkeypatch.setattr(Stepper, "iteration", spy_iteration)
    monkeypatch.setitem(trainer_module.EVALUATORS, "gauss1d", spy_evaluate)
    result = Trainer(TINY.replace(precision="tf32"), tmp_path / "tf32", progress=False).fit()[0]
    assert seen == {"train": {(True, True, "high")}, "eval": {(False, False, "highest")}}
    assert _flags() == odd_flags
    man = result["manifest"]
    assert man["precision"] == "tf32"
    assert man["precision_flags"] == {"precision": "tf32", "cuda_matmul_allow_tf32": True, "cudnn_allow_tf32": True,
                                      "float32_matmul_precision": "high", "autocast_dtype": None}


def test_fit_restores_the_flags_when_it_raises(tmp_path, odd_flags, monkeypatch):
    def fail(self):
        assert _flags() == (False, False, "highest")
        raise Interrupt

    monkeypatch.setattr(Stepper, "iteration", fail)
    with pytest.raises(Interrupt):
        Trainer(TINY, tmp_path, progress=False).fit()
    assert _flags() == odd_flags


def test_bf16_manifest_and_autocast_around_the_forward_only(tmp_path, monkeypatch):
    seen = {"forward": set(), "backward": set()}
    gan_dis = losses.gan_dis

    def spy_dis(logit_real, logit_fake):
        seen["forward"].add((torch.is_autocast_enabled("cpu"), logit_real.dtype))
        if logit_real.requires_grad:
            logit_real.register_hook(lambda g: seen["backward"].add(torch.is_autocast_enabled("cpu")))
        return gan_dis(logit_real, logit_fake)

    monkeypatch.setitem(steps.DIS_LOSS_FNS, "log", spy_dis)
    result = Trainer(TINY.replace(method="gan", precision="bf16"), tmp_path, progress=False).fit()[0]
    assert seen == {"forward": {(True, torch.bfloat16)}, "backward": {False}}
    assert result["manifest"]["precision_flags"] == {
        "precision": "bf16", "cuda_matmul_allow_tf32": False, "cudnn_allow_tf32": False,
        "float32_matmul_precision": "highest", "autocast_dtype": "bfloat16"}
    assert all(isinstance(v, float) for k, v in result["history"][-1].items() if k.startswith("loss_"))


def test_bf16_iteration_returns_float32_losses():
    st = costs.stepper(IMAGE.replace(precision="bf16"))
    out = st.iteration()
    assert {k: v.dtype for k, v in out.items()} == dict.fromkeys(("ae", "dis", "gp", "gen"), torch.float32)


# ------------------------------------------------------------------------------------------ agreement

def _round_to_tf32(t):
    """float32 -> the nearest TF32 value (10 mantissa bits; ties to even), as tensor cores read operands."""
    if not (isinstance(t, torch.Tensor) and t.dtype == torch.float32):
        return t
    bits = t.contiguous().view(torch.int32)
    bits = (bits + (0xFFF + ((bits >> 13) & 1))) & ~0x1FFF
    return bits.view(torch.float32).reshape(t.shape)


class EmulatedTF32(TorchDispatchMode):
    """What the TF32 flags do on a GPU, on the CPU: while a flag is on, the operands of its matrix products
    (cuBLAS: mm, addmm, bmm, baddbmm) or convolutions (cuDNN, forward and backward) are rounded to TF32;
    products accumulate in float32."""

    MATMULS = {torch.ops.aten.mm, torch.ops.aten.addmm, torch.ops.aten.bmm, torch.ops.aten.baddbmm}
    CONVS = {torch.ops.aten.convolution, torch.ops.aten.convolution_backward}

    def __init__(self):
        super().__init__()
        self.rounded = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        op = func._overloadpacket
        if ((op in self.MATMULS and torch.backends.cuda.matmul.allow_tf32)
                or (op in self.CONVS and torch.backends.cudnn.allow_tf32)):
            args = [_round_to_tf32(a) for a in args]
            self.rounded += 1
        return func(*args, **(kwargs or {}))


def test_round_to_tf32_by_hand():
    x = torch.tensor([1 + 2**-10, 1 + 2**-11, 1 + 3 * 2**-11, 1 + 2**-11 + 2**-20, -(1 + 2**-12), 3.0])
    expected = torch.tensor([1 + 2**-10, 1.0, 1 + 2**-9, 1 + 2**-10, -1.0, 3.0])  # ties go to the even mantissa
    torch.testing.assert_close(_round_to_tf32(x), expected, rtol=0, atol=0)


def test_fp32_against_fp32_is_exact():
    r = costs.precision_agreement(IMAGE, "fp32")
    assert r["loss"] == 0 and r["params"] == 0 and set(r["updates"].values()) == {0.0}
    assert r["within"] and set(r["loss_terms"]) == {"ae", "dis", "gp", "gen"}
    assert set(r["updates"]) == set(r["batch_noise"]) == {"net_G", "net_D", "net_E"}
    assert min(r["batch_noise"].values()) > 0.1  # another batch moves every network's update


def test_tf32_on_a_cpu_is_fp32():
    r = costs.precision_agreement(IMAGE, "tf32")
    assert r["loss"] == 0 and r["params"] == 0 and set(r["updates"].values()) == {0.0} and r["within"]


def test_emulated_tf32_agrees_within_the_tolerance():
    """Evidence for PRECISION_TOLERANCE["tf32"] without a GPU: the reference iteration runs with the TF32 flags
    off (nothing rounded), the compared one with them on (every product's operands rounded)."""
    with EmulatedTF32() as emulated:
        r = costs.precision_agreement(IMAGE, "tf32")
    assert emulated.rounded > 100
    assert 0 < r["loss"] <= costs.PRECISION_TOLERANCE["tf32"]
    assert all(0 < r["updates"][k] <= costs.UPDATE_NOISE_FRACTION * r["batch_noise"][k] for k in r["updates"])
    assert r["within"]


def test_bf16_cannot_resolve_gradient_matching():
    """Found, not wished: under bf16 autocast Eq. 13's score and gradient differences are lost (scores near 0.5
    are resolved to 2^-9), so GN-GAN's generator loss and update disagree with fp32; its other terms agree."""
    r = costs.precision_agreement(IMAGE, "bf16")
    assert not r["within"]
    assert r["loss_terms"]["gen"] > 0.5
    assert max(r["loss_terms"][k] for k in ("ae", "dis", "gp")) <= costs.PRECISION_TOLERANCE["bf16"]
    assert r["updates"]["net_G"] > costs.UPDATE_NOISE_FRACTION * r["batch_noise"]["net_G"]


@pytest.mark.parametrize("scale, within", [(0.5, True), (2.0, False)])
def test_a_planted_loss_error_is_measured_exactly(monkeypatch, scale, within):
    """D's loss is multiplied by 1 + delta while the TF32 flags are on: the relative difference of that term is
    delta (hand-computed), reported within the tolerance or not."""
    delta = scale * costs.PRECISION_TOLERANCE["tf32"]
    gngan_dis = losses.gngan_dis

    def planted(*args, **kwargs):
        return gngan_dis(*args, **kwargs) * (1 + delta if torch.backends.cuda.matmul.allow_tf32 else 1)

    monkeypatch.setattr(losses, "gngan_dis", planted)
    r = costs.precision_agreement(IMAGE, "tf32")
    torch.testing.assert_close(r["loss_terms"]["dis"], delta, rtol=1e-5, atol=0)
    assert r["loss"] == r["loss_terms"]["dis"] and r["within"] is within


def test_a_planted_update_error_is_reported(monkeypatch):
    """net_G's gradient reversed in the G step while the TF32 flags are on: the loss values agree exactly (the G
    step comes last), the update does not."""
    update = Stepper._update

    def planted(self, opt_name, per_seed_loss, term, retain_graph=False):
        if opt_name == "G" and torch.backends.cuda.matmul.allow_tf32:
            per_seed_loss = 2 * per_seed_loss.detach() - per_seed_loss  # same value, gradient negated
        return update(self, opt_name, per_seed_loss, term, retain_graph)

    monkeypatch.setattr(Stepper, "_update", planted)
    r = costs.precision_agreement(IMAGE, "tf32")
    assert r["loss"] == 0 and r["updates"]["net_D"] == 0 and r["updates"]["net_E"] == 0
    assert r["updates"]["net_G"] > r["batch_noise"]["net_G"] and not r["within"]


def test_flags_in_effect_names_the_autocast_dtype():
    with precision_flags("bf16"):
        assert flags_in_effect("bf16")["autocast_dtype"] == "bfloat16"
    with precision_flags("fp32"):
        assert flags_in_effect("fp32")["autocast_dtype"] is None
