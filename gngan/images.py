"""Image datasets (CIFAR-10, STL-10) as uint8 tensors, the [-1, 1] model range, and image grids.

Every loader returns images as a ``torch.uint8`` tensor of shape (N, 3, H, W) in a deterministic order.

Where the data come from (see ``data/README.md`` and the mirror's own ``README.md``):

- **torchvision** (online users): ``cifar10(source="torchvision", download=True)`` and
  ``stl10_unlabeled(download=True)`` use torchvision's own download code; the files land in ``root``
  (default ``<repo>/data``).
- **Offline mirror**: a folder named by the environment variable ``GNGAN_DATA_DIR``, else
  ``<repo>/../shared/data``. It holds ``cifar10-jpeg-q75.tar.xz`` (all 60,000 CIFAR-10 images,
  re-encoded as JPEG quality 75, so *lossy*: FIDs against them are not comparable with published ones)
  and ``cifar10-exact-5k.npz`` (5,000 images with exact pixels). Each file's sha256 is checked once; the
  result is remembered in a stamp file in ``root`` keyed by the file's path, size and mtime. The JPEG
  tarball is decoded once into ``root/cifar10-jpeg-q75.npz`` (uncompressed), so later loads take well
  under a second.

A missing or corrupt file raises :class:`DatasetNotFoundError` or :class:`DatasetChecksumError`, each
with a single line that says what was expected, where it was looked for and where to put it. Nothing
falls back silently to another source, except ``source="auto"``, which is documented to choose.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO_ROOT / "data"

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_JPEG_FILE = "cifar10-jpeg-q75.tar.xz"
CIFAR10_JPEG_SHA256 = "6316e41ff363d41f8159f7d0c3d86ebd496c075237064a2c4ae47e132a1bba61"
CIFAR10_EXACT_FILE = "cifar10-exact-5k.npz"
CIFAR10_EXACT_SHA256 = "5e81f99fe5af185b32d0cb5efbf72c956a858f8e684fdfba6995f9e197878f5c"
# What the data mirror's README reports for the JPEG mirror (pytorch-fid, 2,000 images per side): the FID of
# exact images against other exact images and against the JPEG copies of other images, and the mean absolute
# error per 8-bit value. Quoted beside our own measurement (gngan.fid.jpeg_fid_shift), never used in place of it.
DATA_README_JPEG = {"exact_vs_exact": 25.0, "exact_vs_jpeg": 42.0, "mean_abs_error": 5.8, "n": 2000}
_JPEG_COUNTS = {"train": 50_000, "test": 10_000}  # images per split in the mirror
# Bumped whenever the decoding of the JPEG tarball changes, so stale caches are rebuilt.
_JPEG_CACHE_VERSION = 1

TORCHVISION_CIFAR10_FOLDER = "cifar-10-batches-py"  # torchvision.datasets.CIFAR10.base_folder
CIFAR10_SOURCES = ("auto", "torchvision", "jpeg", "exact")
# What each source is, in the words a chapter's budget line and a run's labels use
CIFAR10_SOURCE_LABELS = {
    "torchvision": "the exact CIFAR-10 (torchvision's files; downloaded when online)",
    "jpeg": "the offline JPEG-q75 mirror of CIFAR-10 (lossy: FIDs not on the paper's scale)",
    "exact": "the 5K exact-pixel CIFAR-10 subset",
}
SPLITS = ("train", "test")

STL10_IMAGE_BYTES = 3 * 96 * 96
STL10_UNLABELED_FILE = "unlabeled_X.bin"
STL10_UNLABELED_COUNT = 100_000


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is missing. The message is one line: what, where we looked, what to do."""


class DatasetChecksumError(ValueError):
    """A dataset file exists but its content is not the expected one (corrupt or another version)."""


# --------------------------------------------------------------------------------------------- paths

def mirror_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The offline mirror's folder: ``data_dir`` if given, else ``$GNGAN_DATA_DIR``, else
    ``<repo>/../shared/data``."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("GNGAN_DATA_DIR")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared" / "data"


def _where(directory: Path, given: str | os.PathLike | None) -> str:
    if given is not None:
        return f"{directory} (the data_dir argument)"
    if os.environ.get("GNGAN_DATA_DIR"):
        return f"{directory} (from GNGAN_DATA_DIR)"
    return f"{directory} (the default <repo>/../shared/data; set GNGAN_DATA_DIR to use another folder)"


def _cache_dir(root: str | os.PathLike | None) -> Path:
    return Path(root) if root is not None else CACHE_DIR


def atomic_save(path: Path, write) -> None:
    """Write through ``write(file_object)`` to a temporary file beside ``path``, then rename it, so a
    crash or a concurrent reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# --------------------------------------------------------------------------------------------- hashes

def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_file(path: str | os.PathLike, sha256: str, stamp_dir: str | os.PathLike | None = None,
                what: str = "file", fix: str = "") -> Path:
    """Check ``path``'s sha256 (hashing it only when its stamp does not already vouch for it).

    The stamp ``stamp_dir/<name>.sha256.json`` records the resolved path, size and mtime of the file that
    was found good; while they are unchanged the file is not hashed again. Raises
    :class:`DatasetChecksumError` with one line when the content differs.
    """
    path = Path(path)
    st = path.stat()
    key = {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}
    stamp = Path(stamp_dir if stamp_dir is not None else CACHE_DIR) / f"{path.name}.sha256.json"
    try:
        if json.loads(stamp.read_text()) == key:
            return path
    except (OSError, ValueError):
        pass
    got = file_sha256(path)
    if got != sha256:
        raise DatasetChecksumError(
            f"{what} {path} has sha256 {got} ({st.st_size:,} bytes) but {sha256} was expected: the file "
            f"is corrupt, truncated or another version. {fix}".rstrip())
    atomic_save(stamp, lambda f: f.write(json.dumps(key).encode()))
    return path


# --------------------------------------------------------------------------------------------- ranges

def to_model_range(x: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float32 in [-1, 1] (x / 127.5 - 1)."""
    if x.dtype != torch.uint8:
        raise TypeError(f"to_model_range expects uint8 images, got {x.dtype}")
    return x.to(torch.float32) / 127.5 - 1


def from_model_range(x: torch.Tensor) -> torch.Tensor:
    """float images in [-1, 1] -> uint8, rounded to the nearest level and clipped (the exact inverse of
    :func:`to_model_range` on its outputs; what saving a PNG of the image keeps)."""
    if not torch.is_floating_point(x):
        raise TypeError(f"from_model_range expects floating-point images, got {x.dtype}")
    return ((x.detach().to(torch.float32) + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


def grid_png(images: torch.Tensor, nrow: int = 8, padding: int = 2, pad_value: int = 255) -> bytes:
    """Images (uint8 (N, 3, H, W), or float in [-1, 1]) as the bytes of one PNG grid with ``nrow`` per row."""
    from PIL import Image
    from torchvision.utils import make_grid

    images = torch.as_tensor(images)
    if torch.is_floating_point(images):
        images = from_model_range(images)
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f"grid_png expects (N, C, H, W) uint8 or float images, got {images.dtype} {tuple(images.shape)}")
    grid = make_grid(images.cpu(), nrow=nrow, padding=padding, pad_value=pad_value)  # stays uint8
    buf = io.BytesIO()
    Image.fromarray(grid.permute(1, 2, 0).numpy()).save(buf, format="PNG")
    return buf.getvalue()


def save_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int = 8, padding: int = 2,
              pad_value: int = 255) -> Path:
    """Save images (uint8 (N, 3, H, W), or float in [-1, 1]) as one PNG grid with ``nrow`` per row."""
    png = grid_png(images, nrow=nrow, padding=padding, pad_value=pad_value)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path


# --------------------------------------------------------------------------------------------- CIFAR-10

def _nhwc_to_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.asarray(x, dtype=np.uint8).transpose(0, 3, 1, 2)))


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")


def load_jpeg_tar(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Decode a tarball laid out as ``<split>/<class>/<NNNN>.jpg`` (any compression ``tarfile`` reads).

    Returns ``{split: (images (N, 32, 32, 3) uint8, labels (N,) int64)}``, ordered by class
    (airplane..truck) and then by file name, each JPEG decoded with Pillow to RGB. No checksum is
    checked here (see :func:`cifar10`).
    """
    from PIL import Image

    found: dict[str, list[tuple[int, str, np.ndarray]]] = {}
    index = {name: i for i, name in enumerate(CIFAR10_CLASSES)}
    with tarfile.open(path) as tar:
        for member in tar:
            parts = member.name.strip("/").split("/")
            if not member.isfile() or len(parts) != 3 or not parts[2].lower().endswith((".jpg", ".jpeg")):
                continue
            split, cls, name = parts
            if split not in SPLITS or cls not in index:
                raise ValueError(f"{path}: unexpected member {member.name!r}; expected "
                                 f"<train|test>/<one of {', '.join(CIFAR10_CLASSES)}>/NNNN.jpg")
            data = tar.extractfile(member).read()
            with Image.open(io.BytesIO(data)) as im:
                found.setdefault(split, []).append((index[cls], name, np.asarray(im.convert("RGB"))))
    out = {}
    for split, items in found.items():
        items.sort(key=lambda t: (t[0], t[1]))
        out[split] = (np.stack([t[2] for t in items]), np.array([t[0] for t in items], dtype=np.int64))
    return out


def _not_found(what: str, name: str, directory: Path, given, extra: str = "") -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"{what} not found: expected the file {name} in {_where(directory, given)}. Put the real file "
        f"there (it comes with the project's shared data mirror, see its README.md) or point "
        f"GNGAN_DATA_DIR at the folder that holds it{extra}.")


_ONLINE_HINT = ("; online, cifar10(source='torchvision', download=True) downloads the exact dataset "
                "with torchvision instead")


def _read_jpeg_cache(cache: Path, split: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    try:
        meta = json.loads((cache / "meta.json").read_text())
        if meta != {"source_sha256": CIFAR10_JPEG_SHA256, "version": _JPEG_CACHE_VERSION}:
            return None
        x = np.load(cache / f"{split}_x.npy")
        y = np.load(cache / f"{split}_y.npy")
    except (OSError, ValueError):
        return None  # missing, unreadable or stale: rebuilt from the tarball
    return torch.from_numpy(x), torch.from_numpy(y)


def _cifar10_jpeg(root, split, data_dir_arg) -> tuple[torch.Tensor, torch.Tensor]:
    cache = _cache_dir(root) / "cifar10-jpeg-q75"
    if (hit := _read_jpeg_cache(cache, split)) is not None:
        return hit
    directory = mirror_dir(data_dir_arg)
    tar_path = directory / CIFAR10_JPEG_FILE
    if not tar_path.is_file():
        raise _not_found("CIFAR-10 JPEG mirror", CIFAR10_JPEG_FILE, directory, data_dir_arg, _ONLINE_HINT) from None
    verify_file(tar_path, CIFAR10_JPEG_SHA256, _cache_dir(root), what="CIFAR-10 JPEG mirror",
                fix="Replace it with the real cifar10-jpeg-q75.tar.xz from the project's shared data mirror.")
    decoded = load_jpeg_tar(tar_path)
    for s, n in _JPEG_COUNTS.items():
        got = len(decoded[s][0]) if s in decoded else 0
        if got != n:
            raise DatasetChecksumError(f"{tar_path}: expected {n} {s} images, found {got}")
    # NCHW .npy files (no transpose, no zip CRC on load); meta.json is written last and marks them valid.
    (cache / "meta.json").unlink(missing_ok=True)
    for s, (x, y) in decoded.items():
        atomic_save(cache / f"{s}_x.npy", lambda f, x=x: np.save(f, np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
        atomic_save(cache / f"{s}_y.npy", lambda f, y=y: np.save(f, y))
    meta = {"source_sha256": CIFAR10_JPEG_SHA256, "version": _JPEG_CACHE_VERSION}
    atomic_save(cache / "meta.json", lambda f: f.write(json.dumps(meta).encode()))
    x, y = decoded[split]
    return _nhwc_to_tensor(x), torch.from_numpy(y)


def jpeg_mirror_indices(canonical_labels, split: str = "train") -> np.ndarray:
    """Positions in the JPEG mirror's split of the images whose canonical CIFAR-10 labels (in canonical
    order, from the start of the split) are given: the mirror keeps each image's rank within its class as
    its file number, and orders by class, then file number (checked: the exact 5K subset then matches its
    JPEG copies with mean absolute error 5.8). So ``cifar10(source="jpeg")[0][jpeg_mirror_indices(y)]``
    are the JPEG versions of ``cifar10_exact()`` for ``y = cifar10_exact()[1]``."""
    _check_split(split)
    labels = np.asarray(canonical_labels, dtype=np.int64)
    per_class = (5_000 if split == "train" else 1_000)
    rank = np.zeros(len(CIFAR10_CLASSES), dtype=np.int64)
    out = np.empty(len(labels), dtype=np.int64)
    for i, c in enumerate(labels):
        out[i] = c * per_class + rank[c]
        rank[c] += 1
    return out


def cifar10_exact(split: str = "train", data_dir: str | os.PathLike | None = None,
                  root: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 exact-pixel CIFAR-10 images of ``cifar10-exact-5k.npz``: the first 4,000 training
    images (split="train") or the first 1,000 test images (split="test"), in canonical order.
    Returns (uint8 (N, 3, 32, 32), int64 labels (N,)). ``root`` holds the checksum stamp."""
    _check_split(split)
    given = data_dir
    directory = mirror_dir(given)
    path = directory / CIFAR10_EXACT_FILE
    if not path.is_file():
        raise _not_found("CIFAR-10 exact 5K subset", CIFAR10_EXACT_FILE, directory, given) from None
    verify_file(path, CIFAR10_EXACT_SHA256, _cache_dir(root), what="CIFAR-10 exact 5K subset",
                fix="Replace it with the real cifar10-exact-5k.npz from the project's shared data mirror.")
    with np.load(path) as f:
        return _nhwc_to_tensor(f[f"x_{split}"]), torch.from_numpy(f[f"y_{split}"].astype(np.int64))


def _torchvision_cifar10_present(root: Path) -> bool:
    return (root / TORCHVISION_CIFAR10_FOLDER).is_dir()


def _cifar10_torchvision(root, split, download) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets import CIFAR10

    root = _cache_dir(root)
    try:
        ds = CIFAR10(root=str(root), train=(split == "train"), download=download)
    except (RuntimeError, OSError) as e:  # "Dataset not found or corrupted. ...", or a failed download
        reason = f"{type(e).__name__}: {e}".replace("\n", " ")
        raise DatasetNotFoundError(
            f"torchvision CIFAR-10 not found or corrupt in {root / TORCHVISION_CIFAR10_FOLDER} ({reason}). "
            + ("The download failed: check the network, or put torchvision's files there; "
               if download else "Online, pass download=True; ")
            + f"offline, use source='jpeg' with the project's data mirror "
            f"({CIFAR10_JPEG_FILE} in GNGAN_DATA_DIR or <repo>/../shared/data).") from None
    return _nhwc_to_tensor(ds.data), torch.tensor(ds.targets, dtype=torch.int64)


def cifar10_source(root: str | os.PathLike | None = None, source: str = "auto") -> str:
    """The source :func:`cifar10` uses: ``source`` itself unless it is "auto", which picks
    "torchvision" when torchvision's extracted files are already in ``root`` (exact pixels) and
    "jpeg" (the lossy offline mirror) otherwise."""
    if source not in CIFAR10_SOURCES:
        raise ValueError(f"unknown CIFAR-10 source {source!r}; use one of {CIFAR10_SOURCES}")
    if source != "auto":
        return source
    return "torchvision" if _torchvision_cifar10_present(_cache_dir(root)) else "jpeg"


def cifar10(root: str | os.PathLike | None = None, split: str = "train", source: str = "auto", *,
            data_dir: str | os.PathLike | None = None, download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 as (images uint8 (N, 3, 32, 32), labels int64 (N,)); classes airplane..truck = 0..9.

    root: where torchvision's files, decoded caches and checksum stamps live (default ``<repo>/data``).
    split: "train" or "test".
    source:
      - "torchvision": torchvision's CIFAR10 in ``root`` (exact pixels, canonical order); downloads only
        with ``download=True``.
      - "jpeg": the offline mirror ``cifar10-jpeg-q75.tar.xz`` found in ``data_dir`` (default
        ``$GNGAN_DATA_DIR``, else ``<repo>/../shared/data``); 50,000/10,000 images ordered by class and
        then file name; LOSSY (JPEG quality 75, mean absolute error 5.8 per value).
      - "exact": the 5K exact subset (4,000 train / 1,000 test), see :func:`cifar10_exact`.
      - "auto": "torchvision" if its files are already in ``root``, else "jpeg" (see :func:`cifar10_source`).
    """
    _check_split(split)
    chosen = cifar10_source(root, source)
    if chosen == "torchvision":
        return _cifar10_torchvision(root, split, download)
    if chosen == "exact":
        return cifar10_exact(split, data_dir=data_dir, root=root)
    return _cifar10_jpeg(root, split, data_dir)


# --------------------------------------------------------------------------------------------- STL-10

def read_stl10_bin(path: str | os.PathLike) -> np.ndarray:
    """Images of an STL-10 binary file (``*_X.bin``) as a read-only memory map (N, 3, 96, 96) uint8.

    The file stores each image as 3 x 96 x 96 bytes, each channel column-major; the returned view is
    transposed (as torchvision.datasets.STL10 does) so that [n, c, row, column] is the usual layout.
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0 or size % STL10_IMAGE_BYTES:
        raise DatasetChecksumError(f"{path} has {size:,} bytes, not a positive multiple of {STL10_IMAGE_BYTES} "
                                   f"(one 3x96x96 STL-10 image): truncated or not an STL-10 file")
    raw = np.memmap(path, dtype=np.uint8, mode="r", shape=(size // STL10_IMAGE_BYTES, 3, 96, 96))
    return raw.transpose(0, 1, 3, 2)


def resize_images(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) images to (size, size): converted to float32, resized with antialiased
    bilinear interpolation (``F.interpolate(..., mode="bilinear", antialias=True, align_corners=False)``,
    which is what torchvision's ``resize(antialias=True)`` runs on float tensors), rounded to the nearest
    level and clipped back to uint8."""
    import torch.nn.functional as F

    if tuple(x.shape[-2:]) == (size, size):
        return x.clone()
    y = F.interpolate(x.to(torch.float32), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return y.round_().clamp_(0, 255).to(torch.uint8)


def stl10_unlabeled(root: str | os.PathLike | None = None, size: int = 48, *, download: bool = False,
                    verify: bool = True, limit: int | None = None, chunk: int = 2_000) -> torch.Tensor:
    """STL-10's 100,000 unlabeled images, resized to ``size`` x ``size``, as uint8 (N, 3, size, size).

    Reads ``root/stl10_binary/unlabeled_X.bin`` (torchvision's layout; default root ``<repo>/data``) in
    STL-10's binary format, which is what torchvision.datasets.STL10(split="unlabeled") reads. Resize
    method: torchvision's antialiased bilinear resize on float32 copies of the uint8 images, rounded back
    to uint8 (:func:`resize_images`; for 96 -> 48 each output value is the separable [1, 3, 3, 1] / 8
    weighting of a 4 x 4 input neighbourhood). ``size=96`` returns the images unchanged.

    download: fetch and extract the archive with torchvision's own download code (online users; 2.5 GB).
    verify: check the file's md5 against torchvision's constant once (remembered in a stamp in root);
        turn it off for small files in the same format (tests).
    limit: read only the first ``limit`` images. The full resized set is cached in
        ``root/stl10-unlabeled-<size>.npy``.
    """
    from torchvision.datasets import STL10

    root = _cache_dir(root)
    path = root / STL10.base_folder / STL10_UNLABELED_FILE
    cache = root / f"stl10-unlabeled-{size}.npy"
    if limit is None and path.exists() and cache.exists() and cache.stat().st_mtime_ns >= path.stat().st_mtime_ns:
        try:
            return torch.from_numpy(np.load(cache))
        except (OSError, ValueError):
            pass
    if download and not path.is_file():
        from torchvision.datasets.utils import download_and_extract_archive

        download_and_extract_archive(STL10.url, str(root), filename=STL10.filename, md5=STL10.tgz_md5)
    if not path.is_file():
        raise DatasetNotFoundError(
            f"STL-10 not found: expected {path} (STL-10's binary format, as torchvision extracts it). Online, "
            f"pass download=True (torchvision downloads the 2.5 GB archive into {root}); offline, put the "
            f"extracted stl10_binary/ folder there yourself.")
    if verify:
        md5 = dict(STL10.train_list)[STL10_UNLABELED_FILE]
        _verify_md5(path, md5, root)
    raw = read_stl10_bin(path)
    n = len(raw) if limit is None else min(limit, len(raw))
    out = torch.empty((n, 3, size, size), dtype=torch.uint8)
    for i in range(0, n, chunk):
        block = torch.from_numpy(np.ascontiguousarray(raw[i:min(i + chunk, n)]))
        out[i:i + len(block)] = resize_images(block, size)
    if limit is None:
        atomic_save(cache, lambda f: np.save(f, out.numpy()))
    return out


def _verify_md5(path: Path, md5: str, stamp_dir: Path) -> None:
    st = path.stat()
    key = {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": md5}
    stamp = stamp_dir / f"{path.name}.md5.json"
    try:
        if json.loads(stamp.read_text()) == key:
            return
    except (OSError, ValueError):
        pass
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    if h.hexdigest() != md5:
        raise DatasetChecksumError(
            f"STL-10 file {path} has md5 {h.hexdigest()} but {md5} was expected (torchvision's value): corrupt "
            f"or truncated; delete it and download again (download=True), or pass verify=False for a "
            f"deliberately small file in the same format.")
    atomic_save(stamp, lambda f: f.write(json.dumps(key).encode()))
