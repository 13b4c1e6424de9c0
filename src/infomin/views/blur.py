"""The recipes' Gaussian blur as two 1-D passes: torchvision's draw, a fraction of its cost.

Why its own module: the per-image recipes (`infomin.views.recipes`) blur with it, and
the batched path (`infomin.views.batched`) builds on the recipes; below both, neither
has to import the other inside a function.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.transforms import v2


def blur_matrix(size: int, kernel_size: int, sigmas: Tensor) -> Tensor:
    """``[B, size, size]``: row ``i`` holds the Gaussian weights output pixel ``i`` takes
    from each input pixel, reflect padding folded in (index -1 reads pixel 1)."""
    half = kernel_size // 2
    offsets = torch.arange(-half, half + 1, device=sigmas.device)
    weights = torch.exp(-0.5 * (offsets.view(1, -1) / sigmas.view(-1, 1)) ** 2)
    weights = weights / weights.sum(dim=1, keepdim=True)
    source = (torch.arange(size, device=sigmas.device).view(-1, 1) + offsets).abs()
    source = torch.where(source > size - 1, 2 * (size - 1) - source, source)
    matrix = torch.zeros(len(sigmas), size, size, device=sigmas.device, dtype=sigmas.dtype)
    index = source.expand(len(sigmas), -1, -1)
    return matrix.scatter_add_(2, index, weights.view(-1, 1, kernel_size).expand_as(index))


def blur_by_matrices(x: Tensor, kernel_size: int, sigmas: Tensor) -> Tensor:
    """The separable blur as two matrix products (rows, then columns), one sigma per image.

    For one image on a CPU this is several times faster than a depthwise convolution
    (a matrix product is what BLAS does best); for large batches ``_blur`` is cheaper.
    """
    rows = blur_matrix(x.shape[-1], kernel_size, sigmas).unsqueeze(1)
    cols = blur_matrix(x.shape[-2], kernel_size, sigmas).unsqueeze(1)
    return cols @ (x @ rows.transpose(-1, -2))


class SeparableGaussianBlur(v2.GaussianBlur):
    """``v2.GaussianBlur`` (same sigma draw, same output) computed as two 1-D passes.

    torchvision convolves with the full ``k x k`` kernel, ``k**2`` multiply-adds per
    pixel; a Gaussian is separable, so a row pass and a column pass give the same image
    (here as two small matrix products, ``blur_by_matrices``). At 224 px (``k = 23``)
    the blur is about half of InfoMin Aug's per-image time otherwise (``bench/data.py``).
    Outputs match torchvision to float rounding (uint8: the rare pixel at a .5 boundary
    may differ by one level).
    """

    def transform(self, inpt, params):  # type: ignore[override]
        kx, ky = self.kernel_size
        if type(inpt) is not Tensor or inpt.dim() < 3 or kx != ky:
            return super().transform(inpt, params)
        shape = inpt.shape
        x = inpt.reshape(-1, *shape[-3:])
        fp = x.is_floating_point()
        y = x if fp else x.float()
        sigma = torch.full((len(y),), float(params["sigma"][0]), dtype=y.dtype)
        out = blur_by_matrices(y, kx, sigma.to(y.device))
        if not fp:
            out = out.round_().to(inpt.dtype)
        return out.reshape(shape)
