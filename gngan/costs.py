"""What one training iteration costs, and whether a faster arithmetic computes it faithfully.

``iteration_flops``: floating-point operations of one iteration (every AE, D and G step of the method,
forward and backward), counted from torch's formulas (``torch.utils.flop_counter.flop_registry``: matrix
products and convolutions; elementwise work is not counted). ``time_iterations``: seconds per iteration of
one run alone on a device. ``precision_agreement``: one iteration at ``precision`` against the same
iteration in float32, from the same weights, optimiser states and batches.

None of them needs a dataset: image configs draw random uint8 images (``random_images``).
"""

from __future__ import annotations

import copy
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from gngan.config import IMAGE_DATA, PRECISIONS, RunConfig
from gngan.data import ImageData, make_dataset
from gngan.steps import Stepper, build_nets, build_optimizers, precision_flags
from gngan.trainer import resolve_device

RANDOM_IMAGES = 256
# fp32 iterations before the compared one, so that Adam's moments hold some history: Adam's very first
# update is lr * sign(gradient) wherever |gradient| >> eps, which hides how far two gradients differ
AGREEMENT_WARMUP = 3
# The largest relative difference of a loss term of one iteration at a precision from the same term in
# float32. TF32 and bf16 round each operand of a product to 10 and 7 mantissa bits (unit roundoff
# u = 2^-11 ~ 4.9e-4 and 2^-8 ~ 3.9e-3): a product is off by up to 2u, and the ~10 layers of net_D and net_G
# between the batch and a loss add such errors (randomly, mostly) to a few u; we allow 32u. Near-zero terms
# that are differences of nearly equal numbers (Eq. 13's score and gradient differences, the WGAN critic's
# mean difference) lose more: with TF32 emulated on a CPU the worst term was 18u (29u with operands
# truncated instead of rounded; Dist-GAN and GN-GAN hinge, width 0.125, batch 8), under 1u at width 0.5,
# batch 64. fp32 against itself is exact on a CPU; on a GPU two runs may sum the weight gradients in
# different orders (cuDNN's atomics), and the steps after the first update see weights that differ by that:
# 1e-4 allowed.
PRECISION_TOLERANCE = {"fp32": 1e-4, "tf32": 32 * 2.0**-11, "bf16": 32 * 2.0**-8}
# The parameters' updates are compared per network (all its parameters as one vector), against how much the
# fp32 update changes when the iteration draws another batch: a precision agrees if it moves each network's
# update by at most this fraction of that. Not a multiple of u: the gradients of the first layers come
# through every later layer's backward, batch norm's included (which subtracts most of its input), and with
# TF32 emulated the updates moved by 4-8% (net_G), 0.4-5% (net_D), 3-7% (net_E), 100u-160u, where another
# batch moves them by 84-120%, 8-97% and 100-120% (bf16: 24-85%, 4-140%, 13-18%). Per tensor the comparison
# means nothing for the biases of layers followed by batch norm: their gradient is zero up to round-off,
# which Adam scales up to a step of size lr.
UPDATE_NOISE_FRACTION = 0.25


class FlopCount(TorchDispatchMode):
    """Counts the FLOP of every op torch has a formula for (matrix products, convolutions, their backward).
    torch's own FlopCounterMode cannot be used: its module tracker fails on the gradient penalty's double
    backward ("A leaf node was passed to _will_engine_execute_node")."""

    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func._overloadpacket in flop_registry:
            self.flops += int(flop_registry[func._overloadpacket](*args, **kwargs, out_val=out))
        return out


def random_images(config: RunConfig, n: int = RANDOM_IMAGES) -> ImageData:
    """``n`` random uint8 images of ``config``'s size: the training data of a cost measurement."""
    size = config.image_size
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return ImageData(config.data, images, source="random uint8 images (gngan.costs)")


def stepper(config: RunConfig, device: str | torch.device = "cpu") -> Stepper:
    """A Stepper of ``config`` (one seed) on ``device`` as the trainer builds it, drawing random images for an
    image config and the toy data otherwise."""
    dataset = random_images(config) if config.data in IMAGE_DATA else make_dataset(config.data)
    device = torch.device(device)
    nets = build_nets(config, dataset.x_dim)
    for module in nets.modules().values():
        module.to(device)
    opts = build_optimizers(config, nets)
    s = config.seed
    return Stepper(config, nets, opts, [dataset.sampler(torch.Generator().manual_seed(2 * s))],
                   [torch.Generator().manual_seed(2 * s + 1)], device, [s])


def iteration_flops(config: RunConfig) -> int:
    """FLOP of one training iteration of ``config`` (all its AE, D and G steps, backward included), counted on
    the CPU at the config's width and batch size. The count depends on shapes only, not on the precision."""
    st = stepper(config.replace(precision="fp32"), "cpu")
    with FlopCount() as counter:
        st.iteration()
    return counter.flops


def _check_counts(iterations: int, warmup: int) -> None:
    if not isinstance(iterations, int) or iterations < 1 or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"iterations={iterations!r} must be a positive and warmup={warmup!r} a non-negative integer")


def time_iterations(config: RunConfig, device: str | torch.device, iterations: int = 20, warmup: int = 3) -> float:
    """Seconds per training iteration of one run of ``config`` alone on ``device``, at ``config.precision``,
    after ``warmup`` untimed iterations. CUDA: CUDA events around the timed iterations, after a synchronize;
    otherwise wall time (perf_counter)."""
    _check_counts(iterations, warmup)
    device = resolve_device(device)
    st = stepper(config, device)
    with precision_flags(config.precision):
        for _ in range(warmup):
            st.iteration()
        if device.type != "cuda":
            start = time.perf_counter()
            for _ in range(iterations):
                st.iteration()
            return (time.perf_counter() - start) / iterations
        with torch.cuda.device(device):
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(iterations):
                st.iteration()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3 / iterations


def _copy_state(src: Stepper, dst: Stepper) -> None:
    for k, m in src.nets.modules().items():
        dst.nets.modules()[k].load_state_dict(m.state_dict())
    for k, o in src.opts.items():
        # deep: load_state_dict would otherwise share src's moment tensors, which the fused step updates in place
        dst.opts[k].load_state_dict(copy.deepcopy(o.state_dict()))
    for a, b in zip(src.samplers, dst.samplers):
        b.load_state_dict(a.state_dict())
    for a, b in zip(src.noise_gens, dst.noise_gens):
        b.set_state(a.get_state())
    dst.step = src.step


def _params(st: Stepper) -> dict[str, torch.Tensor]:
    return {f"{k}.{n}": p.detach().clone() for k, m in st.nets.modules().items() for n, p in m.named_parameters()}


def _net_updates(before: dict[str, torch.Tensor], st: Stepper) -> dict[str, torch.Tensor]:
    """{network: all its parameters' changes since ``before`` as one vector}."""
    after = _params(st)
    nets: dict[str, list[torch.Tensor]] = {}
    for k, p in before.items():
        nets.setdefault(k.split(".")[0], []).append((after[k] - p).flatten())
    return {k: torch.cat(v) for k, v in nets.items()}


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| in float64; 0 when both are zero."""
    a, b = a.double(), b.double()
    diff, ref = float((a - b).norm()), float(b.norm())
    if diff == 0:
        return 0.0
    return diff / ref if ref > 0 else float("inf")


def _ratio(a: float, b: float) -> float:
    return 0.0 if a == 0 else (a / b if b > 0 else float("inf"))


def precision_agreement(config: RunConfig, precision: str, device: str | torch.device = "cpu",
                        warmup: int = AGREEMENT_WARMUP) -> dict:
    """One training iteration of ``config`` at ``precision`` against the same iteration in float32 on
    ``device``, both from the state ``warmup`` float32 iterations reach (same weights, Adam moments, batches
    and noise), and, as the yardstick, a float32 iteration from that state on another batch.

    Returns ``loss``: the largest relative difference |a - b| / |b| over the loss terms (each term in
    ``loss_terms``); ``params``: the largest ||a - b|| / ||b|| over the parameter tensors after the iteration
    (for information: dominated by the zero-initialised biases); ``updates``: per network, ||Δa - Δb|| / ||Δb||
    of all its parameters' changes Δ, and ``batch_noise``: the same between the fp32 update and the fp32
    update on the other batch; the tolerances; and ``within``: ``loss <= PRECISION_TOLERANCE[precision]`` and
    every network's ``updates <= UPDATE_NOISE_FRACTION * batch_noise``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {PRECISIONS}")
    _check_counts(iterations=1, warmup=warmup)
    device = resolve_device(device)
    reference = stepper(config.replace(precision="fp32"), device)
    with precision_flags("fp32"):
        for _ in range(warmup):
            reference.iteration()
    other, another_batch = stepper(config.replace(precision=precision), device), stepper(reference.config, device)
    _copy_state(reference, other)
    _copy_state(reference, another_batch)
    another_batch.samplers[0](config.batch_size)  # moves its data and noise streams on
    torch.rand(1, generator=another_batch.noise_gens[0])
    before = _params(reference)
    with precision_flags("fp32"):
        loss_ref = reference.iteration()
        another_batch.iteration()
    with precision_flags(precision):
        loss_other = other.iteration()
    after_ref, after_other = _params(reference), _params(other)
    updates_ref = _net_updates(before, reference)
    updates = {k: _relative(v, updates_ref[k]) for k, v in _net_updates(before, other).items()}
    noise = {k: _relative(v, updates_ref[k]) for k, v in _net_updates(before, another_batch).items()}
    losses = {k: _relative(loss_other[k], v) for k, v in loss_ref.items()}
    params = {k: _relative(after_other[k], v) for k, v in after_ref.items()}
    tol = PRECISION_TOLERANCE[precision]
    return {"precision": precision, "device": str(device), "warmup": warmup,
            "loss": max(losses.values()), "loss_terms": losses,
            "params": max(params.values()), "worst_param": max(params, key=params.get),
            "updates": updates, "batch_noise": noise,
            "update_noise_ratio": max(_ratio(updates[k], noise[k]) for k in updates),
            "tolerance": {"loss": tol, "update_noise_ratio": UPDATE_NOISE_FRACTION},
            "within": max(losses.values()) <= tol and all(updates[k] <= UPDATE_NOISE_FRACTION * noise[k]
                                                          for k in updates)}
