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

- Kornia supplies Lab, LUV, XYZ, HSV, YCbCr and YUV. Kornia's YCbCr is full-range JPEG
  in [0, 1]; it is mapped affinely to studio swing. Kornia rounds the chroma factors
  (0.564, 0.713) to three decimals, so YCbCr agrees with scikit-image to about 4e-4 of
  the channel range, the others to about 1e-5.
- The remaining spaces are 3x3 matrices built from their published definitions:
  YPbPr and YDbDr from BT.601 luma and their chroma scale factors, YIQ as YUV's (U, V)
  plane rotated by 33 degrees, HED as the inverse of the Ruifrok-Johnston stain matrix
  (rows are the stain colours, not normalised, as scikit-image uses them), CIE-RGB as
  the inverse of the CIE 1931 RGB -> XYZ matrix times sRGB's RGB -> XYZ matrix.

Networks should not see L in [0, 100] next to Db in [-1.3, 1.3]: ``normalize_channels``
standardises every space per channel with a mean and standard deviation estimated on
scikit-image's bundled colour photographs (astronaut, coffee, chelsea, rocket), so each
channel has roughly zero mean and unit spread on natural images. The reference code
normalised YDbDr with ``std = (0.500, 1.331, 1.333)`` (the channel ranges), which leaves
Db and Dr at a tenth of the luminance's scale; we prefer comparable scales.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import kornia.color as kc
import torch
from torch import Tensor

# ---------------------------------------------------------------------------------
# Published constants
# ---------------------------------------------------------------------------------

# BT.601 luma weights, shared by YUV, YIQ, YPbPr, YDbDr and YCbCr.
_LUMA = (0.299, 0.587, 0.114)
_KR, _KG, _KB = _LUMA

# sRGB (D65) linear RGB -> XYZ, from the sRGB specification.
_XYZ_FROM_LINEAR_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)

# CIE 1931 RGB -> XYZ, normalised so that the luminance of the R primary is 1.
_XYZ_FROM_CIE_RGB_UNSCALED = (
    (0.49, 0.31, 0.20),
    (0.17697, 0.81240, 0.01063),
    (0.00, 0.01, 0.99),
)
_CIE_RGB_LUMINANCE_R = 0.17697

# Ruifrok & Johnston (2001) stain colours (optical density per RGB channel):
# haematoxylin, eosin, DAB, one per row.
_RGB_FROM_HED = (
    (0.65, 0.70, 0.29),
    (0.07, 0.99, 0.11),
    (0.27, 0.57, 0.78),
)
_HED_LOG_FLOOR = 1e-6

# YCbCr studio swing (BT.601): luma spans 219 codes from 16, chroma 224 codes around 128.
_YCBCR_Y_OFFSET, _YCBCR_Y_SPAN = 16.0, 219.0
_YCBCR_C_OFFSET, _YCBCR_C_SPAN = 128.0, 224.0

# YIQ is YUV's chroma plane rotated by 33 degrees.
_YIQ_ROTATION_DEG = 33.0


def _luma_chroma_matrix(b_scale: float, r_scale: float) -> Tensor:
    """Matrix of a luma/colour-difference space: Y, then scaled (B - Y) and (R - Y).

    YUV, YPbPr and YDbDr differ only in the two scale factors (and in the sign
    convention, carried by the factors), so one helper builds them all from BT.601.
    """
    y = torch.tensor(_LUMA, dtype=torch.float64)
    b_minus_y = torch.tensor((0.0, 0.0, 1.0), dtype=torch.float64) - y
    r_minus_y = torch.tensor((1.0, 0.0, 0.0), dtype=torch.float64) - y
    rows = [y, b_scale * b_minus_y, r_scale * r_minus_y]
    return torch.stack(rows)


def _ypbpr_matrix() -> Tensor:
    """YPbPr: B - Y and R - Y scaled so that Pb and Pr span [-0.5, 0.5]."""
    return _luma_chroma_matrix(0.5 / (1.0 - _KB), 0.5 / (1.0 - _KR))


def _ydbdr_matrix() -> Tensor:
    """YDbDr (SECAM): Db = +1.505 (B - Y), Dr = -1.902 (R - Y), both span [-1.333, 1.333]."""
    return _luma_chroma_matrix(1.333 / (1.0 - _KB), -1.333 / (1.0 - _KR))


def _yuv_matrix() -> Tensor:
    """YUV (analogue PAL): U and V span [-0.436, 0.436] and [-0.615, 0.615]."""
    return _luma_chroma_matrix(0.436 / (1.0 - _KB), 0.615 / (1.0 - _KR))


def _yiq_matrix() -> Tensor:
    """YIQ (NTSC): the (U, V) plane of YUV rotated by 33 degrees.

    I = -U sin 33 + V cos 33, Q = U cos 33 + V sin 33.
    """
    yuv = _yuv_matrix()
    angle = math.radians(_YIQ_ROTATION_DEG)
    c, s = math.cos(angle), math.sin(angle)
    i_row = -s * yuv[1] + c * yuv[2]
    q_row = c * yuv[1] + s * yuv[2]
    return torch.stack([yuv[0], i_row, q_row])


def _rgbcie_matrix() -> Tensor:
    """sRGB (gamma-encoded values, linear map) -> CIE 1931 RGB."""
    xyz_from_cie = torch.tensor(_XYZ_FROM_CIE_RGB_UNSCALED, dtype=torch.float64)
    xyz_from_cie = xyz_from_cie / _CIE_RGB_LUMINANCE_R
    xyz_from_rgb = torch.tensor(_XYZ_FROM_LINEAR_RGB, dtype=torch.float64)
    return torch.linalg.inv(xyz_from_cie) @ xyz_from_rgb


def _hed_matrix() -> Tensor:
    """Optical density -> stain amounts: the inverse of the stain colour matrix.

    Stored so that ``stains_k = sum_c od_c * M[c, k]`` (the stain vectors are rows).
    """
    return torch.linalg.inv(torch.tensor(_RGB_FROM_HED, dtype=torch.float64))


# ---------------------------------------------------------------------------------
# Conversions (all take float RGB [..., 3, H, W] in [0, 1])
# ---------------------------------------------------------------------------------


def _apply_matrix(matrix: Tensor, x: Tensor) -> Tensor:
    """``out[..., i, h, w] = sum_j matrix[i, j] * x[..., j, h, w]`` in x's dtype/device."""
    m = matrix.to(dtype=x.dtype, device=x.device)
    return torch.einsum("ij,...jhw->...ihw", m, x)


def _matrix_conversion(build: Callable[[], Tensor]) -> Callable[[Tensor], Tensor]:
    """A conversion that multiplies every pixel by a fixed 3x3 matrix (built once)."""
    matrix = build()

    def convert(x: Tensor) -> Tensor:
        return _apply_matrix(matrix, x)

    convert.__doc__ = build.__doc__
    return convert


def rgb_to_xyz(x: Tensor) -> Tensor:
    """sRGB -> CIE XYZ (D65). Kornia's ``rgb_to_xyz`` expects *linear* RGB, so undo gamma."""
    return kc.rgb_to_xyz(kc.rgb_to_linear_rgb(x))


def rgb_to_hsv(x: Tensor) -> Tensor:
    """RGB -> HSV with hue in [0, 1) (kornia gives radians; scikit-image gives [0, 1))."""
    hsv = kc.rgb_to_hsv(x)
    hue = hsv[..., :1, :, :] / (2.0 * math.pi)
    return torch.cat([hue, hsv[..., 1:, :, :]], dim=-3)


def rgb_to_ycbcr(x: Tensor) -> Tensor:
    """RGB -> studio-swing YCbCr (Y in [16, 235], Cb/Cr in [16, 240]), scikit-image's units."""
    full = kc.rgb_to_ycbcr(x)
    y = _YCBCR_Y_OFFSET + _YCBCR_Y_SPAN * full[..., :1, :, :]
    c = _YCBCR_C_OFFSET + _YCBCR_C_SPAN * (full[..., 1:, :, :] - 0.5)
    return torch.cat([y, c], dim=-3)


_HED_FROM_OD = _hed_matrix()


def rgb_to_hed(x: Tensor) -> Tensor:
    """RGB -> haematoxylin/eosin/DAB stain densities (colour deconvolution).

    Optical density is ``log(rgb) / log(1e-6)`` (so 1 at the floor, 0 at white), mapped
    through the inverse stain matrix and clipped at 0, as scikit-image's ``rgb2hed``.
    """
    od = torch.log(x.clamp_min(_HED_LOG_FLOOR)) / math.log(_HED_LOG_FLOOR)
    m = _HED_FROM_OD.to(dtype=x.dtype, device=x.device)
    stains = torch.einsum("...chw,ck->...khw", od, m)
    return stains.clamp_min(0.0)


def _identity(x: Tensor) -> Tensor:
    return x


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
            "rgb", _identity, ("R", "G", "B"), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), None
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
            _matrix_conversion(_ydbdr_matrix),
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
            _matrix_conversion(_yiq_matrix),
            ("Y", "I", "Q"),
            (0.379, 0.087, 0.016),
            (0.233, 0.132, 0.026),
            "rgb2yiq",
        ),
        ColorSpace(
            "ypbpr",
            _matrix_conversion(_ypbpr_matrix),
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
            _matrix_conversion(_rgbcie_matrix),
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
