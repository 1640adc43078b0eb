"""The paper's reported numbers, quoted from ../shared/paper/gngan-aaai2019.md (never computed here).

Each value is (mean, std) where the paper gives a spread, else (value, None).
"""

# Table 2: 2D synthetic data, 8 runs each, 2,000 generated samples.
TABLE2_COLUMNS = ("registered_modes", "registered_points", "tv_true", "tv_differential")
TABLE2 = {
    "gan": {"registered_modes": (14.25, 2.49), "registered_points": (1013.38, 171.73),
            "tv_true": (1.00, 0.00), "tv_differential": (0.90, 0.22)},
    "ali": {"registered_modes": (17.81, 1.80), "registered_points": (1281.43, 117.84),
            "tv_true": (0.99, 0.01), "tv_differential": (0.72, 0.19)},
    "vaegan": {"registered_modes": (12.75, 3.20), "registered_points": (1042.38, 170.17),
               "tv_true": (1.35, 0.70), "tv_differential": (1.34, 0.98)},
    "vae": {"registered_modes": (13.48, 2.31), "registered_points": (1265.45, 72.47),
            "tv_true": (1.81, 0.71), "tv_differential": (2.16, 0.72)},
    "beta_vae": {"registered_modes": (18.00, 2.33), "registered_points": (1321.17, 95.61),
                 "tv_true": (1.17, 0.24), "tv_differential": (1.47, 0.28)},
    "wgangp": {"registered_modes": (21.71, 1.35), "registered_points": (1180.25, 158.63),
               "tv_true": (0.90, 0.07), "tv_differential": (0.51, 0.06)},
    "distgan": {"registered_modes": (20.71, 4.42), "registered_points": (1188.62, 311.91),
                "tv_true": (0.82, 0.19), "tv_differential": (0.43, 0.12)},
    "gngan_gm": {"registered_modes": (24.39, 0.44), "registered_points": (1461.83, 222.86),
                 "tv_true": (0.57, 0.17), "tv_differential": (0.31, 0.12)},
}

# Table 3: FID (lower is better); CNN unless (R) = ResNet. None: not reported.
TABLE3 = {
    "gan_gp": {"cifar": 37.7, "stl": None, "cifar_resnet": None},
    "wgangp": {"cifar": 40.2, "stl": 55.1, "cifar_resnet": None},
    "sngan": {"cifar": 25.5, "stl": 43.2, "cifar_resnet": (21.7, 0.21)},
    "distgan": {"cifar": 22.95, "stl": 36.19, "cifar_resnet": None},
    "gngan": {"cifar": 21.70, "stl": 30.80, "cifar_resnet": (16.47, 0.28)},
}

# Fig. 5 (an image, no numbers): the paper's early-training claims, as (faster, slower) pairs. "Our original
# model converges a little bit slow at the beginning" (than Dist-GAN); +NE or +GM "converges faster" than the
# original; "combining two proposed techniques further speeds up the convergence".
FIG5_FASTER = (("gngan_ne", "gngan_orig"), ("gngan_gm", "gngan_orig"), ("gngan_ne_gm", "gngan_orig"),
               ("gngan_ne_gm", "gngan_ne"), ("gngan_ne_gm", "gngan_gm"))
FIG5_DISTGAN_FASTER = ("distgan", "gngan_orig")

# Fig. 7: FID of GAN with the proposed generator terms, last iteration (CIFAR-10, standard CNN).
FIG7_FINAL_FID = {"gan_ne_gm": 26.05, "gan_gm": 31.50, "gan_ne": 38.10}

# The GM timing: ms per generator update, batch 64, CIFAR-10 CNN, GTX 1080Ti.
GM_TIMING_MS = {"with_gm": 53.0, "without_gm": 43.0}
