"""digit-scenes: a small detection task for measuring transfer, embedded and offline.

Why: the paper's transfer claim is about detection (VOC, COCO), which a 2-core machine
cannot train. A scene holds 1-4 coloured MNIST digits over a photo crop; the target is a
box and a class (the digit) per digit, so torchvision's detectors train on it in minutes
and a backbone pretrained on colorful-moving-digits can be compared with random init.

- Digits: the 1,000 held-out MNIST digits of colorful-moving-digits (never seen by its
  train split, so never seen in pretraining). A fixed, class-stratified half of them
  (50 per class) draws the train scenes, the other half the test scenes.
- Backgrounds: a canvas-sized crop of a bundled photo (`infomin.data.photos`) from the
  split's region (train: left 65% of the columns, test: right 35%), resized to short side
  `3 x canvas` and dimmed by `dim`, as in colorful-moving-digits. Test scenes therefore
  share no digit image and no photo pixel with train scenes.
- Layout: the canvas is cut into a `g x g` grid (`g = ceil(sqrt(max_digits))`); each digit
  takes its own cell and its ink box is placed uniformly inside that cell. Digits never
  overlap, so a box always shows its whole digit. A request whose largest digit does not
  fit a cell is refused (`DatasetError`, one line).
- Size and colour: ink size uniform in `digit_size` (px, the MNIST 20 px box scaled),
  hue uniform, full saturation; the MNIST intensity is the digit's alpha.
- Boxes: from the ink. A pixel is ink when the digit's alpha there is at least
  `INK_THRESHOLD`; the box `(x0, y0, x1, y1)` is the tightest one around those pixels,
  in pixel-edge coordinates (pixel j covers [j, j + 1), so x1 = last ink column + 1).
- Determinism: the scenes depend only on (split, num_scenes, canvas, digit counts,
  digit_size, dim, seed).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from infomin.data import photos
from infomin.data.base import DatasetError, check_split
from infomin.data.digit_sprites import MNIST_BOX, MNIST_FRAME, digit_indices, mnist_digits
from infomin.data.moving_digits import hue_to_rgb

INK_THRESHOLD = 0.1  # alpha at which a pixel counts as ink (antialiased fringes below it)
CANVAS_RANGE = (64, 96)
_SPLIT_IDS = {"train": 0, "test": 1}
_HALF_SEED = 20200523  # fixes which held-out digits draw train vs test scenes


@dataclass(frozen=True)
class SceneConfig:
    """How scenes look; refuses, in one line, a request the canvas cannot hold."""

    canvas: int = 64
    min_digits: int = 1
    max_digits: int = 4
    digit_size: tuple[int, int] = (12, 24)
    dim: float = 0.6

    def __post_init__(self) -> None:
        low, high = CANVAS_RANGE
        if not low <= self.canvas <= high:
            raise DatasetError(f"canvas must be in [{low}, {high}] px, got {self.canvas}")
        if not 1 <= self.min_digits <= self.max_digits:
            raise DatasetError(
                f"need 1 <= min_digits <= max_digits, got {self.min_digits}, {self.max_digits}"
            )
        smallest, largest = self.digit_size
        if not 4 <= smallest <= largest:
            raise DatasetError(f"digit_size must be (min, max) with 4 <= min <= max, got "
                               f"{self.digit_size}")  # fmt: skip
        if largest > self.cell:
            raise DatasetError(
                f"{self.max_digits} digits of up to {largest} px do not fit a {self.canvas} px "
                f"canvas (one {self.cell} px cell each); lower max_digits or digit_size"
            )
        if not 0.0 <= self.dim <= 1.0:
            raise DatasetError(f"dim must be in [0, 1], got {self.dim}")

    @property
    def grid(self) -> int:
        return math.ceil(math.sqrt(self.max_digits))

    @property
    def cell(self) -> int:
        return self.canvas // self.grid


@dataclass(frozen=True)
class Scene:
    """One rendered scene: `uint8 [3, H, W]` image, `float32 [n, 4]` boxes, `int64 [n]` digits."""

    image: torch.Tensor
    boxes: torch.Tensor
    labels: torch.Tensor


@functools.cache
def scene_digits(split: str) -> np.ndarray:
    """Indices (into `mnist_digits`) of the held-out digits that draw `split`'s scenes."""
    check_split(split, photos.SPLITS, "digit-scenes")
    held_out = np.asarray(digit_indices("test"))
    labels = mnist_digits()[1][held_out]
    rng = np.random.default_rng(_HALF_SEED)
    chosen = []
    for digit in range(10):
        members = rng.permutation(held_out[labels == digit])
        half = len(members) // 2
        chosen.append(members[:half] if split == "train" else members[half:])
    result = np.sort(np.concatenate(chosen))
    result.setflags(write=False)
    return result


def _ink_sprite(digit_index: int, size: int) -> np.ndarray:
    """The digit's alpha, scaled so its ink spans about `size` px, cut to its ink box."""
    frame = max(1, round(MNIST_FRAME * size / MNIST_BOX))
    image = torch.from_numpy(mnist_digits()[0][digit_index].astype(np.float32) / 255.0)
    alpha = F.interpolate(image[None, None], size=(frame, frame), mode="bilinear", antialias=True)
    alpha = alpha[0, 0].clamp(0.0, 1.0).numpy()
    rows = np.flatnonzero((alpha >= INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((alpha >= INK_THRESHOLD).any(axis=0))
    return alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _background(rng: np.random.Generator, split: str, config: SceneConfig) -> np.ndarray:
    """A dimmed canvas-sized crop of a bundled photo from `split`'s region, float [H, W, 3]."""
    short_side = 3 * config.canvas
    x_low, x_high, y_low, y_high = photos.offset_ranges(short_side, split, config.canvas)
    index = int(rng.integers(photos.NUM_PHOTOS))
    x = int(rng.integers(x_low[index], x_high[index] + 1))
    y = int(rng.integers(y_low[index], y_high[index] + 1))
    crop = photos.photo(index, short_side)[y : y + config.canvas, x : x + config.canvas]
    return crop.astype(np.float64) / 255.0 * config.dim


def render_scene(
    rng: np.random.Generator, split: str, config: SceneConfig, pool: np.ndarray
) -> Scene:
    """Draw one scene: background, then each digit alpha-blended into its own grid cell."""
    canvas = _background(rng, split, config)
    count = int(rng.integers(config.min_digits, config.max_digits + 1))
    cells = rng.choice(config.grid**2, size=count, replace=False)
    boxes, labels = [], []
    for cell in cells:
        index = int(pool[rng.integers(len(pool))])
        alpha = _ink_sprite(
            index, int(rng.integers(config.digit_size[0], config.digit_size[1] + 1))
        )
        height, width = alpha.shape
        row, col = divmod(int(cell), config.grid)
        x = col * config.cell + int(rng.integers(config.cell - width + 1))
        y = row * config.cell + int(rng.integers(config.cell - height + 1))
        colour = hue_to_rgb(rng.random(1))[0]
        region = canvas[y : y + height, x : x + width]
        region[:] = region * (1.0 - alpha[..., None]) + colour * alpha[..., None]
        boxes.append((x, y, x + width, y + height))
        labels.append(int(mnist_digits()[1][index]))
    image = torch.from_numpy(np.rint(canvas * 255.0).astype(np.uint8)).permute(2, 0, 1)
    return Scene(
        image.contiguous(),
        torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        torch.tensor(labels, dtype=torch.int64),
    )


class DigitScenes(torch.utils.data.Dataset):
    """`num_scenes` scenes of `split`, rendered once; items are `(uint8 image, target)`.

    The target is torchvision's detection format: `{"boxes": float [n, 4] (x0, y0, x1, y1),
    "labels": int64 [n]}` with labels 0-9 the digit (a detector adds its own background
    class, see `bench/transfer.py`).
    """

    name = "digit-scenes"

    def __init__(
        self,
        split: str = "train",
        num_scenes: int = 1000,
        canvas: int = 64,
        min_digits: int = 1,
        max_digits: int = 4,
        digit_size: tuple[int, int] = (12, 24),
        dim: float = 0.6,
        seed: int = 0,
    ) -> None:
        self.split = check_split(split, photos.SPLITS, self.name)
        if num_scenes < 1:
            raise DatasetError(f"num_scenes must be >= 1, got {num_scenes}")
        self.config = SceneConfig(canvas, min_digits, max_digits, tuple(digit_size), dim)
        rng = np.random.default_rng([seed, _SPLIT_IDS[split]])
        pool = scene_digits(split)
        self.scenes = [render_scene(rng, split, self.config, pool) for _ in range(num_scenes)]

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        scene = self.scenes[index]
        return scene.image, {"boxes": scene.boxes, "labels": scene.labels}
