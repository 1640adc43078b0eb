"""Image networks of the CIFAR-10 / STL-10 experiments (paper: section "CIFAR-10 and STL-10 datasets").

GN-GAN "follow[s] the experimental procedure and model architecture in (Miyato et al. 2018)": the
"standard CNN" of Miyato et al.'s Table 3 (CIFAR-10 at 32x32 and STL-10 at 48x48) and the ResNet of
their Table 4 (reported by GN-GAN for CIFAR-10 only, column "CIFAR (R)"). The encoder of the
auto-encoder methods (GN-GAN, Dist-GAN) is the one of the authors' public Dist-GAN code
(``tntrung/gan``, see ``/work/shared/paper/distgan-reference-notes.md``).

Sources read (facts only, no code copied): Miyato et al. 2018, appendix B, Tables 3-4;
``pfnet-research/chainer-gan-lib`` ``common/net.py`` (DCGANGenerator, SNDCGANDiscriminator: Miyato's
code of the standard CNN); ``pfnet-research/sngan_projection`` ``gen_models/resnet_32.py``,
``gen_models/resblocks.py``, ``dis_models/snresnet_32.py``, ``dis_models/resblocks.py`` (Miyato's
code of the CIFAR ResNet); ``tntrung/gan`` ``distgan_image/modules/models_dcgan.py`` (encoder),
``models_resnet.py`` and ``gaan_image/modules/models_sngan.py`` (the authors' SN-GAN-like CNN).

Conventions (shared with :mod:`gngan.nets`):

* Models only define ``forward``. Every input may carry a leading seed axis: z is (n, z_dim) or
  (S, n, z_dim), x is (n, 3, H, W) or (S, n, 3, H, W); outputs keep the same leading axes:
  ``net_G(z)`` -> (S, n, 3, H, W), ``net_D(x)`` -> (S, n) logits, ``net_D.body(x)`` -> (S, n, d_f)
  penultimate features, ``net_E(x)`` -> (S, n, z_dim). The seed axis is flattened into the batch, the
  network runs once, and the result is unflattened.
* Image networks hold ONE set of weights (image runs train one seed per process, S = 1). The nets with
  batch norm (G and E) therefore refuse S > 1 with a ValueError: batch norm would pool the statistics
  of S different runs. D has no batch norm and treats every sample independently, so it accepts any S
  (the same D is applied to every slice).
* D never mixes samples (no batch norm, no minibatch layers): gradient matching computes per-sample
  input gradients by differentiating ``sum_i D(x_i)``, which is exact only then.
* ``width`` multiplies every hidden channel count (and hence the dense layers); width = 1 is the paper.
* ``spectral_norm=True`` wraps every conv / linear weight of D (head included) in
  :func:`torch.nn.utils.parametrizations.spectral_norm` with one power iteration per forward call in
  train mode, as Miyato's SN links (the weight is reshaped to out x (in*k*k), ``dim=0``). Eval mode
  reuses the stored singular vectors.
* Initialisation ``init="reference"`` (default): what the reference code of each architecture uses
  (stated in each class docstring); ``init="pytorch"``: PyTorch's defaults; ``init="normal02"``: every conv /
  linear weight N(0, 0.02), as Miyato et al.'s standard-CNN code (``pfnet-research/chainer-gan-lib``
  ``common/net.py``, DCGANGenerator and SNDCGANDiscriminator, ``chainer.initializers.Normal(0.02)``). Biases start
  at zero under "reference" and "normal02"; batch-norm scales at 1 and shifts at 0 in all three.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _torch_spectral_norm

ARCHS = ("cnn", "resnet")
IMAGE_SIZES = (32, 48)
INITS = ("reference", "pytorch", "normal02")
CHANNELS = 3


# --------------------------------------------------------------------------------------------- helpers

def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters of ``module`` (only those with ``requires_grad`` by default).

    Spectral norm adds no parameter (its singular vectors are buffers); batch-norm running statistics
    are buffers too and are not counted."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _check_common(image_size: int, width: float, init: str) -> None:
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES} (CIFAR-10 32x32, STL-10 48x48), "
                         f"got {image_size!r}")
    if not (isinstance(width, (int, float)) and math.isfinite(width) and width > 0):
        raise ValueError(f"width must be a positive number, got {width!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")


def _check_z_dim(z_dim: int) -> None:
    if not (isinstance(z_dim, int) and z_dim >= 1):
        raise ValueError(f"z_dim must be a positive integer, got {z_dim!r}")


def _ch(channels: int, width: float) -> int:
    """Hidden channel count scaled by ``width`` (at least 1)."""
    return max(1, int(round(channels * width)))


def _flatten_seeds(t: torch.Tensor, event_shape: tuple[int, ...], who: str, what: str,
                   batch_norm: bool) -> tuple[torch.Tensor, tuple[int, ...]]:
    """(n, *event) or (S, n, *event) -> ((S*n, *event), leading shape)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{who} expects a tensor, got {type(t).__name__}")
    k = len(event_shape)
    if t.dim() not in (k + 1, k + 2) or tuple(t.shape[-k:]) != tuple(event_shape):
        ev = ", ".join(map(str, event_shape))
        raise ValueError(f"{who} expects {what} of shape (n, {ev}) or (S, n, {ev}), got {tuple(t.shape)}")
    lead = tuple(t.shape[:-k])
    if len(lead) == 2 and lead[0] != 1 and batch_norm:
        raise ValueError(f"{who} has batch norm and one set of weights: a leading seed axis S > 1 "
                         f"(got S = {lead[0]}) would pool batch statistics across runs; "
                         "train image networks one seed at a time (S = 1)")
    return t.reshape(-1, *event_shape), lead


def _maybe_sn(module: nn.Module, enabled: bool) -> nn.Module:
    return _torch_spectral_norm(module, n_power_iterations=1) if enabled else module


def _glorot(module: nn.Module, gain: float = 1.0) -> None:
    """Glorot/Xavier uniform weight (limit gain * sqrt(6 / (fan_in + fan_out)), fans include the
    kernel area; chainer's GlorotUniform(scale) and TF's xavier_initializer), zero bias."""
    nn.init.xavier_uniform_(module.weight, gain=gain)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def _normal02_all(net: nn.Module) -> None:
    """Every conv / linear weight of ``net`` N(0, 0.02) and its bias 0 (chainer's Normal(0.02), Miyato's standard
    CNN); a spectrally normalised weight is initialised through its unnormalised original."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            with torch.no_grad():
                weight.normal_(0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _glorot_all(net: nn.Module) -> None:
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            _glorot(m)


class _ImageDiscriminator(nn.Module):
    """Shared seed-axis handling of the discriminators: ``_features`` maps a flat (N, 3, H, W) batch to
    (N, d_f); ``head`` maps (N, d_f) to (N, 1)."""

    image_size: int
    feature_dim: int
    head: nn.Module

    def _features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features: (n, 3, H, W) -> (n, d_f), (S, n, 3, H, W) -> (S, n, d_f)."""
        s = self.image_size
        flat, lead = _flatten_seeds(x, (CHANNELS, s, s), type(self).__name__, f"{s}x{s} RGB images",
                                    batch_norm=False)
        return self._features(flat).reshape(*lead, self.feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits: (n, 3, H, W) -> (n,), (S, n, 3, H, W) -> (S, n). The paper's score is sigmoid of it."""
        return self.head(self.body(x)).squeeze(-1)


# ------------------------------------------------------------------------------------- standard CNN

class CNNGenerator(nn.Module):
    """Standard-CNN generator of Miyato et al. 2018, Table 3(a).

    z (128) -> dense M_g x M_g x 512 -> BN -> ReLU -> [deconv 4x4 s2 -> BN -> ReLU] x 3 with
    256, 128, 64 channels -> conv 3x3 s1 3 -> tanh; M_g = 4 (32x32 CIFAR-10), 6 (48x48 STL-10).
    Output in [-1, 1] (the data range of :func:`gngan.images.to_model_range`).

    Deviations / choices:

    * BN + ReLU after the dense layer: Table 3 does not print them; Miyato's code (chainer-gan-lib
      DCGANGenerator) has them, with batch norm over the M_g*M_g*512 dense features (BatchNorm1d), which
      is what is used here. The authors' Dist-GAN variant of this net applies ReLU without BN there.
    * No bias in the layers followed by batch norm (the batch-norm shift makes it redundant in training
      mode; Miyato's code keeps it). The last conv has a bias.
    * 4x4 s2 deconvolutions use padding 1 (exact doubling); the final 3x3 layer is a padding-1 conv
      (Miyato's code writes it as a 3x3 s1 deconvolution, the same function class).
    * Batch norm: PyTorch's momentum 0.1 / eps 1e-5 (TF's decay 0.9 / eps 1e-5 in Dist-GAN's code).
    * Init "reference": Glorot uniform weights, zero biases, as the authors' Dist-GAN/GN-GAN code
      (``tf.contrib.layers.xavier_initializer``); Miyato's chainer code draws N(0, 0.02) instead.
    * The authors' Dist-GAN code doubles every width (dense 4x4x1024, 512/256/128); GN-GAN states it
      follows Miyato, so width = 1 is Miyato's 512/256/128/64 (``width=2`` gives the Dist-GAN net).
    """

    def __init__(self, image_size: int = 32, z_dim: int = 128, width: float = 1.0, init: str = "reference"):
        super().__init__()
        _check_common(image_size, width, init)
        _check_z_dim(z_dim)
        self.image_size, self.z_dim = image_size, z_dim
        self.bottom = image_size // 8
        c0, c1, c2, c3 = (_ch(c, width) for c in (512, 256, 128, 64))
        self.c0 = c0
        self.dense = nn.Linear(z_dim, self.bottom * self.bottom * c0, bias=False)
        self.bn0 = nn.BatchNorm1d(self.bottom * self.bottom * c0)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(c0, c1, 4, 2, 1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(c1, c2, 4, 2, 1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(c2, c3, 4, 2, 1, bias=False), nn.BatchNorm2d(c3), nn.ReLU(inplace=True),
            nn.Conv2d(c3, CHANNELS, 3, 1, 1), nn.Tanh(),
        )
        if init == "reference":
            _glorot_all(self)
        if init == "normal02":
            _normal02_all(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        flat, lead = _flatten_seeds(z, (self.z_dim,), type(self).__name__, "latent codes", batch_norm=True)
        h = F.relu(self.bn0(self.dense(flat)), inplace=True)
        x = self.net(h.view(-1, self.c0, self.bottom, self.bottom))
        return x.reshape(*lead, CHANNELS, self.image_size, self.image_size)


class CNNDiscriminator(_ImageDiscriminator):
    """Standard-CNN discriminator of Miyato et al. 2018, Table 3(b); no batch norm.

    conv3x3 s1 64, conv4x4 s2 64, conv3x3 s1 128, conv4x4 s2 128, conv3x3 s1 256, conv4x4 s2 256,
    conv3x3 s1 512, each followed by LeakyReLU(``leak`` = 0.1), then dense -> 1. Convolutions use
    padding 1, so the last map is (H/8) x (H/8) x 512: 4x4 for CIFAR-10, 6x6 for STL-10.
    ``body(x)`` is that last activation flattened (d_f = 8192 / 18432, the "feature_dim 8192" of the
    authors' Dist-GAN code for this net); ``head`` is the dense layer.

    Deviations / choices:

    * Leak 0.1 as Table 3 states (Miyato's chainer code calls ``F.leaky_relu`` with its default 0.2;
      the authors' TF variant uses 0.1).
    * ``spectral_norm=True`` gives SN-GAN's D (every conv and the dense layer); off by default because
      the Dist-GAN/GN-GAN D uses the gradient penalty instead.
    * Init "reference": Glorot uniform, zero biases (the authors' code); Miyato's: N(0, 0.02).
    """

    def __init__(self, image_size: int = 32, width: float = 1.0, spectral_norm: bool = False,
                 leak: float = 0.1, init: str = "reference"):
        super().__init__()
        _check_common(image_size, width, init)
        if not (0 <= leak < 1):
            raise ValueError(f"leak must be in [0, 1), got {leak!r}")
        self.image_size, self.leak = image_size, leak
        c64, c128, c256, c512 = (_ch(c, width) for c in (64, 128, 256, 512))
        spec = [(CHANNELS, c64, 3, 1), (c64, c64, 4, 2), (c64, c128, 3, 1), (c128, c128, 4, 2),
                (c128, c256, 3, 1), (c256, c256, 4, 2), (c256, c512, 3, 1)]
        layers: list[nn.Module] = []
        convs = []
        for c_in, c_out, k, s in spec:
            conv = nn.Conv2d(c_in, c_out, k, s, 1)
            convs.append(conv)
            layers += [conv, nn.LeakyReLU(leak)]
        self.feature_dim = (image_size // 8) ** 2 * c512
        head = nn.Linear(self.feature_dim, 1)
        if init == "reference":
            for m in convs + [head]:
                _glorot(m)
        self.convs = nn.Sequential(*[_maybe_sn(m, spectral_norm) if isinstance(m, nn.Conv2d) else m
                                     for m in layers])
        self.head = _maybe_sn(head, spectral_norm)
        if init == "normal02":
            _normal02_all(self)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x).flatten(1)


class ImageEncoder(nn.Module):
    """Encoder E of the auto-encoder methods, from the authors' Dist-GAN code (there is none in
    Miyato et al.): conv5x5 s2 128 -> LeakyReLU(0.2), conv5x5 s2 256 -> BN -> LeakyReLU(0.2),
    conv5x5 s2 512 -> BN -> LeakyReLU(0.2), flatten, linear -> z_dim (linear output).
    The last map is (H/8) x (H/8) x 512 (4x4 CIFAR-10, 6x6 STL-10).

    Deviations / choices: padding 2 (symmetric) where TF's "SAME" pads 32 -> 16 asymmetrically (1 before,
    2 after); no bias before batch norm (as the reference); Glorot uniform init and zero biases (the
    reference); batch norm momentum 0.1 / eps 1e-5 (TF decay 0.9 / eps 1e-5). E has batch norm, so it
    is not for per-sample input gradients, and refuses a seed axis S > 1.
    """

    def __init__(self, image_size: int = 32, z_dim: int = 128, width: float = 1.0, init: str = "reference"):
        super().__init__()
        _check_common(image_size, width, init)
        _check_z_dim(z_dim)
        self.image_size, self.z_dim = image_size, z_dim
        c1, c2, c3 = (_ch(c, width) for c in (128, 256, 512))
        self.net = nn.Sequential(
            nn.Conv2d(CHANNELS, c1, 5, 2, 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c1, c2, 5, 2, 2, bias=False), nn.BatchNorm2d(c2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c2, c3, 5, 2, 2, bias=False), nn.BatchNorm2d(c3), nn.LeakyReLU(0.2, inplace=True),
            nn.Flatten(1),
            nn.Linear((image_size // 8) ** 2 * c3, z_dim),
        )
        if init == "reference":
            _glorot_all(self)
        if init == "normal02":
            _normal02_all(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.image_size
        flat, lead = _flatten_seeds(x, (CHANNELS, s, s), type(self).__name__, f"{s}x{s} RGB images",
                                    batch_norm=True)
        return self.net(flat).reshape(*lead, self.z_dim)


# ------------------------------------------------------------------------------------------- ResNet

class _UpBlock(nn.Module):
    """Pre-activation up-sampling residual block (Miyato's gen_models Block, upsample=True):
    BN -> ReLU -> nearest x2 -> conv3x3 -> BN -> ReLU -> conv3x3, plus shortcut conv1x1 of the
    x2-upsampled input. The shortcut runs the 1x1 conv before the upsampling: nearest upsampling
    commutes with a 1x1 conv, so the function is identical and 4x cheaper."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, 1, 0)

    def reference_init(self) -> None:
        _glorot(self.conv1, math.sqrt(2))
        _glorot(self.conv2, math.sqrt(2))
        _glorot(self.shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h)), inplace=True))
        return h + F.interpolate(self.shortcut(x), scale_factor=2, mode="nearest")


class _DownBlock(nn.Module):
    """Discriminator residual block (Miyato's dis_models Block / OptimizedBlock), no batch norm.

    first=False: ReLU -> conv3x3 -> ReLU -> conv3x3 [-> avgpool2]; shortcut conv1x1 [+ avgpool2] when
    down-sampling or changing channels, identity otherwise.
    first=True ("optimized" first block): conv3x3 -> ReLU -> conv3x3 -> avgpool2; shortcut avgpool2 ->
    conv1x1. Average pooling and a 1x1 conv commute, so the shortcut always pools first (cheaper, same
    function)."""

    def __init__(self, c_in: int, c_out: int, downsample: bool, first: bool, sn: bool, init: str):
        super().__init__()
        self.first, self.downsample = first, downsample or first
        conv1, conv2 = nn.Conv2d(c_in, c_out, 3, 1, 1), nn.Conv2d(c_out, c_out, 3, 1, 1)
        shortcut = nn.Conv2d(c_in, c_out, 1, 1, 0) if (first or downsample or c_in != c_out) else None
        if init == "reference":
            _glorot(conv1, math.sqrt(2))
            _glorot(conv2, math.sqrt(2))
            if shortcut is not None:
                _glorot(shortcut)
        self.conv1, self.conv2 = _maybe_sn(conv1, sn), _maybe_sn(conv2, sn)
        self.shortcut = None if shortcut is None else _maybe_sn(shortcut, sn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        s = x
        if self.downsample:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        if self.shortcut is not None:
            s = self.shortcut(s)
        return h + s


class ResNetGenerator(nn.Module):
    """ResNet generator of Miyato et al. 2018, Table 4 (the WGAN-GP CIFAR ResNet; code:
    sngan_projection ``gen_models/resnet_32.py``).

    z (128) -> dense M_g x M_g x 256 -> 3 up-ResBlocks 256 -> BN -> ReLU -> conv3x3 3 -> tanh,
    M_g = 4 (32x32). Init "reference": Glorot uniform with gain sqrt(2) in the residual 3x3 convs, gain 1
    in the shortcuts, the dense layer and the last conv, zero biases (Miyato's code).

    Deviations / choices:

    * 48x48 (STL-10): the same net started at M_g = 6. GN-GAN reports no ResNet STL-10 result; Miyato's
      STL-10 ResNet (their Table 5: dense 6x6x512, up-blocks 256/128/64) is NOT implemented.
    * Batch norm: PyTorch's momentum 0.1 / eps 1e-5 (chainer: decay 0.9, eps 2e-5).
    """

    def __init__(self, image_size: int = 32, z_dim: int = 128, width: float = 1.0, init: str = "reference"):
        super().__init__()
        _check_common(image_size, width, init)
        _check_z_dim(z_dim)
        self.image_size, self.z_dim = image_size, z_dim
        self.bottom = image_size // 8
        self.ch = ch = _ch(256, width)
        self.dense = nn.Linear(z_dim, self.bottom * self.bottom * ch)
        self.blocks = nn.Sequential(_UpBlock(ch, ch), _UpBlock(ch, ch), _UpBlock(ch, ch))
        self.bn = nn.BatchNorm2d(ch)
        self.conv = nn.Conv2d(ch, CHANNELS, 3, 1, 1)
        if init == "reference":
            _glorot(self.dense)
            _glorot(self.conv)
            for b in self.blocks:
                b.reference_init()
        if init == "normal02":
            _normal02_all(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        flat, lead = _flatten_seeds(z, (self.z_dim,), type(self).__name__, "latent codes", batch_norm=True)
        h = self.blocks(self.dense(flat).view(-1, self.ch, self.bottom, self.bottom))
        x = torch.tanh(self.conv(F.relu(self.bn(h), inplace=True)))
        return x.reshape(*lead, CHANNELS, self.image_size, self.image_size)


class ResNetDiscriminator(_ImageDiscriminator):
    """ResNet discriminator of Miyato et al. 2018, Table 4 (code: sngan_projection
    ``dis_models/snresnet_32.py``); no batch norm.

    optimized down-ResBlock 128, down-ResBlock 128, ResBlock 128, ResBlock 128, ReLU, global SUM
    pooling, dense -> 1 (no bias, as Miyato's code). ``body(x)`` is the pooled 128-vector (the input of
    the dense layer), d_f = 128 * width. Init "reference": Glorot uniform, gain sqrt(2) in the residual
    3x3 convs, 1 in the shortcuts and the dense layer, zero biases (Miyato's code).

    Deviations / choices:

    * The authors' Dist-GAN code uses the flattened 8x8x128 map before pooling as its "feature" for the
      latent-data distance; ``body`` returns the pooled vector, the true penultimate layer.
    * 48x48 (STL-10): the same net; its last map is 12x12 (sum pooling makes the head size-free).
      Miyato's STL-10 ResNet D (Table 5: down 64/128/256/512, ResBlock 1024) is NOT implemented.
    """

    def __init__(self, image_size: int = 32, width: float = 1.0, spectral_norm: bool = False,
                 init: str = "reference"):
        super().__init__()
        _check_common(image_size, width, init)
        self.image_size = image_size
        ch = _ch(128, width)
        self.blocks = nn.Sequential(
            _DownBlock(CHANNELS, ch, downsample=True, first=True, sn=spectral_norm, init=init),
            _DownBlock(ch, ch, downsample=True, first=False, sn=spectral_norm, init=init),
            _DownBlock(ch, ch, downsample=False, first=False, sn=spectral_norm, init=init),
            _DownBlock(ch, ch, downsample=False, first=False, sn=spectral_norm, init=init),
        )
        self.feature_dim = ch
        head = nn.Linear(ch, 1, bias=False)
        if init == "reference":
            _glorot(head)
        self.head = _maybe_sn(head, spectral_norm)
        if init == "normal02":
            _normal02_all(self)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.blocks(x)).sum(dim=(2, 3))


# ------------------------------------------------------------------------------------------ factory

def build_image_nets(arch: str, image_size: int, z_dim: int = 128, width: float = 1.0,
                     spectral_norm: bool = False, with_encoder: bool = True,
                     init: str = "reference") -> dict[str, nn.Module | None]:
    """``dict(net_G=..., net_D=..., net_E=... or None)`` for ``arch`` in {"cnn", "resnet"} and
    ``image_size`` 32 (CIFAR-10) or 48 (STL-10). ``width`` scales all hidden channels (1 = paper);
    ``spectral_norm`` applies to D only; the encoder (the Dist-GAN one, for both archs) is built when
    ``with_encoder``. ``init``: "reference" (each class's reference initialisation), "pytorch", or "normal02"
    (N(0, 0.02) weights, zero biases: Miyato et al.'s standard-CNN code)."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    _check_common(image_size, width, init)
    _check_z_dim(z_dim)
    if arch == "cnn":
        net_G = CNNGenerator(image_size, z_dim, width, init)
        net_D = CNNDiscriminator(image_size, width, spectral_norm, init=init)
    else:
        net_G = ResNetGenerator(image_size, z_dim, width, init)
        net_D = ResNetDiscriminator(image_size, width, spectral_norm, init=init)
    net_E = ImageEncoder(image_size, z_dim, width, init) if with_encoder else None
    return dict(net_G=net_G, net_D=net_D, net_E=net_E)
