"""The paper's experiments as sets of run configs, per budget, and where their results live.

Budgets: ``smoke`` (seconds, CI), ``cpu`` (run on 2 CPU cores), ``gpu`` (the image sections as one short
H200 run trains them, ``gngan.gpurun``; the 1D and 2D sections have no gpu plan and use their cpu runs),
``paper`` (the paper's protocol, for GPU users).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from datetime import datetime, timezone
from pathlib import Path

from gngan.config import BUDGETS, RunConfig
from gngan.trainer import GIT_AT_IMPORT, ConfigMismatchError, load_result, run_group, run_in_use

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_ROOT = REPO_ROOT / "results"

TOY1D_BASE = RunConfig(
    data="gauss1d", z_dim=1, prior="normal", hidden_width=4, g_hidden_layers=2, d_hidden_layers=1,
    batch_size=64, lr=1e-3, beta1=0.5, beta2=0.9, d_steps=3, alpha=0.05, lambda_p=0.1,
    num_steps=10_000, eval_every=500, checkpoint_every=1000, eval_samples=2000,
)

TOY1D_METHODS = {
    "gngan_gm": TOY1D_BASE.replace(method="gngan", lambda_r=0.0, lambda_m1=0.1, lambda_m2=0.1),
    # data-space distances, as the Dist-GAN code's synthetic experiments (lambda_w = sqrt(1/1) = 1)
    "distgan": TOY1D_BASE.replace(method="distgan", lambda_r=1.0, lambda_m1=0.0, lambda_m2=0.0,
                                  distgan_features="data"),
}
METHOD_LABELS = {"gngan_gm": "GN-GAN (+GM)", "distgan": "Dist-GAN"}

TOY1D_BUDGETS = {
    "smoke": {"seeds": [0], "num_steps": 60, "eval_every": 20, "checkpoint_every": 20, "eval_samples": 500},
    "cpu": {"seeds": list(range(10)), "num_steps": 10_000},
    "gpu": {"seeds": list(range(10)), "num_steps": 10_000},
    "paper": {"seeds": list(range(10)), "num_steps": 10_000},
}


# Table 1 and the 2D text: 2 hidden layers of 64, sigmoid outputs for G (data rescaled to [0, 1]) and D,
# prior U[-1, 1]^2, Adam lr 1e-3 beta1 0.8, lr x 0.99 every 10K steps, batch 128, 500 epochs of 50K points.
GRID2D_EPOCH_STEPS = 50_000 / 128
GRID2D_BASE = RunConfig(
    data="grid2d", z_dim=2, prior="uniform", hidden_width=64, g_hidden_layers=2, d_hidden_layers=2,
    g_out="sigmoid", batch_size=128, lr=1e-3, beta1=0.8, beta2=0.999, lr_decay=0.99, lr_decay_every=10_000,
    d_steps=5, alpha=0.05, lambda_p=0.1, num_steps=195_313, eval_every=2_000, checkpoint_every=10_000,
    eval_samples=2000,
)
GRID2D_METHODS = {
    "gngan_gm": GRID2D_BASE.replace(method="gngan", lambda_r=0.0, lambda_m1=0.1, lambda_m2=0.1),
    "gngan_ne_gm": GRID2D_BASE.replace(method="gngan", lambda_r=1.0, lambda_m1=0.1, lambda_m2=0.1),
    "distgan": GRID2D_BASE.replace(method="distgan", lambda_r=1.0, lambda_m1=0.0, lambda_m2=0.0,
                                   distgan_features="data"),
    "wgangp": GRID2D_BASE.replace(method="wgangp", lambda_p=0.1, lambda_m1=0.0, lambda_m2=0.0),
    "gan": GRID2D_BASE.replace(method="gan", d_steps=1, lambda_p=0.0, lambda_m1=0.0, lambda_m2=0.0),
}
# The baselines' own settings (book/baselines.md): N(0, I) for the methods with a KL term, one D step each.
_BASELINE = GRID2D_BASE.replace(d_steps=1, lambda_p=0.0, lambda_m1=0.0, lambda_m2=0.0)
GRID2D_METHODS.update({
    "vae": _BASELINE.replace(method="vae", prior="normal", beta=1.0),
    "beta_vae": _BASELINE.replace(method="vae", prior="normal", beta=4.0),
    "ali": _BASELINE.replace(method="ali"),
    "vaegan": _BASELINE.replace(method="vaegan", prior="normal"),
    "mmdrep": _BASELINE.replace(method="mmdrep"),
    "bourgan": _BASELINE.replace(method="bourgan", prior="bourgain", z_dim=55),
})
METHOD_LABELS.update({"gngan_ne_gm": "GN-GAN (+NE+GM)", "wgangp": "WGAN-GP", "gan": "GAN", "vae": "VAE",
                      "beta_vae": "β-VAE", "ali": "ALI", "vaegan": "VAEGAN", "mmdrep": "MMD-GAN (repulsive, ours)",
                      "bourgan": "BourGAN (ours)"})
# Sensitivity checks (ours, not rows of Table 2): settings of a baseline changed, to test an explanation of
# why our row differs from the paper's. {key: (config, the Table 2 method it probes, what changes)}.
GRID2D_CHECKS = {
    **{f"vae_sigma_{s:g}": (GRID2D_METHODS["vae"].replace(vae_sigma=s), "vae", f"decoder std {s:g} (default 0.006)")
       for s in (0.03, 0.1, 0.3)},
    "ali_own_recipe": (GRID2D_METHODS["ali"].replace(lr=1e-4, prior="normal"), "ali",
                       "its own mixture experiment's Adam lr 1e-4 and N(0, I) prior"),
    # The WGAN-GP authors' own 25-Gaussian settings (gan_toy.py of igul222/improved_wgan_training) except their
    # 3 x 512 networks: the paper's networks, batch and iterations stay, as for every row of Table 2.
    "wgangp_toy_recipe": (GRID2D_METHODS["wgangp"].replace(prior="normal", g_out="linear", lr=1e-4, beta1=0.5,
                                                           beta2=0.9, lr_decay=1.0), "wgangp",
                          "its authors' 25-Gaussian recipe without their 3 x 512 networks: Adam lr 1e-4, "
                          "β = (0.5, 0.9), no lr decay, N(0, I) prior, linear output"),
    # Our own row +NE+GM uses the image experiments' NE weight (the paper gives none for 2D: ledger row 33).
    "gngan_ne_gm_lambda_r_0.1": (GRID2D_METHODS["gngan_ne_gm"].replace(lambda_r=0.1), "gngan_ne_gm",
                                 "NE weight λ_r = 0.1 (default 1)"),
}
METHOD_LABELS.update({k: f"{METHOD_LABELS[probe]}, {what}" for k, (_, probe, what) in GRID2D_CHECKS.items()})
GRID2D_BUDGETS = {
    "smoke": {"seeds": [0, 1], "num_steps": 40, "eval_every": 20, "checkpoint_every": 20, "eval_samples": 500},
    "cpu": {"seeds": list(range(8)), "num_steps": 195_313},
    "gpu": {"seeds": list(range(8)), "num_steps": 195_313},
    "paper": {"seeds": list(range(8)), "num_steps": 195_313},
}

# Tuned baselines (issue #18 item 7; ledger: "carefully fine-tune other methods"). The paper: "To have a fair
# comparison, we carefully fine-tune other methods to ensure that they can perform their best on the synthetic data",
# without saying how. Table 2's shared-protocol rows (GRID2D_METHODS) run every baseline with GN-GAN's Adam (lr 1e-3,
# beta = (0.8, 0.999)). The sweep: per baseline, on the same Table 1 networks, the shared protocol itself, one change
# at a time from it (the optimiser, then the method's own knobs) and the combinations an audit found promising (the
# DCGAN Adam for the two whose discriminators die at lr 1e-3; beta = (0.5, 0.9) with a larger penalty for WGAN-GP);
# 4 seeds (0-3), 20K iterations (GRID2D_SWEEP_BUDGETS), stored as methods ``sweep_<method>_<setting>``.
# {method: {setting: (fields changed from GRID2D_METHODS[method], what changes)}}; "shared" changes nothing.
_SWEEP_SHARED = {"shared": ({}, "the shared protocol (Adam lr 1e-3, β = (0.8, 0.999))")}
_SWEEP_ADAM = {
    "beta1_0.5": ({"beta1": 0.5}, "Adam β1 0.5"),
    "betas_0.5_0.9": ({"beta1": 0.5, "beta2": 0.9}, "Adam β = (0.5, 0.9)"),
    "lr_1e-4": ({"lr": 1e-4}, "Adam lr 1e-4"),
    "lr_3e-4": ({"lr": 3e-4}, "Adam lr 3e-4"),
}
_SWEEP_DCGAN = {"lr_2e-4_beta1_0.5": ({"lr": 2e-4, "beta1": 0.5}, "Adam lr 2e-4, β1 0.5 (DCGAN's)")}
_SWEEP_SIGMA = {f"vae_sigma_{s:g}": ({"vae_sigma": s}, f"decoder std {s:g} (shared 0.006)") for s in (0.003, 0.012)}
_pick = lambda *names: {k: _SWEEP_ADAM[k] for k in names}  # noqa: E731
GRID2D_SWEEP_SETTINGS = {
    "gan": {**_SWEEP_SHARED, **_SWEEP_ADAM, **_SWEEP_DCGAN},
    "ali": {**_SWEEP_SHARED, **_SWEEP_ADAM, **_SWEEP_DCGAN,
            "lr_1e-4_normal_prior": ({"lr": 1e-4, "prior": "normal"}, "Adam lr 1e-4 and N(0, I) prior (ALI's own)")},
    "vaegan": {**_SWEEP_SHARED, **_SWEEP_ADAM},
    "vae": {**_SWEEP_SHARED, **_SWEEP_SIGMA, **_pick("beta1_0.5", "lr_3e-4")},
    "beta_vae": {**_SWEEP_SHARED, **_SWEEP_SIGMA, **_pick("beta1_0.5", "lr_3e-4")},
    "wgangp": {**_SWEEP_SHARED, **_pick("beta1_0.5", "betas_0.5_0.9", "lr_1e-4"),
               "lambda_p_1": ({"lambda_p": 1.0}, "penalty λ_p 1 (shared 0.1)"),
               "d_steps_1": ({"d_steps": 1}, "1 critic step (shared 5)"),
               "betas_0.5_0.9_lambda_p_1": ({"beta1": 0.5, "beta2": 0.9, "lambda_p": 1.0},
                                            "Adam β = (0.5, 0.9) and penalty λ_p 1")},
    "distgan": {**_SWEEP_SHARED, **_pick("beta1_0.5", "lr_1e-4"),
                "d_steps_1": ({"d_steps": 1}, "1 D step (shared 5)"),
                "lambda_p_1": ({"lambda_p": 1.0}, "penalty λ_p 1 (shared 0.1)"),
                # its authors' public 2D code: D_loss = (d_loss_real + d_loss_recon) * 0.5 + d_loss_fake, the
                # reconstructions labelled fake (ledger: "Dist-GAN's net_D in 2D")
                "recon_fake": ({"alpha": 0.5, "recon_label": "fake"},
                               "net_D as its authors' 2D code: reconstructions fake, weight 0.5")},
}
del _pick
# {sweep key: (config, the Table 2 method it tunes, what changes, setting)}
GRID2D_SWEEP = {f"sweep_{m}_{name}": (GRID2D_METHODS[m].replace(**fields), m, what, name)
                for m, settings in GRID2D_SWEEP_SETTINGS.items() for name, (fields, what) in settings.items()}
GRID2D_SWEEP_BUDGETS = {
    "smoke": {"seeds": [0, 1], "num_steps": 40, "eval_every": 20, "checkpoint_every": 20, "eval_samples": 500},
    "cpu": {"seeds": [0, 1, 2, 3], "num_steps": 20_000},
    "gpu": {"seeds": [0, 1, 2, 3], "num_steps": 20_000},
    "paper": {"seeds": [0, 1, 2, 3], "num_steps": 20_000},
}
# The tuned rows: the winning setting at the full protocol (GRID2D_BUDGETS: 8 seeds, 195,313 iterations), as methods
# ``<method>_tuned``; their configs exist only once the method's sweep is stored (tuned_configs). GN-GAN keeps the
# paper's stated settings.
GRID2D_TUNED = tuple(f"{m}_tuned" for m in GRID2D_SWEEP_SETTINGS)
METHOD_LABELS.update({k: f"{METHOD_LABELS[m]}, sweep: {what}" for k, (_, m, what, _) in GRID2D_SWEEP.items()})
METHOD_LABELS.update({f"{m}_tuned": f"{METHOD_LABELS[m]}, tuned" for m in GRID2D_SWEEP_SETTINGS})


def sweep_winner(method: str, sweep_results: dict[str, list[dict]], num_seeds: int) -> str | None:
    """The sweep key of ``method``'s tuned row, by the rule fixed before any sweep run: the setting with the highest
    mean final registered modes over its seeds (at the sweep's last iteration, 20K at cpu), ties broken by the higher
    mean final registered points, then by the declared order (the shared protocol first). None until every setting
    of ``method`` has ``num_seeds`` stored runs in ``sweep_results`` ({sweep key: results})."""
    keys = [k for k, v in GRID2D_SWEEP.items() if v[1] == method]
    if not keys:
        raise ValueError(f"{method!r} has no sweep; swept: {sorted(GRID2D_SWEEP_SETTINGS)}")
    if any(len(sweep_results.get(k, [])) < num_seeds for k in keys):
        return None
    best, best_score = None, None
    for k in keys:
        runs = sweep_results[k]
        score = (sum(r["final"]["covered_modes"] for r in runs) / len(runs),
                 sum(r["final"]["registered_points"] for r in runs) / len(runs))
        if best_score is None or score > best_score:
            best, best_score = k, score
    return best


def sweep_configs(budget: str, seeds: list[int] | None = None, num_steps: int | None = None,
                  methods: list[str] | None = None) -> dict[str, list[RunConfig]]:
    """{sweep key: [one config per seed]} at ``budget`` (GRID2D_SWEEP_BUDGETS), all keys or ``methods``."""
    seeds, spec = _budget_spec(GRID2D_SWEEP_BUDGETS, budget, seeds, num_steps)
    if num_steps is not None:
        spec["checkpoint_every"] = spec["eval_every"] * 5 if num_steps >= 100 else spec["eval_every"]
    return {k: [GRID2D_SWEEP[k][0].replace(seed=s, **spec) for s in seeds] for k in (methods or GRID2D_SWEEP)}


def sweep_choices(budget: str, root: Path | None = None) -> dict[str, str | None]:
    """{swept method: its winning sweep key (``sweep_winner``) among the stored sweep runs at ``budget``, or None
    while its sweep is not complete}."""
    configs = sweep_configs(budget)
    stored = stored_results("02_2d", configs, budget, root)
    num_seeds = len(GRID2D_SWEEP_BUDGETS[budget]["seeds"])
    return {m: sweep_winner(m, stored, num_seeds) for m in GRID2D_SWEEP_SETTINGS}


def tuned_configs(budget: str, seeds: list[int] | None = None, num_steps: int | None = None,
                  root: Path | None = None, choices: dict | None = None) -> tuple[dict[str, list[RunConfig]], list[str]]:
    """({"<method>_tuned": [the winning setting at the full protocol, one config per seed]}, [methods whose sweep is
    not stored yet]). A method whose winner is the shared protocol itself has no tuned run: its tuned row is its
    Table 2 row (in neither)."""
    choices = sweep_choices(budget, root) if choices is None else choices
    seeds, spec = _budget_spec(GRID2D_BUDGETS, budget, seeds, num_steps)
    if num_steps is not None:
        spec["checkpoint_every"] = spec["eval_every"] * 5 if num_steps >= 100 else spec["eval_every"]
    configs, pending = {}, []
    for m, key in choices.items():
        if key is None:
            pending.append(m)
        elif GRID2D_SWEEP[key][3] != "shared":
            configs[f"{m}_tuned"] = [GRID2D_SWEEP[key][0].replace(seed=s, **spec) for s in seeds]
    return configs, pending


# The image sections (CIFAR-10 standard CNN of Miyato et al. 2018): z in U[-1, 1]^128, batch 64, Adam lr 2e-4
# betas (0.5, 0.9), one AE, one D and one G step per iteration (the Dist-GAN code), lambda_p = lambda_r =
# lambda_m1 = lambda_m2 = 1, alpha = 0.05; FID of 5K generated against 10K real training images. Eq. 13 is
# differentiated through the exact first-order expansion of the CNN/ResNet net_D (gm_backward="linear"; the
# same numbers as the double backward, ~1.5x cheaper per generator step on CPU).
IMAGE_BASE = RunConfig(
    method="gngan", data="cifar10", arch="cnn", image_size=32, z_dim=128, prior="uniform", batch_size=64,
    lr=2e-4, beta1=0.5, beta2=0.9, d_steps=1, alpha=0.05, lambda_p=1.0, lambda_r=1.0, lambda_m1=1.0,
    lambda_m2=1.0, num_steps=350_000, eval_every=10_000, checkpoint_every=10_000, fid_real=10_000, fid_fake=5_000,
    gm_backward="linear",
)
_NO_GM = {"lambda_m1": 0.0, "lambda_m2": 0.0}
# Dist-GAN as its authors trained it on images (ledger rows 4, 14, 37-39; book/baselines.md): reconstructions weighted
# alpha = 0.5 in net_D's loss ((d_real + d_recon) * 0.5 in tntrung/gan gaan_image/gaan.py at 9e6399c, line 148; the
# paper's "original" GN-GAN differs from Dist-GAN by "using lower weights for the reconstruction constraint"), the
# reconstruction and the latent-data constraint in net_D's feature space with f of the reconstructions
# (distgan_image/distgan.py at 6e67fe3, lines 192-193), and an auto-encoder step that updates net_E only (ibid.,
# line 284, CIFAR-10 and STL-10).
DISTGAN_IMAGE = {"method": "distgan", "alpha": 0.5, "distgan_recon": "disc", "distgan_md_x": "recon",
                 "ae_trains": "encoder", **_NO_GM}
# The Table 3 baselines as Miyato et al. (2018), whose FIDs the paper copies, trained them (ledger row 40):
# z ~ N(0, I) and N(0, 0.02) weights of the standard CNN.
MIYATO_BASELINE = {"prior": "normal", "init": "normal02"}
IMAGE_SECTIONS = {
    # Fig. 5: the ablation with the log loss (Eq. 7), against Dist-GAN
    "03_ablation": {
        "distgan": IMAGE_BASE.replace(**DISTGAN_IMAGE),
        # "original": GN-GAN's AE step without NE (pixel reconstruction only), the discriminator of Eq. 7 (alpha =
        # 0.05), the score-distance generator; the other reading is IMAGE_ALTERNATIVES' gngan_orig_distgan
        "gngan_orig": IMAGE_BASE.replace(lambda_r=0.0, **_NO_GM),
        "gngan_ne": IMAGE_BASE.replace(**_NO_GM),
        "gngan_gm": IMAGE_BASE.replace(lambda_r=0.0),
        "gngan_ne_gm": IMAGE_BASE,
    },
    # Table 3, CIFAR-10 CNN column: hinge loss (Eq. 8) for GN-GAN and Dist-GAN, 200K iterations; the
    # baselines with their own papers' losses, WGAN-GP's and GAN-GP's penalty weight 10 and 5 D steps.
    "04_table3": {
        "gngan_hinge": IMAGE_BASE.replace(dis_loss="hinge", num_steps=200_000),
        "distgan_hinge": IMAGE_BASE.replace(dis_loss="hinge", num_steps=200_000, **DISTGAN_IMAGE),
        # SN-GAN's own hinge loss (gngan.steps d_step applies it for method "sngan"; the config says so)
        "sngan": IMAGE_BASE.replace(method="sngan", dis_loss="hinge", spectral_norm=True, lambda_p=0.0,
                                    lambda_r=0.0, num_steps=200_000, **MIYATO_BASELINE, **_NO_GM),
        "wgangp": IMAGE_BASE.replace(method="wgangp", lambda_p=10.0, d_steps=5, lambda_r=0.0, num_steps=200_000,
                                     **MIYATO_BASELINE, **_NO_GM),
        "gangp": IMAGE_BASE.replace(method="gangp", lambda_p=10.0, d_steps=5, lambda_r=0.0, num_steps=200_000,
                                    **MIYATO_BASELINE, **_NO_GM),
    },
    # Fig. 7: the standard GAN with NE and/or GM in its generator objective (log loss, as the ablation)
    "05_gan_ne_gm": {
        "gan": IMAGE_BASE.replace(method="gan", lambda_p=0.0, lambda_r=0.0, **_NO_GM),
        "gan_ne": IMAGE_BASE.replace(method="gan", lambda_p=0.0, **_NO_GM),
        "gan_gm": IMAGE_BASE.replace(method="gan", lambda_p=0.0, lambda_r=0.0, gen_loss="gm"),
        "gan_ne_gm": IMAGE_BASE.replace(method="gan", lambda_p=0.0, gen_loss="gm"),
    },
}
# Table 3's other columns, at the paper budget only (STL-10 cannot be downloaded here; the ResNet is far too
# slow on CPU): STL-10 unlabeled at 48x48 with the standard CNN, and the CIFAR-10 ResNet, 200K iterations.
_T3 = IMAGE_SECTIONS["04_table3"]
_STL = {"data": "stl10", "image_size": 48}
# the Dist-GAN code trains its ResNet with betas (0, 0.9); its lr schedule (linear decay) is not ours
_RESNET = {"arch": "resnet", "beta1": 0.0}
IMAGE_PAPER_ONLY = {"04_table3": {
    "gngan_hinge_stl10": _T3["gngan_hinge"].replace(**_STL),
    "distgan_hinge_stl10": _T3["distgan_hinge"].replace(**_STL),
    "sngan_stl10": _T3["sngan"].replace(**_STL),
    "wgangp_stl10": _T3["wgangp"].replace(**_STL),
    "gngan_hinge_resnet": _T3["gngan_hinge"].replace(**_RESNET),
    # Miyato's ResNet code (pfnet-research/sngan_projection) initialises with Glorot uniform: our ResNet's "reference"
    "sngan_resnet": _T3["sngan"].replace(**_RESNET, init="reference"),
}}
# Runs a reader can ask for by name (image_configs(..., methods=[...]); python -m gngan run --methods), trained by no
# budget: the other reading of the ablation's "original" model (ledger row 41), Dist-GAN with GN-GAN's alpha = 0.05
# and its latent-data constraint kept, in GN-GAN's AE step (pixel reconstruction, net_E and net_G updated), which +NE
# then replaces. It is the configuration the cpu budget's stored "distgan" runs were trained with (below).
IMAGE_ALTERNATIVES = {"03_ablation": {
    "gngan_orig_distgan": IMAGE_BASE.replace(method="distgan", **_NO_GM),
}}
# The readings the image runs used before issue #18: Dist-GAN as GN-GAN's AE step with alpha = 0.05 (pixel
# reconstruction, f(x) in the latent-data constraint, net_E and net_G updated), and the Table 3 baselines on
# U[-1, 1]^128 with Glorot init. The cpu budget's runs trained with them (CPU-hours each) are stored as
# results/<section>/cpu/<method>_previous and shown beside the retrained <method> for one turn
# (report.previous_readings_table); every budget runs them by name only (--methods distgan_previous).
# {section: {method: fields}}.
_PREVIOUS_DISTGAN = {"alpha": 0.05, "distgan_recon": "data", "distgan_md_x": "real", "ae_trains": "encoder_generator"}
_PREVIOUS_BASELINE = {"prior": "uniform", "init": "reference"}
IMAGE_PREVIOUS_READINGS = {
    "03_ablation": {"distgan": _PREVIOUS_DISTGAN},
    "04_table3": {"distgan_hinge": _PREVIOUS_DISTGAN, "sngan": _PREVIOUS_BASELINE, "wgangp": _PREVIOUS_BASELINE,
                  "gangp": _PREVIOUS_BASELINE},
}
PREVIOUS = "_previous"


def previous_reading(key: str) -> str | None:
    """The method a ``<method>_previous`` key reruns under its previous reading; None for any other key."""
    return key[: -len(PREVIOUS)] if key.endswith(PREVIOUS) else None


METHOD_LABELS.update({f"{k}_{col}": f"{v} ({name})" for k, v in (
    ("gngan_hinge", "GN-GAN (+NE+GM, hinge)"), ("distgan_hinge", "Dist-GAN (hinge)"), ("sngan", "SN-GAN"),
    ("wgangp", "WGAN-GP")) for col, name in (("stl10", "STL-10"), ("resnet", "ResNet"))})
METHOD_LABELS.update({"gngan_orig": "GN-GAN (original)", "gngan_ne": "GN-GAN (+NE)",
                      "gngan_orig_distgan": "GN-GAN (original, read as Dist-GAN with α = 0.05)",
                      "gngan_hinge": "GN-GAN (+NE+GM, hinge)", "distgan_hinge": "Dist-GAN (hinge)", "sngan": "SN-GAN",
                      "gangp": "GAN-GP", "gan_ne": "GAN+NE", "gan_gm": "GAN+GM", "gan_ne_gm": "GAN+NE+GM"})
METHOD_LABELS.update({m + PREVIOUS: f"{METHOD_LABELS[m]} (previous reading)"
                      for section in IMAGE_PREVIOUS_READINGS.values() for m in section})
# The GN-GAN +GM and +NE+GM keys of the image sections name the same variants as in 2D.
IMAGE_BUDGETS = {
    "smoke": {"seeds": [0], "num_steps": 2, "eval_every": 2, "checkpoint_every": 2, "width": 0.125,
              "batch_size": 16, "fid_real": 64, "fid_fake": 16},
    # about 10.4 CPU-hours for all three sections (image_cpu_hours, from benchmarks/bench_image_steps.py of
    # 2026-12-01, one thread): half-width networks, 1,000 iterations, FID of 1K generated images every 200.
    "cpu": {"seeds": [0], "num_steps": 1000, "eval_every": 200, "checkpoint_every": 200, "width": 0.5,
            "fid_real": 10_000, "fid_fake": 1_000},
    # One H200, full width, batch 64, the paper's hyperparameters, FID at the paper's protocol (5K generated vs
    # 10K real) at 5 points after the start. 20K iterations: the floor. At the planning throughput
    # GPU_PLANNING_TFLOPS the ablation alone is 90 PFLOP (~10 min), so the budget takes two or three H200 runs,
    # each training the runs not yet stored that fit (gngan.gpurun: it measures the aggregate rate while the
    # runs train and stops those, last in the order, that would not finish by its deadline).
    "gpu": {"seeds": [0], "num_steps": 20_000, "eval_every": 4_000, "checkpoint_every": 4_000,
            "fid_real": 10_000, "fid_fake": 5_000,
            # fp32 (~67 TFLOP/s on an H200) cannot train the budget in time; a TF32 iteration agrees with fp32
            # (gngan.costs.precision_agreement: TF32 emulated on CPU in tests/test_precision.py, the GPU's own in
            # benchmarks/bench_gpu_iteration.py). FID stays fp32.
            "precision": "tf32"},
    "paper": {"seeds": [0]},
}
# Seeds where a section needs more than its budget's: the ablation's orderings are claimed only beyond the spread
# of two seeds (cpu, gpu); at the paper budget the ablation (Fig. 5) and GAN+NE/GM (Fig. 7) claim orderings, which
# one run per variant cannot give, so each variant trains three seeds there.
IMAGE_SECTION_SEEDS = {("03_ablation", "cpu"): [0, 1], ("03_ablation", "gpu"): [0, 1],
                       ("03_ablation", "paper"): [0, 1, 2], ("05_gan_ne_gm", "paper"): [0, 1, 2]}
# Where each budget's CIFAR-10 comes from (gngan.images.cifar10's source): the paper budget trains on the exact
# dataset (torchvision's files, downloaded when online); the others on the offline JPEG-q75 mirror, as neither this
# machine nor the borrowed GPU has a network. A chapter's data_source parameter (or GNGAN_CIFAR10_SOURCE on the
# command line) asks for the other one explicitly; every run records the source it trained on.
IMAGE_DATA_SOURCES = ("torchvision", "jpeg")
BUDGET_DATA_SOURCE = {"smoke": "jpeg", "cpu": "jpeg", "gpu": "jpeg", "paper": "torchvision"}
# The order in which the gpu budget trains the image sections (the issue's: the ablation, Fig. 7, Table 3).
GPU_SECTION_ORDER = ("03_ablation", "05_gan_ne_gm", "04_table3")
# A planning estimate only (aggregate TF32 TFLOP/s of many concurrent CIFAR-10 CNN runs on one H200, about a
# third of the chip's dense TF32 rate): it sizes the budget on paper; gngan.gpurun measures the real rate.
GPU_PLANNING_TFLOPS = 150.0
IMAGE_TIMING = RESULTS_ROOT / "benchmarks" / "image_step_timing.json"


def image_configs(section: str, budget: str, seeds: list[int] | None = None, num_steps: int | None = None,
                  methods: list[str] | None = None) -> dict[str, list[RunConfig]]:
    """{method: [one config per seed]} for an image section (03_ablation, 04_table3, 05_gan_ne_gm)."""
    if section not in IMAGE_SECTIONS:
        raise ValueError(f"unknown image section {section!r}; use one of {sorted(IMAGE_SECTIONS)}")
    table = dict(IMAGE_SECTIONS[section])
    if budget == "paper":
        table.update(IMAGE_PAPER_ONLY.get(section, {}))
    # the alternatives and the previous readings only when asked for by name
    by_name = {**IMAGE_ALTERNATIVES.get(section, {}),
               **{m + PREVIOUS: table[m].replace(**fields) for m, fields in IMAGE_PREVIOUS_READINGS.get(section, {}).items()}}
    table.update({m: c for m, c in by_name.items() if m in (methods or [])})
    unknown = sorted(set(methods or []) - set(table))
    if unknown:
        raise ValueError(f"unknown {section} methods {unknown}; use some of {sorted(set(table) | set(by_name))}")
    if seeds is None:
        seeds = IMAGE_SECTION_SEEDS.get((section, budget))
    seeds, spec = _budget_spec(IMAGE_BUDGETS, budget, seeds, num_steps)
    if num_steps is not None:
        spec["checkpoint_every"] = spec["eval_every"]
    # the smoke and cpu budgets give every run the same iterations; paper keeps 350K (log) / 200K (hinge)
    return {m: [table[m].replace(seed=s, **spec) for s in seeds] for m in methods or list(table)}


def previous_reading_configs(section: str, budget: str, methods: list[str] | None = None
                             ) -> dict[str, list[RunConfig]]:
    """{<method>_previous: configs} of the section's methods whose reading changed (IMAGE_PREVIOUS_READINGS), only
    those among ``methods`` when given; empty for a section without any."""
    keys = [m + PREVIOUS for m in IMAGE_PREVIOUS_READINGS.get(section, {}) if methods is None or m in methods]
    return image_configs(section, budget, methods=keys) if keys else {}


class ParameterError(ValueError):
    """A notebook or CLI parameter is wrong; shown as one line (also in Jupyter, via _render_traceback_)."""

    def _render_traceback_(self) -> list[str]:
        return [f"ParameterError: {self}"]


def check_parameters(budget: str, device: str, seeds=None, num_steps=None, data_dir=None, data_source=None) -> None:
    """Validate a chapter's parameters before any work, raising one ParameterError that says what to do."""
    from gngan.trainer import resolve_device

    try:
        check_budget(budget)
        check_positive("num_steps", num_steps)
        if seeds is not None:
            check_seeds(seeds)
        check_data_source(data_source)
        resolve_device(device)
        if data_dir is not None and not Path(data_dir).is_dir():
            raise ValueError(f"data_dir={str(data_dir)!r} does not exist; point it at the folder that holds the "
                             f"datasets (see data/README.md)")
    except ParameterError:
        raise
    except ValueError as err:
        raise ParameterError(str(err)) from None


def check_data_source(data_source) -> None:
    if data_source is not None and data_source not in IMAGE_DATA_SOURCES:
        raise ValueError(f"data_source={data_source!r} is not one of {IMAGE_DATA_SOURCES} or None (None = the budget's: "
                         f"the exact CIFAR-10 at paper, the offline JPEG mirror otherwise)")


class DataSourceError(ValueError):
    """Stored runs trained on another CIFAR-10 source than the one asked for, or the source asked for is missing."""


def data_source_for(budget: str, requested: str | None = None) -> str:
    """The CIFAR-10 source the image runs of ``budget`` use: ``requested`` if given, else ``$GNGAN_CIFAR10_SOURCE``
    if set, else the budget's (BUDGET_DATA_SOURCE)."""
    from gngan.data import CIFAR10_SOURCE_ENV

    check_budget(budget)
    chosen = requested if requested is not None else os.environ.get(CIFAR10_SOURCE_ENV) or BUDGET_DATA_SOURCE[budget]
    check_data_source(chosen)
    return chosen


def use_data_source(budget: str, requested: str | None = None) -> str:
    """``data_source_for(budget, requested)``, also set for this process (``$GNGAN_CIFAR10_SOURCE``) so that every run
    it trains, and the worker processes it starts, load that source. Returns it."""
    from gngan.data import CIFAR10_SOURCE_ENV

    chosen = data_source_for(budget, requested)
    os.environ[CIFAR10_SOURCE_ENV] = chosen
    return chosen


def _training_source(source: str):
    """A context in which the trainer loads CIFAR-10 from ``source`` (the variable restored after)."""
    from contextlib import contextmanager

    from gngan.data import CIFAR10_SOURCE_ENV

    @contextmanager
    def scope():
        before = os.environ.get(CIFAR10_SOURCE_ENV)
        os.environ[CIFAR10_SOURCE_ENV] = source
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(CIFAR10_SOURCE_ENV, None)
            else:
                os.environ[CIFAR10_SOURCE_ENV] = before
    return scope()


def require_exact_cifar10(budget: str) -> None:
    """Before training on the exact CIFAR-10: torchvision's files in <repo>/data, downloaded when absent (online).
    Offline without them, one line saying why the JPEG mirror is not used instead and how to ask for it."""
    from gngan import images

    try:
        images.cifar10(split="train", source="torchvision", download=True)
    except images.DatasetNotFoundError as err:
        raise DataSourceError(
            f"the {budget} budget trains on the exact CIFAR-10, which is not in "
            f"{images.CACHE_DIR / images.TORCHVISION_CIFAR10_FOLDER} and could not be downloaded ({err}); the offline "
            f"JPEG-q75 mirror is lossy (its FIDs are not on the paper's scale), so at {budget} it is used only when "
            f"asked for: -p data_source jpeg (a chapter) or GNGAN_CIFAR10_SOURCE=jpeg (the command line)") from None


def check_stored_source(results: dict[str, list[dict]], source: str, where: str) -> None:
    """Every image run of ``results`` trained on ``source``, as its last evaluation recorded (``data_source``);
    else one line: which run, what it trained on, what to do."""
    for method, runs in results.items():
        for r in runs:
            if r["manifest"]["config"]["data"] != "cifar10":
                continue
            got = r["final"].get("data_source")
            if got != source:
                seed = r["manifest"]["config"]["seed"]
                raise DataSourceError(
                    f"{where}/{method}/seed{seed} was trained on CIFAR-10 source {got!r}, not {source!r} as asked; "
                    f"ask for data_source={got!r} to show it, or move it away and rerun")


def check_budget(budget: str) -> None:
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; use one of {BUDGETS}")


def check_positive(name: str, value) -> None:
    if value is not None and (not isinstance(value, int) or value < 1):
        raise ValueError(f"{name}={value!r} must be a positive integer or None (None = the budget's value)")


def check_seeds(seeds) -> None:
    if not isinstance(seeds, (list, tuple)) or not seeds or any(not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds={seeds!r} must be None or a non-empty list of non-negative integers")


def _budget_spec(budgets: dict, budget: str, seeds: list[int] | None, num_steps: int | None) -> tuple[list[int], dict]:
    """(seeds, config overrides) of ``budget`` in a section's budget table, with the caller's overrides;
    a ``num_steps`` override evaluates 20 times over the run."""
    check_budget(budget)
    check_positive("num_steps", num_steps)
    spec = dict(budgets[budget])
    budget_seeds = spec.pop("seeds")
    seeds = budget_seeds if seeds is None else list(seeds)
    check_seeds(seeds)
    if num_steps is not None:
        spec["num_steps"] = num_steps
        spec["eval_every"] = max(1, num_steps // 20)
    return seeds, spec


def toy1d_configs(budget: str, seeds: list[int] | None = None, num_steps: int | None = None) -> dict[str, list[RunConfig]]:
    """{method: [one config per seed]} for the 1D section at ``budget``; ``seeds``/``num_steps`` override it."""
    seeds, spec = _budget_spec(TOY1D_BUDGETS, budget, seeds, num_steps)
    if num_steps is not None:
        spec["checkpoint_every"] = spec["eval_every"]
    return {m: [base.replace(seed=s, **spec) for s in seeds] for m, base in TOY1D_METHODS.items()}


def run_dir(section: str, budget: str, method: str, seed: int, num_steps: int | None = None,
            root: Path | None = None) -> Path:
    """results/<section>/<budget>/<method>/seed<k>; smoke runs go under results/smoke/ (not committed)."""
    root = RESULTS_ROOT if root is None else Path(root)
    tag = budget if num_steps is None else f"{budget}-{num_steps}steps"
    base = root / "smoke" if budget == "smoke" else root
    return base / section / tag / method / f"seed{seed}"


def run_section(section: str, configs: dict[str, list[RunConfig]], budget: str, device: str = "cpu",
                num_steps: int | None = None, root: Path | None = None, train: bool = True,
                progress: bool = True, untrained: Collection[str] = (),
                data_source: str | None = None) -> dict[str, list[dict]]:
    """Results of every config, reusing stored runs; the missing seeds of a method train together
    (stacked), unless ``train`` is False. Methods in ``untrained`` never train: only their stored seeds
    are returned (a method with none is left out), so a chapter can show a method partly trained
    elsewhere with its seed count. CIFAR-10 runs train on ``data_source_for(budget, data_source)``
    (the exact dataset at paper, the JPEG mirror otherwise) and every returned CIFAR-10 run must have
    trained on it (``check_stored_source``)."""
    cifar = any(c.data == "cifar10" for cfgs in configs.values() for c in cfgs)
    source = data_source_for(budget, data_source) if cifar else None
    if cifar and source == "torchvision" and train and missing_runs(
            section, {m: c for m, c in configs.items() if m not in untrained}, budget, num_steps, root):
        require_exact_cifar10(budget)
    out: dict[str, list[dict]] = {}
    for method, cfgs in configs.items():
        if method in untrained:
            out.update(stored_results(section, {method: cfgs}, budget, root, num_steps))
            continue
        dirs = [run_dir(section, budget, method, c.seed, num_steps, root) for c in cfgs]
        if source is None:
            out[method] = run_group(cfgs, dirs, device=device, progress=progress, train=train)
            continue
        with _training_source(source):
            out[method] = run_group(cfgs, dirs, device=device, progress=progress, train=train)
    if source is not None:
        check_stored_source(out, source, str(run_dir(section, budget, "-", 0, num_steps, root).parent.parent))
    return out


def section_configs(section: str, budget: str, seeds: list[int] | None = None, num_steps: int | None = None,
                    methods: list[str] | None = None, root: Path | None = None) -> tuple[dict[str, list[RunConfig]], list[str]]:
    """({method: [one config per seed]} of a section at ``budget``, as `python -m gngan section` trains it; [tuned
    2D rows asked for whose sweep chose the shared protocol: Table 2's rows are their tuned rows, nothing to train])."""
    if section == "01_1d":
        configs = toy1d_configs(budget, seeds=seeds, num_steps=num_steps)
        unknown = sorted(set(methods or []) - set(configs))
        if unknown:
            raise ValueError(f"01_1d has no method {', '.join(unknown)}; its methods: {', '.join(configs)}")
        return {m: c for m, c in configs.items() if not methods or m in methods}, []
    if section == "02_2d":  # tuned rows: configs chosen by the sweep stored under root
        configs = grid2d_configs(budget, seeds=seeds, num_steps=num_steps, methods=methods, root=root)
        return configs, [m for m in methods or [] if m in GRID2D_TUNED and m not in configs]
    return image_configs(section, budget, seeds=seeds, num_steps=num_steps, methods=methods), []


def missing_runs(section: str, configs: dict[str, list[RunConfig]], budget: str, num_steps: int | None = None,
                 root: Path | None = None) -> dict[str, list[int]]:
    """{method: seeds without a stored result} (methods with everything stored are left out)."""
    out = {}
    for method, cfgs in configs.items():
        seeds = [c.seed for c in cfgs if load_result(run_dir(section, budget, method, c.seed, num_steps, root)) is None]
        if seeds:
            out[method] = seeds
    return out


def estimated_minutes(configs: list[RunConfig], seconds_per_iteration: float) -> float:
    """Wall-time estimate of training the seeds ``configs`` of one method from a measured per-iteration cost:
    one stacked group (the MLPs), or one run per seed after the other (the image networks)."""
    from gngan.trainer import training_groups

    return len(training_groups(configs)) * configs[0].num_steps * seconds_per_iteration / 60


# Measured seconds per iteration of an 8-seed group, 1 thread, 2D config (benchmarks/bench_stacked.py;
# gngan_ne_gm: benchmarks/bench_ne.py with the hand-written NE backward, results/benchmarks/ne_backward.json,
# the other core busy);
# used only to estimate wall times and to keep `make book` from starting hours of training unasked.
# wgangp and mmdrep: wall time / iterations of their stored 8-seed runs (rough probes had said 0.034, 0.04).
# gngan_ne_gm and distgan: their latest 8-seed runs on today's code (the check gngan_ne_gm_lambda_r_0.1 at 0.042 with
# tests running beside it; distgan_tuned 68.3 min for 195,313 iterations); the older 0.060 and 0.051 were measured
# on a busier machine and older code.
GRID2D_SECONDS_PER_ITERATION = {"gngan_gm": 0.044, "gngan_ne_gm": 0.042, "distgan": 0.021, "wgangp": 0.025,
                                "gan": 0.0075, "mmdrep": 0.015}
# Rough: 60 iterations of an 8-seed group, 1 thread, while two other trainings kept both cores busy (GAN
# measured 0.0057 in the same conditions).
GRID2D_SECONDS_PER_ITERATION.update({"vae": 0.005, "beta_vae": 0.005, "ali": 0.010, "vaegan": 0.012,
                                     "bourgan": 0.020})
GRID2D_SECONDS_PER_ITERATION.update({k: GRID2D_SECONDS_PER_ITERATION[probe] for k, (_, probe, _) in GRID2D_CHECKS.items()})
# The sweep and the tuned rows at the cost of the method they tune (an 8-seed group's: the sweep's 4-seed groups and
# settings with fewer D steps cost less, so these overestimate).
GRID2D_SECONDS_PER_ITERATION.update({k: GRID2D_SECONDS_PER_ITERATION[m] for k, (_, m, _, _) in GRID2D_SWEEP.items()})
GRID2D_SECONDS_PER_ITERATION.update({f"{m}_tuned": GRID2D_SECONDS_PER_ITERATION[m] for m in GRID2D_SWEEP_SETTINGS})


def _steps_left(section: str, budget: str, method: str, cfgs: list[RunConfig], num_steps: int | None,
                root: Path | None) -> tuple[int, int]:
    """(iterations left to train the unfinished seeds ``cfgs`` of ``method``, summed over their training groups,
    the step the furthest group's checkpoint on this machine resumes from: 0 without one)."""
    from gngan.trainer import checkpoint_step, group_dir, training_groups

    dirs = [run_dir(section, budget, method, c.seed, num_steps, root) for c in cfgs]
    starts = [checkpoint_step(group_dir([dirs[i] for i in g], [cfgs[i].seed for i in g])) or 0
              for g in training_groups(cfgs)]
    return sum(cfgs[0].num_steps - s for s in starts), max(starts)


def split_by_cost(section: str, configs: dict[str, list[RunConfig]], budget: str, num_steps: int | None,
                  train: bool, max_train_minutes: float, seconds_per_iteration: dict[str, float],
                  root: Path | None = None) -> tuple[dict[str, list[RunConfig]], dict[str, float]]:
    """(configs to run now, {method: estimated minutes} of missing runs left for the command line).
    A method is run now if its results are stored, or if training is allowed, no other process is training
    it (``training_now``) and its missing seeds are estimated to train within ``max_train_minutes`` (smoke
    always trains). The estimate counts the iterations left after any checkpoint on this machine."""
    too_long = {}
    for m, seeds in missing_runs(section, configs, budget, num_steps, root).items():
        cfgs = [c for c in configs[m] if c.seed in seeds]
        minutes = _steps_left(section, budget, m, cfgs, num_steps, root)[0] * seconds_per_iteration.get(m, 0.05) / 60
        if (not train or (budget != "smoke" and minutes > max_train_minutes)
                or training_now(section, budget, m, seeds, num_steps, root)):
            too_long[m] = minutes
    return {m: c for m, c in configs.items() if m not in too_long}, too_long


def training_now(section: str, budget: str, method: str, seeds: list[int], num_steps: int | None = None,
                 root: Path | None = None) -> bool:
    """Is a process training one of these seeds' runs at this moment (it holds the run directory's lock)?"""
    return any(run_in_use(run_dir(section, budget, method, s, num_steps, root)) for s in seeds)


def in_progress(section: str, configs: dict[str, list[RunConfig]], budget: str, num_steps: int | None = None,
                root: Path | None = None) -> dict[str, list[dict]]:
    """{method: last logged record per seed} for runs that have started but not finished (no result.json).
    These are progress reports, not results."""
    out = {}
    for method, cfgs in configs.items():
        records = []
        for c in cfgs:
            d = run_dir(section, budget, method, c.seed, num_steps, root)
            log = d / "metrics.jsonl"
            if load_result(d) is None and log.exists() and log.read_text().strip():
                records.append(json.loads(log.read_text().strip().splitlines()[-1]))
        if records:
            out[method] = records
    return out


# The order tools/run-queue.sh trains a budget in, one (section, methods) step at a time (None: the section's
# default methods, which for 02_2d are Table 2's): the tables, the image chapters, the tuning sweep of the 2D baselines
# and their tuned rows (whose configs the stored sweep decides: that step fails while the sweep is incomplete; the
# verdict page ranks Table 2 on them), then the 2D checks (extras no verdict needs). In 03 the original and +NE+GM come before +NE and +GM: the issue asks for their seed spread
# before any ordering is claimed.
RUN_QUEUE = (("01_1d", None), ("02_2d", None), ("05_gan_ne_gm", None),
             ("03_ablation", ("distgan", "gngan_orig", "gngan_ne_gm")), ("03_ablation", None), ("04_table3", None),
             ("02_2d", tuple(GRID2D_SWEEP)), ("02_2d", GRID2D_TUNED), ("02_2d", tuple(GRID2D_CHECKS)))
# 2D methods that run only when named (the None step of 02_2d is Table 2's)
_GRID2D_NAMED_ONLY = {*GRID2D_CHECKS, *GRID2D_SWEEP, *GRID2D_TUNED}


def queue_steps() -> list[str]:
    """RUN_QUEUE as the arguments of `python -m gngan section` (without the budget), one string per step."""
    return [section + (f" --methods {','.join(methods)}" if methods else "") for section, methods in RUN_QUEUE]


def _queue_position(section: str, method: str) -> int:
    for i, (s, methods) in enumerate(RUN_QUEUE):
        if s == section and (methods is None and method not in _GRID2D_NAMED_ONLY or methods and method in methods):
            return i
    return len(RUN_QUEUE)


def remaining_work(budget: str, root: Path | None = None, sections: list[str] | None = None) -> list[dict]:
    """What is left to train at ``budget``, one dict per (section, method) with missing seeds: the seeds,
    the step its checkpoint on this machine resumes from (0 without one), and the estimated one-core hours
    left (None where no cost was measured). Covers the 2D sensitivity checks, sweep and tuned rows too (a tuned row
    whose sweep is incomplete is listed with all its seeds and ``pending`` True: its config is not decided, and
    its hours assume it will not be the shared protocol); ``sections`` limits it to
    those sections (each in-progress checkpoint is read to find its step) and says whether a process is
    training it now (``training_now``). Rows come in RUN_QUEUE's order."""
    tuned, pending = tuned_configs(budget, root=root) if sections is None or "02_2d" in sections else ({}, [])
    plans = [("01_1d", toy1d_configs(budget), {}),
             ("02_2d", {**grid2d_configs(budget, methods=[*GRID2D_METHODS, *GRID2D_CHECKS]), **sweep_configs(budget),
                        **tuned}, GRID2D_SECONDS_PER_ITERATION)]
    plans += [(sec, image_configs(sec, budget), image_seconds_per_iteration(sec, budget)) for sec in IMAGE_SECTIONS]
    rows = []
    for section, configs, cost in plans:
        if sections is not None and section not in sections:
            continue
        for method, seeds in missing_runs(section, configs, budget, root=root).items():
            cfgs = [c for c in configs[method] if c.seed in seeds]
            steps_left, resume = _steps_left(section, budget, method, cfgs, None, root)
            per_it = cost.get(method)
            rows.append({"section": section, "method": method, "seeds": seeds, "num_steps": cfgs[0].num_steps,
                         "resume_from": resume, "hours": None if per_it is None else steps_left * per_it / 3600,
                         "training_now": training_now(section, budget, method, seeds, root=root)})
        if section == "02_2d":
            seeds, spec = _budget_spec(GRID2D_BUDGETS, budget, None, None)
            rows += [{"section": section, "method": f"{m}_tuned", "seeds": seeds, "num_steps": spec["num_steps"],
                      "resume_from": 0, "hours": spec["num_steps"] * cost[f"{m}_tuned"] / 3600,
                      "training_now": False, "pending": True} for m in pending]
    return sorted(rows, key=lambda r: _queue_position(r["section"], r["method"]))  # stable: methods keep their order


def grid2d_configs(budget: str, seeds: list[int] | None = None, num_steps: int | None = None,
                   methods: list[str] | None = None, root: Path | None = None) -> dict[str, list[RunConfig]]:
    """{method: [one config per seed]} for the 2D section at ``budget``: the Table 2 methods by default;
    ``methods`` may also name sensitivity checks (GRID2D_CHECKS), sweep settings (GRID2D_SWEEP: the sweep's
    seeds and iterations) and tuned rows (GRID2D_TUNED: configs decided by the sweep stored under ``root``; a tuned
    row whose sweep is incomplete is an error, one whose winner is the shared protocol is left out: its Table 2
    row is its tuned row)."""
    table = {**GRID2D_METHODS, **{k: v[0] for k, v in GRID2D_CHECKS.items()}}
    unknown = sorted(set(methods or []) - set(table) - set(GRID2D_SWEEP) - set(GRID2D_TUNED))
    if unknown:
        raise ValueError(f"unknown 2D methods {unknown}; use some of {sorted(GRID2D_METHODS)}, the checks "
                         f"{sorted(GRID2D_CHECKS)}, the sweep settings sweep_<method>_<setting> or the tuned rows "
                         f"{list(GRID2D_TUNED)}")
    sweep = [m for m in methods or [] if m in GRID2D_SWEEP]
    named_tuned = [m for m in methods or [] if m in GRID2D_TUNED]
    out = sweep_configs(budget, seeds, num_steps, methods=sweep) if sweep else {}
    if named_tuned:
        swept = [m[:-len("_tuned")] for m in named_tuned]
        choices = {m: c for m, c in sweep_choices(budget, root).items() if m in swept}
        tuned, pending = tuned_configs(budget, seeds, num_steps, root, choices)
        if pending:
            raise ValueError(f"the tuned rows of {pending} are chosen by their sweep, which is not all stored at "
                             f"budget {budget}: train `python -m gngan section 02_2d --budget {budget} --methods "
                             + ",".join(k for k, v in GRID2D_SWEEP.items() if v[1] in pending) + "` first")
        out.update(tuned)
    seeds, spec = _budget_spec(GRID2D_BUDGETS, budget, seeds, num_steps)
    if num_steps is not None:
        spec["checkpoint_every"] = spec["eval_every"] * 5 if num_steps >= 100 else spec["eval_every"]
    chosen = [m for m in methods if m in table] if methods else list(GRID2D_METHODS)
    out.update({m: [table[m].replace(seed=s, **spec) for s in seeds] for m in chosen})
    return {m: out[m] for m in methods or chosen if m in out}


def results_location(section: str, budget: str) -> str:
    """Where a section's runs at ``budget`` land, relative to the repository."""
    return str(run_dir(section, budget, "<method>", 0, root=Path("results")).parent.parent) + "/"


def stored_results(section: str, configs: dict[str, list[RunConfig]], budget: str,
                   root: Path | None = None, num_steps: int | None = None) -> dict[str, list[dict]]:
    """The finished runs of ``configs`` at ``budget`` (never trains): {method: results}, only methods
    with at least one finished seed."""
    out = {}
    for method, cfgs in configs.items():
        found = []
        for c in cfgs:
            where = run_dir(section, budget, method, c.seed, num_steps, root)
            result = load_result(where)
            if result is not None:
                stored = RunConfig.from_dict(result["manifest"]["config"])
                if stored != c:
                    raise ConfigMismatchError(f"{where} holds a run with a different config "
                                              f"({stored.diff(c)}); delete it or rerun that section")
                found.append(result)
        if found:
            out[method] = found
    return out


def stored_benchmark(name: str) -> dict | None:
    """The stored measurement results/benchmarks/<name>.json of a script under benchmarks/, or None."""
    path = RESULTS_ROOT / "benchmarks" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def load_average() -> list[str] | None:
    """The 1, 5 and 15 minute load averages as benchmark records store them ("1.02"), None where the OS has none."""
    return [f"{x:.2f}" for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def write_benchmark(path: str | os.PathLike, record: dict) -> dict:
    """Write a benchmark script's measurement to ``path`` (JSON) with the provenance every stored number
    carries: git commit (and whether gngan/ had uncommitted changes), torch version and threads, the load
    average and the time. Keys of ``record`` win (e.g. the load average read before the timing).
    Written atomically; returns what was written."""
    import torch

    from gngan.images import atomic_save

    full = {"git_commit": GIT_AT_IMPORT["commit"], "git_dirty": GIT_AT_IMPORT["dirty"],
            "torch_version": torch.__version__, "threads": torch.get_num_threads(), "loadavg": load_average(),
            "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **record}
    atomic_save(Path(path), lambda f: f.write((json.dumps(full, indent=1) + "\n").encode()))
    return full


def estimated_hours(configs: dict[str, list[RunConfig]], seconds_per_iteration: dict[str, float]) -> float | None:
    """One-core hours to train every method of ``configs`` (``estimated_minutes`` each), or None when a
    method has no measured cost."""
    if not set(configs) <= set(seconds_per_iteration):
        return None
    return sum(estimated_minutes(cfgs, seconds_per_iteration[m]) for m, cfgs in configs.items()) / 60


def image_cpu_hours(budget: str, timing: dict | None = None) -> float | None:
    """Estimated one-thread CPU-hours to train every run of the three image sections at ``budget`` (FID
    evaluations included, the reference statistics not), or None without stored timings."""
    hours = [estimated_hours(image_configs(s, budget), image_seconds_per_iteration(s, budget, timing))
             for s in IMAGE_SECTIONS]
    return None if None in hours else sum(hours)


def paper_gpu_factor(gm_timing: dict | None = None) -> dict | None:
    """How much faster the paper's GPU ran than one core here, from the one step timed on both: a CIFAR-10
    CNN generator update without GM, batch 64 (the paper's 43 ms on a GTX 1080 Ti; ours from
    results/benchmarks/gm_timing.json). Returns dict(factor=paper_ms / our_ms, paper_ms, our_ms), or None
    without a stored timing. Scaling other steps by it assumes they speed up alike: an estimate."""
    from gngan import paper

    if gm_timing is None:
        gm_timing = stored_benchmark("gm_timing")
        if gm_timing is None:
            return None
    ours, theirs = gm_timing["ms"]["without_gm"], paper.GM_TIMING_MS["without_gm"]
    return {"factor": theirs / ours, "paper_ms": theirs, "our_ms": ours}


def image_seconds_per_iteration(section: str, budget: str, timing: dict | None = None) -> dict[str, float]:
    """{method: seconds per iteration} of an image section's runs at ``budget``, FID evaluations included
    (their cost spread over the iterations between two evaluations), from the measured timings in
    results/benchmarks/image_step_timing.json; methods at a width that was not measured are left out."""
    if timing is None:
        timing = stored_benchmark(IMAGE_TIMING.stem)
        if timing is None:
            return {}
    out = {}
    for m, cfgs in image_configs(section, budget).items():
        c = cfgs[0]
        step = timing["seconds_per_iteration"].get(f"{section}/{m} width={c.width}")
        if step is not None:
            out[m] = step + c.fid_fake * timing["fid_seconds_per_image"] / c.eval_every
    return out


# How the gpu budget's runs are produced: on a machine with an H200, then imported here (gngan.gpurun).
GPU_COMMANDS = ("bash tools/gpu-run.sh", "python -m gngan gpu-import <folder>")


def gpu_budget_status(section: str, root: Path | None = None) -> dict:
    """How much of an image section's gpu budget is stored: ``runs`` (all of them), ``stored``, ``missing``
    ({method: seeds}) and ``complete``. Until it is complete the stored runs are progress, not results."""
    configs = image_configs(section, "gpu")
    missing = missing_runs(section, configs, "gpu", root=root)
    runs = sum(len(c) for c in configs.values())
    stored = runs - sum(len(s) for s in missing.values())
    return {"runs": runs, "stored": stored, "missing": missing, "complete": not missing}


def shown_budget(section: str, budget: str, seeds=None, num_steps: int | None = None,
                 root: Path | None = None) -> str:
    """The budget whose stored runs a chapter (and the verdict page) shows when asked for ``budget``: an image
    section asked for cpu shows gpu once every run of its gpu budget is stored, the best budget stored; the
    1D and 2D sections have no gpu plan, so gpu shows their cpu runs. Otherwise ``budget`` itself: smoke stays
    smoke (a pipeline check), paper stays paper, and ``seeds``/``num_steps`` overrides ask for those runs."""
    check_budget(budget)
    if section not in IMAGE_SECTIONS:
        return "cpu" if budget == "gpu" else budget
    if budget == "cpu" and seeds is None and num_steps is None and gpu_budget_status(section, root)["complete"]:
        return "gpu"
    return budget
