"""The jigsaw branch of PIRL and InfoMin: nine patches of one crop of the raw image.

At 224 px (paper notes, section 3): RandomResizedCrop to 255 px with scale (0.6, 1) and
a horizontal flip, a 3x3 grid of 85-px cells, one random 64x64 patch inside each cell,
no colour augmentation. The network embeds each patch, shuffles and concatenates the
embeddings; the shuffle is the method's business, so patches come out in row-major
grid order (cell (0, 0), (0, 1), ..., (2, 2)).

Sizes scale with the image side ``s`` (``jigsaw_geometry``): crop ~ 255 s / 224, cell =
round(crop / grid), patch = round(cell x 64 / 85) but at least ``min_patch`` (8 px by
default: below that a small convnet's stem and two poolings leave a 1x1 map with
almost no context), and never larger than a cell. Results: 224 px -> crop 255, cell 85,
patch 64; 96 px -> 108 / 36 / 27; 64 px -> 72 / 24 / 18; 32 px -> 36 / 12 / 9.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torchvision.transforms import v2

from infomin.data.transforms import to_model_input
from infomin.views.colorspaces import canonical_color_space, to_normalized_color_space
from infomin.views.recipes import REFERENCE_SIZE, ensure_rgb, grey_or_rgb, refuse_grey

_REFERENCE_CROP = 255
_REFERENCE_CELL = 85
_REFERENCE_PATCH = 64


@dataclass(frozen=True)
class JigsawGeometry:
    """Pixel sizes of the jigsaw branch: crop side, grid cells per side, cell, patch."""

    crop: int
    grid: int
    cell: int
    patch: int


def jigsaw_geometry(image_size: int, grid: int = 3, min_patch: int = 8) -> JigsawGeometry:
    """Jigsaw sizes for images of side ``image_size`` (module docstring gives the rule)."""
    if grid < 1:
        raise ValueError(f"grid must be >= 1, got {grid}")
    crop_target = _REFERENCE_CROP * image_size / REFERENCE_SIZE
    cell = max(1, round(crop_target / grid))
    patch = max(min_patch, round(cell * _REFERENCE_PATCH / _REFERENCE_CELL))
    cell = max(cell, patch)
    return JigsawGeometry(crop=grid * cell, grid=grid, cell=cell, patch=patch)


def extract_grid_patches(img: Tensor, grid: int, cell: int, patch: int) -> Tensor:
    """One random ``patch x patch`` window inside each cell of a ``grid x grid`` tiling.

    ``img`` is ``[C, grid*cell, grid*cell]``; returns ``[grid*grid, C, patch, patch]`` in
    row-major cell order. The random offset inside each cell (torch RNG) is what keeps
    the network from matching patches by their borders.
    """
    side = grid * cell
    if img.shape[-2:] != (side, side):
        raise ValueError(f"expected a {side}x{side} image, got {tuple(img.shape[-2:])}")
    slack = cell - patch
    offsets = torch.randint(0, slack + 1, (grid * grid, 2)).tolist()  # (dy, dx) per cell
    patches = []
    for index, (dy, dx) in enumerate(offsets):
        row, col = divmod(index, grid)
        top, left = row * cell + dy, col * cell + dx
        patches.append(img[..., top : top + patch, left : left + patch])  # [C, patch, patch]
    return torch.stack(patches)  # [grid * grid, C, patch, patch]


class JigsawPatches:
    """View: ``uint8 [C, H, W]`` image -> normalised patches ``[grid**2, C', p, p]``.

    ``color_space=None`` gives normalised RGB patches (grey images: 1-channel patches,
    `to_model_input`); a colour-space name gives its standardised channels (as the
    reference code did for CMC+jigsaw), from RGB images only. A float image
    is taken to be network input already (the views of `--views` are): its patches are
    cut as they are, with no further normalisation.
    """

    def __init__(
        self,
        image_size: int = REFERENCE_SIZE,
        *,
        grid: int = 3,
        crop_scale: tuple[float, float] = (0.6, 1.0),
        min_patch: int = 8,
        color_space: str | None = None,
    ) -> None:
        self.geometry = jigsaw_geometry(image_size, grid=grid, min_patch=min_patch)
        self.color_space = None if color_space is None else canonical_color_space(color_space)
        self.crop = v2.Compose(
            [
                v2.RandomResizedCrop(self.geometry.crop, scale=crop_scale, antialias=True),
                v2.RandomHorizontalFlip(),
            ]
        )

    def __call__(self, img: Tensor) -> Tensor:
        g = self.geometry
        if img.is_floating_point():
            return extract_grid_patches(self.crop(img), g.grid, g.cell, g.patch)
        if img.dtype != torch.uint8:
            raise TypeError(f"JigsawPatches takes uint8 or float images [C, H, W], got {img.dtype}")
        if self.color_space is None:
            patches = extract_grid_patches(self.crop(grey_or_rgb(img)), g.grid, g.cell, g.patch)
            return to_model_input(patches)
        refuse_grey(img, f"jigsaw patches in colour space {self.color_space}")
        patches = extract_grid_patches(self.crop(ensure_rgb(img)), g.grid, g.cell, g.patch)
        return to_normalized_color_space(patches.float() / 255.0, self.color_space)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.geometry}, color_space={self.color_space!r})"
