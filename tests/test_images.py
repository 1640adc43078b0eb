"""Dataset loaders (CIFAR-10 exact / JPEG mirror / torchvision, STL-10 binary), ranges and grids."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gngan import images
from gngan.images import DatasetChecksumError, DatasetNotFoundError

MIRROR = images.mirror_dir()
HAS_EXACT = (MIRROR / images.CIFAR10_EXACT_FILE).is_file()
HAS_JPEG = (MIRROR / images.CIFAR10_JPEG_FILE).is_file()


def _one_line(err: Exception) -> str:
    msg = str(err)
    assert "\n" not in msg, msg
    return msg


# ------------------------------------------------------------------------------------- exact 5K subset

@pytest.mark.skipif(not HAS_EXACT, reason=f"offline mirror file {images.CIFAR10_EXACT_FILE} not in {MIRROR}")
def test_exact_subset_first_pixels_and_labels(tmp_path):
    x, y = images.cifar10(root=tmp_path, split="train", source="exact")
    assert x.dtype == torch.uint8 and x.shape == (4000, 3, 32, 32) and y.dtype == torch.int64
    assert x[0, :, 0, 0].tolist() == [59, 62, 63]
    assert x[1, :, 0, 0].tolist() == [154, 177, 187]
    assert y[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]  # frog, truck, truck, deer, automobile, ...
    xt, yt = images.cifar10_exact("test", root=tmp_path)
    assert xt.shape == (1000, 3, 32, 32) and yt[:4].tolist() == [3, 8, 8, 0]
    assert (tmp_path / f"{images.CIFAR10_EXACT_FILE}.sha256.json").is_file()  # verification remembered


# ------------------------------------------------------------------------------------- JPEG tarball

def _jpeg_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=75)
    return buf.getvalue()


def _make_tar(path: Path, members: dict[str, np.ndarray]) -> dict[str, bytes]:
    """A tar.xz with the mirror's layout; members added in a scrambled order on purpose."""
    blobs = {name: _jpeg_bytes(rgb) for name, rgb in members.items()}
    with tarfile.open(path, "w:xz") as tar:
        for d in sorted({n.rsplit("/", 1)[0] for n in blobs} | {n.split("/", 1)[0] for n in blobs}):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name in sorted(blobs, reverse=True):
            info = tarfile.TarInfo(name)
            info.size = len(blobs[name])
            tar.addfile(info, io.BytesIO(blobs[name]))
    return blobs


def _decode(blob: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(blob)) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture
def tiny_tar(tmp_path):
    rng = np.random.default_rng(0)
    names = ["train/truck/0000.jpg", "train/airplane/0001.jpg", "train/airplane/0000.jpg", "train/cat/0000.jpg",
             "test/automobile/0000.jpg", "test/airplane/0000.jpg"]
    members = {n: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for n in names}
    data = tmp_path / "mirror"
    data.mkdir()
    path = data / images.CIFAR10_JPEG_FILE
    blobs = _make_tar(path, members)
    return path, blobs


def test_jpeg_tar_loader_order_labels_pixels(tiny_tar):
    path, blobs = tiny_tar
    out = images.load_jpeg_tar(path)
    x, y = out["train"]
    order = ["train/airplane/0000.jpg", "train/airplane/0001.jpg", "train/cat/0000.jpg", "train/truck/0000.jpg"]
    assert y.tolist() == [0, 0, 3, 9]
    assert x.dtype == np.uint8 and x.shape == (4, 32, 32, 3)
    for i, name in enumerate(order):
        np.testing.assert_array_equal(x[i], _decode(blobs[name]))
    xt, yt = out["test"]
    assert yt.tolist() == [0, 1]
    np.testing.assert_array_equal(xt[1], _decode(blobs["test/automobile/0000.jpg"]))


def test_cifar10_jpeg_source_verifies_decodes_and_caches(tiny_tar, tmp_path, monkeypatch):
    path, blobs = tiny_tar
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(images, "CIFAR10_JPEG_SHA256", digest)
    monkeypatch.setattr(images, "_JPEG_COUNTS", {"train": 4, "test": 2})
    root = tmp_path / "cache"
    x, y = images.cifar10(root=root, split="train", source="jpeg", data_dir=path.parent)
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.uint8 and y.tolist() == [0, 0, 3, 9]
    np.testing.assert_array_equal(x[2].permute(1, 2, 0).numpy(), _decode(blobs["train/cat/0000.jpg"]))
    # the decoded cache now serves both splits without the tarball
    path.unlink()
    x2, y2 = images.cifar10(root=root, split="train", source="jpeg", data_dir=path.parent)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    xt, yt = images.cifar10(root=root, split="test", source="jpeg", data_dir=path.parent)
    assert xt.shape == (2, 3, 32, 32) and yt.tolist() == [0, 1]


def test_checksum_mismatch_is_one_clear_error(tmp_path):
    data = tmp_path / "mirror"
    data.mkdir()
    (data / images.CIFAR10_JPEG_FILE).write_bytes(b"not the dataset")
    with pytest.raises(DatasetChecksumError) as info:
        images.cifar10(root=tmp_path / "cache", source="jpeg", data_dir=data)
    assert isinstance(info.value, ValueError)
    msg = _one_line(info.value)
    assert str(data / images.CIFAR10_JPEG_FILE) in msg and images.CIFAR10_JPEG_SHA256 in msg
    assert "Replace it" in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__ in (False, True)


def test_missing_file_is_one_clear_error(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("GNGAN_DATA_DIR", str(empty))
    with pytest.raises(DatasetNotFoundError) as info:
        images.cifar10(root=tmp_path / "cache", source="jpeg")
    assert isinstance(info.value, FileNotFoundError)
    msg = _one_line(info.value)
    assert images.CIFAR10_JPEG_FILE in msg and str(empty) in msg and "GNGAN_DATA_DIR" in msg
    assert "download=True" in msg  # where to get the real dataset online
    with pytest.raises(DatasetNotFoundError) as info:
        images.cifar10_exact(data_dir=empty, root=tmp_path / "cache")
    assert images.CIFAR10_EXACT_FILE in _one_line(info.value)


def test_verification_is_remembered_until_the_file_changes(tmp_path, monkeypatch):
    f = tmp_path / "blob.bin"
    f.write_bytes(b"abc")
    good = hashlib.sha256(b"abc").hexdigest()
    images.verify_file(f, good, tmp_path)
    calls = []
    monkeypatch.setattr(images, "file_sha256", lambda p: calls.append(p) or good)
    images.verify_file(f, good, tmp_path)
    assert calls == []  # stamp matched: not hashed again
    f.write_bytes(b"abcd")  # size (and mtime) change invalidates the stamp
    monkeypatch.undo()
    with pytest.raises(DatasetChecksumError):
        images.verify_file(f, good, tmp_path)


def test_torchvision_source_missing_without_download(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        images.cifar10(root=tmp_path, source="torchvision")
    msg = _one_line(info.value)
    assert "download=True" in msg and "source='jpeg'" in msg


def test_torchvision_download_failure_is_one_clear_error(tmp_path, monkeypatch):
    import urllib.error

    import torchvision.datasets

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DatasetNotFoundError) as info:
        images.cifar10(root=tmp_path, source="torchvision", download=True)
    assert "Name or service not known" in _one_line(info.value)


def test_auto_source_prefers_torchvision_files_when_present(tmp_path):
    from torchvision.datasets import CIFAR10

    assert images.TORCHVISION_CIFAR10_FOLDER == CIFAR10.base_folder
    assert images.cifar10_source(tmp_path, "auto") == "jpeg"
    (tmp_path / "cifar-10-batches-py").mkdir()
    assert images.cifar10_source(tmp_path, "auto") == "torchvision"
    assert images.cifar10_source(tmp_path, "exact") == "exact"
    with pytest.raises(ValueError):
        images.cifar10_source(tmp_path, "imagenet")
    with pytest.raises(ValueError):
        images.cifar10(tmp_path, split="valid")


def test_jpeg_mirror_indices():
    assert images.jpeg_mirror_indices([6, 9, 9, 4, 1, 6]).tolist() == [30000, 45000, 45001, 20000, 5000, 30001]
    assert images.jpeg_mirror_indices([3, 8, 8, 0], split="test").tolist() == [3000, 8000, 8001, 0]


@pytest.mark.slow
@pytest.mark.skipif(not (HAS_JPEG and HAS_EXACT), reason=f"offline mirror not in {MIRROR}")
def test_real_jpeg_mirror_matches_exact_subset_up_to_jpeg_error():
    """Decodes the real 60K mirror once (~20 s; later calls read the cache in data/)."""
    x, y = images.cifar10(split="train", source="jpeg")
    assert x.shape == (50_000, 3, 32, 32) and torch.bincount(y).tolist() == [5000] * 10
    xe, ye = images.cifar10_exact("train")
    idx = images.jpeg_mirror_indices(ye)
    assert torch.equal(y[idx], ye)
    mae = (x[idx].float() - xe.float()).abs().mean().item()
    assert 5.0 < mae < 6.5  # the mirror README: 5.8


# ------------------------------------------------------------------------------------- STL-10

def _write_stl10(root: Path, n: int, seed: int = 0) -> np.ndarray:
    """n random images in STL-10's binary layout (each channel column-major); returns (n, 3, 96, 96)."""
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8)
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    np.ascontiguousarray(imgs.transpose(0, 1, 3, 2)).tofile(folder / "unlabeled_X.bin")
    return imgs


def test_stl10_binary_reader_matches_torchvision(tmp_path, monkeypatch):
    from torchvision.datasets import STL10
    from torchvision.transforms.v2 import functional as TF

    imgs = _write_stl10(tmp_path, 5)
    monkeypatch.setattr(STL10, "_check_integrity", lambda self: True)  # md5s are of the real 2.5 GB files
    ref = STL10(str(tmp_path), split="unlabeled")
    np.testing.assert_array_equal(ref.data, imgs)

    full = images.stl10_unlabeled(tmp_path, size=96, verify=False)
    assert full.dtype == torch.uint8 and full.shape == (5, 3, 96, 96)
    np.testing.assert_array_equal(full.numpy(), ref.data)
    # the PIL image torchvision's dataset hands out is the same picture
    np.testing.assert_array_equal(np.asarray(ref[3][0]), full[3].permute(1, 2, 0).numpy())

    small = images.stl10_unlabeled(tmp_path, size=48, verify=False)
    expected = TF.resize(torch.from_numpy(ref.data).float(), [48, 48], antialias=True).round().clamp(0, 255).to(torch.uint8)
    assert small.shape == (5, 3, 48, 48)
    assert torch.equal(small, expected)
    assert torch.equal(images.stl10_unlabeled(tmp_path, size=48, verify=False, limit=2, chunk=1), small[:2])


def test_stl10_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        images.stl10_unlabeled(tmp_path)
    msg = _one_line(info.value)
    assert "stl10_binary" in msg and "download=True" in msg
    _write_stl10(tmp_path, 2)
    with pytest.raises(DatasetChecksumError):  # verify=True: md5 of the real file
        images.stl10_unlabeled(tmp_path)
    with open(tmp_path / "stl10_binary" / "unlabeled_X.bin", "ab") as f:
        f.write(b"\0" * 10)
    with pytest.raises(DatasetChecksumError, match="multiple"):
        images.stl10_unlabeled(tmp_path, verify=False)


# ------------------------------------------------------------------------------------- ranges, grid

def test_model_range_round_trip():
    x = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16).expand(2, 3, 16, 16)
    y = images.to_model_range(x)
    assert y.dtype == torch.float32 and y.min().item() == -1.0 and y.max().item() == 1.0
    assert torch.equal(images.from_model_range(y), x)
    assert images.from_model_range(torch.tensor([-3.0, 3.0])).tolist() == [0, 255]
    with pytest.raises(TypeError):
        images.to_model_range(y)


def test_save_grid(tmp_path):
    x = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    path = images.save_grid(x, tmp_path / "g" / "grid.png", nrow=5)
    with Image.open(path) as im:
        assert im.mode == "RGB" and im.size == (5 * 34 + 2, 2 * 34 + 2)
        np.testing.assert_array_equal(np.asarray(im)[2:34, 2:34], x[0].permute(1, 2, 0).numpy())
    path = images.save_grid(images.to_model_range(x), tmp_path / "f.png", nrow=5)
    with Image.open(path) as im:
        np.testing.assert_array_equal(np.asarray(im)[2:34, 36:68], x[1].permute(1, 2, 0).numpy())
