"""gngan.costs: FLOP counts against hand counts, iteration timing, and benchmarks/bench_gpu_iteration.py on a CPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gngan import costs, experiments
from gngan.config import RunConfig

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("input_grad, passes", [(False, 2), (True, 3)])
def test_linear_layer_flops_by_hand(input_grad, passes):
    """Forward 2 n in out; backward the weight gradient (2 n in out) and, if the input needs one, its gradient
    (2 n in out again). The bias costs no product."""
    n, d_in, d_out = 5, 7, 3
    layer = torch.nn.Linear(d_in, d_out)
    x = torch.randn(n, d_in, requires_grad=input_grad)
    with costs.FlopCount() as forward:
        y = layer(x)
    assert forward.flops == 2 * n * d_in * d_out
    with costs.FlopCount() as backward:
        y.sum().backward()
    assert forward.flops + backward.flops == passes * 2 * n * d_in * d_out


def test_convolution_flops_by_hand():
    """2 N C_out H' W' C_in k^2 forward (N=2, 3 -> 4 channels, 3x3 kernel, stride 2, padding 1: 8x8 -> 4x4); the
    input and weight gradients cost as much each."""
    conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    with costs.FlopCount() as counter:
        conv(x).sum().backward()
    assert counter.flops == 3 * 2 * 2 * 4 * 4 * 4 * 3 * 3 * 3


@pytest.mark.parametrize("d_steps", [1, 3])
def test_iteration_flops_of_a_tiny_gan_by_hand(d_steps):
    """The standard GAN on 1D data: G 1 -> w -> w -> 1, D 1 -> w -> 1, one seed, batch n. Per D step: G forward
    without gradient 2n(w^2 + 2w); D forward on real and fake together (2n points) 2(2n)(2w); its backward to D's
    weights: both weight gradients and the head's input gradient, 3 * 2(2n)w. The G step: G forward 2n(w^2 + 2w);
    D forward on the fake 2n(2w); backward to G's weights: D's two input gradients 2 * 2nw (not its weight
    gradients), G's three weight gradients 2n(w^2 + 2w) and the input gradients of its last two layers
    2n(w^2 + w)."""
    n, w = 16, 4
    config = RunConfig(method="gan", data="gauss1d", z_dim=1, hidden_width=w, g_hidden_layers=2, d_hidden_layers=1,
                       batch_size=n, d_steps=d_steps, lambda_p=0.0)
    g_forward = 2 * n * (w * w + 2 * w)
    d_step = g_forward + 2 * (2 * n) * (2 * w) + 3 * 2 * (2 * n) * w
    g_step = g_forward + 2 * n * 2 * w + 2 * 2 * n * w + 2 * n * (w * w + 2 * w) + 2 * n * (w * w + w)
    assert costs.iteration_flops(config) == d_steps * d_step + g_step


def test_iteration_flops_orderings_at_small_width():
    section = {**experiments.IMAGE_SECTIONS["04_table3"], **experiments.IMAGE_SECTIONS["05_gan_ne_gm"]}
    flops = {m: costs.iteration_flops(section[m].replace(width=0.125, batch_size=8))
             for m in ("sngan", "wgangp", "gan", "gan_gm")}
    assert flops["wgangp"] > 3 * flops["sngan"]  # five D steps, each with the penalty's double backward
    assert flops["gan_gm"] > flops["gan"]  # Eq. 13 adds input-gradient passes through net_D
    assert flops["sngan"] == costs.iteration_flops(section["sngan"].replace(width=0.125, batch_size=8,
                                                                            precision="bf16"))


def test_random_images_are_what_the_config_draws():
    config = experiments.IMAGE_SECTIONS["03_ablation"]["gngan_ne_gm"]
    data = costs.random_images(config, 10)
    assert data.images.shape == (10, 3, 32, 32) and data.images.dtype == torch.uint8 and data.x_dim == 3 * 32 * 32


def test_time_iterations_on_a_cpu():
    config = experiments.IMAGE_SECTIONS["05_gan_ne_gm"]["gan"].replace(width=0.125, batch_size=8)
    seconds = costs.time_iterations(config, "cpu", iterations=2, warmup=1)
    assert 0 < seconds < 60
    with pytest.raises(ValueError, match="iterations=0 must be a positive"):
        costs.time_iterations(config, "cpu", iterations=0)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        if torch.cuda.is_available():
            raise ValueError("no CUDA GPU (skipped: this machine has one)")
        costs.time_iterations(config, "cuda", iterations=1)


def test_bench_gpu_iteration_runs_on_a_cpu(tmp_path):
    """The GPU benchmark at tiny sizes on the CPU, one section (all three take ~30 s on one core)."""
    out = tmp_path / "gpu_iteration.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_gpu_iteration.py"), "--device", "cpu",
                    "--width", "0.125", "--batch-size", "8", "--iterations", "2", "--sections", "05_gan_ne_gm",
                    "--out", str(out)], check=True, cwd=REPO, env=env, capture_output=True)
    record = json.loads(out.read_text())
    assert {"git_commit", "torch_version", "measured_at", "device", "device_name", "driver", "cuda_version",
            "cudnn_version", "default_flags", "width", "batch_size", "iterations", "precision_tolerance",
            "methods"} <= set(record)
    assert record["device"] == "cpu" and record["width"] == 0.125 and record["batch_size"] == 8
    assert set(record["methods"]) == {f"05_gan_ne_gm/{m}" for m in experiments.IMAGE_SECTIONS["05_gan_ne_gm"]}
    for row in record["methods"].values():
        assert set(row["agreement"]) == {"fp32", "tf32", "bf16"} and row["budget_precision"] == "tf32"
        timed = {p for p, a in row["agreement"].items() if a["within"]} | {"fp32"}
        assert set(row["seconds_per_iteration"]) == set(row["tflop_per_s"]) == timed
        assert row["flop_per_iteration"] > 0
        for p, s in row["seconds_per_iteration"].items():
            assert row["tflop_per_s"][p] == pytest.approx(row["flop_per_iteration"] / s / 1e12)
