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
    return torch.add(wr * r, g, alpha=wg).add_(b, alpha=wb).unsqueeze(-3)  # 3 passes, not 5


def _one_blend(x: Tensor, op: int, factor: Tensor) -> Tensor:
    """Op ``op`` (0 brightness, 1 contrast, 2 saturation) on every image, through the
    jitter's own `_blend`, so that the per-op tests check the code the jitter runs."""
    weights = torch.zeros(3, len(x), dtype=x.dtype, device=x.device)
    weights[0] = factor
    if op > 0:
        weights[op] = 1.0 - factor
    return _blend(x, weights, mean=op == 1, grey=op == 2)


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


def _sixths_chroma_value(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``[B, 3, H, W]`` RGB -> hue in sixths of the circle, unwrapped (in [-1, 5]), chroma
    and value, each ``[B, H, W]``. Where chroma is 0 the hue is 0 (any hue gives v, v, v)."""
    r, g, b = x.unbind(dim=-3)
    value = torch.maximum(torch.maximum(r, g), b)  # faster than a reduction over channels
    chroma = value - torch.minimum(torch.minimum(r, g), b)
    inverse = chroma.clamp_min(1e-12).reciprocal_()
    # Which channel is the max, as 1.0 / 0.0 masks and exact lerps (weight 0 or 1 returns
    # an end bit for bit): on a CPU, bool tensors and torch.where run several times
    # slower than float ops (ad hoc: 90 vs 8 us per where at 51 x 32 x 32, 2 threads).
    is_r = torch.eq(value, r, out=torch.empty_like(value))
    is_g = torch.eq(value, g, out=torch.empty_like(value))
    g_max = ((b - r) * inverse).add_(2.0)
    b_max = ((r - g) * inverse).add_(4.0)
    sixths = torch.lerp(torch.lerp(b_max, g_max, is_g), (g - b) * inverse, is_r)
    return sixths, chroma, value


def _hue_chroma_value(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``[B, 3, H, W]`` RGB -> hue in [0, 1), chroma and value, each ``[B, H, W]``."""
    sixths, chroma, value = _sixths_chroma_value(x)
    hue = torch.where(chroma > 0, torch.remainder(sixths / 6.0, 1.0), 0.0)
    return hue, chroma, value


def rgb_to_hsv(x: Tensor) -> Tensor:
    """``[..., 3, H, W]`` RGB in [0, 1] -> HSV with every channel in [0, 1]."""
    hue, chroma, value = _hue_chroma_value(x)
    saturation = torch.where(value > 0, chroma / torch.where(value > 0, value, 1.0), 0.0)
    return torch.stack([hue, saturation, value], dim=-3)


def hsv_to_rgb(x: Tensor) -> Tensor:
    """Inverse of ``rgb_to_hsv``."""
    hue, saturation, value = x.unbind(dim=-3)
    return _from_sixths(6.0 * hue, value * saturation, value)


def adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate each image's hue by ``shift`` (fractions of the circle, in [-0.5, 0.5]);
    grey images have no hue (torchvision returns them unchanged too).

    A hue rotation keeps each pixel's value (max) and chroma (max - min), so the image
    goes straight from (hue, chroma, value) back to RGB, without saturation's division.
    The hue stays in sixths of the circle, unwrapped, and is wrapped once, in the closed
    form: one remainder per pixel and channel instead of three.
    """
    if x.shape[-3] == 1:
        return x
    sixths, chroma, value = _sixths_chroma_value(x)
    return _from_sixths(sixths, chroma, value, 6.0 * shift.to(x).view(-1, 1, 1, 1))


def _from_sixths(
    sixths: Tensor, chroma: Tensor, value: Tensor, shift: Tensor | None = None
) -> Tensor:
    """(hue, chroma, value) -> RGB, the hue in sixths of the circle, unwrapped: each channel
    is ``v - c clamp(min(k, 4 - k), 0, 1)``, ``k = (n + sixths + shift) mod 6`` with n = 5,
    3, 1 for R, G, B (the closed form of HSV -> RGB; ``c = v s``). ``shift``, in sixths,
    broadcasts against ``[..., 3, 1, 1]``: a hue rotation folded into the channel offsets."""
    offsets = torch.tensor([5.0, 3.0, 1.0], device=sixths.device, dtype=sixths.dtype)
    offsets = offsets.view(3, 1, 1) if shift is None else offsets.view(3, 1, 1) + shift
    k = torch.remainder(sixths.unsqueeze(-3) + offsets, 6.0)  # in [0, 6)
    ramp = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
    return torch.addcmul(value.unsqueeze(-3), chroma.unsqueeze(-3), ramp, value=-1.0)


def color_jitter(
    x: Tensor,
    strengths: tuple[float, float, float, float],
    p: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """ColorJitter with probability ``p``: per-image factors and order of the four ops
    (brightness, contrast, saturation, hue, as torchvision's ``ColorJitter``).

    The four slots run in turn over the whole batch, each image doing its own op in
    each; every slot's blend weights are worked out first, in one small table moved to
    the device once, so the loop launches only the per-pixel work.

    The hue, the costly op, runs twice instead of four times: after slot 0's blends for
    the images whose hue is in slot 0 or 1, after slot 2's for those in slot 2 or 3. An
    image's blend in its hue slot is the identity (bit for bit), so each image still sees
    its four ops in its own order.
    """
    n = len(x)
    factors = [_uniform(n, max(0.0, 1.0 - s), 1.0 + s, generator) for s in strengths[:3]]
    factors.append(_uniform(n, -strengths[3], strengths[3], generator))
    order = torch.rand(n, 4, generator=generator).argsort(dim=1)
    applied = _chance(n, p, generator)
    active = torch.tensor([s > 0 for s in strengths])
    if x.shape[-3] == 1:  # grey images have no saturation or hue to change
        active[2:] = False
    ops = order.t()  # [4 slots, B]
    on = applied & active[ops]
    blends = torch.stack(factors[:3])  # [3, B]: brightness, contrast, saturation
    linear = on & (ops < 3)
    scale = torch.where(linear, blends.gather(0, ops.clamp(max=2)), 1.0)
    mean, grey = linear & (ops == 1), linear & (ops == 2)
    weights = torch.stack([scale, (1.0 - scale) * mean, (1.0 - scale) * grey], dim=1)
    weights = weights.to(x)  # [4 slots, 3, B]
    flags = torch.stack([linear.any(1), mean.any(1), grey.any(1)], dim=1).tolist()
    hue = on & (ops == 3)
    out = x
    for slot, (any_linear, any_mean, any_grey) in enumerate(flags):
        if any_linear:
            out = _blend(out, weights[slot], any_mean, any_grey)
        if slot % 2:
            continue
        chosen = (hue[slot] | hue[slot + 1]).nonzero().squeeze(1)
        if len(chosen):
            where = chosen.to(x.device)
            out = out.index_put((where,), adjust_hue(out[where], factors[3][chosen].to(out)))
    return out


def _blend(x: Tensor, weights: Tensor, mean: bool, grey: bool) -> Tensor:
    """The jitter's three blends in one pass, each image its own:
    ``clamp(a x + b mean(grey(x)) + c grey(x))`` with ``weights = [a, b, c]``, each
    ``[B]``: brightness ``(f, 0, 0)``, contrast ``(f, 1 - f, 0)``, saturation
    ``(f, 0, 1 - f)``, none ``(1, 0, 0)`` (bit-identical). ``mean`` / ``grey``: whether
    any image needs that term (skipped otherwise). The contrast's grey mean comes from
    the channel means, without a grey image.

    Per image this is a colour matrix (row i: ``a e_i + c w``, w the luma weights) plus a
    constant. On a CPU the whole batch is then one ``baddbmm`` of ``[B, C, C]`` by
    ``[B, C, H W]``, 4x faster than the elementwise form (ad hoc, 128 x 32 px, 1 and 2
    threads), run in float32 even inside an autocast region. Elsewhere the elementwise
    form runs: a GPU's matrix units may round float32 to TF32
    (``set_float32_matmul_precision``), which would move every pixel.
    """
    b, c = x.shape[:2]
    constant = (weights[1] * _grey_mean(x)).view(b, 1, 1) if mean else None
    if x.device.type != "cpu":
        return _blend_elementwise(x, weights, constant, grey)
    matrix = torch.diag_embed(weights[0].view(b, 1).expand(b, c))
    if grey and c == 3:
        matrix = matrix + weights[2].view(b, 1, 1) * matrix.new_tensor(_GRAY_WEIGHTS)
    flat = x.reshape(b, c, -1)
    with torch.autocast("cpu", enabled=False):
        out = torch.bmm(matrix, flat) if constant is None else torch.baddbmm(constant, matrix, flat)
    return out.view(x.shape).clamp_(0.0, 1.0)


def _blend_elementwise(x: Tensor, weights: Tensor, constant: Tensor | None, grey: bool) -> Tensor:
    """``_blend`` as per-pixel multiply-adds (``constant``: ``[B, 1, 1]`` or None)."""
    shape = (-1, 1, 1, 1)
    base = torch.zeros_like(weights[1]) if constant is None else constant
    out = torch.addcmul(base.view(shape), weights[0].view(shape), x)
    if grey and x.shape[1] == 3:
        out.addcmul_(weights[2].view(shape), grayscale(x))
    return out.clamp_(0.0, 1.0)


def _grey_mean(x: Tensor) -> Tensor:
    """``[B]`` mean of each image's grayscale version (luma is linear in the channels)."""
    means = x.mean(dim=(-2, -1))  # [B, C]
    if x.shape[-3] == 1:
        return means[:, 0]
    return (means * means.new_tensor(_GRAY_WEIGHTS)).sum(-1)  # not a matmul: no TF32/autocast
