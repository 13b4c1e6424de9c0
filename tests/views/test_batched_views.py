"""Batched views for whole-epoch training: grey stays grey, jigsaw windows, RandAugment."""

from __future__ import annotations

import pytest
import torch

from infomin.data.transforms import GRAY_MEAN, GRAY_STD
from infomin.views import BatchedJigsaw, BatchedRecipe, BatchedViews, JigsawPatches
from infomin.views import batched as B
from infomin.views import batched_color as BC


def _images(n: int = 8, channels: int = 3, side: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, side, side), generator=g, dtype=torch.uint8)


@pytest.mark.parametrize("recipe", ["A", "B"])
def test_grey_batches_stay_grey_with_grey_statistics(recipe: str) -> None:
    out = BatchedRecipe(recipe, 28)(_images(channels=1, side=28), torch.Generator().manual_seed(1))
    assert out.shape == (8, 1, 28, 28)
    # Undoing the one-channel normalisation gives pixels in [0, 1].
    pixels = out * GRAY_STD[0] + GRAY_MEAN[0]
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5


def test_saturation_hue_and_grayscale_leave_grey_images_alone() -> None:
    x = torch.rand(4, 1, 6, 6)
    factor = torch.full((4,), 0.3)
    assert torch.equal(BC.adjust_saturation(x, factor), x)
    assert torch.equal(BC.adjust_hue(x, factor), x)
    assert torch.equal(B.random_grayscale(x, 1.0), x)


def test_randaugment_needs_a_choice_and_runs_per_image_when_asked() -> None:
    with pytest.raises(ValueError, match="per_image_randaugment"):
        BatchedRecipe("D", 32)
    recipe = BatchedRecipe("D", 32, per_image_randaugment=True)
    assert recipe.randaugment is not None
    torch.manual_seed(0)
    assert recipe(_images()).shape == (8, 3, 32, 32)


def test_grid_windows_are_the_cells_windows() -> None:
    x = torch.arange(2 * 1 * 36 * 36, dtype=torch.float32).view(2, 1, 36, 36)
    patches = B.grid_windows(x, grid=3, cell=12, patch=9, generator=torch.Generator())
    assert patches.shape == (2, 9, 1, 9, 9)
    for b in range(2):
        for k in range(9):
            row, col = divmod(k, 3)
            window = patches[b, k, 0]
            top, left = divmod(int(window[0, 0]) - b * 36 * 36, 36)
            assert row * 12 <= top <= row * 12 + 3 and col * 12 <= left <= col * 12 + 3
            assert torch.equal(window, x[b, 0, top : top + 9, left : left + 9])


@pytest.mark.parametrize("channels", [1, 3])
def test_batched_jigsaw_matches_the_per_image_shapes(channels: int) -> None:
    images = _images(channels=channels)
    expected = JigsawPatches(32)(images[0]).shape
    got = BatchedJigsaw(32)(images, torch.Generator().manual_seed(2))
    assert got.shape == (8, *expected)


def test_batched_views_flatten_in_order() -> None:
    views = BatchedViews(BatchedRecipe("B", 32), BatchedRecipe("B", 32), BatchedJigsaw(32))
    out = views(_images(), torch.Generator().manual_seed(3))
    assert len(views) == 3 and [tuple(t.shape) for t in out][2] == (8, 9, 3, 9, 9)
    assert not torch.equal(out[0], out[1])  # two independent draws
