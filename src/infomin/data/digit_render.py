"""Drawing colorful-moving-digits frames from explicit factors.

A frame is a canvas-sized crop of a resized photo, dimmed by `dim`, with a coloured
digit sprite composited over it (the MNIST intensity is its alpha), drawn at the nearest
whole pixel to its position (the ink's centre of mass). Frames are rendered in chunks on
one torch thread: rendering is many small element-wise ops, and on a busy 2-core machine
intra-op threads cost 3-5x the CPU time of a single thread (measured).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from infomin.data import photos
from infomin.data.base import DatasetError
from infomin.data.digit_sprites import (
    MNIST_BOX,
    MNIST_FRAME,
    padded_sprites,
    sprite_geometry,
)
from infomin.threads import torch_threads

_CHUNK = 512  # clips rendered at once: bounds the float temporaries to ~100 MB


@dataclass(frozen=True)
class RenderConfig:
    """Everything besides the factors that decides how a frame looks."""

    canvas: int = 32
    digit_size: int = 20
    dim: float = 0.6
    photo_size: int | None = None  # short side of the resized photos; None = 3 x canvas

    def __post_init__(self) -> None:
        if not 0 < self.digit_size < self.canvas:
            raise DatasetError(
                f"digit_size must be in (0, canvas={self.canvas}), got {self.digit_size}"
            )
        if not 0.0 <= self.dim <= 1.0:
            raise DatasetError(f"dim must be in [0, 1], got {self.dim}")

    @property
    def sprite_size(self) -> int:
        """Side of the scaled 28 px MNIST frame whose ink spans about `digit_size` px."""
        return max(1, round(MNIST_FRAME * self.digit_size / MNIST_BOX))

    @property
    def short_side(self) -> int:
        return self.photo_size if self.photo_size is not None else 3 * self.canvas


@functools.cache
def _photo_stack(short_side: int) -> torch.Tensor:
    """All resized photos zero-padded into one `uint8 [P, H, W, 3]` tensor for batched crops."""
    arrays = [photos.photo(i, short_side) for i in range(photos.NUM_PHOTOS)]
    height = max(a.shape[0] for a in arrays)
    width = max(a.shape[1] for a in arrays)
    stack = torch.zeros((len(arrays), height, width, 3), dtype=torch.uint8)
    for i, array in enumerate(arrays):
        stack[i, : array.shape[0], : array.shape[1]] = torch.tensor(array)
    return stack


def render(
    digit_index: torch.Tensor,
    color: torch.Tensor,
    position: torch.Tensor,
    background: torch.Tensor,
    crop_offset: torch.Tensor,
    config: RenderConfig | None = None,
) -> torch.Tensor:
    """Draw frames from explicit factors (see the module docstring for their meaning).

    `position` `[N, 2]` gives one frame per clip, `uint8 [N, 3, H, W]`; `[N, T, 2]` gives
    `uint8 [N, T, 3, H, W]`. Shapes of the other factors: `[N]`, `[N, 3]`, `[N]`, `[N, 2]`.
    """
    config = config or RenderConfig()
    single = position.dim() == 2
    position = position[:, None] if single else position
    with torch_threads(1):  # many small element-wise ops: one thread is fastest
        parts = [
            _render_chunk(
                digit_index[i : i + _CHUNK],
                color[i : i + _CHUNK],
                position[i : i + _CHUNK],
                background[i : i + _CHUNK],
                crop_offset[i : i + _CHUNK],
                config,
            )
            for i in range(0, len(position), _CHUNK)
        ]
    size = config.canvas
    out = torch.cat(parts) if parts else torch.zeros((0, position.shape[1], 3, size, size))
    out = out.to(torch.uint8)
    return out[:, 0] if single else out


def _render_chunk(
    digit_index: torch.Tensor,
    color: torch.Tensor,
    position: torch.Tensor,
    background: torch.Tensor,
    crop_offset: torch.Tensor,
    config: RenderConfig,
) -> torch.Tensor:
    """Composite a batch: dimmed background crop, then the coloured digit with MNIST alpha."""
    size = config.canvas
    grid = torch.arange(size)
    offset = crop_offset.long()
    crops = _photo_stack(config.short_side)[
        background.long()[:, None, None],
        offset[:, 1, None, None] + grid[None, :, None],
        offset[:, 0, None, None] + grid[None, None, :],
    ]  # [n, H, W, 3]
    alpha = _digit_alpha(digit_index.long(), position, config)[..., None]  # [n, T, H, W, 1]
    base = crops.float()[:, None] * config.dim
    ink = (color.float() * 255.0)[:, None, None, None, :]
    frames = torch.lerp(base, ink, alpha).round_().clamp_(0.0, 255.0)
    return frames.to(torch.uint8).permute(0, 1, 4, 2, 3)


def _digit_alpha(
    digit_index: torch.Tensor, position: torch.Tensor, config: RenderConfig
) -> torch.Tensor:
    """Alpha `[n, T, H, W]` of each digit's sprite placed at its (rounded) position.

    One flat `take` from sprites padded with a zero row and column: canvas pixels that
    the sprite does not cover point at the padding, so no mask is needed.
    """
    side = config.sprite_size
    padded = padded_sprites(side)
    grid = torch.arange(config.canvas)
    com = sprite_geometry(side)[0][digit_index][:, None, :]  # [n, 1, 2]
    top_left = torch.floor(position.double() - com + 0.5).long()  # [n, T, 2]
    rows = grid[None, None, :] - top_left[..., 1:2]  # [n, T, H]
    cols = grid[None, None, :] - top_left[..., 0:1]  # [n, T, W]
    rows = torch.where((rows >= 0) & (rows < side), rows, side)
    cols = torch.where((cols >= 0) & (cols < side), cols, side)
    base = (digit_index * (side + 1) ** 2)[:, None, None, None]
    flat = base + (rows * (side + 1))[..., :, None] + cols[..., None, :]
    return torch.take(padded, flat)
