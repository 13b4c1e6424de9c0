"""View specs: grammar round trips, refusals, and the pairs each kind really builds."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from infomin.data import DatasetError
from infomin.data.transforms import to_model_input
from infomin.views.colorspaces import to_normalized_color_space
from infomin.views.images import ImagePool
from infomin.views.recipes import RECIPES, adapt_to_small_images
from infomin.views.sources import ColorSpaceSource, PatchSource, RecipeSource, recipe_spec
from infomin.views.specs import (
    GRAMMAR,
    SpecError,
    default_data,
    parse_spec,
    parse_view_spec,
    with_param,
)

CANONICAL = [
    ("colorspace:lab", "colorspace:lab"),
    ("colorspace:CIE-RGB,size=16", "colorspace:rgbcie,size=16"),
    ("colorspace:space=YDbDr", "colorspace:ydbdr"),
    ("patches:distance=16", "patches:distance=16"),
    ("patches:8.0,photo_size=96,size=16", "patches:distance=8,size=16,photo_size=96"),
    ("recipe:b", "recipe:B"),
    ("recipe:D,jitter_strength=0.50,crop_scale=0.3", "recipe:D,crop_scale=0.3,jitter_strength=0.5"),
    ("recipe:A,randaugment_magnitude=5,blur_p=0.5,blur_sigma=1", None),
    ("toy:background+digit", "toy:digit+background"),
    ("toy:ladder=1.5", "toy:ladder=1.5"),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL)
def test_specs_round_trip_through_their_canonical_text(text, canonical):
    parsed = parse_spec(text)
    assert parse_spec(str(parsed)) == parsed
    if canonical is not None:
        assert str(parsed) == canonical


def test_with_param_changes_one_parameter_and_keeps_the_rest():
    spec = "recipe:D,jitter_strength=0.5,crop_scale=0.3"
    changed = with_param(spec, "crop_scale", 0.08)
    assert changed == "recipe:D,crop_scale=0.08,jitter_strength=0.5"
    assert with_param(changed, "crop_scale", "0.3") == str(parse_spec(spec))
    assert with_param("colorspace:lab", "space", "HSV") == "colorspace:hsv"
    assert with_param("toy:digit+background", "ladder", 2) == "toy:digit+background,ladder=2"


BAD = [
    ("", "unknown kind"),
    ("frobnicate:1", "unknown kind"),
    ("colorspace", "needs space"),
    ("colorspace:nope", "unknown colour space"),
    ("colorspace:lab,lab", "must come first"),
    ("patches:distance=-1", ">= 0"),
    ("patches:distance=far", "could not convert"),
    ("recipe:Z", "unknown recipe"),
    ("recipe:B,crop_scale=0", "(0, 1]"),
    ("recipe:B,crop_scale=0.2,crop_scale=0.3", "given twice"),
    ("recipe:B,sharpness=2", "no parameter 'sharpness'"),
    ("recipe:B,randaugment_magnitude=11", "[0, 10]"),
    ("recipe:B,jitter_p=1.5", "[0, 1]"),
    ("toy:ladder=3", "[0, 2]"),
    ("colorspace:lab,", "empty item"),
]


@pytest.mark.parametrize(("text", "reason"), BAD)
def test_bad_specs_are_refused_with_the_reason_and_the_grammar(text, reason):
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    assert reason in str(info.value)
    assert str(info.value).endswith(GRAMMAR)


def test_varying_an_unknown_parameter_is_refused():
    with pytest.raises(ValueError, match="no parameter 'jitter'"):
        with_param("recipe:B", "jitter", 1)


def test_data_that_does_not_fit_the_kind_is_refused():
    with pytest.raises(DatasetError, match="photo-patches"):
        parse_view_spec("patches:distance=4", data="colorful-moving-digits")
    with pytest.raises(DatasetError, match="colorful-moving-digits"):
        parse_view_spec("toy:digit", data="photo-patches")
    assert default_data("colorspace:lab") == "photo-patches"
    assert default_data("toy:digit") == "colorful-moving-digits"


@pytest.mark.parametrize("space", ["lab", "hed", "ydbdr"])
@pytest.mark.parametrize("data", ["photo-patches", "colorful-moving-digits"])
def test_colorspace_views_are_one_and_two_channels_of_the_same_pixels(space, data):
    source = parse_view_spec(f"colorspace:{space}", data=data)
    assert isinstance(source, ColorSpaceSource)
    images = ImagePool(data).images("train", 24, 3).images
    expected = to_normalized_color_space(images.float() / 255.0, space)
    pairs = source.pairs("train", 24, 3)
    assert pairs.v1.shape == (24, 1, 32, 32) and pairs.v2.shape == (24, 2, 32, 32)
    torch.testing.assert_close(pairs.v1, expected[:, :1])
    torch.testing.assert_close(pairs.v2, expected[:, 1:])
    probe = source.probe_set("test", 16, 3)
    assert probe.images_1.shape[1] == 1 and probe.images_2.shape[1] == 2  # both encoders
    assert len(next(iter(probe.targets.values()))) == 16


@pytest.mark.parametrize("distance", [0, 5, 12.5, 40])
def test_patch_pairs_are_two_patches_of_one_photo_at_the_stated_distance(distance):
    source = parse_view_spec(f"patches:distance={distance},size=16,photo_size=96")
    assert isinstance(source, PatchSource) and source.size == 16
    raw = source.raw_pairs("train", 64, 1)
    centres = raw.centers
    measured = (centres[:, 0] - centres[:, 1]).norm(dim=1)
    assert torch.all((measured - distance).abs() <= 0.71)  # whole-pixel displacements
    pairs = source.pairs("train", 64, 1)
    torch.testing.assert_close(pairs.v1, to_model_input(raw.first))
    torch.testing.assert_close(pairs.v2, to_model_input(raw.second))
    assert pairs.v1.shape == (64, 3, 16, 16)
    assert torch.equal(pairs.v1, pairs.v2) == (distance == 0)
    probe = source.probe_set("test", 32, 1)
    assert probe.images_2 is None and set(probe.targets) == {"photo"}


def test_recipe_parameters_are_applied_exactly_over_the_small_image_defaults():
    base = adapt_to_small_images(RECIPES["D"], 32)
    assert recipe_spec("D", 32, {}) == base
    spec = recipe_spec(
        "D", 32,
        {"crop_scale": 0.3, "jitter_strength": 0.5, "blur_sigma": 1.5, "randaugment_magnitude": 7},
    )  # fmt: skip
    assert spec.crop_scale == (0.3, 1.0) and spec.jitter_strength == 0.5
    assert spec.blur_sigma == (0.1, 1.5)
    assert spec.randaugment.magnitude == 7 and spec.randaugment.increasing
    assert recipe_spec("B", 224, {}) == RECIPES["B"]  # large images keep the table's values
    with pytest.raises(ValueError, match="no blur"):
        recipe_spec("A", 32, {"blur_sigma": 1.0})


def test_recipe_views_are_two_augmentations_of_the_same_image_and_reproducible():
    source = parse_view_spec("recipe:B,jitter_strength=2,size=16")
    assert isinstance(source, RecipeSource)
    first = source.pairs("train", 16, 0)
    again = source.pairs("train", 16, 0)
    assert torch.equal(first.v1, again.v1) and torch.equal(first.v2, again.v2)
    assert not torch.equal(first.v1, first.v2)
    assert first.v1.shape == (16, 3, 16, 16)
    clean = ImagePool("photo-patches", size=16).images("test", 8, 0).images
    probe = source.probe_set("test", 8, 0)
    torch.testing.assert_close(probe.images_1, to_model_input(clean))  # un-augmented


def test_no_augmentation_gives_identical_views():
    spec = "recipe:B,crop_scale=1,jitter_p=0,blur_p=0,grayscale_p=0,flip_p=0,size=16"
    pairs = parse_view_spec(spec).pairs("train", 8, 0)
    torch.testing.assert_close(pairs.v1, pairs.v2)


@pytest.mark.skipif(
    importlib.util.find_spec("infomin.views.toy") is None,
    reason="infomin.views.toy (the toy views) is built in parallel and not present yet",
)
def test_toy_specs_delegate_to_the_toy_pair_source():
    from infomin.views.toy import ToyPairSource

    ladder = parse_view_spec("toy:ladder=1.5")
    assert isinstance(ladder, ToyPairSource)
    assert ladder.ladder == 1.5 and ladder.shared == frozenset({"digit", "background"})
    row = parse_view_spec("toy:digit+position,dim=0.5")
    assert row.shared == frozenset({"digit", "position"}) and row.config.dim == 0.5
