"""The recipes' augmentations on a whole batch at once, on any device (CPU or GPU).

Why: the per-image recipes (``infomin.views.recipes``) run in DataLoader workers, one
image at a time; on a fast GPU a few CPU workers cannot keep up (``bench/data.py``
measures where). Here the same steps run on a ``[B, C, H, W]`` tensor where it lives:
the workers only decode and stack ``uint8`` images, and the augmentation becomes a few
batched kernels on the accelerator.

Every image still gets its own random parameters (crop box, flip, jitter factors and
order, blur sigma, grayscale): a batch is ``B`` independent draws, not one draw applied
``B`` times. Parameters are drawn on the CPU from ``generator`` (the global torch RNG when
None) and then moved to the images' device, so a seed gives the same views on every
device.

Covered: crop, flip, colour jitter, Gaussian blur, grayscale, normalisation, colour
space: all of recipes A, B and C. timm's RandAugment (recipes D and E) runs on PIL
images and has no batched form that draws the same ops: ``per_image_randaugment=True``
runs the batched steps around it and timm's RandAugment on each image in between (the
recipe's exact distribution, up to uint8 rounding), ``drop_randaugment=True`` leaves it
out (the weaker view); without either such a spec is refused, so an omission is never
silent. ``BatchedJigsaw`` cuts the jigsaw branch's patches for a whole batch and
``BatchedViews`` strings views together as ``MultiView`` does per image.

Grey images (1 channel) stay grey, as in the per-image recipes: jitter reduces to
brightness and contrast, grayscale is a no-op, normalisation uses the one-channel
statistics of ``to_model_input``.

Semantics follow torchvision v2: RandomResizedCrop's box sampling (10 tries, then a
centre crop), ColorJitter's factor ranges and random order of its four operations,
GaussianBlur's kernel with reflect padding. Resampling is ``roi_align`` with adaptive
sampling: bilinear for enlargements, an average over each output pixel's footprint for
reductions (torchvision's antialiased resize differs slightly in its filter).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import roi_align

from infomin.data.transforms import to_model_input
from infomin.views.batched_color import (
    _chance,
    _uniform,
    color_jitter,
    grayscale,
)
from infomin.views.colorspaces import canonical_color_space, to_normalized_color_space
from infomin.views.jigsaw import jigsaw_geometry
from infomin.views.recipes import (
    SMALL_IMAGE_RULE,
    PILRandAugment,
    RecipeSpec,
    adapt_to_small_images,
    blur_kernel_size,
    ensure_rgb,
    get_recipe,
    grey_or_rgb,
)

_CROP_TRIES = 10
_RATIO = (3 / 4, 4 / 3)


def crop_boxes(
    batch: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float] = _RATIO,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``[B, 4]`` float boxes ``(x1, y1, x2, y2)``: RandomResizedCrop's draw, per image.

    Up to 10 tries of (area, log-ratio); each image keeps its first valid try, and an
    image with none falls back to the largest centred box with a ratio inside ``ratio``.
    """
    area = height * width
    shape = (batch, _CROP_TRIES)
    target = area * (scale[0] + (scale[1] - scale[0]) * torch.rand(shape, generator=generator))
    log_r = math.log(ratio[0]) + math.log(ratio[1] / ratio[0]) * torch.rand(
        shape, generator=generator
    )
    aspect = torch.exp(log_r)
    w = torch.sqrt(target * aspect).round()
    h = torch.sqrt(target / aspect).round()
    valid = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = valid.float().argmax(dim=1, keepdim=True)  # index of the first valid try
    w, h = w.gather(1, first).squeeze(1), h.gather(1, first).squeeze(1)
    top = (torch.rand(batch, generator=generator) * (height - h + 1)).floor()
    left = (torch.rand(batch, generator=generator) * (width - w + 1)).floor()
    fallback = ~valid.any(dim=1)
    if fallback.any():
        fw, fh = _centre_size(height, width, ratio)
        w[fallback], h[fallback] = float(fw), float(fh)
        top[fallback], left[fallback] = float((height - fh) // 2), float((width - fw) // 2)
    return torch.stack([left, top, left + w, top + h], dim=1)


def _centre_size(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    """torchvision's fallback crop: the whole image, trimmed to the nearest allowed ratio."""
    in_ratio = width / height
    if in_ratio < ratio[0]:
        return width, round(width / ratio[0])
    if in_ratio > ratio[1]:
        return round(height * ratio[1]), height
    return width, height


def resized_crop(images: Tensor, boxes: Tensor, size: int, flip: Tensor | None = None) -> Tensor:
    """Crop each image to its box and resize to ``size x size`` (float images), mirrored
    left-right where ``flip`` (``[B]`` bool, optional) is set.

    The resampling is ``roi_align``'s. When every box lies inside its image and no side
    is longer than ``size`` (each crop an enlargement: 32-px data at 32 px), roi_align
    takes one bilinear sample per output pixel, and ``grid_sample`` reads the same
    samples several times faster (3x at 128 x 32 px on one thread, 5x on two); the flip
    is then a reversed row of sample points instead of a pass over the output.
    """
    if _enlargements_inside(images, boxes, size):
        return _bilinear_crop(images, boxes, size, flip)
    rois = torch.cat([torch.arange(len(images), dtype=boxes.dtype).unsqueeze(1), boxes], dim=1)
    rois = rois.to(device=images.device, dtype=images.dtype)
    out = roi_align(images, rois, (size, size), spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    return out if flip is None else _mirror(out, flip)


def _enlargements_inside(images: Tensor, boxes: Tensor, size: int) -> bool:
    """Whether roi_align would take exactly one sample per output pixel, all inside."""
    height, width = images.shape[-2:]
    sides = boxes[:, 2:] - boxes[:, :2]
    inside = (
        (boxes[:, :2] >= 0).all() & (boxes[:, 2] <= width).all() & (boxes[:, 3] <= height).all()
    )
    return height > 1 and width > 1 and bool(inside & (sides <= size).all())


def _bilinear_crop(images: Tensor, boxes: Tensor, size: int, flip: Tensor | None) -> Tensor:
    """roi_align's sample points for one sample per pixel (``aligned``: pixel centres at
    +0.5), read by ``grid_sample``: with ``align_corners`` -1 and +1 are the centres of
    the first and last pixels, and border padding is roi_align's clamp at the edges."""
    b, _, height, width = images.shape
    steps = (torch.arange(size, dtype=boxes.dtype) + 0.5) / size
    x1, y1, x2, y2 = boxes.unbind(1)
    xs = (x1 - 0.5).unsqueeze(1) + steps * (x2 - x1).unsqueeze(1)  # [B, size]
    ys = (y1 - 0.5).unsqueeze(1) + steps * (y2 - y1).unsqueeze(1)
    if flip is not None:
        xs = torch.where(flip.view(-1, 1), xs.flip(1), xs)
    gx = (xs * (2.0 / (width - 1)) - 1.0).to(images.device, images.dtype)
    gy = (ys * (2.0 / (height - 1)) - 1.0).to(images.device, images.dtype)
    grid = torch.stack(
        (gx.view(b, 1, size).expand(b, size, size), gy.view(b, size, 1).expand(b, size, size)),
        dim=-1,
    )
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)


def gaussian_blur(
    x: Tensor,
    kernel_size: int,
    sigma: tuple[float, float],
    p: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Gaussian blur with probability ``p`` and a per-image sigma ~ U(sigma)."""
    n = len(x)
    sigmas = _uniform(n, sigma[0], sigma[1], generator)
    chosen = _chance(n, p, generator).nonzero().squeeze(1)
    if len(chosen) == 0:
        return x
    out = x.clone()
    where = chosen.to(x.device)
    out[where] = _blur(x[where], kernel_size, sigmas[chosen].to(x.device, x.dtype))
    return out


_MAX_TAPS = 7  # up to this kernel size, shifted multiply-adds beat the convolution


def _blur(x: Tensor, kernel_size: int, sigmas: Tensor) -> Tensor:
    """Separable blur, one kernel per image: a grouped convolution over images x channels,
    or for small kernels (the 32-px recipes' 3 taps) one multiply-add per tap and axis,
    1.2-2x faster there (ad-hoc, 64 x 32 px, 1 and 2 threads)."""
    b, c, h, w = x.shape
    half = (kernel_size - 1) / 2
    grid = torch.linspace(-half, half, kernel_size, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (grid / sigmas.view(-1, 1)) ** 2)
    kernel = kernel / kernel.sum(dim=1, keepdim=True)
    if kernel_size <= _MAX_TAPS:
        return _blur_taps(_blur_taps(x, kernel, -1), kernel, -2)
    kernel = kernel.repeat_interleave(c, dim=0)
    pad = kernel_size // 2
    flat = F.pad(x.reshape(1, b * c, h, w), (pad, pad, pad, pad), mode="reflect")
    flat = F.conv2d(flat, kernel.view(b * c, 1, 1, kernel_size), groups=b * c)
    flat = F.conv2d(flat, kernel.view(b * c, 1, kernel_size, 1), groups=b * c)
    return flat.view(b, c, h, w)


def _blur_taps(x: Tensor, kernel: Tensor, dim: int) -> Tensor:
    """One axis of the blur (``dim`` -1: rows, -2: columns), reflect padding, ``kernel``
    ``[B, k]``: the sum over taps of the weight times the image shifted by that tap."""
    k = kernel.shape[1]
    pad = (k // 2, k // 2, 0, 0) if dim == -1 else (0, 0, k // 2, k // 2)
    padded = F.pad(x, pad, mode="reflect")
    weights = kernel.t().reshape(k, -1, 1, 1, 1)
    length = x.shape[dim]
    out = padded.narrow(dim, 0, length) * weights[0]
    for tap in range(1, k):
        out.addcmul_(padded.narrow(dim, tap, length), weights[tap])
    return out


def random_grayscale(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Replace each image by its 3-channel grayscale with probability ``p`` (grey
    images: a no-op; the draw is still made, so the random stream does not depend on it)."""
    chosen = _chance(len(x), p, generator).nonzero().squeeze(1)
    if len(chosen) == 0:
        return x
    if x.shape[-3] == 1:
        return x
    out = x.clone()
    where = chosen.to(x.device)
    out[where] = grayscale(x[where]).expand(-1, 3, -1, -1)
    return out


def random_flip(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Mirror each image left-right with probability ``p``."""
    return _mirror(x, _chance(len(x), p, generator))


def _mirror(x: Tensor, flip: Tensor) -> Tensor:
    """Mirror the images whose ``flip`` ([B] bool) is set."""
    return torch.where(flip.to(x.device).view(-1, 1, 1, 1), x.flip(-1), x)


class BatchedRecipe:
    """A recipe applied to a batch: ``[B, C, H, W]`` (uint8 or float in [0, 1]) -> network
    input ``float [B, C', S, S]`` (ImageNet-normalised RGB, normalised grey for grey
    images, or the recipe's colour space).

    ``spec`` is a recipe name or ``RecipeSpec``; ``small`` follows ``build_recipe``
    (None: the small-image rule below 97 px). RandAugment has no batched form: a spec
    that has it needs ``per_image_randaugment=True`` or ``drop_randaugment=True``
    (module docstring).
    """

    def __init__(
        self,
        spec: str | RecipeSpec,
        image_size: int,
        small: bool | None = None,
        drop_randaugment: bool = False,
        per_image_randaugment: bool = False,
    ) -> None:
        spec = get_recipe(spec)
        if small is None:
            small = image_size <= SMALL_IMAGE_RULE.max_side
        if small:
            spec = adapt_to_small_images(spec, image_size)
        if spec.randaugment is not None and not (drop_randaugment or per_image_randaugment):
            raise ValueError(
                f"recipe {spec.name} has RandAugment, which only runs per image on PIL; "
                "pass per_image_randaugment=True (timm's, between the batched steps) or "
                "drop_randaugment=True (without it) to apply the rest of the recipe batched"
            )
        self.randaugment = (
            PILRandAugment(spec.randaugment, image_size)
            if spec.randaugment is not None and per_image_randaugment
            else None
        )
        self.spec = spec
        self.image_size = image_size
        self.blur_kernel = blur_kernel_size(image_size, spec.blur_kernel_fraction)

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if images.dim() != 4:
            raise ValueError(f"expected a batch [B, C, H, W], got {tuple(images.shape)}")
        x = ensure_rgb(images) if self.spec.color_space is not None else grey_or_rgb(images)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        return self.normalise(self.augment(x, generator))

    def augment(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The augmentation steps on float RGB in [0, 1], in the recipes' fixed order."""
        spec, (b, _, h, w) = self.spec, x.shape
        boxes = crop_boxes(b, h, w, spec.crop_scale, generator=generator)
        flips = _chance(b, spec.flip_p, generator)
        x = resized_crop(x, boxes, self.image_size, flips)
        jitter = spec.scaled_jitter
        if jitter is not None and spec.jitter_p > 0:
            x = color_jitter(x, jitter, spec.jitter_p, generator)
        if spec.blur_p > 0:
            x = gaussian_blur(x, self.blur_kernel, spec.blur_sigma, spec.blur_p, generator)
        if self.randaugment is not None:
            x = self.randaugment_each(x)
        if spec.grayscale_p > 0:
            x = random_grayscale(x, spec.grayscale_p, generator)
        return x.clamp(0.0, 1.0)

    def randaugment_each(self, x: Tensor) -> Tensor:
        """timm's RandAugment on each image, on the CPU (PIL), as uint8 like the per-image
        recipe: the only step whose ops have no batched twin drawing the same policy."""
        assert self.randaugment is not None
        images = (x * 255.0).round_().to(torch.uint8).cpu()
        return self.randaugment.each(images).to(x.device, x.dtype) / 255.0

    def normalise(self, x: Tensor) -> Tensor:
        """The recipe's colour space, else ``to_model_input``'s RGB or grey statistics."""
        if self.spec.color_space is not None:
            return to_normalized_color_space(x, self.spec.color_space)
        return to_model_input(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(recipe={self.spec.name!r}, size={self.image_size})"


class BatchedJigsaw:
    """``JigsawPatches`` for a batch: ``[B, C, H, W]`` -> ``[B, grid**2, C', p, p]``.

    Per image, as per image: a RandomResizedCrop (scale ``crop_scale``) to the grid's
    side, a flip, then one random ``p x p`` window inside each cell (row-major order),
    normalised like ``JigsawPatches`` (RGB or grey statistics, or a colour space).
    """

    def __init__(
        self,
        image_size: int,
        *,
        grid: int = 3,
        crop_scale: tuple[float, float] = (0.6, 1.0),
        min_patch: int = 8,
        color_space: str | None = None,
    ) -> None:
        self.geometry = jigsaw_geometry(image_size, grid=grid, min_patch=min_patch)
        self.crop_scale = crop_scale
        self.color_space = None if color_space is None else canonical_color_space(color_space)

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        g = self.geometry
        x = ensure_rgb(images) if self.color_space is not None else grey_or_rgb(images)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        b, _, h, w = x.shape
        boxes = crop_boxes(b, h, w, self.crop_scale, generator=generator)
        x = resized_crop(x, boxes, g.crop, _chance(b, 0.5, generator)).clamp(0.0, 1.0)
        patches = grid_windows(x, g.grid, g.cell, g.patch, generator)
        if self.color_space is not None:
            return to_normalized_color_space(patches, self.color_space)
        return to_model_input(patches)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.geometry}, color_space={self.color_space!r})"


def grid_windows(
    x: Tensor, grid: int, cell: int, patch: int, generator: torch.Generator | None = None
) -> Tensor:
    """``[B, C, grid*cell, grid*cell]`` -> ``[B, grid**2, C, patch, patch]``: one random
    window per cell and image (offsets drawn on the CPU, like every parameter here)."""
    b = len(x)
    slack = cell - patch
    offsets = (torch.rand(b, grid * grid, 2, generator=generator) * (slack + 1)).long()
    corners = torch.arange(grid * grid).view(1, -1)
    top = (corners // grid) * cell + offsets[..., 0]  # [B, 9]
    left = (corners % grid) * cell + offsets[..., 1]
    steps = torch.arange(patch)
    rows = (top.unsqueeze(-1) + steps).to(x.device)  # [B, 9, p]
    cols = (left.unsqueeze(-1) + steps).to(x.device)
    batch = torch.arange(b, device=x.device).view(b, 1, 1, 1)
    windows = x[batch, :, rows.unsqueeze(-1), cols.unsqueeze(-2)]  # [B, 9, p, p, C]
    return windows.permute(0, 1, 4, 2, 3).contiguous()


class BatchedViews:
    """Several batched views of the same images, flattened into one tuple (``MultiView``
    for batches): ``BatchedViews(recipe, recipe, jigsaw)(images) -> (v1, v2, patches)``."""

    def __init__(self, *views: BatchedRecipe | BatchedJigsaw) -> None:
        if not views:
            raise ValueError("BatchedViews needs at least one view")
        self.views = views

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> tuple:
        return tuple(view(images, generator) for view in self.views)

    def __len__(self) -> int:
        return len(self.views)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(v) for v in self.views)
        return f"{type(self).__name__}(\n  {inner}\n)"
