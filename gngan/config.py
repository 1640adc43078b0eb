"""One frozen dataclass per run; saved next to its results as ``config.json``."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from gngan.cnn import INITS
from gngan.losses import ALPHA_SCHEDULES, GNGAN_DIS_LOSSES, NE_BANDWIDTHS, RECON_LABELS, VAE_RECONS, VAE_SIGMA

METHODS = ("gngan", "distgan", "gan", "wgangp", "vae", "ali", "vaegan", "mmdrep", "bourgan", "sngan", "gangp")
# image runs (arch "cnn"/"resnet") support these; the other baselines exist for the 2D section only
IMAGE_METHODS = ("gngan", "distgan", "gan", "wgangp", "sngan", "gangp")
IMAGE_DATA = ("cifar10", "stl10")
ARCHS = ("mlp", "cnn", "resnet")
# "own": the method's own generator objective; "gm": replaced by GN-GAN's Eq. 13 (GAN+GM of Fig. 7)
GEN_LOSSES = ("own", "gm")
# methods whose objective has a KL term against N(0, I), so they train and generate with that prior
NORMAL_PRIOR_METHODS = ("vae", "vaegan")
DIS_LOSSES = ("log", "hinge", "wasserstein", "mmd_rep", "none")
# the net_D loss each method trains with: GN-GAN and Dist-GAN choose Eq. 7 ("log") or Eq. 8 ("hinge"); every other
# method has one loss of its own (gngan.steps), which its config names so that its manifest says what ran. "none":
# the VAE has no net_D. A config left at dis_loss="auto" takes the method's first entry.
METHOD_DIS_LOSSES = {"gngan": GNGAN_DIS_LOSSES, "distgan": GNGAN_DIS_LOSSES, "gan": ("log",), "bourgan": ("log",),
                     "gangp": ("log",), "ali": ("log",), "vaegan": ("log",), "sngan": ("hinge",),
                     "wgangp": ("wasserstein",), "mmdrep": ("mmd_rep",), "vae": ("none",)}
GP_ON = ("logit", "score")
# how net_G's gradient reaches Eq. 13's gradient terms: "double" = autograd's double backward through net_D
# (any net_D); "linear" = losses.gradient_matching_linearized (net_D's logit piecewise linear, as all of gngan's)
GM_BACKWARDS = ("double", "linear")
DISTGAN_FEATURES = ("disc", "data")
# Dist-GAN's reconstruction term: "data" = mean (x - G(E(x)))^2 (Eq. 1's first term), "disc" = mean (f(x) - f(G(E(x))))^2
# with f net_D's penultimate features (the authors' image code); and the f(.) of the latent-data constraint's real
# side: "real" = f(x), "recon" = f(G(E(x))) (the authors' image code)
DISTGAN_RECONS = ("data", "disc")
DISTGAN_MD_X = ("real", "recon")
# which networks the auto-encoder step updates: net_E and net_G (Algorithm 1), or net_E only (the Dist-GAN image code
# on CIFAR-10 and STL-10)
AE_TRAINS = ("encoder_generator", "encoder")
# ALPHA_SCHEDULES (from losses): the weight alpha of the reconstructions-as-real term over training (losses.alpha_at),
# "constant" or "distgan_code" (alpha until half of num_steps, then linearly to 0 at three quarters: the current
# Dist-GAN image code)
BUDGETS = ("smoke", "cpu", "gpu", "paper")
# the float32 arithmetic of the training iterations (gngan.steps.precision_flags): "fp32" = IEEE float32
# throughout (cuDNN's TF32 default switched off), "tf32" = float32 matmuls and convolutions on TF32 tensor
# cores, "bf16" = the forward computations under bfloat16 autocast
PRECISIONS = ("fp32", "tf32", "bf16")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run (not where or on what device it runs).

    GN-GAN's variants are switched by weights: ``lambda_r > 0`` adds neighbors embedding
    (+NE), ``lambda_m1``/``lambda_m2 > 0`` add gradient matching (+GM). For Dist-GAN,
    ``lambda_r`` weighs its latent-data distance constraint. ``beta`` weighs the VAE's KL term
    (beta-VAE when != 1). For the standard GAN (Fig. 7), ``lambda_r > 0`` adds neighbors embedding
    between z and net_G(z) to the generator loss and ``gen_loss="gm"`` replaces its objective by
    Eq. 13 (GAN+GM). Image runs set ``arch`` ("cnn"/"resnet"), ``image_size``, ``width`` (channel
    multiplier, 1 = paper), ``spectral_norm`` (of net_D) and the FID sample counts. ``gm_backward`` picks
    how Eq. 13 is differentiated (same values, different cost; see ``GM_BACKWARDS``). ``vae_recon`` and
    ``vae_sigma`` are the VAE decoder's likelihood and Gaussian std (``losses.vae_ae``; book: baselines page).
    For Dist-GAN, ``distgan_recon``, ``distgan_md_x`` and ``ae_trains`` choose between GN-GAN's auto-encoder step and
    the authors' image code (reconstruction in net_D's feature space, net_E alone updated); ``alpha_schedule`` anneals
    alpha as that code does; ``recon_label="fake"`` makes net_D label the reconstructions fake (the authors' 2D
    Dist-GAN code, with alpha = 0.5). ``init`` is the image networks' initialisation (``gngan.cnn.INITS``; "normal02" is
    N(0, 0.02), Miyato et al.'s standard CNN code). The ledger (book/reading-the-paper.md) gives each reading's source.
    ``precision`` is the arithmetic of the training iterations (``PRECISIONS``; evaluation is always float32):
    it changes the numbers a run produces, so it is part of the run; "tf32" and "bf16" only where
    ``gngan.costs.precision_agreement`` shows an iteration agrees with "fp32" (on a CPU, "tf32" is "fp32").
    """

    method: str = "gngan"
    data: str = "gauss1d"
    seed: int = 0
    num_steps: int = 10_000
    batch_size: int = 64
    z_dim: int = 1
    prior: str = "normal"
    hidden_width: int = 4
    g_hidden_layers: int = 2
    d_hidden_layers: int = 1
    g_out: str = "linear"
    lr: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.9
    lr_decay: float = 1.0
    lr_decay_every: int = 10_000
    d_steps: int = 3
    alpha: float = 0.05
    lambda_r: float = 0.0
    lambda_p: float = 0.1
    lambda_m1: float = 0.1
    lambda_m2: float = 0.1
    lambda_w: float | None = None
    distgan_features: str = "disc"
    distgan_recon: str = "data"
    distgan_md_x: str = "real"
    ae_trains: str = "encoder_generator"
    alpha_schedule: str = "constant"
    recon_label: str = "real"
    init: str = "reference"
    dis_loss: str = "auto"
    gp_on: str = "logit"
    ne_bandwidth: str = "sigma_sq_is_var"
    ne_detach_sigma: bool = True
    eval_every: int = 500
    eval_samples: int = 2000
    checkpoint_every: int = 1000
    beta: float = 1.0
    arch: str = "mlp"
    image_size: int = 32
    width: float = 1.0
    spectral_norm: bool = False
    gen_loss: str = "own"
    gm_backward: str = "double"
    vae_recon: str = "gaussian"
    vae_sigma: float = VAE_SIGMA
    fid_real: int = 10_000
    fid_fake: int = 5_000
    precision: str = "fp32"

    def __post_init__(self):
        if self.method in METHOD_DIS_LOSSES and self.dis_loss == "auto":
            object.__setattr__(self, "dis_loss", METHOD_DIS_LOSSES[self.method][0])
        choices = {"method": METHODS, "dis_loss": DIS_LOSSES, "gp_on": GP_ON, "distgan_features": DISTGAN_FEATURES, "ne_bandwidth": NE_BANDWIDTHS,
                   "distgan_recon": DISTGAN_RECONS, "distgan_md_x": DISTGAN_MD_X, "ae_trains": AE_TRAINS,
                   "alpha_schedule": ALPHA_SCHEDULES, "recon_label": RECON_LABELS, "init": INITS,
                   "arch": ARCHS, "gen_loss": GEN_LOSSES, "gm_backward": GM_BACKWARDS,
                   "vae_recon": VAE_RECONS, "precision": PRECISIONS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"config {name}={getattr(self, name)!r} is not one of {allowed}")
        for name in ("num_steps", "batch_size", "z_dim", "hidden_width", "d_steps", "eval_every",
                     "eval_samples", "checkpoint_every", "lr_decay_every", "fid_real", "fid_fake"):
            if getattr(self, name) < 1:
                raise ValueError(f"config {name}={getattr(self, name)} must be a positive integer")
        if self.checkpoint_every % self.eval_every:
            raise ValueError(f"config checkpoint_every={self.checkpoint_every} must be a multiple of "
                             f"eval_every={self.eval_every} so a resumed run logs the same averages")
        for name in ("lr", "alpha", "lambda_r", "lambda_p", "lambda_m1", "lambda_m2", "beta"):
            if getattr(self, name) < 0:
                raise ValueError(f"config {name}={getattr(self, name)} must be >= 0")
        if (self.method == "bourgan") != (self.prior == "bourgain"):
            raise ValueError(f"config method={self.method!r} with prior={self.prior!r}: BourGAN, and only BourGAN, "
                             f"uses the Bourgain mixture prior (prior='bourgain')")
        if (self.arch != "mlp") != (self.data in IMAGE_DATA):
            raise ValueError(f"config arch={self.arch!r} with data={self.data!r}: image data ({', '.join(IMAGE_DATA)}) "
                             f"needs arch 'cnn' or 'resnet', the toy data arch 'mlp'")
        if self.arch != "mlp" and self.method not in IMAGE_METHODS:
            raise ValueError(f"config method={self.method!r} is implemented for the 2D section only; image runs "
                             f"support {IMAGE_METHODS}")
        if self.vae_sigma <= 0:
            raise ValueError(f"config vae_sigma={self.vae_sigma} must be > 0 (the VAE decoder's Gaussian std)")
        if self.width <= 0:
            raise ValueError(f"config width={self.width} must be > 0 (1.0 = the paper's channel counts)")
        if self.gen_loss == "gm" and self.method != "gan":
            raise ValueError(f"config gen_loss='gm' replaces the generator objective of the standard GAN only "
                             f"(Fig. 7); GN-GAN always uses Eq. 13, got method={self.method!r}")
        if self.spectral_norm and self.arch == "mlp":
            raise ValueError("config spectral_norm=True is implemented for the image discriminators only")
        own = METHOD_DIS_LOSSES[self.method]
        if self.dis_loss not in own:
            raise ValueError(f"config method={self.method!r} with dis_loss={self.dis_loss!r}: its net_D trains with "
                             f"{' or '.join(map(repr, own))} (gngan.steps d_step); set dis_loss to that, or 'auto'")
        if self.method != "distgan" and (self.distgan_recon, self.distgan_md_x, self.ae_trains) != (
                "data", "real", "encoder_generator"):
            raise ValueError(f"config distgan_recon, distgan_md_x and ae_trains choose Dist-GAN's auto-encoder step; "
                             f"method={self.method!r} must keep 'data', 'real', 'encoder_generator'")
        if self.distgan_features == "data" and (self.distgan_recon, self.distgan_md_x) != ("data", "real"):
            raise ValueError(f"config distgan_recon={self.distgan_recon!r}, distgan_md_x={self.distgan_md_x!r} name "
                             f"net_D's features, which distgan_features='data' does not use; use distgan_features='disc'")
        if self.alpha_schedule != "constant" and self.method not in ("gngan", "distgan"):
            raise ValueError(f"config alpha_schedule={self.alpha_schedule!r} anneals the reconstructions-as-real weight "
                             f"alpha of GN-GAN's and Dist-GAN's net_D; method={self.method!r} has none")
        if self.recon_label != "real" and self.method not in ("gngan", "distgan"):
            raise ValueError(f"config recon_label={self.recon_label!r} labels the reconstructions in GN-GAN's and "
                             f"Dist-GAN's net_D loss; method={self.method!r} has none")
        if self.init != "reference" and self.arch == "mlp":
            raise ValueError(f"config init={self.init!r} is implemented for the image networks only")
        if self.method in NORMAL_PRIOR_METHODS and self.prior != "normal":
            raise ValueError(f"config method={self.method!r} needs prior='normal' (its KL term is against N(0, I)); "
                             f"got prior={self.prior!r}")

    def replace(self, **changes) -> "RunConfig":
        """A copy with ``changes``. A new ``method`` keeps ``dis_loss`` where the method trains with it, and otherwise
        takes the method's own loss (so ``IMAGE_BASE.replace(method="wgangp")`` says "wasserstein")."""
        method = changes.get("method", self.method)
        if "dis_loss" not in changes and self.dis_loss not in METHOD_DIS_LOSSES.get(method, (self.dis_loss,)):
            changes["dis_loss"] = "auto"
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known keys are {sorted(known)}")
        return cls(**d)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> "RunConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def diff(self, other: "RunConfig") -> dict:
        """{field: (self value, other value)} for the fields that differ."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}
