"""The colour steps of the batched recipes: per-image brightness, contrast, saturation
and hue (torchvision's ``ColorJitter`` semantics) and grayscale, on ``[B, C, H, W]`` floats
in [0, 1] on any device.

Why a module of its own: the jitter is the costliest batched step, so it is written for
few kernels per batch: the three blends of a slot run as one whole-batch pass (an image
whose op is another gets factor 1 and comes out bit-identical) and the hue rotation goes
from (hue, chroma, value) straight back to RGB. ``tests/views/test_batched.py`` checks
each op and the whole jitter against torchvision image by image with the same draws.
"""

from __future__ import annotations

import torch
from torch import Tensor

_GRAY_WEIGHTS = (0.299, 0.587, 0.114)


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _chance(n: int, p: float, generator: torch.Generator | None) -> Tensor:
    return torch.rand(n, generator=generator) < p


def grayscale(x: Tensor) -> Tensor:
    """``[..., 3, H, W]`` -> ``[..., 1, H, W]`` luma (ITU-R 601, as torchvision); grey
    images are their own luma."""
    if x.shape[-3] == 1:
        return x
    r, g, b = x.unbind(dim=-3)
    wr, wg, wb = _GRAY_WEIGHTS
    return (wr * r + wg * g + wb * b).unsqueeze(-3)


def _one_blend(x: Tensor, op: int, factor: Tensor) -> Tensor:
    """Op ``op`` (0 brightness, 1 contrast, 2 saturation) on every image, through the
    jitter's own `_blend_slot`, so that the per-op tests check the code the jitter runs."""
    blends = torch.ones(len(x), 3, dtype=factor.dtype, device=factor.device)
    blends[:, op] = factor
    return _blend_slot(x, torch.full((len(x),), op, device=factor.device), blends)


def adjust_brightness(x: Tensor, factor: Tensor) -> Tensor:
    """Per-image brightness; ``factor`` is ``[B]``."""
    return _one_blend(x, 0, factor)


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    """Blend each image with the mean of its grayscale version."""
    return _one_blend(x, 1, factor)


def adjust_saturation(x: Tensor, factor: Tensor) -> Tensor:
    """Blend each image with its grayscale version (grey images have none to change)."""
    if x.shape[-3] == 1:
        return x
    return _one_blend(x, 2, factor)


def _hue_chroma_value(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``[B, 3, H, W]`` RGB -> hue in [0, 1), chroma and value, each ``[B, H, W]``."""
    r, g, b = x.unbind(dim=-3)
    value = torch.maximum(torch.maximum(r, g), b)  # faster than a reduction over channels
    chroma = value - torch.minimum(torch.minimum(r, g), b)
    safe = torch.where(chroma > 0, chroma, 1.0)
    other = torch.where(value == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe)
    sector = torch.where(value == r, (g - b) / safe, other)
    hue = torch.where(chroma > 0, torch.remainder(sector / 6.0, 1.0), 0.0)
    return hue, chroma, value


def _from_hue_chroma_value(hue: Tensor, chroma: Tensor, value: Tensor) -> Tensor:
    """Each channel is ``v - c clamp(min(k, 4 - k), 0, 1)``, ``k = (n + 6 h) mod 6`` with
    n = 5, 3, 1 for R, G, B (the closed form of HSV -> RGB; ``c = v s``)."""
    shifts = torch.tensor([5.0, 3.0, 1.0], device=hue.device, dtype=hue.dtype)
    k = torch.remainder(shifts.view(3, 1, 1) + 6.0 * hue.unsqueeze(-3), 6.0)
    ramp = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
    return value.unsqueeze(-3) - chroma.unsqueeze(-3) * ramp


def rgb_to_hsv(x: Tensor) -> Tensor:
    """``[..., 3, H, W]`` RGB in [0, 1] -> HSV with every channel in [0, 1]."""
    hue, chroma, value = _hue_chroma_value(x)
    saturation = torch.where(value > 0, chroma / torch.where(value > 0, value, 1.0), 0.0)
    return torch.stack([hue, saturation, value], dim=-3)


def hsv_to_rgb(x: Tensor) -> Tensor:
    """Inverse of ``rgb_to_hsv``."""
    hue, saturation, value = x.unbind(dim=-3)
    return _from_hue_chroma_value(hue, value * saturation, value)


def adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate each image's hue by ``shift`` (fractions of the circle, in [-0.5, 0.5]);
    grey images have no hue (torchvision returns them unchanged too).

    A hue rotation keeps each pixel's value (max) and chroma (max - min), so the image
    goes straight from (hue, chroma, value) back to RGB, without saturation's division.
    """
    if x.shape[-3] == 1:
        return x
    hue, chroma, value = _hue_chroma_value(x)
    return _from_hue_chroma_value(torch.remainder(hue + shift.view(-1, 1, 1), 1.0), chroma, value)


def color_jitter(
    x: Tensor,
    strengths: tuple[float, float, float, float],
    p: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """ColorJitter with probability ``p``: per-image factors and order of the four ops
    (brightness, contrast, saturation, hue, as torchvision's ``ColorJitter``)."""
    n = len(x)
    factors = [_uniform(n, max(0.0, 1.0 - s), 1.0 + s, generator) for s in strengths[:3]]
    factors.append(_uniform(n, -strengths[3], strengths[3], generator))
    order = torch.rand(n, 4, generator=generator).argsort(dim=1)
    applied = _chance(n, p, generator)
    active = torch.tensor([s > 0 for s in strengths])
    if x.shape[-3] == 1:  # grey images have no saturation or hue to change
        active[2:] = False
    blends = torch.stack(factors[:3], dim=1)  # [B, 3]: brightness, contrast, saturation
    out = x
    for slot in range(4):
        op = order[:, slot]  # [B]: which op each image applies in this slot
        on = applied & active[op]
        out = _blend_slot(out, torch.where(on, op, -1), blends)
        hue = (on & (op == 3)).nonzero().squeeze(1)
        if len(hue):
            where = hue.to(x.device)
            out = out.index_put((where,), adjust_hue(out[where], factors[3][hue].to(out)))
    return out


def _blend_slot(x: Tensor, op: Tensor, blends: Tensor) -> Tensor:
    """One slot of the jitter's three blends, each image its own op (or none):
    ``clamp(f x + (1 - f) other)`` with other = 0 (brightness), the mean of the grey
    image (contrast) or the grey image (saturation). An image whose op is another
    (``f = 1``) comes out bit-identical, so a whole-batch pass replaces three gathers."""
    linear = (op >= 0) & (op < 3)
    if not linear.any():
        return x
    factor = torch.where(linear, blends.gather(1, op.clamp(0, 2).view(-1, 1)).squeeze(1), 1.0)
    shape = (-1, 1, 1, 1)
    factor = factor.to(x).view(shape)
    out = factor * x
    grey_needed = (op == 1) | (op == 2)
    if grey_needed.any():
        grey = grayscale(x)  # [B, 1, H, W]
        contrast = (op == 1).to(x).view(shape) * grey.mean(dim=(-3, -2, -1), keepdim=True)
        other = (op == 2).to(x).view(shape) * grey + contrast
        out = out + (1 - factor) * other
    return out.clamp_(0.0, 1.0)
