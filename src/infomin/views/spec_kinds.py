"""The kinds of views a SPEC can name, written once: parameters, meaning, data, builder.

Why a table: the grammar's text (``GRAMMAR``, the end of every `SpecError`), the help
texts (`kinds_help`), the parser (`infomin.views.specs`) and the builders all read
`KINDS`, so a new kind of views is one entry here and cannot disagree with its help.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infomin.data.base import DatasetError
from infomin.views.colorspaces import canonical_color_space
from infomin.views.flows import load_flow
from infomin.views.images import DIGITS, PHOTO_PATCHES, ImagePool
from infomin.views.pairs import PairSource
from infomin.views.recipes import get_recipe
from infomin.views.sources import (
    ColorSpaceSource,
    LearnedViewSource,
    PatchSource,
    RecipeSource,
    check_blur_override,
)
from infomin.views.toy import ToyPairSource, parse_shared, shared_label

GRAMMAR_HEAD = (
    "SPEC is KIND[:ITEM,...] with ITEM = VALUE (main parameter, first) or NAME=VALUE; kinds: "
)


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
        if too_low or (high is not None and value > high) or not math.isfinite(value):
            raise ValueError(f"must be a finite number {bound}, got {text}")
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
    return shared_label(parse_shared(text))


def _recipe_name(text: str) -> str:
    return get_recipe(text).name


def _path(text: str) -> str:
    if not text:
        raise ValueError("needs a file path")
    return text


@dataclass(frozen=True)
class Param:
    """One parameter of a kind: how its text is checked and how the grammar writes it."""

    convert: Callable[[str], Any]
    placeholder: str  # e.g. PX, in "size=PX"


_PROBABILITY = Param(_number(0.0, 1.0), "P")
_SIZES = {"size": Param(_integer(8), "PX"), "photo_size": Param(_integer(16), "PX")}
# Views of any labelled dataset: `holdout=N` scores on N training images instead of the
# test split (see `ImagePool`), so that views can be chosen without the test set.
_POOL = {**_SIZES, "holdout": Param(_integer(1), "N")}
POOL_PARAMS = tuple(_POOL)

# ---------------------------------------------------------------------------------
# The kinds
# ---------------------------------------------------------------------------------

Builder = Callable[[dict[str, Any], str, str | None, str], PairSource]
ColourUse = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True)
class Kind:
    """One kind of views: its parameters (in canonical order), meaning and builder."""

    name: str
    main: str  # the parameter a bare first value sets
    params: dict[str, Param]
    required: tuple[str, ...]
    datasets: tuple[str, ...] | None  # None: any labelled image dataset
    default_data: str
    build: Builder = field(repr=False)
    about: str = ""  # what the views are and what the probe sees (help text)
    bare_main: bool = True  # write the main parameter without its name (colorspace:lab)
    alternative: str = ""  # another accepted form, shown in the grammar
    # What in these views needs colour (None: grey images will do): refused on grey data.
    colour_use: ColourUse | None = field(default=None, repr=False)

    def usage(self) -> str:
        """The kind's line of the grammar, e.g. ``colorspace:SPACE[,size=PX,photo_size=PX]``."""
        placeholder = self.params[self.main].placeholder
        first = placeholder if self.bare_main else f"{self.main}={placeholder}"
        rest = ",".join(f"{n}={p.placeholder}" for n, p in self.params.items() if n != self.main)
        text = f"{self.name}:{first}" + (f"[,{rest}]" if rest else "")
        return f"{text} or {self.alternative}" if self.alternative else text


def _pool(p: dict[str, Any], data: str, data_dir: str | None) -> ImagePool:
    if "photo_size" in p and data != PHOTO_PATCHES:
        raise DatasetError(f"photo_size applies to photo-patches only, not {data!r}")
    if "holdout" in p and data in (PHOTO_PATCHES, DIGITS):
        raise DatasetError(f"holdout applies to datasets read from disk; {data} generates "
                           "its own test split, never trained on")  # fmt: skip
    return ImagePool(data, data_dir, p.get("size"), p.get("photo_size"), p.get("holdout"))


def _build_colorspace(p: dict[str, Any], data: str, data_dir: str | None, name: str) -> PairSource:
    return ColorSpaceSource(p["space"], _pool(p, data, data_dir), name)


def _build_patches(p: dict[str, Any], data: str, data_dir: str | None, name: str) -> PairSource:
    size, photo_size = int(p.get("size", 32)), int(p.get("photo_size", 192))
    return PatchSource(p["distance"], size, photo_size, name, data_dir)


def _build_recipe(p: dict[str, Any], data: str, data_dir: str | None, name: str) -> PairSource:
    overrides = {k: v for k, v in p.items() if k != "recipe" and k not in POOL_PARAMS}
    try:
        check_blur_override(p["recipe"], overrides)
    except ValueError as err:
        raise SpecError(str(err)) from None
    return RecipeSource(p["recipe"], overrides, _pool(p, data, data_dir), name)


def _build_toy(p: dict[str, Any], data: str, data_dir: str | None, name: str) -> PairSource:
    shared = p.get("shared", "digit+background" if "ladder" in p else None)
    if shared is None:
        raise SpecError("toy needs the shared factors (toy:digit+background) or a ladder")
    options = {k: p[k] for k in ("canvas", "digit_size", "dim", "ladder") if k in p}
    return ToyPairSource(shared, **options)


def _build_learned(p: dict[str, Any], data: str, data_dir: str | None, name: str) -> PairSource:
    return LearnedViewSource(load_flow(p["path"]), _pool(p, data, data_dir), name)


def _recipe_colour(p: dict[str, Any]) -> str | None:
    space = get_recipe(p["recipe"]).color_space
    return None if space is None else f"recipe {p['recipe']} ends in colour space {space}"


KINDS: dict[str, Kind] = {
    "colorspace": Kind(
        name="colorspace",
        main="space",
        params={"space": Param(canonical_color_space, "SPACE"), **_POOL},
        required=("space",),
        datasets=None,
        default_data=PHOTO_PATCHES,
        build=_build_colorspace,
        about="v1 = the first channel, v2 = the other two of the same image in colour space "
        "SPACE (lab, ycbcr, ydbdr, yuv, yiq, ypbpr, xyz, hsv, hed, luv, rgbcie, or rgb), each "
        "channel standardised; one encoder per group. Probe: both encoders' features "
        "concatenated (CMC's protocol).",
        colour_use=lambda p: f"colorspace views split the colour channels of {p['space']}",
    ),
    "patches": Kind(
        name="patches",
        main="distance",
        params={"distance": Param(_number(0.0), "PX"), **_SIZES},
        required=("distance",),
        datasets=(PHOTO_PATCHES,),
        default_data=PHOTO_PATCHES,
        build=_build_patches,
        about="two size-px patches (default 32) of one photo whose centres are distance px "
        "apart, on photos resized to short side photo_size (default 192). photo-patches "
        "only: the bundled photos, or those of --data-dir FOLDER (e.g. high-resolution ones "
        "for distances of hundreds of px). Probe: f1 on single patches, label = the photo.",
        bare_main=False,  # patches:distance=16 reads better than patches:16
    ),
    "recipe": Kind(
        name="recipe",
        main="recipe",
        params={
            "recipe": Param(_recipe_name, "A..E"),
            "crop_scale": Param(_number(0.0, 1.0, low_open=True), "LOW"),
            "jitter_strength": Param(_number(0.0), "S"),
            "jitter_p": _PROBABILITY,
            "blur_sigma": Param(_number(0.1), "MAX"),
            "blur_p": _PROBABILITY,
            "blur_kernel_fraction": Param(_number(0.0, 1.0, low_open=True), "F"),
            "randaugment_magnitude": Param(_number(0.0, 10.0), "M"),
            "grayscale_p": _PROBABILITY,
            "flip_p": _PROBABILITY,
            **_POOL,
        },
        required=("recipe",),
        datasets=None,
        default_data=PHOTO_PATCHES,
        build=_build_recipe,
        about="two independently augmented copies of the same image. On images of at most "
        "96 px the recipe's defaults are first adapted by adapt_to_small_images; the "
        "parameters written in the spec then apply exactly (crop_scale=LOW is the crop "
        "range (LOW, 1); blur_sigma=MAX is sigma ~ U(0.1, MAX) px at the image's own size, "
        "with a kernel of about F x side (default 0.1: 3x3 at 16-32 px, which caps the blur "
        "near sigma 1); randaugment_magnitude=M in [0, 10] uses timm's increasing ops, so M "
        "is a real strength knob, and adds RandAugment (2 ops, p 0.5) to recipes without "
        "it). Probe: f1 on the un-augmented images. holdout=N (any of these kinds, on "
        "datasets read from disk): held-out pairs and the probe's scored images are the "
        "last N training images, and the test split is never opened.",
        colour_use=_recipe_colour,
    ),
    "toy": Kind(
        name="toy",
        main="shared",
        params={
            "shared": Param(_shared, "SHARED"),
            "ladder": Param(_number(0.0, 2.0), "S"),
            "canvas": Param(_integer(8), "PX"),
            "digit_size": Param(_integer(1), "PX"),
            "dim": Param(_number(0.0, 1.0), "F"),
        },
        required=(),
        datasets=(DIGITS,),
        default_data=DIGITS,
        build=_build_toy,
        about="Colorful-Moving-MNIST frames sharing the factors SHARED (digit, position, "
        "background joined by '+', or all / none); ladder in [0, 2] is the toy's strength "
        "ladder (its SHARED defaults to digit+background). Probe: f2 on single frames.",
        alternative="toy:ladder=S",
    ),
    "learned": Kind(
        name="learned",
        main="path",
        params={"path": Param(_path, "PATH"), **_POOL},
        required=("path",),
        datasets=None,
        default_data=PHOTO_PATCHES,
        build=_build_learned,
        about="a view generator g saved by `infomin learn-views` (a learned colour space): "
        "v1 = g(X)_1, v2 = g(X)_2:3 of the same image, g frozen; probe as for colorspace. "
        "PATH may not contain a comma.",
        colour_use=lambda p: "learned views transform the 3 colour channels",
    ),
}

GRAMMAR = GRAMMAR_HEAD + " | ".join(kind.usage() for kind in KINDS.values())

NOTES = (
    "size is the image side: the patch side on photo-patches (default 32; photo_size is the "
    "photos' short side, default 192, so size=16,photo_size=96 sees the same field at half "
    "resolution), a resize + centre crop on other datasets. colorspace, recipe and learned "
    "take any labelled image dataset (default photo-patches: 32 px patches of 11 photos, "
    "label = the photo; colorful-moving-digits is the alternative, where colour is pure "
    "nuisance for the digit); patches needs photo-patches, toy needs colorful-moving-digits."
)


def kinds_help(width: int = 88) -> str:
    """Every kind's grammar line and meaning, then the notes on sizes and datasets.

    What `infomin mi --help` and `infomin sweep --help` print, so the help cannot drift
    from the grammar. Lines fit in ``width`` columns (grammar lines break after a comma).
    """
    lines = ["View specs: KIND[:ITEM,...], ITEM = VALUE (the main parameter, first) or NAME=VALUE."]
    for kind in KINDS.values():
        lines.append(_wrap_usage(kind.usage(), width))
        lines.append(textwrap.fill(kind.about, width, initial_indent=" " * 6,
                                   subsequent_indent=" " * 6))  # fmt: skip
    lines.append(textwrap.fill(NOTES, width))
    return "\n".join(lines)


def _wrap_usage(usage: str, width: int) -> str:
    """A kind's grammar line, indented 2, continued (indent 4) after a comma past ``width``."""
    lines, line = [], "  "
    for piece in re.split(r"(?<=,)", usage):
        if line.strip() and len(line) + len(piece) > width:
            lines.append(line)
            line = "    "
        line += piece
    return "\n".join([*lines, line])
