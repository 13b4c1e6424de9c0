"""Pairs of views of labelled images: colour-space splits, patches, recipes, learned g.

Each class here is a `PairSource` (`infomin.views.pairs`): ``pairs`` renders two views
of the same images once per ``(split, n, seed)``, ``probe_set`` gives labelled images
for the frozen probe. What a view experiment measures with them lives above this
package (`infomin.experiments`); the toy's pairs are in `infomin.views.toy`.

- `ColorSpaceSource`: CMC's views, the first channel vs the other two of one colour space.
- `PatchSource`: two patches of one photo at a fixed centre distance.
- `RecipeSource`: two independently augmented copies (recipes A-E, with overrides).
- `LearnedViewSource`: a `ColorSpaceSource` with a learned flow g in place of the space.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from infomin.data import check_location, photos
from infomin.data.photo_patches import PatchPairs, check_distance, patch_pairs
from infomin.data.transforms import to_model_input
from infomin.threads import torch_threads
from infomin.views.colorspaces import (
    canonical_color_space,
    split_channels,
    to_normalized_color_space,
)
from infomin.views.flows import PixelFlow
from infomin.views.images import PHOTO_PATCHES, ImagePool, primary_metric_for
from infomin.views.pairs import PairSet, ProbeSet
from infomin.views.recipes import (
    RandAugmentSpec,
    RecipeSpec,
    RecipeTransform,
    adapt_to_small_images,
    build_recipe,
    get_recipe,
)

SMALL_SIDE = 96  # images at most this side get the small-image defaults of a recipe


# ---------------------------------------------------------------------------------
# Colour-space splits
# ---------------------------------------------------------------------------------


def colorspace_views(images: Tensor, space: str) -> tuple[Tensor, Tensor]:
    """Split images into (first channel, other two) of a standardised colour space.

    Args:
        images: ``uint8 [n, 3, H, W]`` RGB images.
        space: A colour space name (`infomin.views.colorspaces`).

    Returns:
        ``[n, 1, H, W]`` and ``[n, 2, H, W]`` float tensors.
    """
    converted = to_normalized_color_space(images.float() / 255.0, space)
    first, rest = split_channels(converted, (1, 2))
    return first.contiguous(), rest.contiguous()


class ColorSpaceSource:
    """CMC's views: first channel vs the other two of the same image (one encoder each)."""

    def __init__(self, space: str, pool: ImagePool, name: str | None = None) -> None:
        self.space = canonical_color_space(space)
        self.pool = pool
        self.name = name or f"colorspace:{self.space}"
        self.primary_metric = primary_metric_for(pool.data)

    def pairs(self, split: str, n: int, seed: int) -> PairSet:
        return PairSet(*colorspace_views(self.pool.images(split, n, seed).images, self.space))

    def probe_set(self, split: str, n: int, seed: int) -> ProbeSet:
        drawn = self.pool.images(split, n, seed)
        first, rest = colorspace_views(drawn.images, self.space)
        return ProbeSet(first, rest, drawn.targets, drawn.tasks)


class LearnedViewSource:
    """Views g(X)_1 and g(X)_2:3 of the pool's images, g frozen.

    It is `ColorSpaceSource` with g in place of a fixed colour space, so a learned view
    and a fixed split are measured the same way (step 4 of the paper's protocol: freeze
    g, train fresh encoders on its views, probe both encoders' features).
    """

    def __init__(self, flow: PixelFlow, pool: ImagePool, name: str = "learned") -> None:
        self.flow = flow.eval()
        for parameter in self.flow.parameters():
            parameter.requires_grad_(False)
        self.pool = pool
        self.name = name
        self.primary_metric = primary_metric_for(pool.data)

    @torch.no_grad()
    def _views(self, images: Tensor) -> tuple[Tensor, Tensor]:
        return self.flow.views(images)

    def pairs(self, split: str, n: int, seed: int) -> PairSet:
        return PairSet(*self._views(self.pool.images(split, n, seed).images))

    def probe_set(self, split: str, n: int, seed: int) -> ProbeSet:
        drawn = self.pool.images(split, n, seed)
        first, rest = self._views(drawn.images)
        return ProbeSet(first, rest, drawn.targets, drawn.tasks)


# ---------------------------------------------------------------------------------
# Patches of one photo
# ---------------------------------------------------------------------------------


class PatchSource:
    """Two patches of one photo at a fixed centre distance; probe f1 on single patches.

    The photos are the bundled ones, or those of `data_dir` (high-resolution photos, for
    distances of hundreds of pixels). The folder and the distance are checked when the
    source is built, so a sweep refuses an impossible setting before any training.
    """

    primary_metric = "photo.linear_top1"

    def __init__(
        self,
        distance: float,
        size: int = 32,
        photo_size: int = 192,
        name: str | None = None,
        data_dir: str | None = None,
    ) -> None:
        self.distance, self.size, self.photo_size = distance, size, photo_size
        self.name = name or f"patches:distance={distance:g}"
        check_location(PHOTO_PATCHES, data_dir)
        self.data_dir, self.folder = data_dir, photos.as_folder(data_dir)
        for split in photos.SPLITS:
            check_distance(distance, split, size, photo_size, self.folder)

    def raw_pairs(self, split: str, n: int, seed: int) -> PatchPairs:
        """The `uint8` patches, photos, centres and actual distances of `n` pairs."""
        return patch_pairs(self.distance, n, split, self.size, self.photo_size, seed,
                           folder=self.folder)  # fmt: skip

    def pairs(self, split: str, n: int, seed: int) -> PairSet:
        raw = self.raw_pairs(split, n, seed)
        return PairSet(to_model_input(raw.first), to_model_input(raw.second))

    def probe_set(self, split: str, n: int, seed: int) -> ProbeSet:
        pool = ImagePool(PHOTO_PATCHES, self.data_dir, self.size, self.photo_size)
        drawn = pool.images(split, n, seed)
        return ProbeSet(to_model_input(drawn.images), None, drawn.targets, drawn.tasks)


# ---------------------------------------------------------------------------------
# Augmentation recipes
# ---------------------------------------------------------------------------------


def recipe_spec(name: str, image_size: int, overrides: dict[str, Any]) -> RecipeSpec:
    """The exact `RecipeSpec` of a recipe view (small-image defaults, then the overrides).

    Args:
        name: Recipe A-E.
        image_size: Side of the images it will augment (at most 96 px: small defaults).
        overrides: Spec parameters; ``crop_scale=LOW`` is the range (LOW, 1),
            ``blur_sigma=MAX`` is (0.1, MAX), ``randaugment_magnitude`` switches timm's
            increasing ops on; the others replace the field of the same name.
    """
    spec = get_recipe(name)
    if image_size <= SMALL_SIDE:
        spec = adapt_to_small_images(spec, image_size)
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key == "crop_scale":
            changes[key] = (value, 1.0)
        elif key == "blur_sigma":
            changes[key] = (0.1, value)
        elif key == "randaugment_magnitude":
            base = spec.randaugment or RandAugmentSpec()
            changes["randaugment"] = replace(base, magnitude=value, increasing=True)
        else:
            changes[key] = value
    spec = replace(spec, **changes)
    check_blur_override(name, overrides)
    return spec


def check_blur_override(name: str, overrides: dict[str, Any]) -> None:
    """A blur strength on a recipe that never blurs is a mistake: say so (`ValueError`)."""
    blur_p = overrides.get("blur_p", get_recipe(name).blur_p)
    if "blur_sigma" in overrides and blur_p == 0:
        raise ValueError(f"recipe {name} has no blur (blur_p=0): set blur_p as well")


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch, `random` and `numpy.random` (RandAugment uses all three), then restore.

    Also runs torch on one thread: per-image augmentation ops are tiny, and on a busy
    2-core machine intra-op threads made them 20-30x slower (measured: 1.2 vs 35 ms per
    recipe-B view of a 32 px image).
    """
    state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]), torch_threads(1):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            random.setstate(state[0])
            np.random.set_state(state[1])


class RecipeSource:
    """Two independently augmented copies of each image; probe f1 on un-augmented images.

    The un-augmented probe images go through the same final step as the views
    (ImageNet normalisation, or the recipe's colour space for C and E).
    """

    def __init__(
        self, recipe: str, overrides: dict[str, Any], pool: ImagePool, name: str | None = None
    ) -> None:
        self.recipe, self.overrides, self.pool = get_recipe(recipe).name, dict(overrides), pool
        self.name = name or f"recipe:{self.recipe}"
        self.primary_metric = primary_metric_for(pool.data)

    def transform(self, image_size: int) -> RecipeTransform:
        """The built augmentation for images of side ``image_size``."""
        return build_recipe(recipe_spec(self.recipe, image_size, self.overrides), image_size,
                            small=False)  # fmt: skip

    def pairs(self, split: str, n: int, seed: int) -> PairSet:
        images = self.pool.images(split, n, seed).images
        augment = self.transform(int(images.shape[-1]))
        split_id = 0 if split == "train" else 1
        with seeded(int(np.random.SeedSequence([seed, split_id, 11]).generate_state(1)[0])):
            v1 = torch.stack([augment(img) for img in images])
            v2 = torch.stack([augment(img) for img in images])
        return PairSet(v1, v2)

    def probe_set(self, split: str, n: int, seed: int) -> ProbeSet:
        drawn = self.pool.images(split, n, seed)
        space = self.transform(int(drawn.images.shape[-1])).spec.color_space
        images = drawn.images
        clean = (
            to_model_input(images)
            if space is None
            else to_normalized_color_space(images.float() / 255.0, space)
        )
        return ProbeSet(clean, None, drawn.targets, drawn.tasks)
