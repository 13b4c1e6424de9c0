"""View specs: one short string names a pair of views, parsed into a `PairSource`.

Why a string: `infomin mi` and `infomin sweep` take views on the command line, and a
sweep changes one parameter of a spec at a time (`with_param`), so the views of every
experiment must be nameable, comparable and round-trippable as text.

Grammar (``GRAMMAR`` below, shown in every error)::

    SPEC  := KIND [":" ITEM ("," ITEM)*]
    ITEM  := VALUE            the kind's main parameter (only as the first item)
           | NAME "=" VALUE

Kinds, their parameters, and what the probe sees:

- ``colorspace:SPACE[,size=PX,photo_size=PX]`` (main: ``space``): v1 = the first
  channel, v2 = the other two of the same image in colour space SPACE (lab, ycbcr, ydbdr,
  yuv, yiq, ypbpr, xyz, hsv, hed, luv, rgbcie, or rgb), each channel standardised
  (`to_normalized_color_space`); one encoder per group. Probe: both encoders' features
  concatenated (CMC's protocol).
- ``patches:distance=PX[,size=PX,photo_size=PX]`` (main: ``distance``): two
  ``size``-px patches (default 32) of one photo whose centres are ``distance`` px apart,
  on photos resized to short side ``photo_size`` (default 192). photo-patches only.
  Probe: f1 on single patches, label = the photo.
- ``recipe:NAME[,crop_scale=LOW,jitter_strength=S,blur_sigma=MAX,blur_p=P,
  blur_kernel_fraction=F,randaugment_magnitude=M,grayscale_p=P,jitter_p=P,flip_p=P,
  size=PX,photo_size=PX]`` (main: ``recipe``, one of A-E): two independently augmented
  copies of the same image. On images of at most 96 px the recipe's *defaults* are first
  adapted by `adapt_to_small_images`; the parameters written in the spec then apply exactly
  (``crop_scale=LOW`` is the crop range (LOW, 1); ``blur_sigma=MAX`` is sigma ~ U(0.1,
  MAX) px at the image's own size, with a kernel of about F x side (default 0.1: 3x3 at
  16-32 px, which caps the blur near sigma 1); ``randaugment_magnitude=M`` in [0, 10]
  uses timm's *increasing* ops, so M is a real strength knob, and adds RandAugment (2
  ops, p 0.5) to recipes without it). Probe: f1 on the un-augmented images.
- ``toy:SHARED[,ladder=S,canvas=PX,digit_size=PX,dim=F]`` (main: ``shared``) or
  ``toy:ladder=S``: Colorful-Moving-MNIST frames sharing the factors SHARED (digit,
  position, background joined by "+", or all / none); ``ladder`` in [0, 2] is the toy's
  strength ladder (its SHARED defaults to digit+background). Delegates to
  `infomin.views.toy.ToyPairSource` (probe: f2 on single frames).
- ``learned:PATH[,size=PX,photo_size=PX]`` (main: ``path``): a view generator g saved by
  `infomin learn-views` (a learned colour space, `infomin.view_learning`): v1 = g(X)_1,
  v2 = g(X)_2:3 of the same image, g frozen; probe as for colorspace. PATH may not contain
  a comma.

``size`` is the image side: the patch side on photo-patches (default 32; ``photo_size``
is the photos' short side, default 192, so size=16,photo_size=96 sees the same field at
half resolution), a resize + centre crop on other datasets.

Datasets (``data`` argument / ``--data``). colorspace, recipe and learned take any labelled image
dataset of `infomin.data.load_dataset`; their default is ``photo-patches`` (32 px patches
of 11 photos, label = the photo): natural colour statistics are what colour spaces and
colour augmentations act on, and "which photo is this patch from" is a downstream task
that needs both luminance structure and colour. ``colorful-moving-digits`` frames
(label = the digit; background and position are probed too) are the alternative, where
colour is pure nuisance for the digit. patches needs photo-patches, toy needs
colorful-moving-digits. Each source names its headline metric in ``primary_metric``.

Pairs are rendered once per (split, n, seed) and held in memory (the critic engine's
`PairSet`): a recipe's augmentation is drawn once per pair, not afresh every epoch.
"""

from __future__ import annotations

import contextlib
import functools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from infomin.data.base import DatasetError, Task
from infomin.data.photo_patches import PatchPairs, patch_pairs
from infomin.data.transforms import to_model_input
from infomin.experiments.pairs import PairSet, PairSource, ProbeSet
from infomin.views.colorspaces import (
    canonical_color_space,
    split_channels,
    to_normalized_color_space,
)
from infomin.views.recipes import (
    RandAugmentSpec,
    RecipeSpec,
    RecipeTransform,
    adapt_to_small_images,
    build_recipe,
    ensure_rgb,
    get_recipe,
)

GRAMMAR = (
    "SPEC is KIND[:ITEM,...] with ITEM = VALUE (main parameter, first) or NAME=VALUE; kinds: "
    "colorspace:SPACE[,size=PX,photo_size=PX] | patches:distance=PX[,size=PX,photo_size=PX] | "
    "recipe:A..E[,crop_scale=LOW,jitter_strength=S,blur_sigma=MAX,blur_p=P,"
    "blur_kernel_fraction=F,randaugment_magnitude=M,grayscale_p=P,jitter_p=P,flip_p=P,size=PX,"
    "photo_size=PX] | "
    "toy:SHARED[,ladder=S,canvas=PX,digit_size=PX,dim=F] or toy:ladder=S | "
    "learned:PATH[,size=PX,photo_size=PX]"
)

PHOTO_PATCHES = "photo-patches"
DIGITS = "colorful-moving-digits"
SMALL_SIDE = 96  # images at most this side get the small-image defaults of a recipe


class SpecError(ValueError):
    """A view spec that does not follow the grammar (the message ends with ``GRAMMAR``)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"bad view spec: {message}. {GRAMMAR}")


# ---------------------------------------------------------------------------------
# Parameter converters: text -> checked value (raise ValueError with the reason)
# ---------------------------------------------------------------------------------


def _number(low: float, high: float | None = None, low_open: bool = False):
    """A float converter with bounds (inclusive; ``low_open``: strictly above ``low``)."""
    if high is None:
        bound = f"> {low:g}" if low_open else f">= {low:g}"
    else:
        bound = f"in {'(' if low_open else '['}{low:g}, {high:g}]"

    def convert(text: str) -> float:
        value = float(text)
        too_low = value <= low if low_open else value < low
        if too_low or (high is not None and value > high) or value != value:
            raise ValueError(f"must be {bound}, got {text}")
        return value

    return convert


def _integer(low: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        value = int(text)
        if value < low:
            raise ValueError(f"must be an integer >= {low}, got {text}")
        return value

    return convert


def _shared(text: str) -> str:
    from infomin.views.toy import parse_shared, shared_label

    return shared_label(parse_shared(text))


def _recipe_name(text: str) -> str:
    return get_recipe(text).name


def _path(text: str) -> str:
    if not text:
        raise ValueError("needs a file path")
    return text


_PROBABILITY = _number(0.0, 1.0)


@dataclass(frozen=True)
class Kind:
    """One kind of views: its parameters (in canonical order) and how it is built."""

    name: str
    main: str  # the parameter a bare first value sets
    params: dict[str, Callable[[str], Any]]
    required: tuple[str, ...]
    datasets: tuple[str, ...] | None  # None: any labelled image dataset
    default_data: str
    build: Callable[[dict[str, Any], str, str | None, str], PairSource] = field(repr=False)
    bare_main: bool = True  # write the main parameter without its name (colorspace:lab)


def _pool(p: dict[str, Any], data: str, data_dir: str | None) -> ImagePool:
    if "photo_size" in p and data != PHOTO_PATCHES:
        raise DatasetError(f"photo_size applies to photo-patches only, not {data!r}")
    return ImagePool(data, data_dir, p.get("size"), p.get("photo_size"))


def _build_colorspace(p: dict[str, Any], data: str, data_dir: str | None, name: str) -> PairSource:
    return ColorSpaceSource(p["space"], _pool(p, data, data_dir), name)


def _build_patches(p: dict[str, Any], data: str, data_dir: str | None, name: str) -> PairSource:
    size, photo_size = int(p.get("size", 32)), int(p.get("photo_size", 192))
    return PatchSource(p["distance"], size, photo_size, name)


def _build_recipe(p: dict[str, Any], data: str, data_dir: str | None, name: str) -> PairSource:
    overrides = {k: v for k, v in p.items() if k not in ("recipe", "size", "photo_size")}
    return RecipeSource(p["recipe"], overrides, _pool(p, data, data_dir), name)


def _build_toy(p: dict[str, Any], data: str, data_dir: str | None, name: str) -> PairSource:
    from infomin.views.toy import ToyPairSource

    shared = p.get("shared", "digit+background" if "ladder" in p else None)
    if shared is None:
        raise SpecError("toy needs the shared factors (toy:digit+background) or a ladder")
    options = {k: p[k] for k in ("canvas", "digit_size", "dim", "ladder") if k in p}
    return ToyPairSource(shared, **options)


def _build_learned(p: dict[str, Any], data: str, data_dir: str | None, name: str) -> PairSource:
    from infomin.view_learning.flows import load_flow
    from infomin.view_learning.source import LearnedViewSource

    return LearnedViewSource(load_flow(p["path"]), _pool(p, data, data_dir), name)


_RECIPE_PARAMS: dict[str, Callable[[str], Any]] = {
    "recipe": _recipe_name,
    "crop_scale": _number(0.0, 1.0, low_open=True),
    "jitter_strength": _number(0.0),
    "jitter_p": _PROBABILITY,
    "blur_sigma": _number(0.1),
    "blur_p": _PROBABILITY,
    "blur_kernel_fraction": _number(0.0, 1.0, low_open=True),
    "randaugment_magnitude": _number(0.0, 10.0),
    "grayscale_p": _PROBABILITY,
    "flip_p": _PROBABILITY,
    "size": _integer(8),
    "photo_size": _integer(16),
}

KINDS: dict[str, Kind] = {
    "colorspace": Kind(
        "colorspace",
        "space",
        {"space": canonical_color_space, "size": _integer(8), "photo_size": _integer(16)},
        ("space",),
        None,
        PHOTO_PATCHES,
        _build_colorspace,
    ),
    "patches": Kind(
        "patches",
        "distance",
        {"distance": _number(0.0), "size": _integer(8), "photo_size": _integer(16)},
        ("distance",),
        (PHOTO_PATCHES,),
        PHOTO_PATCHES,
        _build_patches,
        bare_main=False,  # patches:distance=16 reads better than patches:16
    ),
    "recipe": Kind(
        "recipe", "recipe", _RECIPE_PARAMS, ("recipe",), None, PHOTO_PATCHES, _build_recipe
    ),
    "toy": Kind(
        "toy",
        "shared",
        {
            "shared": _shared,
            "ladder": _number(0.0, 2.0),
            "canvas": _integer(8),
            "digit_size": _integer(1),
            "dim": _PROBABILITY,
        },
        (),
        (DIGITS,),
        DIGITS,
        _build_toy,
    ),
    "learned": Kind(
        "learned",
        "path",
        {"path": _path, "size": _integer(8), "photo_size": _integer(16)},
        ("path",),
        None,
        PHOTO_PATCHES,
        _build_learned,
    ),
}


# ---------------------------------------------------------------------------------
# Parsing and formatting
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewSpec:
    """A parsed spec: the kind and its parameters as canonical text."""

    kind: str
    params: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        info = KINDS[self.kind]
        items = [v if k == info.main and info.bare_main else f"{k}={v}" for k, v in self.params]
        return f"{self.kind}:{','.join(items)}" if items else self.kind

    def values(self) -> dict[str, Any]:
        """The parameters converted to their Python values."""
        converters = KINDS[self.kind].params
        return {k: converters[k](v) for k, v in self.params}


def _canonical_text(value: Any) -> str:
    """How a converted value is written back: numbers with ``:g`` (0.30 -> 0.3)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return f"{value:g}"
    return str(value)


def _split_items(kind: Kind, body: str) -> dict[str, str]:
    """``"lab,size=16"`` -> ``{"space": "lab", "size": "16"}`` (no conversion yet)."""
    items: dict[str, str] = {}
    for position, item in enumerate(part.strip() for part in body.split(",")):
        if not item:
            raise SpecError(f"empty item in {body!r}")
        name, has_eq, value = item.partition("=")
        if not has_eq:
            if position != 0:
                raise SpecError(f"bare value {item!r} must come first (or write NAME=VALUE)")
            name, value = kind.main, item
        name, value = name.strip(), value.strip()
        if name in items:
            raise SpecError(f"parameter {name!r} given twice")
        items[name] = value
    return items


def _canonical_params(kind: Kind, raw: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Check names, requirements and values; order the parameters canonically."""
    for name in raw:
        if name not in kind.params:
            raise SpecError(
                f"{kind.name} has no parameter {name!r} (parameters: {', '.join(kind.params)})"
            )
    missing = [name for name in kind.required if name not in raw]
    if missing:
        raise SpecError(f"{kind.name} needs {missing[0]}")
    params = []
    for name in kind.params:
        if name in raw:
            try:
                value = kind.params[name](raw[name])
            except ValueError as err:
                raise SpecError(f"{kind.name} {name}={raw[name]}: {err}") from None
            params.append((name, _canonical_text(value)))
    return tuple(params)


def parse_spec(spec: str) -> ViewSpec:
    """Parse and validate the text of a spec (no data is touched)."""
    text = spec.strip()
    kind_name, _, body = text.partition(":")
    kind_name = kind_name.strip().lower()
    if kind_name not in KINDS:
        raise SpecError(f"unknown kind {kind_name!r} in {spec!r}")
    kind = KINDS[kind_name]
    raw = _split_items(kind, body) if body.strip() else {}
    return ViewSpec(kind.name, _canonical_params(kind, raw))


def with_param(spec: str, name: str, value: object) -> str:
    """The canonical spec with parameter ``name`` set to ``value`` (what sweeps vary)."""
    parsed = parse_spec(spec)
    kind = KINDS[parsed.kind]
    raw = dict(parsed.params)
    raw[name] = str(value)
    return str(ViewSpec(kind.name, _canonical_params(kind, raw)))


def spec_parameters(spec: str) -> tuple[str, ...]:
    """The parameter names the spec's kind accepts (for help texts and `--vary` checks)."""
    return tuple(KINDS[parse_spec(spec).kind].params)


def default_data(spec: str) -> str:
    """The dataset a spec uses when none is given."""
    return KINDS[parse_spec(spec).kind].default_data


def parse_view_spec(spec: str, data: str | None = None, data_dir: str | None = None) -> PairSource:
    """Build the `PairSource` that ``spec`` names, on dataset ``data`` (None: its default)."""
    parsed = parse_spec(spec)
    kind = KINDS[parsed.kind]
    data = data or kind.default_data
    if kind.datasets is not None and data not in kind.datasets:
        raise DatasetError(
            f"{kind.name} views need data {' or '.join(kind.datasets)}, not {data!r}"
        )
    return kind.build(parsed.values(), data, data_dir, str(parsed))


# ---------------------------------------------------------------------------------
# Labelled images of a dataset split
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledImages:
    """`uint8 [n, 3, H, W]` images with their targets and task descriptions."""

    images: Tensor
    targets: dict[str, Tensor]
    tasks: dict[str, Task]


@dataclass(frozen=True)
class ImagePool:
    """Where a source's images come from: dataset name, folder, side and photo scale.

    The embedded datasets are generated with exactly `n` items (photo-patches at patch
    side ``size``, default 32; colorful-moving-digits frame 0); datasets read from disk
    (CIFAR, STL-10, folders) are subsampled without replacement and, with ``size``,
    resized and centre-cropped. The same (split, n, seed) always gives the same images.
    """

    data: str
    data_dir: str | None = None
    size: int | None = None
    photo_size: int | None = None

    def images(self, split: str, n: int, seed: int) -> LabelledImages:
        return _load_images(self, split, n, seed)


@functools.lru_cache(maxsize=4)
def _load_images(pool: ImagePool, split: str, n: int, seed: int) -> LabelledImages:
    """Cached: a sweep's settings draw the same images, and drawing costs seconds."""
    from infomin.data import load_dataset

    if pool.data == PHOTO_PATCHES:
        options: dict[str, Any] = {"num_patches": n, "seed": seed}
        if pool.size is not None:
            options["patch_size"] = pool.size
        if pool.photo_size is not None:
            options["photo_size"] = pool.photo_size
        return _stack(load_dataset(PHOTO_PATCHES, split, **options), range(n))
    if pool.data == DIGITS:
        dataset = load_dataset(DIGITS, split, num_clips=n, frames=1, seed=seed)
        return _stack(dataset, range(n), pool.size)
    dataset = load_dataset(pool.data, split, pool.data_dir)
    if not dataset.tasks:
        raise DatasetError(f"dataset {pool.data!r} has no labels: view experiments need a probe")
    if n > len(dataset):
        raise DatasetError(f"{pool.data} {split} has {len(dataset)} images, {n} requested")
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    return _stack(dataset, order[:n].tolist(), pool.size)


def _stack(dataset: Any, indices: Any, size: int | None = None) -> LabelledImages:
    """Stack raw items as RGB, resized and centre-cropped to ``size`` when it differs."""
    from torchvision.transforms.v2 import functional as tvf

    images, targets = [], []
    for i in indices:
        image, target = dataset.raw_item(int(i))
        image = ensure_rgb(image)
        if size is not None and tuple(image.shape[-2:]) != (size, size):
            image = tvf.center_crop(tvf.resize(image, size, antialias=True), [size, size])
        images.append(image)
        targets.append(target)
    if len({tuple(img.shape) for img in images}) > 1:
        raise DatasetError(f"images of {dataset.name} differ in size: add size=PX to the spec")
    stacked = {k: torch.stack([t[k] for t in targets]) for k in targets[0]} if targets else {}
    return LabelledImages(torch.stack(images).contiguous(), stacked, dict(dataset.tasks))


def _primary_for(data: str) -> str | None:
    """The headline metric of a dataset (None: the first `*.linear_top1` the probe returns)."""
    return {PHOTO_PATCHES: "photo.linear_top1", DIGITS: "digit.linear_top1"}.get(data)


# ---------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------


def colorspace_views(images: Tensor, space: str) -> tuple[Tensor, Tensor]:
    """(first channel, other two) of `uint8` RGB images in standardised colour space."""
    converted = to_normalized_color_space(images.float() / 255.0, space)
    first, rest = split_channels(converted, (1, 2))
    return first.contiguous(), rest.contiguous()


class ColorSpaceSource:
    """CMC's views: first channel vs the other two of the same image (one encoder each)."""

    def __init__(self, space: str, pool: ImagePool, name: str | None = None) -> None:
        self.space = canonical_color_space(space)
        self.pool = pool
        self.name = name or f"colorspace:{self.space}"
        self.primary_metric = _primary_for(pool.data)

    def pairs(self, split: str, n: int, seed: int) -> PairSet:
        return PairSet(*colorspace_views(self.pool.images(split, n, seed).images, self.space))

    def probe_set(self, split: str, n: int, seed: int) -> ProbeSet:
        drawn = self.pool.images(split, n, seed)
        first, rest = colorspace_views(drawn.images, self.space)
        return ProbeSet(first, rest, drawn.targets, drawn.tasks)


class PatchSource:
    """Two patches of one photo at a fixed centre distance; probe f1 on single patches."""

    primary_metric = "photo.linear_top1"

    def __init__(
        self, distance: float, size: int = 32, photo_size: int = 192, name: str | None = None
    ) -> None:
        self.distance, self.size, self.photo_size = distance, size, photo_size
        self.name = name or f"patches:distance={distance:g}"

    def raw_pairs(self, split: str, n: int, seed: int) -> PatchPairs:
        """The `uint8` patches, photos, centres and actual distances of `n` pairs."""
        return patch_pairs(self.distance, n, split, self.size, self.photo_size, seed)

    def pairs(self, split: str, n: int, seed: int) -> PairSet:
        raw = self.raw_pairs(split, n, seed)
        return PairSet(to_model_input(raw.first), to_model_input(raw.second))

    def probe_set(self, split: str, n: int, seed: int) -> ProbeSet:
        pool = ImagePool(PHOTO_PATCHES, size=self.size, photo_size=self.photo_size)
        drawn = pool.images(split, n, seed)
        return ProbeSet(to_model_input(drawn.images), None, drawn.targets, drawn.tasks)


def recipe_spec(name: str, image_size: int, overrides: dict[str, Any]) -> RecipeSpec:
    """The exact `RecipeSpec` of a recipe view (small-image defaults, then the overrides)."""
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
    if "blur_sigma" in overrides and spec.blur_p == 0:
        raise SpecError(f"recipe {name} has no blur (blur_p=0): set blur_p as well")
    return spec


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch, `random` and `numpy.random` (RandAugment uses all three), then restore.

    Also runs torch on one thread: per-image augmentation ops are tiny, and on a busy
    2-core machine intra-op threads made them 20-30x slower (measured: 1.2 vs 35 ms per
    recipe-B view of a 32 px image).
    """
    state = random.getstate(), np.random.get_state()
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
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
        self.primary_metric = _primary_for(pool.data)

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
