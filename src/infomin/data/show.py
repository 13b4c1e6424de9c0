"""Pictures of datasets, to check by eye that images and labels agree.

Figures use matplotlib's Agg canvas directly (no pyplot state, works headless) and are
written atomically: a temp file in the target folder, then `os.replace`, so a crashed
or parallel run never leaves a half-written PNG behind.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infomin.data.base import ImageDataset
from infomin.outputs import atomic_write


def _raw_item(dataset: Any, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The untransformed item when the dataset can give it, else whatever it returns."""
    if isinstance(dataset, ImageDataset):
        return dataset.raw_item(index)
    image, targets = dataset[index]
    return (image[0] if isinstance(image, tuple | list) else image), targets


def _label_text(dataset: Any, targets: dict[str, torch.Tensor]) -> str:
    """Title text: class names where the dataset knows them, rounded numbers otherwise."""
    names = getattr(dataset, "class_names", {}) or {}
    tasks = getattr(dataset, "tasks", {}) or {}
    parts = []
    for key, value in targets.items():
        task = tasks.get(key)
        if task is not None and task.kind == "classification":
            index = int(value)
            known = names.get(key)
            parts.append(known[index] if known and index < len(known) else f"{key} {index}")
        else:
            numbers = ", ".join(f"{v:.0f}" for v in value.flatten().tolist())
            parts.append(f"{key} ({numbers})")
    return "\n".join(parts)


def _as_hwc(image: torch.Tensor) -> np.ndarray:
    """`[C, H, W]` uint8 or float image -> array matplotlib can show."""
    array = image.detach().cpu()
    array = array.float() / 255.0 if array.dtype == torch.uint8 else array.float().clamp(0, 1)
    array = array.numpy().transpose(1, 2, 0)
    return array[..., 0] if array.shape[2] == 1 else array[..., :3]


def _mark_position(axis: Any, targets: dict[str, torch.Tensor]) -> None:
    """Cross at a `position` target; pixel j covers [j, j+1) but imshow centres it at j."""
    if "position" in targets:
        x, y = (float(v) - 0.5 for v in targets["position"][:2])
        axis.plot([x], [y], marker="+", color="white", markersize=8, mew=1.5)


def _save_atomic(figure: Any, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lstrip(".") or "png"
    return atomic_write(path, lambda tmp: figure.savefig(tmp, format=fmt, dpi=100))


def _figure(rows: int, cols: int, cell: float) -> tuple[Any, np.ndarray]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(cols * cell, rows * (cell + 0.35)))
    FigureCanvasAgg(figure)
    axes = np.atleast_1d(figure.subplots(rows, cols, squeeze=False)).reshape(rows, cols)
    for axis in axes.flat:
        axis.set_axis_off()
    return figure, axes


def save_grid(dataset: Any, path: str | os.PathLike[str], n: int = 32, seed: int = 0) -> Path:
    """Write a PNG grid of `n` random samples, each titled by its labels."""
    count = min(n, len(dataset))
    indices = np.random.default_rng(seed).choice(len(dataset), size=count, replace=False)
    cols = min(8, max(count, 1))
    rows = max(1, math.ceil(count / cols))
    figure, axes = _figure(rows, cols, 1.6)
    for axis, index in zip(axes.flat, indices, strict=False):
        image, targets = _raw_item(dataset, int(index))
        axis.imshow(_as_hwc(image), cmap="gray", interpolation="nearest")
        _mark_position(axis, targets)
        axis.set_title(_label_text(dataset, targets), fontsize=6)
    figure.tight_layout()
    return _save_atomic(figure, path)


def save_clip_strip(dataset: Any, path: str | os.PathLike[str], n: int = 4, seed: int = 0) -> Path:
    """Write a PNG with the T frames of `n` random clips (one row per clip, positions marked)."""
    count = min(n, len(dataset))
    indices = np.random.default_rng(seed).choice(len(dataset), size=count, replace=False)
    frames = dataset.clips.shape[1]
    figure, axes = _figure(max(count, 1), frames, 1.4)
    for row, index in zip(axes, indices, strict=False):
        clip, factors = dataset.clip(int(index))
        for t, axis in enumerate(row):
            axis.imshow(_as_hwc(clip[t]), interpolation="nearest")
            _mark_position(axis, {"position": factors["position"][t]})
            if t == 0:
                axis.set_title(_label_text(dataset, dataset.targets(int(index), 0)), fontsize=6)
    figure.tight_layout()
    return _save_atomic(figure, path)
