"""Grey (1-channel) images through the views: recipes, jigsaw, pools, specs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from infomin.data import DatasetError, load_dataset
from infomin.data.transforms import GRAY_MEAN, GRAY_STD, RGB_MEAN, RGB_STD, to_model_input
from infomin.views import JigsawPatches, build_recipe
from infomin.views.images import ImagePool
from infomin.views.randaugment import (
    IMAGENET_MEAN_255,
    PILRandAugment,
    RandAugmentSpec,
    grey_level,
)
from infomin.views.specs import check_views_data, parse_view_spec

GREY_LOW = (0 - GRAY_MEAN[0]) / GRAY_STD[0]
GREY_HIGH = (1 - GRAY_MEAN[0]) / GRAY_STD[0]


def _grey(side: int = 28, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (1, side, side), dtype=torch.uint8, generator=generator)


def test_one_channel_statistics_are_the_luma_of_the_rgb_ones() -> None:
    weights = torch.tensor([0.299, 0.587, 0.114])
    assert GRAY_MEAN[0] == pytest.approx(float(weights @ torch.tensor(RGB_MEAN)), abs=1e-3)
    assert GRAY_STD[0] == pytest.approx(float(weights @ torch.tensor(RGB_STD)), abs=1e-3)
    white = torch.full((1, 4, 4), 255, dtype=torch.uint8)
    assert to_model_input(white).shape == (1, 4, 4)
    torch.testing.assert_close(to_model_input(white), torch.full((1, 4, 4), GREY_HIGH))


@pytest.mark.parametrize("recipe", ["A", "B", "D"])
def test_recipes_keep_grey_images_grey(recipe: str) -> None:
    torch.manual_seed(0)
    out = build_recipe(recipe, 28)(_grey(32))
    assert out.shape == (1, 28, 28) and out.dtype == torch.float32
    assert bool(((out >= GREY_LOW - 1e-5) & (out <= GREY_HIGH + 1e-5)).all())


def _no_geometry(**overrides) -> object:
    """A recipe whose crop and flip do nothing, so only the colour steps act."""
    return build_recipe("A", 28, small=False, crop_scale=(1.0, 1.0), flip_p=0.0, **overrides)


def test_colour_jitter_on_grey_is_brightness_and_contrast_only() -> None:
    image = _grey()
    saturation_and_hue = _no_geometry(jitter=(0.0, 0.0, 0.8, 0.4), jitter_p=1.0, grayscale_p=0.0)
    torch.manual_seed(1)
    torch.testing.assert_close(saturation_and_hue(image), to_model_input(image))
    rgb = image.expand(3, -1, -1).clone()
    rgb[0] //= 2  # a coloured image: the same step changes it
    torch.manual_seed(1)
    assert not torch.allclose(saturation_and_hue(rgb), to_model_input(rgb))
    brightness = _no_geometry(jitter=(0.8, 0.0, 0.0, 0.0), jitter_p=1.0, grayscale_p=0.0)
    torch.manual_seed(1)
    assert not torch.allclose(brightness(image), to_model_input(image))


def test_grayscale_step_is_a_no_op_on_grey() -> None:
    image = _grey()
    always_grey = _no_geometry(jitter_p=0.0, grayscale_p=1.0)
    torch.testing.assert_close(always_grey(image), to_model_input(image))


def test_randaugment_on_grey_fills_with_the_grey_level_of_the_mean() -> None:
    assert grey_level(IMAGENET_MEAN_255) == 117  # 0.299 * 124 + 0.587 * 116 + 0.114 * 104
    augment = PILRandAugment(RandAugmentSpec(), 28)
    for op in augment.timm_grey_transform.ops:
        op.prob = 1.0  # every op runs, the affine ones with their fill
        assert op.kwargs["fillcolor"] == (117,)
    torch.manual_seed(0)
    for _ in range(20):
        assert augment(_grey()).shape == (1, 28, 28)


@pytest.mark.parametrize("recipe", ["C", "E"])
def test_colour_space_recipes_refuse_grey(recipe: str) -> None:
    with pytest.raises(ValueError, match=r"grey .* no colour"):
        build_recipe(recipe, 28)(_grey())


def test_jigsaw_patches_of_grey_images_are_grey() -> None:
    patches = JigsawPatches(28)(_grey())
    assert patches.shape[:2] == (9, 1) and patches.dtype == torch.float32
    with pytest.raises(ValueError, match="no colour"):
        JigsawPatches(28, color_space="ydbdr")(_grey())


def test_rgba_still_becomes_rgb() -> None:
    rgba = torch.randint(0, 256, (4, 30, 30), dtype=torch.uint8)
    assert build_recipe("B", 28)(rgba).shape == (3, 28, 28)


def test_pool_and_recipe_source_keep_one_channel(fashion_mnist_root: Path) -> None:
    drawn = ImagePool("fashion-mnist", str(fashion_mnist_root)).images("train", 12, 0)
    assert drawn.images.shape == (12, 1, 28, 28) and drawn.images.dtype == torch.uint8
    stored = load_dataset("fashion-mnist", "train", fashion_mnist_root).images
    same = (drawn.images[:, None] == stored[None]).flatten(2).all(-1)  # [12, 60]
    assert bool(same.any(1).all())  # the dataset's own grey images, not RGB copies
    source = parse_view_spec("recipe:B,crop_scale=0.5", "fashion-mnist", str(fashion_mnist_root))
    pairs = source.pairs("train", 12, 0)
    assert pairs.v1.shape == pairs.v2.shape == (12, 1, 28, 28)
    assert not torch.equal(pairs.v1, pairs.v2)  # two independent augmentations
    assert source.probe_set("test", 8, 0).images_1.shape == (8, 1, 28, 28)


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("colorspace:lab", "split the colour channels of lab"),
        ("learned:g.pt", "transform the 3 colour channels"),
        ("recipe:C", "recipe C ends in colour space ydbdr"),
        ("recipe:E,crop_scale=0.3", "recipe E ends in colour space ydbdr"),
    ],
)
def test_colour_views_are_refused_on_grey_data(spec: str, why: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.pt").touch()  # a learned view file must exist (checked after colour)
    with pytest.raises(DatasetError, match=f"need colour images .*{why}.*grayscale") as error:
        check_views_data(spec, "fashion-mnist")
    assert "\n" not in str(error.value)
    check_views_data(spec, "cifar10")  # colour data: fine


def test_a_missing_learned_view_file_is_refused_before_any_work(tmp_path) -> None:
    with pytest.raises(DatasetError, match=r"no learned view file at .*g\.pt .*learn-views"):
        check_views_data(f"learned:{tmp_path / 'g.pt'}", "cifar10")


def test_recipe_views_without_colour_space_pass_on_grey_data() -> None:
    for spec in ("recipe:A", "recipe:B,blur_sigma=1,blur_p=1", "recipe:D,crop_scale=0.3"):
        check_views_data(spec, "fashion-mnist")
