"""Property tests: any small image, any recipe -> well-formed network inputs."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from infomin.views import (
    RECIPES,
    ChannelSplit,
    JigsawPatches,
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
    out = build_recipe(recipe, out_size)(_random_image(channels, height, width, seed))
    assert out.dtype == torch.float32
    assert out.shape == (3, out_size, out_size)
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
