"""RandAugment of recipes D and E: timm's implementation on a PIL copy of the image.

Why a module of its own: RandAugment is the one step that leaves torch (timm works on
PIL images), with its own settings (`RandAugmentSpec`), op lists and reproducibility
rules; the recipes (`infomin.views.recipes`) only say where it runs.

timm's RandAugment (verified in timm 1.0 source, ``timm.data.auto_augment``):
``rand-n2-m10-mstd0.5`` uses timm's default op list (15 ops, not the "increasing"
variants); ``RandAugment.__call__`` draws ``n`` ops with ``numpy.random.choice(...,
replace=True)``; each ``AugmentOp`` skips itself when ``random.random() > prob``
(prob 0.5), draws its magnitude with ``random.gauss(m, mstd)`` and clips it to
[0, 10]; signs of rotate/shear/translate and the bilinear/bicubic choice also use
``random``. So a view is reproducible only when torch, ``random`` and ``numpy.random``
are all seeded (DataLoader workers seed all three). Fill colour comes from
``hparams["img_mean"]`` (ImageNet mean in 0-255 ints, (124, 116, 104)); the
translate ops of the default list are the *relative* ones (``translate_pct``, 0.45 of
the image size, so they scale with the image by themselves); ``translate_const`` (used
only by the absolute ops) is set to 0.45 x side as timm's own factory does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from PIL import Image
from timm.data import auto_augment as timm_aa
from torch import Tensor
from torchvision.transforms.v2 import functional as tvf

#: RandAugment's fill colour: the ImageNet mean ``RGB_MEAN`` in 0-255 ints (rounded).
IMAGENET_MEAN_255: tuple[int, int, int] = (124, 116, 104)

#: The CMCv2 RandAugment list: geometric ops plus two that keep hue (reference code).
CMC_RANDAUGMENT_OPS: tuple[str, ...] = (
    "AutoContrast",
    "Identity",
    "Rotate",
    "Sharpness",
    "ShearX",
    "ShearY",
    "TranslateXRel",
    "TranslateYRel",
)


@dataclass(frozen=True)
class RandAugmentSpec:
    """timm RandAugment settings; ``config_str`` is what timm parses.

    ``ops=None`` means timm's default list (or its increasing variants when
    ``increasing``); a tuple names timm ops, plus ``"Identity"`` (a no-op, not in timm).
    ``magnitude`` may be fractional (timm's config string only takes integers; the
    exact value is written onto the ops after construction).
    """

    num_ops: int = 2
    magnitude: float = 10.0
    magnitude_std: float = 0.5
    prob: float = 0.5
    increasing: bool = False
    ops: tuple[str, ...] | None = None
    fill: tuple[int, ...] = IMAGENET_MEAN_255  # RGB; one value for grey images
    translate_fraction: float = 0.45

    def __post_init__(self) -> None:
        if self.num_ops < 1:
            raise ValueError(f"RandAugment needs num_ops >= 1, got {self.num_ops}")
        if not 0.0 <= self.magnitude <= 10.0:
            raise ValueError(f"RandAugment magnitude must be in [0, 10], got {self.magnitude}")
        if not 0.0 <= self.prob <= 1.0:
            raise ValueError(f"RandAugment op probability must be in [0, 1], got {self.prob}")
        if self.magnitude_std < 0:
            raise ValueError(f"RandAugment magnitude_std must be >= 0, got {self.magnitude_std}")

    @property
    def config_str(self) -> str:
        """timm's config string, e.g. ``rand-n2-m10-mstd0.5``."""
        parts = [
            "rand",
            f"n{self.num_ops}",
            f"m{round(self.magnitude)}",
            f"mstd{self.magnitude_std:g}",
        ]
        if self.prob != 0.5:
            parts.append(f"p{self.prob:g}")
        if self.increasing:
            parts.append("inc1")
        return "-".join(parts)


class _IdentityOp:
    """RandAugment's "Identity" op (the CMCv2 list has it; timm does not): a no-op draw."""

    name = "Identity"
    prob = 1.0
    magnitude = 0.0

    def __call__(self, img: Image.Image) -> Image.Image:
        return img

    def __repr__(self) -> str:
        return "AugmentOp(name=Identity)"


def _timm_op_names(ops: tuple[str, ...], increasing: bool) -> list[str]:
    """Map op names to timm's, taking the "Increasing" variant when asked and available."""
    names = []
    for name in ops:
        if name == "Identity":
            continue
        if increasing and f"{name}Increasing" in timm_aa.NAME_TO_OP:
            name = f"{name}Increasing"
        if name not in timm_aa.NAME_TO_OP:
            raise ValueError(f"unknown RandAugment op {name!r}")
        names.append(name)
    return names


def _posterize_keeping_a_bit(img: Image.Image, bits_to_keep: int, **kwargs: Any) -> Image.Image:
    """timm maps the top magnitudes to 0 bits, which Pillow >= 11 refuses (ValueError);
    1 bit is the same extreme and always valid."""
    return timm_aa.posterize(img, max(1, int(bits_to_keep)), **kwargs)


def build_timm_randaugment(spec: RandAugmentSpec, image_size: int) -> timm_aa.RandAugment:
    """timm's RandAugment for ``spec`` on images of side ``image_size`` (works on PIL)."""
    hparams = {
        "translate_const": int(spec.translate_fraction * image_size),
        "translate_pct": spec.translate_fraction,
        "img_mean": tuple(spec.fill),
    }
    transforms = None if spec.ops is None else _timm_op_names(spec.ops, spec.increasing)
    randaugment = timm_aa.rand_augment_transform(spec.config_str, hparams, transforms=transforms)
    if spec.ops is not None and "Identity" in spec.ops:
        randaugment.ops.append(_IdentityOp())
    for op in randaugment.ops:
        op.magnitude = float(spec.magnitude)
        if op.name.startswith("Posterize"):
            op.aug_fn = _posterize_keeping_a_bit
    return randaugment


def grey_level(rgb: tuple[int, ...]) -> int:
    """The grey value torchvision gives the RGB colour ``rgb`` (0-255 ints)."""
    pixel = torch.tensor(rgb, dtype=torch.uint8).view(3, 1, 1)
    return int(tvf.rgb_to_grayscale(pixel))


class PILRandAugment:
    """Apply timm's RandAugment (a PIL transform) to a ``uint8 [C, H, W]`` tensor, C = 1 or 3.

    A grey image becomes a mode-L PIL image, whose ops need a one-value fill: those run
    a second timm transform, the same spec with the fill's grey level.
    """

    def __init__(self, spec: RandAugmentSpec, image_size: int) -> None:
        self.spec = spec
        self.timm_transform = build_timm_randaugment(spec, image_size)
        grey_spec = replace(spec, fill=(grey_level(spec.fill),))
        self.timm_grey_transform = build_timm_randaugment(grey_spec, image_size)

    def __call__(self, img: Tensor) -> Tensor:
        return self.each(img.unsqueeze(0))[0]

    def each(self, images: Tensor) -> Tensor:
        """The policy on every image of a ``uint8 [B, C, H, W]`` CPU batch, in order (so the
        same draws as one call per image), with one layout change for the batch: PIL
        images are made from, and read back into, numpy views of one ``[B, H, W, C]``
        array. Measured at 32 px, batch 128, 1 thread: 1.8 ms of conversions against 3.8
        with torchvision's ``to_pil_image`` / ``pil_to_tensor`` per image."""
        grey = images.shape[-3] == 1
        transform = self.timm_grey_transform if grey else self.timm_transform
        pixels = images.permute(0, 2, 3, 1).contiguous().numpy()
        if grey:
            pixels = pixels[..., 0]  # mode L wants [H, W]
        out = np.stack([np.asarray(transform(Image.fromarray(image))) for image in pixels])
        out = torch.from_numpy(out)
        return out.unsqueeze(1) if grey else out.permute(0, 3, 1, 2)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec.config_str}, ops={len(self.timm_transform.ops)})"
