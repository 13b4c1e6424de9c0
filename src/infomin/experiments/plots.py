"""Figures of a sweep: the reverse-U (accuracy vs I_NCE) and both against the parameter.

Why these two: the reverse-U is the paper's claim, drawn in its own axes, with error bars
over seeds on both axes so that a bump smaller than the noise is seen as such, and the
log K ceiling drawn so that an I_NCE pressed against it is not read as "all the
information". The second figure shows the same numbers against the knob a user turns.
Matplotlib runs headless (Agg); files are written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullLocator

from infomin.outputs import atomic_write


def _series(results: Mapping[str, Any], key: str) -> tuple[list[float], list[float]]:
    stats = [s["summary"][key] for s in results["settings"]]
    return [s["mean"] for s in stats], [s["std"] for s in stats]


def _labels(results: Mapping[str, Any]) -> list[str]:
    return [str(s["setting"]) for s in results["settings"]]


def _is_ladder(results: Mapping[str, Any]) -> bool:
    return all(isinstance(s["value"], int | float) for s in results["settings"])


def _label_shifts(x: list[float], y: list[float]) -> list[int]:
    """How many lines down to move each label so that labels of nearby points do not overlap.

    Points closer than 4% of the x range and 3% of the y range share a stack of labels.
    """
    span_x = (max(x) - min(x)) or 1.0
    span_y = (max(y) - min(y)) or 1.0
    shifts: list[int] = []
    for i in range(len(x)):
        close = [abs(x[i] - x[j]) < 0.04 * span_x and abs(y[i] - y[j]) < 0.03 * span_y
                 for j in range(i)]  # fmt: skip
        near = [shifts[j] for j in range(i) if close[j]]
        shifts.append(next(k for k in range(len(x) + 1) if k not in near))
    return shifts


def parameter_scale(values: list[float]) -> dict[str, Any]:
    """The x scale for a ladder: symlog when its positive values span two decades or more
    (patch distances 4..512 px would crowd into the left tenth of a linear axis), linear
    below the smallest positive value so that 0 stays on the axis; else linear."""
    positive = [v for v in values if v > 0]
    if len(positive) < 2 or max(positive) / min(positive) < 100:
        return {"value": "linear"}
    return {"value": "symlog", "linthresh": min(positive), "linscale": 0.5}


def save_figure(fig: Any, path: Path) -> Path:
    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png", dpi=120)

    try:
        return atomic_write(path, write)
    finally:
        plt.close(fig)


def _title(results: Mapping[str, Any]) -> str:
    seeds = len(results["seeds"])
    what = results["parameter"] or "views"
    return f"{what}: mean ± std over {seeds} seed{'s' if seeds != 1 else ''}"


def save_reverse_u(results: Mapping[str, Any], path: str | Path) -> Path:
    """Accuracy (y) against I_NCE (x), one labelled point per setting, log K as a line."""
    x, x_err = _series(results, "i_nce")
    y, y_err = _series(results, "accuracy")
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    if _is_ladder(results):
        ax.plot(x, y, color="0.75", linewidth=1, zorder=1)  # the ladder's order
    ax.errorbar(x, y, xerr=x_err, yerr=y_err, fmt="o", capsize=3, color="tab:blue", zorder=2)
    for (xi, yi), label, shift in zip(zip(x, y, strict=True), _labels(results),
                                       _label_shifts(x, y), strict=True):  # fmt: skip
        ax.annotate(label, (xi, yi), textcoords="offset points", xytext=(5, 5 - 9 * shift),
                    fontsize=8)  # fmt: skip
    log_k = results["log_k"]
    ax.axvline(log_k, color="tab:red", linestyle="--", linewidth=1)
    ax.text(log_k, ax.get_ylim()[0], f" log K = {log_k:.2f} (K={results['num_candidates']})",
            color="tab:red", rotation=90, va="bottom", ha="right", fontsize=8)  # fmt: skip
    ax.set_xlim(min(0.0, min(x) - 0.2), log_k + 0.3)
    ax.set_xlabel("I_NCE of the views on held-out pairs (nats)")
    ax.set_ylabel(f"{results['metric']} (%)")
    ax.set_title(_title(results), fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, Path(path))


def save_vs_parameter(results: Mapping[str, Any], path: str | Path) -> Path:
    """Accuracy (top) and I_NCE (bottom) against the parameter, in the sweep's order."""
    labels = _labels(results)
    ladder = _is_ladder(results)
    xs = [s["value"] for s in results["settings"]] if ladder else list(range(len(labels)))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 5.6), sharex=True)
    for ax, key, name in (
        (top, "accuracy", f"{results['metric']} (%)"),
        (bottom, "i_nce", "I_NCE (nats)"),
    ):
        mean, std = _series(results, key)
        ax.errorbar(xs, mean, yerr=std, fmt="o-" if ladder else "o", capsize=3, label="trained")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    if all("random_init" in s for s in results["settings"]):
        base = [s["random_init"]["accuracy"] for s in results["settings"]]
        top.plot(xs, base, "x--" if ladder else "x", color="0.5", label="random init")
        top.legend(fontsize=8)
    bottom.axhline(results["log_k"], color="tab:red", linestyle="--", linewidth=1,
                   label=f"log K = {results['log_k']:.2f}")  # fmt: skip
    bottom.legend(fontsize=8)
    if not ladder:
        bottom.set_xticks(xs, labels, rotation=45, ha="right")
    elif parameter_scale(xs)["value"] == "symlog":
        scale = parameter_scale(xs)
        bottom.set_xscale(**scale)
        bottom.set_xticks(xs, labels)
        bottom.xaxis.set_minor_locator(NullLocator())
        bottom.set_xlim(min(xs) - 0.3 * scale["linthresh"], max(xs) * 1.3)
    bottom.set_xlabel(results["parameter"] or "views")
    top.set_title(_title(results), fontsize=10)
    fig.tight_layout()
    return save_figure(fig, Path(path))
