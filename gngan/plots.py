"""Figures of the book. Each function takes stored results (dicts from ``result.json``) and returns a Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

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


def _method_colors() -> list[str]:
    """One colour per method, in the order of a chapter's results, the same in each of its figures (ten colours
    are not enough for the 2D chapter's eleven methods; black is left for our mean ± std markers)."""
    return plt.rcParams["axes.prop_cycle"].by_key()["color"] + ["teal", "gold", "navy"]


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
    colors = _method_colors()
    paper_label = "paper"
    for i, m in enumerate(results):
        vals = np.array([r["final"]["covered_modes"] for r in results[m]])
        ax.scatter(i - 0.08 + _side_by_side(vals, 0.05), vals, s=14, alpha=0.8, label=None,
                   color=colors[i % len(colors)])
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


def metric_over_training(results: dict[str, list[dict]], labels: dict[str, str], key: str, ylabel: str,
                         paper_final: dict[str, tuple[float, float]] | None = None):
    """Mean +- std band over seeds of ``key`` against steps, thin lines per seed; with ``paper_final``
    ({method: (mean, std)}), the paper's final value as a diamond with its std bar just right of our last
    iteration, in the method's colour, on the same axis."""
    fig, ax = plt.subplots(figsize=(7, 3))
    last = max(r["history"][-1]["step"] for runs in results.values() for r in runs) if results else 0
    colors = _method_colors()
    for i, (m, runs) in enumerate(results.items()):
        steps = np.array([rec["step"] for rec in runs[0]["history"]])
        vals = np.array([[rec[key] for rec in r["history"]] for r in runs], dtype=float)
        (line,) = ax.plot(steps, vals.mean(0), label=labels[m], color=colors[i % len(colors)])
        band = seed_std(vals, 0)
        ax.fill_between(steps, vals.mean(0) - band, vals.mean(0) + band, alpha=0.2,
                        color=line.get_color())
        for v in vals:
            ax.plot(steps, v, color=line.get_color(), lw=0.4, alpha=0.4)
        if paper_final and m in paper_final:
            mean, std = paper_final[m]
            ax.errorbar([last * 1.04], [mean], yerr=[std], fmt="D", ms=4, capsize=2, color=line.get_color())
    if paper_final and any(m in paper_final for m in results):
        ax.errorbar([], [], yerr=[], fmt="D", ms=4, color="gray", label="paper, final (± std)")
    ax.set_xlabel("iteration")
    if last >= 10_000:
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v / 1000:.0f}K"))
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
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
