"""Property tests: any small image, any recipe, any strength -> well-formed network inputs."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from infomin.data.transforms import RGB_MEAN, RGB_STD
from infomin.views import (
    RECIPES,
    ChannelSplit,
    JigsawPatches,
    MultiView,
    build_recipe,
    jigsaw_geometry,
)

SIZES = st.integers(min_value=32, max_value=96)
FAST = settings(max_examples=25, deadline=None)


def _random_image(channels: int, height: int, width: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (channels, height, width), dtype=torch.uint8, generator=gen)


@FAST
@given(
    recipe=st.sampled_from(sorted(RECIPES)),
    height=SIZES,
    width=SIZES,
    out_size=SIZES,
    channels=st.sampled_from([1, 3]),
    seed=st.integers(0, 2**31 - 1),
)
def test_any_recipe_gives_finite_float_views(
    recipe: str, height: int, width: int, out_size: int, channels: int, seed: int
) -> None:
    torch.manual_seed(seed)
    colour_space = RECIPES[recipe].color_space is not None
    if colour_space and channels == 1:  # a grey image has no colour to convert: refused
        channels = 3
    out = build_recipe(recipe, out_size)(_random_image(channels, height, width, seed))
    assert out.dtype == torch.float32
    assert out.shape == (3 if colour_space else channels, out_size, out_size)
    assert torch.isfinite(out).all()


@FAST
@given(height=SIZES, width=SIZES, out_size=SIZES, seed=st.integers(0, 2**31 - 1))
def test_jigsaw_gives_nine_square_patches(
    height: int, width: int, out_size: int, seed: int
) -> None:
    torch.manual_seed(seed)
    patch = jigsaw_geometry(out_size).patch
    out = JigsawPatches(out_size)(_random_image(3, height, width, seed))
    assert out.shape == (9, 3, patch, patch)
    assert patch >= 8 and torch.isfinite(out).all()


@FAST
@given(
    space=st.sampled_from(
        ["lab", "ycbcr", "ydbdr", "yuv", "yiq", "ypbpr", "xyz", "hsv", "hed", "luv", "rgbcie"]
    ),
    height=SIZES,
    width=SIZES,
    seed=st.integers(0, 2**31 - 1),
)
def test_channel_split_is_finite_for_any_image(
    space: str, height: int, width: int, seed: int
) -> None:
    first, rest = ChannelSplit(space)(_random_image(3, height, width, seed))
    assert first.shape == (1, height, width) and rest.shape == (2, height, width)
    assert torch.isfinite(first).all() and torch.isfinite(rest).all()


def _seed_all(seed: int) -> None:
    """RandAugment draws from `random` and `numpy.random`, the rest from torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ImageNet-normalised RGB cannot leave [(0 - mean) / std, (1 - mean) / std] per channel.
RGB_LOW = torch.tensor([(0 - m) / s for m, s in zip(RGB_MEAN, RGB_STD, strict=True)])
RGB_HIGH = torch.tensor([(1 - m) / s for m, s in zip(RGB_MEAN, RGB_STD, strict=True)])
RGB_RECIPES = sorted(name for name, spec in RECIPES.items() if spec.color_space is None)


@FAST
@given(
    recipe=st.sampled_from(RGB_RECIPES),
    crop_low=st.floats(0.01, 1.0),
    jitter=st.floats(0.0, 2.0),
    out_size=SIZES,
    seed=st.integers(0, 2**31 - 1),
)
def test_rgb_views_stay_in_the_normalised_range_for_any_strength(
    recipe: str, crop_low: float, jitter: float, out_size: int, seed: int
) -> None:
    """Any crop scale in (0, 1] and jitter strength: shape, dtype and value range hold."""
    torch.manual_seed(seed)
    transform = build_recipe(recipe, out_size, small=False, crop_scale=(crop_low, 1.0),
                             jitter_strength=jitter)  # fmt: skip
    out = transform(_random_image(3, 48, 40, seed))
    assert out.dtype == torch.float32 and out.shape == (3, out_size, out_size)
    low, high = RGB_LOW.view(3, 1, 1) - 1e-5, RGB_HIGH.view(3, 1, 1) + 1e-5
    assert ((out >= low) & (out <= high)).all()


@FAST
@given(low=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0, exclude_min=True)))
def test_crop_scale_outside_zero_one_is_refused(low: float) -> None:
    with pytest.raises(ValueError, match="crop_scale"):
        build_recipe("A", 32, crop_scale=(low, 1.0))


@FAST
@given(recipe=st.sampled_from(sorted(RECIPES)), seed=st.integers(0, 2**31 - 1))
def test_views_are_reproducible_and_leave_the_input_untouched(recipe: str, seed: int) -> None:
    """Same seeds, same views (a resumed run replays its augmentations); the source image
    is never modified in place (it is shared by every view of the sample)."""
    image = _random_image(3, 40, 40, seed)
    original = image.clone()
    views = MultiView(build_recipe(recipe, 32), JigsawPatches(32))
    _seed_all(seed)
    first = views(image)
    _seed_all(seed)
    second = views(image)
    assert torch.equal(image, original)
    assert len(first) == 2 and first[0].shape == (3, 32, 32) and first[1].shape[:2] == (9, 3)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


def test_float_images_are_refused_with_a_clear_message() -> None:
    with pytest.raises(TypeError, match="uint8"):
        build_recipe("A", 32)(torch.rand(3, 32, 32))
