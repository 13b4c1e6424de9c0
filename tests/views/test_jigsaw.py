"""Jigsaw patches: sizes, grid cells, no colour augmentation."""

from __future__ import annotations

import pytest
import torch

from infomin.data.transforms import to_model_input
from infomin.views.jigsaw import (
    JigsawGeometry,
    JigsawPatches,
    extract_grid_patches,
    jigsaw_geometry,
)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (224, JigsawGeometry(crop=255, grid=3, cell=85, patch=64)),
        (96, JigsawGeometry(crop=108, grid=3, cell=36, patch=27)),
        (64, JigsawGeometry(crop=72, grid=3, cell=24, patch=18)),
        (32, JigsawGeometry(crop=36, grid=3, cell=12, patch=9)),
        (16, JigsawGeometry(crop=24, grid=3, cell=8, patch=8)),  # min patch 8 wins
    ],
)
def test_geometry_scales_with_image_size(size: int, expected: JigsawGeometry) -> None:
    assert jigsaw_geometry(size) == expected


def _position_coded(side: int) -> torch.Tensor:
    """uint8 [3, side, side]: channel 0 is the row index, channel 1 the column index."""
    rows = torch.arange(side).view(side, 1).expand(side, side)
    cols = torch.arange(side).view(1, side).expand(side, side)
    return torch.stack([rows, cols, torch.zeros_like(rows)]).to(torch.uint8)


def test_each_patch_lies_in_its_own_cell() -> None:
    grid, cell, patch = 3, 12, 9
    img = _position_coded(grid * cell)
    offsets_seen = set()
    for _ in range(20):
        patches = extract_grid_patches(img, grid, cell, patch)
        assert patches.shape == (9, 3, patch, patch)
        for index, p in enumerate(patches):
            row, col = divmod(index, grid)
            rows, cols = p[0].long(), p[1].long()
            assert rows.min() >= row * cell and rows.max() < (row + 1) * cell
            assert cols.min() >= col * cell and cols.max() < (col + 1) * cell
            # a contiguous window, not a resampling
            assert torch.equal(rows[:, 0], torch.arange(rows[0, 0], rows[0, 0] + patch))
            offsets_seen.add((int(rows[0, 0]) - row * cell, int(cols[0, 0]) - col * cell))
    assert len(offsets_seen) > 1  # the window moves inside its cell


def test_grid_patches_reject_wrong_size() -> None:
    with pytest.raises(ValueError, match="36x36"):
        extract_grid_patches(torch.zeros(3, 30, 30, dtype=torch.uint8), 3, 12, 9)


@pytest.mark.parametrize("size", [224, 64, 32])
def test_output_shape_and_dtype(size: int) -> None:
    g = jigsaw_geometry(size)
    out = JigsawPatches(size)(torch.randint(0, 256, (3, 90, 120), dtype=torch.uint8))
    assert out.shape == (9, 3, g.patch, g.patch)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_grey_input_and_colour_space_output() -> None:
    grey = torch.randint(0, 256, (1, 50, 50), dtype=torch.uint8)
    assert JigsawPatches(32)(grey).shape == (9, 1, 9, 9)  # grey stays grey
    assert JigsawPatches(32, color_space="lab")(grey.expand(3, -1, -1)).shape == (9, 3, 9, 9)
    with pytest.raises(ValueError, match="no colour"):
        JigsawPatches(32, color_space="lab")(grey)


def test_patches_keep_grid_order_through_crop_and_flip() -> None:
    """On a position-coded image, rows grow down the grid; columns grow or, flipped, shrink."""
    side = 200
    rows = torch.linspace(0, 255, side).round().view(side, 1).expand(side, side)
    img = torch.stack([rows, rows.T, torch.zeros_like(rows)]).to(torch.uint8)
    jigsaw = JigsawPatches(64)
    directions = set()
    for _ in range(20):
        means = jigsaw(img).mean(dim=(2, 3)).view(3, 3, 3)  # [grid row, grid col, channel]
        row_means, col_means = means[..., 0], means[..., 1]
        assert torch.all(row_means[1:] > row_means[:-1])
        steps = col_means[:, 1:] - col_means[:, :-1]
        assert torch.all(steps > 0) or torch.all(steps < 0)
        directions.add(bool(steps[0, 0] > 0))
    assert directions == {True, False}  # the crop is flipped sometimes


def test_no_colour_augmentation() -> None:
    img = torch.empty(3, 80, 80, dtype=torch.uint8)
    img[0], img[1], img[2] = 200, 50, 10
    expected = to_model_input(img[:, :1, :1]).flatten()
    for _ in range(5):
        out = JigsawPatches(64)(img)
        torch.testing.assert_close(out, expected.view(1, 3, 1, 1).expand_as(out))


def test_float_input_is_cut_without_normalisation() -> None:
    """Float views are network input already: a constant image gives constant patches."""
    out = JigsawPatches(32)(torch.full((3, 40, 40), -1.5))
    assert out.shape[:2] == (9, 3) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.full_like(out, -1.5))


def test_integer_input_other_than_uint8_is_rejected() -> None:
    with pytest.raises(TypeError, match="uint8"):
        JigsawPatches(32)(torch.zeros(3, 40, 40, dtype=torch.int32))
