"""Colour spaces against scikit-image, the reference the CMC code used."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.color as skcolor
import skimage.data as skdata
import torch

from infomin.views.colorspaces import (
    COLOR_SPACES,
    ChannelSplit,
    SplitChannels,
    canonical_color_space,
    estimate_channel_stats,
    get_color_space,
    normalize_channels,
    split_channels,
    to_color_space,
    to_normalized_color_space,
)

# Agreement with scikit-image, as a fraction of each channel's range (module docstring).
RELATIVE_TOLERANCE = 1e-3

SPACES_WITH_REFERENCE = sorted(n for n, s in COLOR_SPACES.items() if s.skimage_name)
INVERSES = {
    "lab": "lab2rgb",
    "ycbcr": "ycbcr2rgb",
    "ydbdr": "ydbdr2rgb",
    "yuv": "yuv2rgb",
    "yiq": "yiq2rgb",
    "ypbpr": "ypbpr2rgb",
    "xyz": "xyz2rgb",
    "hsv": "hsv2rgb",
    "luv": "luv2rgb",
    "rgbcie": "rgbcie2rgb",
}


def _test_image(seed: int = 0, size: int = 24) -> np.ndarray:
    """Float32 RGB [3, H, W]: random pixels plus the eight corners of the RGB cube."""
    rng = np.random.default_rng(seed)
    img = rng.random((3, size, size)).astype(np.float32)
    corners = np.array(np.meshgrid([0, 1], [0, 1], [0, 1], indexing="ij")).reshape(3, -1)
    img[:, 0, :8] = corners
    return img


def _channel_last64(img: np.ndarray) -> np.ndarray:
    return img.transpose(1, 2, 0).astype(np.float64)


def _ours(img: np.ndarray, name: str) -> np.ndarray:
    return to_color_space(torch.from_numpy(img), name).numpy().transpose(1, 2, 0)


@pytest.mark.parametrize("name", SPACES_WITH_REFERENCE)
def test_matches_scikit_image(name: str) -> None:
    for seed in range(3):
        img = _test_image(seed)
        reference = getattr(skcolor, get_color_space(name).skimage_name)(_channel_last64(img))
        ours = _ours(img, name)
        channel_range = reference.max(axis=(0, 1)) - reference.min(axis=(0, 1))
        error = np.abs(ours - reference)
        if name == "hsv":  # hue is an angle: 0.999 and 0.001 are neighbours
            error[..., 0] = np.minimum(error[..., 0], 1.0 - error[..., 0])
        relative = error.max(axis=(0, 1)) / channel_range
        assert np.all(relative < RELATIVE_TOLERANCE), (name, relative)


@pytest.mark.parametrize("name", sorted(INVERSES))
def test_round_trip_through_scikit_image_inverse(name: str) -> None:
    img = _test_image(5)
    back = getattr(skcolor, INVERSES[name])(_ours(img, name).astype(np.float64))
    assert np.abs(back - _channel_last64(img)).max() < 2e-3


@pytest.mark.parametrize(
    ("name", "rgb", "expected"),
    [
        ("lab", (1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),
        ("ydbdr", (1.0, 0.0, 0.0), (0.299, -0.45, -1.333)),
        ("ypbpr", (0.0, 0.0, 1.0), (0.114, 0.5, -0.081312)),
        ("ycbcr", (0.0, 0.0, 0.0), (16.0, 128.0, 128.0)),
        ("hsv", (0.0, 1.0, 0.0), (1.0 / 3.0, 1.0, 1.0)),
        ("xyz", (1.0, 1.0, 1.0), (0.950456, 1.0, 1.088754)),
        ("rgb", (0.2, 0.4, 0.6), (0.2, 0.4, 0.6)),
    ],
)
def test_known_values(name: str, rgb: tuple, expected: tuple) -> None:
    pixel = torch.tensor(rgb, dtype=torch.float64).view(3, 1, 1)
    out = to_color_space(pixel, name).flatten()
    # 1e-2: the sRGB matrix maps white to D65 only to about 5e-3 in Lab units.
    torch.testing.assert_close(out, torch.tensor(expected, dtype=torch.float64), atol=1e-2, rtol=0)


@pytest.mark.parametrize("name", sorted(COLOR_SPACES))
def test_batched_equals_per_image_and_uint8_equals_scaled_float(name: str) -> None:
    images = torch.randint(0, 256, (2, 3, 3, 8, 8), dtype=torch.uint8)
    batched = to_color_space(images, name)
    assert batched.shape == images.shape
    single = to_color_space(images[1, 2], name)
    torch.testing.assert_close(batched[1, 2], single)
    torch.testing.assert_close(single, to_color_space(images[1, 2].float() / 255.0, name))


def test_dtype_is_preserved() -> None:
    x = torch.rand(3, 4, 4, dtype=torch.float64)
    assert all(to_color_space(x, n).dtype == torch.float64 for n in COLOR_SPACES)


@pytest.fixture(scope="module")
def photos() -> list[torch.Tensor]:
    """scikit-image's bundled colour photos (the registry's statistics came from them)."""
    names = ("astronaut", "coffee", "chelsea", "rocket")
    return [torch.from_numpy(getattr(skdata, n)()).permute(2, 0, 1)[:, ::6, ::6] for n in names]


@pytest.mark.parametrize("name", sorted(set(COLOR_SPACES) - {"rgb"}))
def test_normalisation_brings_natural_photos_to_unit_scale(
    name: str, photos: list[torch.Tensor]
) -> None:
    mean, std = estimate_channel_stats(photos, name)
    space = get_color_space(name)
    # The registry's constants are these estimates, rounded.
    torch.testing.assert_close(
        mean, torch.tensor(space.mean, dtype=torch.float64), atol=0.02 * std.max().item(), rtol=0
    )
    normalised = torch.cat(
        [to_normalized_color_space(p, name).movedim(0, -1).reshape(-1, 3) for p in photos]
    )
    assert normalised.mean(0).abs().max() < 0.1
    assert torch.all((normalised.std(0) > 0.85) & (normalised.std(0) < 1.15))


def test_normalize_channels_uses_space_statistics() -> None:
    space = get_color_space("lab")
    x = torch.tensor(space.mean).view(3, 1, 1).expand(3, 2, 2)
    assert torch.allclose(normalize_channels(x, "lab"), torch.zeros(3, 2, 2))


def test_names_are_forgiving_and_unknown_names_fail_clearly() -> None:
    assert canonical_color_space("CIE-RGB") == "rgbcie"
    assert canonical_color_space("YDbDr") == "ydbdr"
    assert canonical_color_space("y_cb_cr") == "ycbcr"
    with pytest.raises(ValueError, match="ydbdr"):
        to_color_space(torch.rand(3, 2, 2), "cmyk")


def test_wrong_channel_count_is_rejected() -> None:
    with pytest.raises(ValueError, match="3, H, W"):
        to_color_space(torch.rand(1, 4, 4), "lab")


@pytest.mark.parametrize("shape", [(3, 16, 12), (5, 3, 16, 12)])
@pytest.mark.parametrize("space", ["ydbdr", "lab", "hsv"])
def test_channel_split_shapes(shape: tuple, space: str) -> None:
    first, rest = ChannelSplit(space)(torch.rand(shape))
    assert first.shape == (*shape[:-3], 1, *shape[-2:])
    assert rest.shape == (*shape[:-3], 2, *shape[-2:])


def test_channel_split_is_the_normalised_colour_space() -> None:
    img = torch.randint(0, 256, (3, 10, 10), dtype=torch.uint8)
    y, dbdr = ChannelSplit("ydbdr")(img)
    full = to_normalized_color_space(img, "ydbdr")
    torch.testing.assert_close(torch.cat([y, dbdr]), full)
    raw_y, _ = ChannelSplit("ydbdr", normalize=False)(img)
    torch.testing.assert_close(raw_y, to_color_space(img, "ydbdr")[:1])


def test_channel_split_groups() -> None:
    parts = ChannelSplit("lab", groups=(2, 1))(torch.rand(3, 4, 4))
    assert [p.shape[0] for p in parts] == [2, 1]
    with pytest.raises(ValueError, match="add up to 3"):
        ChannelSplit("lab", groups=(1, 1))
    assert [p.shape[-3] for p in SplitChannels()(torch.rand(2, 3, 4, 4))] == [1, 2]
    with pytest.raises(ValueError, match="add up"):
        split_channels(torch.rand(4, 2, 2), (1, 2))
