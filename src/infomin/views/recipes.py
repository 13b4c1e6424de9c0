"""Augmentation recipes A-E of the InfoMin reference code, as data.

A recipe is a frozen ``RecipeSpec`` (numbers only) turned into a transform by
``build_recipe``. The transform takes a dataset image (``uint8 [C, H, W]``, see
docs/design.md) and returns a float tensor ready for the network: ImageNet-normalised
RGB, or the standardised channels of the recipe's colour space (C and E end in YDbDr;
split them 1 | 2 with ``SplitChannels`` for CMC). All augmentation runs on ``uint8``
tensors with torchvision v2 (timm's RandAugment runs on a PIL copy and comes back).

Recipes (paper notes, section 3):

- A (InsDis, MoCo, PIRL): crop, flip, ColorJitter(0.4, 0.4, 0.4, 0.4) always,
  grayscale p=0.2.
- B (MoCo v2): crop, flip, ColorJitter(0.4, 0.4, 0.4, 0.1) p=0.8, grayscale p=0.2,
  Gaussian blur p=0.5 with sigma ~ U(0.1, 2).
- C (CMC): crop, flip, ColorJitter(0.4, 0.4, 0.4, 0.1) always, no grayscale, -> YDbDr.
- D (InfoMin Aug): crop (0.2, 1), flip, ColorJitter(0.8, 0.8, 0.8, 0.2) p=0.8, blur
  p=0.5, RandAugment "rand-n2-m10-mstd0.5" (timm), grayscale p=0.2.
- E (CMCv2): B's jitter and blur, RandAugment restricted to the reference code's list
  without colour ops (AutoContrast, Identity, Rotate, Sharpness, ShearX, ShearY,
  TranslateXRel, TranslateYRel), no grayscale (it would blank the Db/Dr view, and the
  reference code has none), -> YDbDr.

Grey images (1 channel, e.g. Fashion-MNIST) stay grey: the views are ``[1, S, S]``,
normalised with the one-channel statistics of ``to_model_input``. ColorJitter reduces
to brightness and contrast (torchvision's saturation and hue leave one channel as it
is), RandomGrayscale is a no-op, and RandAugment runs on a mode-L PIL image with a
one-value fill (the luma of the RGB fill: timm's affine ops refuse an RGB fill there).
C and E end in a colour space: they refuse grey images (a grey YDbDr has no Db/Dr).

Step order is fixed: crop, flip, jitter, blur, RandAugment, grayscale, colour space.
B applies grayscale before blur in the reference code; both are linear per pixel and
per channel respectively, so they commute and the fixed order gives the same
distribution (up to uint8 rounding).

Crop lower bound: the table holds each recipe's usual negatives source (A and C
0.08, as with a memory bank; B, D, E 0.2, as with a queue). MoCo uses A with a queue:
``build_recipe("A", 224, crop_scale=CROP_SCALE_QUEUE)``.

Gaussian blur: kernel ``blur_kernel_size(side)`` = the odd integer nearest 10% of the
side (at least 3): 23 at 224 px as in the notes, 11 at 96, 3 at 32.

RandAugment (timm's, on a PIL copy; its settings, op lists and what seeds it) is
``infomin.views.randaugment``.

Small images (32-96 px; ``build_recipe(..., small=None)`` switches on for
``image_size <= 96``). The full InfoMin recipe is known to hurt at 32 px (paper notes,
section 3), so ``SmallImageRule`` adapts a spec to the image side:

- crop lower bound raised to at least 0.2: at 0.08 a 32-px view can come from a 9x9-px
  region blown up 3.5x, which leaves little of the object;
- blur: kernel 10% of the side (odd, >= 3) and sigma's upper bound scaled by
  side / 224, so the blur removes the same share of the image's detail as at 224 px
  (sigma in (0.1, 0.29) at 32 px);
- RandAugment: magnitude ``10 x randaugment_strength`` (default strength 0.5 -> m=5)
  with timm's *increasing* op variants. The default list is not monotone in the
  magnitude (Solarize's threshold and Posterize's kept bits fall as m falls, and
  Color/Contrast/Brightness/Sharpness are the identity at m=5), so lowering m there
  would not weaken the policy; in the increasing list every op moves away from the
  identity as m grows, so ``randaugment_strength`` is a real strength knob.

Parameters for strength ladders are plain fields: ``dataclasses.replace(RECIPES["D"],
crop_scale=(0.3, 1.0), jitter_strength=0.5, blur_sigma=(0.1, 1.0),
randaugment=replace(RECIPES["D"].randaugment, magnitude=5))`` or the ``**overrides``
of ``build_recipe``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor
from torchvision.transforms import v2

from infomin.data.transforms import to_model_input
from infomin.views.blur import SeparableGaussianBlur
from infomin.views.colorspaces import canonical_color_space, to_normalized_color_space
from infomin.views.randaugment import CMC_RANDAUGMENT_OPS, PILRandAugment, RandAugmentSpec

#: Crop-scale ranges by negatives source (the reference code's choice).
CROP_SCALE_BANK: tuple[float, float] = (0.08, 1.0)
CROP_SCALE_QUEUE: tuple[float, float] = (0.2, 1.0)

#: The reference size at which the recipes' pixel quantities (blur sigma) are stated.
REFERENCE_SIZE = 224


@dataclass(frozen=True)
class RecipeSpec:
    """One augmentation recipe as numbers; ``build_recipe`` turns it into a transform.

    ``jitter`` is ColorJitter's (brightness, contrast, saturation, hue) at strength 1;
    ``jitter_strength`` multiplies all four (hue capped at 0.5), the knob of the paper's
    colour-jitter ladder. ``blur_sigma`` is stated at 224 px. ``color_space=None``
    means normalised RGB output.
    """

    name: str
    crop_scale: tuple[float, float] = CROP_SCALE_QUEUE
    flip_p: float = 0.5
    jitter: tuple[float, float, float, float] | None = None
    jitter_strength: float = 1.0
    jitter_p: float = 0.0
    grayscale_p: float = 0.0
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_kernel_fraction: float = 0.1
    randaugment: RandAugmentSpec | None = None
    color_space: str | None = None
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        low, high = self.crop_scale
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {self.crop_scale}")
        for label in ("flip_p", "jitter_p", "grayscale_p", "blur_p"):
            p = getattr(self, label)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{label} must be in [0, 1], got {p}")
        if self.jitter_strength < 0:
            raise ValueError(f"jitter_strength must be >= 0, got {self.jitter_strength}")
        if not 0.0 < self.blur_sigma[0] <= self.blur_sigma[1]:
            raise ValueError(f"blur_sigma must satisfy 0 < low <= high, got {self.blur_sigma}")
        if self.color_space is not None:
            canonical_color_space(self.color_space)  # raises on unknown names

    @property
    def scaled_jitter(self) -> tuple[float, float, float, float] | None:
        """ColorJitter arguments after ``jitter_strength`` (hue capped at torchvision's 0.5)."""
        if self.jitter is None:
            return None
        b, c, s, h = (self.jitter_strength * v for v in self.jitter)
        return (b, c, s, min(h, 0.5))


RECIPES: dict[str, RecipeSpec] = {
    "A": RecipeSpec(
        name="A",
        crop_scale=CROP_SCALE_BANK,
        jitter=(0.4, 0.4, 0.4, 0.4),
        jitter_p=1.0,
        grayscale_p=0.2,
        description="InsDis / MoCo / PIRL",
    ),
    "B": RecipeSpec(
        name="B",
        crop_scale=CROP_SCALE_QUEUE,
        jitter=(0.4, 0.4, 0.4, 0.1),
        jitter_p=0.8,
        grayscale_p=0.2,
        blur_p=0.5,
        description="MoCo v2",
    ),
    "C": RecipeSpec(
        name="C",
        crop_scale=CROP_SCALE_BANK,
        jitter=(0.4, 0.4, 0.4, 0.1),
        jitter_p=1.0,
        color_space="ydbdr",
        description="CMC (Y vs DbDr)",
    ),
    "D": RecipeSpec(
        name="D",
        crop_scale=CROP_SCALE_QUEUE,
        jitter=(0.8, 0.8, 0.8, 0.2),
        jitter_p=0.8,
        grayscale_p=0.2,
        blur_p=0.5,
        randaugment=RandAugmentSpec(),
        description="InfoMin Aug",
    ),
    "E": RecipeSpec(
        name="E",
        crop_scale=CROP_SCALE_QUEUE,
        jitter=(0.4, 0.4, 0.4, 0.1),
        jitter_p=0.8,
        blur_p=0.5,
        randaugment=RandAugmentSpec(ops=CMC_RANDAUGMENT_OPS),
        color_space="ydbdr",
        description="CMCv2 (Y vs DbDr)",
    ),
}


@dataclass(frozen=True)
class SmallImageRule:
    """How a recipe is adapted to small images (module docstring gives the reasons)."""

    max_side: int = 96
    min_crop_low: float = 0.2
    randaugment_strength: float = 0.5
    randaugment_increasing: bool = True
    scale_blur_sigma: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.randaugment_strength <= 1.0:
            raise ValueError(
                f"randaugment_strength must be in [0, 1], got {self.randaugment_strength}"
            )


SMALL_IMAGE_RULE = SmallImageRule()


def blur_kernel_size(image_size: int, fraction: float = 0.1) -> int:
    """Odd Gaussian-blur kernel of about ``fraction`` of the side: 23 at 224, 3 at 32."""
    k = round(fraction * image_size)
    if k % 2 == 0:
        k += 1
    return max(3, k)


def adapt_to_small_images(
    spec: RecipeSpec, image_size: int, rule: SmallImageRule = SMALL_IMAGE_RULE
) -> RecipeSpec:
    """The spec ``build_recipe`` uses for a small image side (see ``SmallImageRule``)."""
    low, high = spec.crop_scale
    changes: dict[str, Any] = {"crop_scale": (max(low, rule.min_crop_low), high)}
    if rule.scale_blur_sigma:
        sigma_low, sigma_high = spec.blur_sigma
        scaled_high = max(sigma_low, sigma_high * image_size / REFERENCE_SIZE)
        changes["blur_sigma"] = (sigma_low, scaled_high)
    if spec.randaugment is not None:
        changes["randaugment"] = replace(
            spec.randaugment,
            magnitude=spec.randaugment.magnitude * rule.randaugment_strength,
            increasing=rule.randaugment_increasing,
        )
    return replace(spec, **changes)


def ensure_rgb(img: Tensor) -> Tensor:
    """Three channels: grey images are repeated, an alpha channel is dropped.

    Recipes change colours and colour spaces need RGB; grey datasets (digits) still work.
    """
    channels = img.shape[-3]
    if channels == 3:
        return img
    if channels == 1:
        return img.expand(*img.shape[:-3], 3, *img.shape[-2:])
    if channels == 4:
        return img[..., :3, :, :]
    raise ValueError(f"expected 1, 3 or 4 channels, got {channels}")


def grey_or_rgb(img: Tensor) -> Tensor:
    """One (grey) or three (RGB) channels: grey stays grey, an alpha channel is dropped.

    Views without a colour space keep a grey dataset's single channel, so its encoders
    take 1-channel input instead of three copies of the same plane.
    """
    return img if img.shape[-3] in (1, 3) else ensure_rgb(img)


def refuse_grey(img: Tensor, what: str) -> None:
    """A `ValueError` when a colour-space step (`what`) meets a grey image."""
    if img.shape[-3] == 1:
        raise ValueError(f"{what}: a grey (1-channel) image has no colour to convert")


def _augmentation_steps(spec: RecipeSpec, image_size: int) -> list[Callable[[Tensor], Tensor]]:
    """The uint8 -> uint8 augmentation steps of ``spec``, in the fixed order."""
    steps: list[Callable[[Tensor], Tensor]] = [
        v2.RandomResizedCrop(image_size, scale=spec.crop_scale, antialias=True),
        v2.RandomHorizontalFlip(p=spec.flip_p),
    ]
    jitter = spec.scaled_jitter
    if jitter is not None and spec.jitter_p > 0:
        b, c, s, h = jitter
        color_jitter = v2.ColorJitter(brightness=b, contrast=c, saturation=s, hue=h)
        steps.append(
            color_jitter
            if spec.jitter_p >= 1.0
            else v2.RandomApply([color_jitter], p=spec.jitter_p)
        )
    if spec.blur_p > 0:
        # torchvision's blur as two 1-D passes: same draw and output, 1.73x faster
        # InfoMin Aug at 224 px (bench/data.py).
        kernel = blur_kernel_size(image_size, spec.blur_kernel_fraction)
        blur = SeparableGaussianBlur(kernel_size=kernel, sigma=spec.blur_sigma)
        steps.append(blur if spec.blur_p >= 1.0 else v2.RandomApply([blur], p=spec.blur_p))
    if spec.randaugment is not None:
        steps.append(PILRandAugment(spec.randaugment, image_size))
    if spec.grayscale_p > 0:
        steps.append(v2.RandomGrayscale(p=spec.grayscale_p))
    return steps


class RecipeTransform:
    """A built recipe: ``uint8 [C, H, W]`` image -> float ``[C', S, S]`` network input.

    ``spec`` is the effective spec (after the small-image rule), ``augment`` the uint8
    pipeline; output is normalised RGB or grey (``to_model_input``; grey stays 1
    channel), or the standardised channels of ``spec.color_space`` (RGB input only).
    """

    def __init__(self, spec: RecipeSpec, image_size: int) -> None:
        self.spec = spec
        self.image_size = image_size
        self.augment = v2.Compose(_augmentation_steps(spec, image_size))

    def __call__(self, img: Tensor) -> Tensor:
        if img.dtype != torch.uint8:
            raise TypeError(f"recipes take uint8 images [C, H, W], got {img.dtype}")
        if self.spec.color_space is None:
            return to_model_input(self.augment(grey_or_rgb(img)))
        refuse_grey(img, f"recipe {self.spec.name} ends in colour space {self.spec.color_space}")
        out = self.augment(ensure_rgb(img))
        return to_normalized_color_space(out.float() / 255.0, self.spec.color_space)

    def step(self, kind: type) -> Any:
        """The first augmentation step of type ``kind`` (looking inside RandomApply), or None."""
        for step in self.augment.transforms:
            inner = step.transforms if isinstance(step, v2.RandomApply) else [step]
            for t in inner:
                if isinstance(t, kind):
                    return t
        return None

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(recipe={self.spec.name!r}, size={self.image_size}, {self.augment})"


def get_recipe(name_or_spec: str | RecipeSpec) -> RecipeSpec:
    """The spec for a table name ("A".."E", any case) or the spec itself."""
    if isinstance(name_or_spec, RecipeSpec):
        return name_or_spec
    key = str(name_or_spec).upper()
    if key not in RECIPES:
        raise ValueError(f"unknown recipe {name_or_spec!r}; choose one of: {', '.join(RECIPES)}")
    return RECIPES[key]


def build_recipe(
    name_or_spec: str | RecipeSpec,
    image_size: int,
    small: bool | None = None,
    *,
    small_rule: SmallImageRule = SMALL_IMAGE_RULE,
    **overrides: Any,
) -> RecipeTransform:
    """Build recipe ``name_or_spec`` for square outputs of side ``image_size``.

    ``overrides`` replace spec fields first (``crop_scale=CROP_SCALE_QUEUE``,
    ``jitter_strength=0.5``, ...). ``small=None`` applies ``small_rule`` when
    ``image_size <= small_rule.max_side``; ``True``/``False`` force it on/off. The rule
    runs after the overrides (it may raise an overridden crop bound): pass ``small=False``
    to keep a ladder's exact values on small images.
    """
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8 px, got {image_size}")
    spec = get_recipe(name_or_spec)
    if overrides:
        spec = replace(spec, **overrides)
    if small is None:
        small = image_size <= small_rule.max_side
    if small:
        spec = adapt_to_small_images(spec, image_size, small_rule)
    return RecipeTransform(spec, image_size)
