"""Figures of the book. Each function takes stored results (dicts from ``result.json``) and returns a Figure."""

from __future__ import annotations

import textwrap
import zlib

import matplotlib.pyplot as plt
import numpy as np
import torch

from gngan.experiments import GRID2D_CHECKS, GRID2D_SWEEP
from gngan.metrics import SNAPSHOT_GRIDS
from gngan.report import seed_std

# the paper's Fig. 2 colours: data green, generated orange, discriminator score blue
DATA_C, GEN_C, D_C = "tab:green", "tab:orange", "tab:blue"


def _snapshot_panel(ax, snapshot: dict, dataset, title: str) -> None:
    g = SNAPSHOT_GRIDS["gauss1d"]
    edges, grid = g["hist_edges"], g["d_grid"]
    ax.plot(grid, dataset.density(torch.tensor(grid, dtype=torch.float32)).numpy(), color=DATA_C, label="real density")
    ax.stairs(snapshot["hist_density"], edges, color=GEN_C, fill=True, alpha=0.5, label="generated")
    ax.plot(grid, snapshot["d_score"], color=D_C, label="D score")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_title(title, fontsize=9)


def toy1d_final(results: dict[str, list[dict]], dataset, labels: dict[str, str], seeds_shown: int = 3):
    """Fig. 2 counterpart: last snapshot of the first ``seeds_shown`` seeds of each method."""
    methods = list(results)
    n = min(seeds_shown, min(len(r) for r in results.values()))
    fig, axes = plt.subplots(len(methods), n, figsize=(3.2 * n, 2.4 * len(methods)), squeeze=False, sharey=True)
    for i, m in enumerate(methods):
        for j in range(n):
            r = results[m][j]
            f = r["final"]
            _snapshot_panel(axes[i, j], f["snapshot"], dataset,
                            f"{labels[m]}, seed {r['manifest']['seed']}: {f['covered_modes']}/3 modes")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def toy1d_strip(results: dict[str, list[dict]], dataset, labels: dict[str, str], seed_index: int = 0,
                num_frames: int = 6):
    """Snapshots through training (stands in for the paper's video), one row per method."""
    methods = list(results)
    fig, axes = plt.subplots(len(methods), num_frames, figsize=(2.3 * num_frames, 2.2 * len(methods)),
                             squeeze=False, sharey=True)
    for i, m in enumerate(methods):
        hist = results[m][seed_index]["history"]
        picks = np.unique(np.linspace(0, len(hist) - 1, num_frames).round().astype(int))
        for j, k in enumerate(picks):
            rec = hist[k]
            _snapshot_panel(axes[i, j], rec["snapshot"], dataset, f"{labels[m]}\nstep {rec['step']}")
        for j in range(len(picks), num_frames):
            axes[i, j].axis("off")
    fig.tight_layout()
    return fig


# One colour per method key, the same in every chapter. Methods shown together differ: the 2D chapter's eleven,
# the ablation's GN-GAN variants (a blue family) with Dist-GAN, Table 3's five, Fig. 7's four GAN variants. No
# method is black (our mean ± std markers) or tab:red (the paper's marks and the 2D modes). A run that changes
# a method's settings (hinge loss, another data set, a tuned or swept setting, a 2D check) takes its colour.
METHOD_COLORS = {
    "gngan": "#4292c6",
    "gngan_orig": "#6baed6",
    "gngan_ne": "#17becf",
    "gngan_gm": "#1f77b4",
    "gngan_ne_gm": "#253494",
    "gngan_hinge": "#253494",
    "distgan": "#ff7f0e",
    "distgan_hinge": "#ff7f0e",
    "wgangp": "#2ca02c",
    "gangp": "#a6761d",
    "sngan": "#6a3d9a",
    "gan": "#7f7f7f",
    "gan_ne": "#e7298a",
    "gan_gm": "#7570b3",
    "gan_ne_gm": "#1b9e77",
    "ali": "#9467bd",
    "vaegan": "#e377c2",
    "vae": "#8c564b",
    "beta_vae": "#c49c94",
    "mmdrep": "#bcbd22",
    "bourgan": "#008b8b",
}
# colours for keys no chapter uses (tab20 less its reds), picked by a stable hash of the key
_FALLBACK_COLORS = ["#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#9edae5", "#f7b6d2", "#c7c7c7", "#dbdb8d",
                    "#bd9e39", "#393b79", "#637939", "#8c6d31", "#7b4173", "#3182bd", "#e6550d", "#31a354"]


def base_method(key: str) -> str | None:
    """The method of ``METHOD_COLORS`` that a stored method key runs: the key itself; for ``<m>_tuned``, m; for a
    2D sweep key (``GRID2D_SWEEP``) or 2D check (``GRID2D_CHECKS``), the method it tunes or probes; otherwise the
    longest known method that the key starts with followed by ``_`` (``gngan_hinge_stl10`` -> ``gngan_hinge``,
    ``sweep_gan_x`` -> ``gan``); None when there is none."""
    if key in METHOD_COLORS:
        return key
    if key in GRID2D_SWEEP:
        return GRID2D_SWEEP[key][1]
    if key in GRID2D_CHECKS:
        return GRID2D_CHECKS[key][1]
    if key.endswith("_tuned"):
        return base_method(key[: -len("_tuned")])
    if key.startswith("sweep_"):
        key = key[len("sweep_"):]
    prefixes = [m for m in METHOD_COLORS if key == m or key.startswith(m + "_")]
    return max(prefixes, key=len) if prefixes else None


def method_color(method: str) -> str:
    """The colour of a method key (a hex string), the same in every figure of the book whatever the other
    methods shown: ``METHOD_COLORS`` of its ``base_method``; a key with none gets a fixed colour of its own
    (a stable hash of the key into a spare palette), not an error."""
    base = base_method(method)
    if base is not None:
        return METHOD_COLORS[base]
    return _FALLBACK_COLORS[zlib.crc32(method.encode()) % len(_FALLBACK_COLORS)]


def _side_by_side(values: np.ndarray, step: float) -> np.ndarray:
    """x offsets that put the dots of equal values next to each other, centred on 0, ``step`` apart."""
    offsets = np.zeros(len(values))
    for v in np.unique(values):
        where = np.flatnonzero(values == v)
        offsets[where] = (np.arange(len(where)) - (len(where) - 1) / 2) * step
    return offsets


def covered_modes_per_seed(results: dict[str, list[dict]], labels: dict[str, str], num_modes: int,
                           paper: dict[str, float | tuple[float, float]] | None = None):
    """Covered modes at the end of training, one dot per seed, our mean ± std in black; the paper's value as a
    red cross, with its std bar where ``paper`` gives (mean, std)."""
    fig, ax = plt.subplots(figsize=(max(5.0, 0.75 * len(results) + 1.5), 2.8))
    paper_label = "paper"
    for i, m in enumerate(results):
        vals = np.array([r["final"]["covered_modes"] for r in results[m]])
        ax.scatter(i - 0.08 + _side_by_side(vals, 0.05), vals, s=14, alpha=0.8, label=None,
                   color=method_color(m))
        ax.errorbar(i + 0.25, vals.mean(), yerr=seed_std(vals), fmt="o", color="k", capsize=3,
                    label="ours, mean ± std" if i == 0 else None)
        if paper and m in paper:
            mean, std = paper[m] if isinstance(paper[m], tuple) else (paper[m], 0.0)
            ax.errorbar(i + 0.38, mean, yerr=std, fmt="x", color="tab:red", ms=7, capsize=3, label=paper_label)
            paper_label = None
    slanted = len(results) > 5  # long labels side by side overlap
    ax.set_xticks(range(len(results)), [labels[m] for m in results], rotation=30 if slanted else 0,
                  ha="right" if slanted else "center", fontsize=8)
    ax.set_yticks(range(0, num_modes + 1, 1 if num_modes <= 10 else 5))
    ax.set_ylabel("covered modes")
    ax.set_xlim(-0.5, len(results) - 0.4)
    if paper:  # beside the axes: inside, it hides the dots of whichever method sits under it
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def _training_curves(ax, runs: list[dict], key: str, color: str, label: str) -> None:
    """One method's ``key`` against steps on ``ax``: the mean over seeds (the line labelled ``label``), a ± std
    band over seeds around it and one thin line per seed, all in ``color``. Every seed has the first seed's steps."""
    steps = np.array([rec["step"] for rec in runs[0]["history"]])
    vals = np.array([[rec[key] for rec in r["history"]] for r in runs], dtype=float)  # (seeds, evaluations)
    ax.plot(steps, vals.mean(0), label=label, color=color)
    band = seed_std(vals, 0)
    ax.fill_between(steps, vals.mean(0) - band, vals.mean(0) + band, alpha=0.2, color=color)
    for v in vals:
        ax.plot(steps, v, color=color, lw=0.4, alpha=0.4)


def _iterations_axis(ax, last: int) -> None:
    if last >= 10_000:
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v / 1000:.0f}K"))


def metric_over_training(results: dict[str, list[dict]], labels: dict[str, str], key: str, ylabel: str,
                         paper_final: dict[str, tuple[float, float]] | None = None, panels: bool | None = None):
    """Mean +- std band over seeds of ``key`` against steps, thin lines per seed, in each method's
    ``method_color``; with ``paper_final`` ({method: (mean, std)}), the paper's final value as a diamond with its
    std bar just right of our last iteration, in the method's colour.

    ``panels`` None draws small multiples when ``results`` has more than 4 methods, one axis otherwise; True or
    False forces small multiples or one axis. One axis: every method overlaid, a legend of the labels beside it.
    Small multiples (``_metric_panels``): one panel per method, in ``results`` order, on shared axes."""
    last = max(r["history"][-1]["step"] for runs in results.values() for r in runs) if results else 0
    if panels is None:
        panels = len(results) > 4
    if panels and results:
        return _metric_panels(results, labels, key, ylabel, paper_final, last)
    fig, ax = plt.subplots(figsize=(7, 3))
    for m, runs in results.items():
        color = method_color(m)
        _training_curves(ax, runs, key, color, labels.get(m, m))
        if paper_final and m in paper_final:
            mean, std = paper_final[m]
            ax.errorbar([last * 1.04], [mean], yerr=[std], fmt="D", ms=4, capsize=2, color=color)
    if paper_final and any(m in paper_final for m in results):
        ax.errorbar([], [], yerr=[], fmt="D", ms=4, color="gray", label="paper, final (± std)")
    ax.set_xlabel("iteration")
    _iterations_axis(ax, last)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def _metric_panels(results: dict[str, list[dict]], labels: dict[str, str], key: str, ylabel: str,
                   paper_final: dict[str, tuple[float, float]] | None, last: int):
    """Small multiples of ``metric_over_training``: a grid of up to 4 columns (rows balanced, unused cells
    switched off), ~2.2 in per row, shared x and y axes. Panel i: method i of ``results``, titled with its label,
    its mean line (labelled with the label), ± std band and per-seed lines; for a method of ``paper_final``, the
    paper's mean as a dashed line across the panel and as the diamond with its std bar at 1.04 x ``last``. One
    legend above the grid says what band, thin lines, dashed line and diamond are."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    methods = list(results)
    rows = -(-len(methods) // 4)
    cols = -(-len(methods) // rows)
    fig, axes = plt.subplots(rows, cols, figsize=(9.5, 2.2 * rows + 0.4), sharex=True, sharey=True,
                             squeeze=False, layout="constrained")
    with_paper = False
    for ax, m in zip(axes.flat, methods):
        color = method_color(m)
        _training_curves(ax, results[m], key, color, labels.get(m, m))
        if paper_final and m in paper_final:
            mean, std = paper_final[m]
            ax.axhline(mean, color=color, ls="--", lw=0.8, alpha=0.8)
            ax.errorbar([last * 1.04], [mean], yerr=[std], fmt="D", ms=4, capsize=2, color=color)
            with_paper = True
        ax.set_title(textwrap.fill(labels.get(m, m), 34), fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(methods):]:
        ax.axis("off")
    for j in range(cols):  # the lowest used panel of each column carries the iterations
        bottom = axes[(len(methods) - 1 - j) // cols, j]
        bottom.xaxis.set_tick_params(labelbottom=True)
        bottom.set_xlabel("iteration", fontsize=8)
    for i in range(rows):
        axes[i, 0].set_ylabel(ylabel, fontsize=8)
    _iterations_axis(axes[0, 0], last)
    handles = [(Patch(color="gray", alpha=0.2, lw=0), Line2D([], [], color="gray")),
               Line2D([], [], color="gray", lw=0.4)]
    names = ["ours, mean ± std over seeds", "ours, one seed"]
    if with_paper:
        handles.append((Line2D([], [], color="gray", ls="--", lw=0.8),
                        Line2D([], [], color="gray", marker="D", ms=4, ls="none")))
        names.append("paper, final (± std)")
    fig.legend(handles, names, loc="outside upper center", ncol=len(handles), fontsize=7, frameon=False)
    return fig


def grid2d_samples(results: dict[str, list[dict]], labels: dict[str, str], centers, seed_index: int = 0):
    """Final generated samples of one seed per method (500 of the 2,000 evaluated), modes in red."""
    methods = list(results)
    cols = min(4, len(methods))
    rows = -(-len(methods) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), squeeze=False)
    c = np.asarray(centers)
    for ax, m in zip(axes.flat, methods):
        r = results[m][seed_index]
        x = np.asarray(r["final"]["samples"])
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.5, color="tab:blue")
        ax.scatter(c[:, 0], c[:, 1], s=8, color="tab:red")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{labels.get(m, m)}, seed {r['manifest']['seed']}\n{r['final']['covered_modes']} modes",
                     fontsize=8)
    for ax in list(axes.flat)[len(methods):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def gradient_maps(results: dict[str, list[dict]], labels: dict[str, str], centers, lo=0.0, hi=1.0, num=21,
                  seed_index: int = 0):
    """Fig. 4 counterpart: the discriminator score's gradient field (arrows normalised per panel)."""
    methods = [m for m in results if "d_gradient_field" in results[m][seed_index]["final"]]
    fig, axes = plt.subplots(1, len(methods), figsize=(3 * len(methods), 3.1), squeeze=False)
    xs = np.linspace(lo, hi, num)
    gx, gy = np.meshgrid(xs, xs)
    c = np.asarray(centers)
    for ax, m in zip(axes[0], methods):
        g = np.asarray(results[m][seed_index]["final"]["d_gradient_field"]).reshape(num, num, 2)
        scale = np.abs(g).max() or 1.0
        ax.quiver(gx, gy, g[..., 0] / scale, g[..., 1] / scale, angles="xy", color="k", width=0.004)
        ax.scatter(c[:, 0], c[:, 1], s=10, color="tab:red", zorder=3)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(labels.get(m, m), fontsize=9)
    fig.tight_layout()
    return fig


def image_samples(results: dict[str, list[dict]], labels: dict[str, str], seed_index: int = 0, cols: int = 3):
    """The 64-sample grid stored at the end of each image run (one seed per method), with its final FID."""
    import base64
    import io

    from PIL import Image

    methods = [m for m in results if "samples_png" in results[m][seed_index]["final"]]
    rows = max(1, -(-len(methods) // cols))
    # constrained layout keeps a second row's two-line titles off the first row's images (tight_layout did not)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.5 * rows), squeeze=False, layout="constrained")
    for ax, m in zip(axes.flat, methods):
        final = results[m][seed_index]["final"]
        ax.imshow(np.asarray(Image.open(io.BytesIO(base64.b64decode(final["samples_png"])))))
        ax.set_title(f"{labels.get(m, m)}\nFID {final['fid']:.1f} at iteration {final['step']:,}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    return fig
