"""Pictures of learned views: images seen through g channel by channel, and the trajectory.

Why these two: a learned colour space is only understood by looking at what each
channel keeps (view 1 is channel 1, view 2 is channels 2:3), and the paper's claim is
about where along its training g lands on the accuracy-vs-I_NCE plane, so the
trajectory is drawn in the reverse-U's own axes, next to the fixed colour spaces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from torch import Tensor

from infomin.experiments.plots import save_figure

ChannelMap = Callable[[Tensor], Tensor]  # uint8 RGB [n, 3, H, W] -> float [n, 3, H, W]
MODE_COLOURS = {"unsupervised": "tab:red", "semi-supervised": "tab:green",
                "supervised": "tab:purple", "semi-supervised-plain": "tab:olive"}  # fmt: skip


def _stretch(channel: Tensor) -> Tensor:
    """Min-max to [0, 1] per picture (channels of a learned space have no fixed range)."""
    low, high = channel.min(), channel.max()
    return (channel - low) / (high - low).clamp_min(1e-8)


@torch.no_grad()
def plot_channels(images: Tensor, maps: Mapping[str, ChannelMap], path: Path) -> Path:
    """Rows: colour maps (fixed spaces, learned g); per image: the RGB image, channels 1-3."""
    n = len(images)
    fig, axes = plt.subplots(len(maps), 4 * n, figsize=(1.3 * 4 * n, 1.45 * len(maps)),
                             squeeze=False)  # fmt: skip
    for row, (label, channel_map) in enumerate(maps.items()):
        converted = channel_map(images)
        for i in range(n):
            axes[row, 4 * i].imshow(images[i].permute(1, 2, 0).numpy())
            for c in range(3):
                axes[row, 4 * i + 1 + c].imshow(_stretch(converted[i, c]).numpy(), cmap="gray")
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    for i in range(n):
        for c, title in enumerate(("image", "ch 1 (v1)", "ch 2 (v2)", "ch 3 (v2)")):
            axes[0, 4 * i + c].set_title(title, fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return save_figure(fig, path)


def _mean_points(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
    """Per checkpoint step: mean and std over seeds of I_NCE and accuracy."""
    by_step: dict[int, list[Mapping[str, Any]]] = {}
    for run in runs:
        for point in run["trajectory"]:
            by_step.setdefault(int(point["step"]), []).append(point)
    out = []
    for step, points in sorted(by_step.items()):
        x = torch.tensor([float(p["i_nce"]) for p in points])
        y = torch.tensor([float(p["accuracy"]) for p in points])
        sx = float(x.std()) if len(x) > 1 else 0.0
        sy = float(y.std()) if len(y) > 1 else 0.0
        out.append({"step": step, "x": float(x.mean()), "y": float(y.mean()), "sx": sx, "sy": sy})
    return out


def plot_trajectory(results: Mapping[str, Any], metric: str, log_k: float, path: Path) -> Path:
    """Accuracy vs held-out I_NCE of g along training (mean ± std over seeds) per mode,
    with the fixed colour-space splits as reference points and the log K ceiling."""
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for mode, runs in results["learned"].items():
        points = _mean_points(runs)
        colour = MODE_COLOURS.get(mode)
        ax.errorbar([p["x"] for p in points], [p["y"] for p in points],
                    xerr=[p["sx"] for p in points], yerr=[p["sy"] for p in points],
                    marker="o", ms=4, capsize=2, color=colour,
                    label=f"learned: {mode}")  # fmt: skip
        for p in points:
            ax.annotate(str(p["step"]), (p["x"], p["y"]), textcoords="offset points",
                        xytext=(4, 3), fontsize=7, color=colour)  # fmt: skip
    for space, runs in results["fixed"].items():
        x = torch.tensor([float(r["i_nce"]) for r in runs])
        y = torch.tensor([float(r["accuracy"]) for r in runs])
        spread = (float(x.std()), float(y.std())) if len(runs) > 1 else (0.0, 0.0)
        ax.errorbar([float(x.mean())], [float(y.mean())], xerr=[spread[0]], yerr=[spread[1]],
                    marker="s", ms=6, capsize=2, ls="none", color="black")  # fmt: skip
        ax.annotate(f"{space} split", (float(x.mean()), float(y.mean())),
                    textcoords="offset points", xytext=(5, -10), fontsize=8)  # fmt: skip
    ax.axvline(log_k, color="grey", ls=":", lw=1)
    ax.text(log_k, ax.get_ylim()[0], " log K", color="grey", fontsize=8, va="bottom")
    ax.set_xlabel("I_NCE of the views, held out (nats; fresh encoders on frozen g)")
    ax.set_ylabel(f"{metric} % (linear probe)")
    ax.set_title("Learned views along training (numbers: g's training step)", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
