"""Colour spaces for CMC-style views: one image, two groups of channels.

CMC (and the InfoMin colour-space experiment) turns an RGB image into another colour
space and treats "first channel" and "other two channels" as two views of the same
sample. Which space is used decides how much information the two views share, so the
library offers all the spaces the reference code used: Lab, YCbCr, YDbDr, YUV, YIQ,
YPbPr, XYZ, HSV, HED, LUV and CIE-RGB (plus plain RGB, whose split is R | GB).

Conventions (why: every conversion is tested against scikit-image, the library the
reference code called, so its units are the ones we reproduce):

- Input: float RGB in [0, 1] (``uint8`` is accepted and divided by 255), shape
  ``[..., 3, H, W]``; any number of leading batch dimensions; dtype is preserved.
- Output units are scikit-image's, channel for channel:

  ==========  ==========================================================
  lab         L in [0, 100], a and b roughly [-128, 127] (D65, 2 deg)
  luv         L in [0, 100], u roughly [-83, 175], v roughly [-134, 107]
  xyz         X, Y, Z in about [0, 1.09] (sRGB gamma undone first, D65)
  hsv         H, S, V all in [0, 1] (kornia returns H in radians: divided by 2 pi)
  ycbcr       studio swing: Y in [16, 235], Cb and Cr in [16, 240] (BT.601)
  yuv         Y in [0, 1], U in [-0.436, 0.436], V in [-0.615, 0.615]
  yiq         Y in [0, 1], I in [-0.596, 0.596], Q in [-0.523, 0.523]
  ypbpr       Y in [0, 1], Pb and Pr in [-0.5, 0.5]
  ydbdr       Y in [0, 1], Db and Dr in [-1.333, 1.333]
  hed         optical densities of haematoxylin, eosin, DAB (>= 0, pixels
              clamped at 1e-6 before the log, as scikit-image does)
  rgbcie      CIE 1931 RGB primaries (linear map of the *gamma-encoded*
              input, exactly as scikit-image's ``rgb2rgbcie``)
  rgb         unchanged
  ==========  ==========================================================

- How each conversion is computed (kornia, or a 3x3 matrix from its published
  definition) is `infomin.views.color_conversions`; this module is the registry, the
  per-channel standardisation and the channel split.

Networks should not see L in [0, 100] next to Db in [-1.3, 1.3]: ``normalize_channels``
standardises every space per channel with a mean and standard deviation estimated on
scikit-image's bundled colour photographs (astronaut, coffee, chelsea, rocket), so each
channel has roughly zero mean and unit spread on natural images. The reference code
normalised YDbDr with ``std = (0.500, 1.331, 1.333)`` (the channel ranges), which leaves
Db and Dr at a tenth of the luminance's scale; we prefer comparable scales.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import kornia.color as kc
import torch
from torch import Tensor

from infomin.views.color_conversions import (
    identity,
    rgb_to_hed,
    rgb_to_hsv,
    rgb_to_rgbcie,
    rgb_to_xyz,
    rgb_to_ycbcr,
    rgb_to_ydbdr,
    rgb_to_yiq,
    rgb_to_ypbpr,
)

# ---------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColorSpace:
    """One colour space: how to get there from RGB and how to standardise its channels.

    ``mean``/``std`` are per-channel statistics in the space's own units (see the module
    docstring for how they were estimated); ``skimage_name`` names the scikit-image
    function that defines the reference units (used by the tests).
    """

    name: str
    convert: Callable[[Tensor], Tensor]
    channels: tuple[str, str, str]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    skimage_name: str | None


# Statistics: per-channel mean and std of each space over scikit-image's bundled colour
# photographs (astronaut, coffee, chelsea, rocket), from `estimate_channel_stats`, rounded.
# They only need to bring channels to roughly unit scale; tests/views/test_colorspaces.py
# re-estimates them. RGB keeps the ImageNet statistics of `infomin.data.transforms`, so an
# "rgb" split and the RGB recipes feed networks identically.
COLOR_SPACES: dict[str, ColorSpace] = {
    space.name: space
    for space in (
        ColorSpace(
            "rgb", identity, ("R", "G", "B"), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), None
        ),
        ColorSpace(
            "lab", kc.rgb_to_lab, ("L", "a", "b"), (40.6, 13.7, 10.8), (24.0, 15.0, 23.3), "rgb2lab"
        ),
        ColorSpace(
            "ycbcr",
            rgb_to_ycbcr,
            ("Y", "Cb", "Cr"),
            (98.9, 119.3, 142.8),
            (51.0, 18.3, 20.9),
            "rgb2ycbcr",
        ),
        ColorSpace(
            "ydbdr",
            rgb_to_ydbdr,
            ("Y", "Db", "Dr"),
            (0.379, -0.104, -0.176),
            (0.233, 0.218, 0.248),
            "rgb2ydbdr",
        ),
        ColorSpace(
            "yuv",
            kc.rgb_to_yuv,
            ("Y", "U", "V"),
            (0.379, -0.034, 0.081),
            (0.233, 0.071, 0.115),
            "rgb2yuv",
        ),
        ColorSpace(
            "yiq",
            rgb_to_yiq,
            ("Y", "I", "Q"),
            (0.379, 0.087, 0.016),
            (0.233, 0.132, 0.026),
            "rgb2yiq",
        ),
        ColorSpace(
            "ypbpr",
            rgb_to_ypbpr,
            ("Y", "Pb", "Pr"),
            (0.379, -0.039, 0.066),
            (0.233, 0.082, 0.093),
            "rgb2ypbpr",
        ),
        ColorSpace(
            "xyz",
            rgb_to_xyz,
            ("X", "Y", "Z"),
            (0.196, 0.18, 0.147),
            (0.193, 0.194, 0.191),
            "rgb2xyz",
        ),
        ColorSpace(
            "hsv",
            rgb_to_hsv,
            ("H", "S", "V"),
            (0.258, 0.501, 0.514),
            (0.297, 0.282, 0.257),
            "rgb2hsv",
        ),
        ColorSpace(
            "hed",
            rgb_to_hed,
            ("H", "E", "D"),
            (0.109, 0.005, 0.151),
            (0.219, 0.026, 0.194),
            "rgb2hed",
        ),
        ColorSpace(
            "luv", kc.rgb_to_luv, ("L", "u", "v"), (40.6, 24.5, 8.32), (24.0, 33.1, 23.0), "rgb2luv"
        ),
        ColorSpace(
            "rgbcie",
            rgb_to_rgbcie,
            ("R", "G", "B"),
            (0.069, 0.065, 0.061),
            (0.043, 0.042, 0.043),
            "rgb2rgbcie",
        ),
    )
}

# Spellings users are likely to type, mapped to registry keys (after canonicalisation).
_ALIASES = {"ciergb": "rgbcie", "cie": "rgbcie", "ycc": "ycbcr"}


def canonical_color_space(name: str) -> str:
    """Registry key of a colour-space name: case, '-', '_' and spaces do not matter.

    >>> canonical_color_space("CIE-RGB")
    'rgbcie'
    """
    key = name.lower().replace("-", "").replace("_", "").replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in COLOR_SPACES:
        choices = ", ".join(sorted(COLOR_SPACES))
        raise ValueError(f"unknown colour space {name!r}; choose one of: {choices}")
    return key


def get_color_space(name: str) -> ColorSpace:
    """The registry entry for ``name`` (any accepted spelling)."""
    return COLOR_SPACES[canonical_color_space(name)]


def _as_float_rgb(x: Tensor) -> Tensor:
    """Float RGB in [0, 1]; ``uint8`` images are divided by 255 (other dtypes kept)."""
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"expected RGB images [..., 3, H, W], got shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.float() / 255.0
    if not x.is_floating_point():
        raise TypeError(f"expected uint8 or float images, got {x.dtype}")
    return x


def estimate_channel_stats(images: list[Tensor], name: str) -> tuple[Tensor, Tensor]:
    """Per-channel mean and std of ``images`` (each ``[..., 3, H, W]``) in colour space ``name``.

    This is how the registry's statistics were made; rerun it on your own data when its
    colours differ a lot from everyday photographs (e.g. histology slides for HED).
    """
    pixels = [to_color_space(img, name).double().movedim(-3, 0).reshape(3, -1) for img in images]
    stacked = torch.cat(pixels, dim=1)
    return stacked.mean(dim=1), stacked.std(dim=1)


def to_color_space(x: Tensor, name: str) -> Tensor:
    """Convert RGB ``[..., 3, H, W]`` (float in [0, 1] or uint8) to colour space ``name``.

    Values are in scikit-image's units (module docstring), not standardised; use
    ``normalize_channels`` (or ``to_normalized_color_space``) before a network.
    """
    return get_color_space(name).convert(_as_float_rgb(x))


def normalize_channels(x: Tensor, name: str) -> Tensor:
    """Standardise an image already in colour space ``name`` with the space's statistics."""
    space = get_color_space(name)
    mean = x.new_tensor(space.mean).view(3, 1, 1)
    std = x.new_tensor(space.std).view(3, 1, 1)
    return (x - mean) / std


def to_normalized_color_space(x: Tensor, name: str) -> Tensor:
    """RGB -> colour space ``name`` -> per-channel standardisation: network-ready channels."""
    return normalize_channels(to_color_space(x, name), name)


def split_channels(x: Tensor, groups: tuple[int, ...] = (1, 2)) -> tuple[Tensor, ...]:
    """Split ``[..., C, H, W]`` on the channel axis into consecutive groups of ``groups`` sizes."""
    if sum(groups) != x.shape[-3]:
        raise ValueError(f"channel groups {groups} do not add up to {x.shape[-3]} channels")
    return tuple(torch.split(x, list(groups), dim=-3))


class SplitChannels:
    """Transform: split an already-converted image into channel groups (default 1 | 2).

    Use after a recipe that ends in a colour space (recipes C and E end in YDbDr) to get
    CMC's two views of one crop, e.g. ``v2.Compose([build_recipe("C", 224), SplitChannels()])``.
    """

    def __init__(self, groups: tuple[int, ...] = (1, 2)) -> None:
        self.groups = tuple(groups)

    def __call__(self, x: Tensor) -> tuple[Tensor, ...]:
        return split_channels(x, self.groups)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(groups={self.groups})"


class ChannelSplit:
    """The CMC view: convert RGB to ``space`` and return its channel groups as a tuple.

    With the default ``groups=(1, 2)`` this gives (first channel, other two), e.g. (Y, DbDr)
    or (L, ab): the luminance/chroma split that CMC contrasts. Works on single images
    ``[3, H, W]`` and batches ``[..., 3, H, W]``; ``normalize=True`` (default) standardises
    each channel first so the two encoders see inputs of comparable scale.
    """

    def __init__(
        self, space: str = "ydbdr", groups: tuple[int, ...] = (1, 2), *, normalize: bool = True
    ) -> None:
        self.space = canonical_color_space(space)
        self.groups = tuple(groups)
        self.normalize = normalize
        if sum(self.groups) != 3:
            raise ValueError(f"channel groups {self.groups} must add up to 3")

    def __call__(self, x: Tensor) -> tuple[Tensor, ...]:
        converted = to_color_space(x, self.space)
        if self.normalize:
            converted = normalize_channels(converted, self.space)
        return split_channels(converted, self.groups)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(space={self.space!r}, groups={self.groups}, "
            f"normalize={self.normalize})"
        )
