"""photo-patches: square patches of the bundled photos, labelled by the photo they come from.

Why: the paper's second reverse-U experiment takes two patches of one image at growing
distance as the two views; `patch_pairs` draws such pairs, and the dataset (patch ->
which photo) is a small classification task to probe what the encoder learned.

Scale: photos are resized so their shorter side is `photo_size` px (default 192), so a
default 32 px patch covers a sixth of the short side: enough structure to tell photos
apart, and room for centre distances up to about 160 px inside the test region.
Regions: a patch of a split lies entirely inside that split's columns of the photo
(left 65% train, right 35% test; see `infomin.data.photos`).
High-resolution photos: `data_dir` (`--data-dir`) names a folder of photos that replaces
the bundled ones (class = the file); with `photo_size` near their own short side (e.g.
1024 for Debian's mate-backgrounds) centre distances of 500 px and more fit.
Coordinates: offsets and centres are (x, y) = (column, row) in the resized photo;
pixel j covers [j, j + 1), so a patch with top-left x0 has its centre at x0 + size / 2.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infomin.data import photos
from infomin.data.base import DatasetError, ImageDataset, Item, check_split, classification

_SPLIT_IDS = {"train": 0, "test": 1}


@dataclass(frozen=True)
class PatchPairs:
    """Pairs of patches cut from one photo at a chosen centre-to-centre distance."""

    first: torch.Tensor  # uint8 [N, 3, P, P]
    second: torch.Tensor  # uint8 [N, 3, P, P]
    photo: torch.Tensor  # int64 [N]
    centers: torch.Tensor  # float32 [N, 2, 2]: (pair member, (x, y))
    distance: torch.Tensor  # float32 [N]: actual distance, within 0.71 px of the request


def _cut(
    photo_index: int, x: int, y: int, size: int, photo_size: int, folder: Path | None = None
) -> torch.Tensor:
    """One `uint8 [3, size, size]` patch with top-left (x, y)."""
    array = photos.photo(photo_index, photo_size, folder)[y : y + size, x : x + size]
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def max_distance(
    split: str, patch_size: int = 32, photo_size: int = 192, folder: Path | None = None
) -> np.ndarray:
    """Per photo, the largest centre distance two patches of `split` can have."""
    x_low, x_high, y_low, y_high = photos.offset_ranges(photo_size, split, patch_size, folder)
    return np.hypot(x_high - x_low, y_high - y_low)


def check_distance(
    distance: float,
    split: str,
    patch_size: int = 32,
    photo_size: int = 192,
    folder: Path | None = None,
    photo: int | None = None,
) -> None:
    """Refuse (`DatasetError`, one line) a centre distance that some photo that may be
    drawn (every photo, or `photo`) cannot hold inside `split`'s region; callers check
    before any work, `patch_pairs` before drawing."""
    check_split(split, photos.SPLITS, "photo-patches")
    limits = max_distance(split, patch_size, photo_size, folder)
    names = photos.photo_names(folder)
    for index in range(len(names)) if photo is None else [photo]:
        if distance < 0 or distance > limits[index]:
            raise DatasetError(
                f"patch distance {distance} px is impossible in the {split} region of photo "
                f"{names[index]!r} (0 to {limits[index]:.1f} px for {patch_size} px patches "
                f"at photo_size {photo_size})"
            )


def patch_pairs(
    distance: float,
    num_pairs: int,
    split: str = "train",
    patch_size: int = 32,
    photo_size: int = 192,
    seed: int = 0,
    photo: int | None = None,
    folder: Path | None = None,
) -> PatchPairs:
    """Draw `num_pairs` pairs of patches from one photo each, centres `distance` px apart.

    The direction is random among those that keep both patches inside the split's region;
    the displacement is rounded to whole pixels. Photos (bundled, or those of `folder`)
    are uniform unless `photo` fixes one. Raises `DatasetError` if the distance does not
    fit a photo that may be drawn.
    """
    check_distance(distance, split, patch_size, photo_size, folder, photo)
    x_low, x_high, y_low, y_high = photos.offset_ranges(photo_size, split, patch_size, folder)
    width, height = x_high - x_low, y_high - y_low  # room for the top-left corner
    rng = np.random.default_rng([seed, _SPLIT_IDS[split], 7])
    chosen = rng.integers(photos.num_photos(folder), size=num_pairs) if photo is None else None
    chosen = np.full(num_pairs, photo) if chosen is None else chosen
    dx, dy = _displacements(rng, float(distance), width[chosen], height[chosen])
    x1 = x_low[chosen] + _uniform_int(rng, np.maximum(0, -dx), width[chosen] - np.maximum(0, dx))
    y1 = y_low[chosen] + _uniform_int(rng, np.maximum(0, -dy), height[chosen] - np.maximum(0, dy))
    x2, y2 = x1 + dx, y1 + dy
    cut = [
        (
            _cut(p, a, b, patch_size, photo_size, folder),
            _cut(p, c, d, patch_size, photo_size, folder),
        )
        for p, a, b, c, d in zip(chosen, x1, y1, x2, y2, strict=True)
    ]
    centers = np.stack([np.stack([x1, y1], 1), np.stack([x2, y2], 1)], 1) + patch_size / 2
    empty = torch.zeros((0, 3, patch_size, patch_size), dtype=torch.uint8)
    return PatchPairs(
        first=torch.stack([c[0] for c in cut]) if cut else empty,
        second=torch.stack([c[1] for c in cut]) if cut else empty,
        photo=torch.from_numpy(chosen.astype(np.int64)),
        centers=torch.from_numpy(centers.astype(np.float32)),
        distance=torch.from_numpy(np.hypot(dx, dy).astype(np.float32)),
    )


def _displacements(
    rng: np.random.Generator, distance: float, width: np.ndarray, height: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Whole-pixel displacements of length ~`distance` with |dx| <= width, |dy| <= height.

    In the first quadrant the angle phi is allowed where d cos(phi) <= width and
    d sin(phi) <= height, an interval [arccos(width/d), arcsin(height/d)]; draw phi in it,
    then mirror into a random quadrant.
    """
    scale = max(distance, 1e-12)
    low = np.arccos(np.minimum(1.0, width / scale))
    high = np.arcsin(np.minimum(1.0, height / scale))
    phi = low + rng.random(len(width)) * np.maximum(high - low, 0.0)
    signs = rng.choice([-1, 1], size=(len(width), 2))
    dx = signs[:, 0] * np.rint(distance * np.cos(phi)).astype(np.int64)
    dy = signs[:, 1] * np.rint(distance * np.sin(phi)).astype(np.int64)
    return dx, dy


def _uniform_int(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Integers uniform in [low, high] elementwise (inclusive)."""
    return low + np.floor(rng.random(len(low)) * (high - low + 1)).astype(np.int64)


class PhotoPatches(ImageDataset):
    """Random square patches of the bundled photos, or of the photos in `data_dir`; the
    target `photo` is the photo index."""

    name = "photo-patches"

    def __init__(
        self,
        split: str = "train",
        num_patches: int = 10_000,
        patch_size: int = 32,
        photo_size: int = 192,
        seed: int = 0,
        transform: Callable[[torch.Tensor], Any] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(transform)
        self.split = check_split(split, photos.SPLITS, self.name)
        self.patch_size, self.photo_size, self.seed = patch_size, photo_size, seed
        self.folder = photos.as_folder(data_dir)
        names = photos.photo_names(self.folder)
        rng = np.random.default_rng([seed, _SPLIT_IDS[split]])
        x_low, x_high, y_low, y_high = photos.offset_ranges(
            photo_size, split, patch_size, self.folder
        )
        photo = rng.integers(len(names), size=num_patches)
        x = _uniform_int(rng, x_low[photo], x_high[photo])
        y = _uniform_int(rng, y_low[photo], y_high[photo])
        self.photo = torch.from_numpy(photo.astype(np.int64))
        self.offset = torch.from_numpy(np.stack([x, y], axis=1).astype(np.int64))  # (x, y)
        self.tasks = {"photo": classification("photo", len(names))}
        self.class_names = {"photo": names}

    def __len__(self) -> int:
        return len(self.photo)

    def raw_item(self, index: int) -> Item:
        x, y = (int(v) for v in self.offset[index])
        image = _cut(int(self.photo[index]), x, y, self.patch_size, self.photo_size, self.folder)
        return image, {"photo": self.photo[index]}

    def pairs(self, distance: float, num_pairs: int, seed: int = 0) -> PatchPairs:
        """Patch pairs at `distance` px from this dataset's split, patch size and scale."""
        return patch_pairs(distance, num_pairs, self.split, self.patch_size, self.photo_size,
                           seed, folder=self.folder)  # fmt: skip
