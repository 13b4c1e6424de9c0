"""Labelled images of a dataset split, drawn once and cached: what image views are made of.

Why a pool: a sweep builds one source per setting over the same images, and drawing
them (rendering the embedded datasets, decoding and resizing files) costs seconds, so
the same ``(pool, split, n, seed)`` is drawn once per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as tvf

from infomin.data import load_dataset
from infomin.data.base import DatasetError, Task
from infomin.views.recipes import grey_or_rgb

PHOTO_PATCHES = "photo-patches"
DIGITS = "colorful-moving-digits"


@dataclass(frozen=True)
class LabelledImages:
    """Images with their targets and task descriptions.

    Attributes:
        images: ``uint8 [n, C, H, W]`` images: RGB (C = 3), or grey (C = 1) for grey
            datasets, whose colour-space views are refused (`infomin.views.specs`).
        targets: Task name -> ``[n]`` (classes) or ``[n, ...]`` (regression) targets.
        tasks: Task name -> its description.
    """

    images: Tensor
    targets: dict[str, Tensor]
    tasks: dict[str, Task]


@dataclass(frozen=True)
class ImagePool:
    """Where a source's images come from: dataset name, folder, side and photo scale.

    The embedded datasets are generated with exactly `n` items (photo-patches at patch
    side ``size``, default 32; colorful-moving-digits frame 0); datasets read from disk
    (CIFAR, STL-10, folders) are subsampled without replacement and, with ``size``,
    resized and centre-cropped. The same (split, n, seed) always gives the same images.

    ``holdout=N`` (datasets read from disk): both splits come from the training split,
    "test" from its last N images and "train" from the rest, and the test split is
    never opened. Views chosen by a sweep's scores are then chosen on training data only.
    """

    data: str
    data_dir: str | None = None
    size: int | None = None
    photo_size: int | None = None
    holdout: int | None = None

    def images(self, split: str, n: int, seed: int) -> LabelledImages:
        """``n`` labelled images of ``split`` (cached per pool, split, n and seed)."""
        return _load_images(self, split, n, seed)


@functools.lru_cache(maxsize=4)
def _load_images(pool: ImagePool, split: str, n: int, seed: int) -> LabelledImages:
    """Cached: a sweep's settings draw the same images, and drawing costs seconds."""
    if pool.data == PHOTO_PATCHES:
        options: dict[str, Any] = {"num_patches": n, "seed": seed}
        if pool.size is not None:
            options["patch_size"] = pool.size
        if pool.photo_size is not None:
            options["photo_size"] = pool.photo_size
        return _stack(load_dataset(PHOTO_PATCHES, split, pool.data_dir, **options), range(n))
    if pool.data == DIGITS:
        dataset = load_dataset(DIGITS, split, num_clips=n, frames=1, seed=seed)
        return _stack(dataset, range(n), pool.size)
    dataset = load_dataset(pool.data, "train" if pool.holdout else split, pool.data_dir)
    if not dataset.tasks:
        raise DatasetError(f"dataset {pool.data!r} has no labels: view experiments need a probe")
    first, count, name = _candidates(pool, split, len(dataset))
    if n > count:
        raise DatasetError(f"{pool.data} {name} has {count} images, {n} requested")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return _stack(dataset, (order[:n] + first).tolist(), pool.size)


def _candidates(pool: ImagePool, split: str, total: int) -> tuple[int, int, str]:
    """(first index, count, name) of the images a split may be drawn from."""
    if not pool.holdout:
        return 0, total, split
    if pool.holdout >= total:
        raise DatasetError(f"holdout={pool.holdout} leaves nothing of {pool.data}'s "
                           f"{total} training images to train on")  # fmt: skip
    cut = total - pool.holdout
    if split == "train":
        return 0, cut, f"train (without its last {pool.holdout}, held out)"
    return cut, pool.holdout, f"holdout (the last {pool.holdout} training images)"


def _stack(dataset: Any, indices: Any, size: int | None = None) -> LabelledImages:
    """Stack raw items (RGB, or grey as they are), resized and centre-cropped to ``size``
    when it differs."""
    images, targets = [], []
    for i in indices:
        image, target = dataset.raw_item(int(i))
        image = grey_or_rgb(image)
        if size is not None and tuple(image.shape[-2:]) != (size, size):
            image = tvf.center_crop(tvf.resize(image, size, antialias=True), [size, size])
        images.append(image)
        targets.append(target)
    if len({tuple(img.shape) for img in images}) > 1:
        raise DatasetError(f"images of {dataset.name} differ in size: add size=PX to the spec")
    stacked = {k: torch.stack([t[k] for t in targets]) for k in targets[0]} if targets else {}
    return LabelledImages(torch.stack(images).contiguous(), stacked, dict(dataset.tasks))


def primary_metric_for(data: str) -> str | None:
    """The headline metric of a dataset (None: the first `*.linear_top1` the probe returns)."""
    return {PHOTO_PATCHES: "photo.linear_top1", DIGITS: "digit.linear_top1"}.get(data)
