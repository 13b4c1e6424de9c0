"""RGB -> each colour space of `infomin.views.colorspaces`, in scikit-image's units.

Why a module of its own: how a conversion is computed (published constants, matrices,
kornia's corrections) changes for different reasons than which spaces exist and how
their channels are standardised and split (`colorspaces`).

- Kornia supplies Lab, LUV, XYZ, HSV, YCbCr and YUV. Kornia's YCbCr is full-range JPEG
  in [0, 1]; it is mapped affinely to studio swing. Kornia rounds the chroma factors
  (0.564, 0.713) to three decimals, so YCbCr agrees with scikit-image to about 4e-4 of
  the channel range, the others to about 1e-5.
- The remaining spaces are 3x3 matrices built from their published definitions:
  YPbPr and YDbDr from BT.601 luma and their chroma scale factors, YIQ as YUV's (U, V)
  plane rotated by 33 degrees, HED as the inverse of the Ruifrok-Johnston stain matrix
  (rows are the stain colours, not normalised, as scikit-image uses them), CIE-RGB as
  the inverse of the CIE 1931 RGB -> XYZ matrix times sRGB's RGB -> XYZ matrix.

Every conversion takes float RGB ``[..., 3, H, W]`` in [0, 1] and returns
``[..., 3, H, W]`` in the input's dtype.
"""

from __future__ import annotations

import math
from collections.abc import Callable

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


def identity(x: Tensor) -> Tensor:
    """RGB stays RGB."""
    return x


rgb_to_ydbdr = _matrix_conversion(_ydbdr_matrix)
rgb_to_yiq = _matrix_conversion(_yiq_matrix)
rgb_to_ypbpr = _matrix_conversion(_ypbpr_matrix)
rgb_to_rgbcie = _matrix_conversion(_rgbcie_matrix)
