"""Recipes A-E: the paper's numbers, the built pipelines, and their randomness."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as tvf

from infomin.data.transforms import RGB_MEAN
from infomin.views.colorspaces import get_color_space
from infomin.views.randaugment import (
    CMC_RANDAUGMENT_OPS,
    IMAGENET_MEAN_255,
    PILRandAugment,
    RandAugmentSpec,
)
from infomin.views.recipes import (
    CROP_SCALE_BANK,
    CROP_SCALE_QUEUE,
    RECIPES,
    RecipeSpec,
    SmallImageRule,
    blur_kernel_size,
    build_recipe,
    get_recipe,
)

# The paper notes, section 3, as a table:
# recipe: (jitter (b, c, s, h), jitter_p, grayscale_p, blur_p, crop low, RandAugment?, space)
PAPER = {
    "A": ((0.4, 0.4, 0.4, 0.4), 1.0, 0.2, 0.0, 0.08, None, None),
    "B": ((0.4, 0.4, 0.4, 0.1), 0.8, 0.2, 0.5, 0.2, None, None),
    "C": ((0.4, 0.4, 0.4, 0.1), 1.0, 0.0, 0.0, 0.08, None, "ydbdr"),
    "D": ((0.8, 0.8, 0.8, 0.2), 0.8, 0.2, 0.5, 0.2, "rand-n2-m10-mstd0.5", None),
    "E": ((0.4, 0.4, 0.4, 0.1), 0.8, 0.0, 0.5, 0.2, "rand-n2-m10-mstd0.5", "ydbdr"),
}


def _seed_all(seed: int) -> None:
    """torch for torchvision, `random` and numpy for timm's RandAugment."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)


def _image(h: int = 120, w: int = 100, channels: int = 3) -> torch.Tensor:
    return torch.randint(
        0, 256, (channels, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )


@pytest.mark.parametrize("name", sorted(PAPER))
def test_spec_table_matches_the_paper(name: str) -> None:
    jitter, jitter_p, gray_p, blur_p, crop_low, ra_config, space = PAPER[name]
    spec = RECIPES[name]
    assert spec.jitter == jitter
    assert spec.jitter_strength == 1.0
    assert spec.jitter_p == jitter_p
    assert spec.grayscale_p == gray_p
    assert spec.blur_p == blur_p
    assert spec.crop_scale == (crop_low, 1.0)
    assert spec.flip_p == 0.5
    assert spec.color_space == space
    if blur_p:
        assert spec.blur_sigma == (0.1, 2.0)
    if ra_config is None:
        assert spec.randaugment is None
    else:
        assert spec.randaugment.config_str == ra_config


def test_cmcv2_randaugment_list_has_no_colour_ops() -> None:
    assert RECIPES["E"].randaugment.ops == CMC_RANDAUGMENT_OPS
    colour_ops = {"Color", "Equalize", "Invert", "Posterize", "Solarize", "SolarizeAdd"}
    assert not colour_ops & set(CMC_RANDAUGMENT_OPS)
    assert RECIPES["D"].randaugment.ops is None  # timm's full default list


def test_jitter_always_in_a_and_c_with_p08_in_b_d_e() -> None:
    for name in "AC":
        t = build_recipe(name, 224)
        assert any(type(s) is v2.ColorJitter for s in t.augment.transforms), name
    for name in "BDE":
        t = build_recipe(name, 224)
        wrapped = [s for s in t.augment.transforms if isinstance(s, v2.RandomApply)]
        jitter_apply = [s for s in wrapped if isinstance(s.transforms[0], v2.ColorJitter)]
        assert len(jitter_apply) == 1 and jitter_apply[0].p == pytest.approx(0.8), name


def test_built_colour_jitter_has_the_papers_ranges() -> None:
    jitter = build_recipe("A", 224).step(v2.ColorJitter)
    assert jitter.brightness == pytest.approx((0.6, 1.4))
    assert jitter.hue == pytest.approx((-0.4, 0.4))
    jitter = build_recipe("D", 224).step(v2.ColorJitter)
    assert jitter.saturation == pytest.approx((0.2, 1.8))
    assert jitter.hue == pytest.approx((-0.2, 0.2))


def test_grayscale_and_blur_probabilities_in_built_pipeline() -> None:
    b = build_recipe("B", 224)
    assert b.step(v2.RandomGrayscale).p == pytest.approx(0.2)
    blur_apply = [s for s in b.augment.transforms if isinstance(s, v2.RandomApply)][1]
    assert isinstance(blur_apply.transforms[0], v2.GaussianBlur) and blur_apply.p == 0.5
    assert build_recipe("C", 224).step(v2.RandomGrayscale) is None
    assert build_recipe("E", 224).step(v2.RandomGrayscale) is None
    assert build_recipe("A", 224).step(v2.GaussianBlur) is None


@pytest.mark.parametrize("name", ["D", "E"])
def test_randaugment_matches_rand_n2_m10_mstd05(name: str) -> None:
    ra = build_recipe(name, 224).step(PILRandAugment).timm_transform
    assert ra.num_layers == 2
    assert ra.choice_weights is None  # timm then draws with replacement
    timm_ops = [op for op in ra.ops if op.name != "Identity"]
    for op in timm_ops:
        assert op.prob == 0.5
        assert op.magnitude == 10
        assert op.magnitude_std == 0.5
        assert op.magnitude_max is None  # timm clips at its _LEVEL_DENOM, 10
        assert op.kwargs["fillcolor"] == IMAGENET_MEAN_255
        assert op.hparams["translate_pct"] == 0.45
        assert op.hparams["translate_const"] == int(0.45 * 224)
    names = [op.name for op in ra.ops]
    if name == "D":
        assert len(names) == 15 and "Solarize" in names and "TranslateXRel" in names
    else:
        assert names == [n for n in CMC_RANDAUGMENT_OPS if n != "Identity"] + ["Identity"]


def test_fill_is_imagenet_mean_in_0_255() -> None:
    assert tuple(round(255 * m) for m in RGB_MEAN) == IMAGENET_MEAN_255


def test_timm_ops_apply_with_probability_one_half() -> None:
    """An op of the policy changes the image in about half the calls (p=0.5, python random)."""
    ra = build_recipe("D", 224).step(PILRandAugment).timm_transform
    invert = next(op for op in ra.ops if op.name == "Invert")
    img = Image.new("RGB", (4, 4), (10, 20, 30))
    random.seed(0)
    changed = sum(invert(img).getpixel((0, 0)) != (10, 20, 30) for _ in range(400))
    assert 150 < changed < 250


def test_randaugment_op_choice_uses_numpy_random() -> None:
    """Same torch/random seeds, other numpy seeds: views differ (timm's np.random.choice).

    random.seed(1) makes the first op fire (random.random() = 0.13 < 0.5); with seed 0
    both ops skip and numpy would not matter.
    """
    t = build_recipe("D", 64)
    img = _image()
    outs = []
    for np_seed in range(8):
        torch.manual_seed(1)
        random.seed(1)
        np.random.seed(np_seed)
        outs.append(t(img))
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


@pytest.mark.parametrize("size", [224, 32])
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_output_dtype_shape_finite(name: str, size: int) -> None:
    out = build_recipe(name, size)(_image())
    assert out.dtype == torch.float32
    assert out.shape == (3, size, size)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_random_but_reproducible(name: str) -> None:
    t = build_recipe(name, 48)
    img = _image()
    _seed_all(1)
    first, second = t(img), t(img)
    assert not torch.equal(first, second)
    _seed_all(1)
    torch.testing.assert_close(t(img), first, rtol=0, atol=0)


def test_colour_space_recipes_output_standardised_ydbdr() -> None:
    out = build_recipe("C", 64)(_image())
    space = get_color_space("ydbdr")
    y = out[0] * space.std[0] + space.mean[0]
    assert y.min() >= -1e-5 and y.max() <= 1 + 1e-5  # luma of [0, 1] RGB


def test_rgb_recipe_output_is_imagenet_normalised() -> None:
    t = build_recipe("A", 32, small=False, jitter_p=0.0, grayscale_p=0.0, crop_scale=(1.0, 1.0))
    img = torch.full((3, 32, 32), 255, dtype=torch.uint8)
    expected = (1.0 - torch.tensor(RGB_MEAN)) / torch.tensor((0.229, 0.224, 0.225))
    torch.testing.assert_close(t(img)[:, 0, 0], expected)


@pytest.mark.parametrize(("channels", "out_channels"), [(1, 1), (4, 3)])
def test_grey_stays_grey_and_rgba_becomes_rgb(channels: int, out_channels: int) -> None:
    out = build_recipe("D", 32)(_image(40, 40, channels))
    assert out.shape == (out_channels, 32, 32)


def test_float_input_is_rejected() -> None:
    with pytest.raises(TypeError, match="uint8"):
        build_recipe("A", 32)(torch.rand(3, 40, 40))


@pytest.mark.parametrize(("size", "kernel"), [(224, 23), (96, 11), (64, 7), (32, 3), (16, 3)])
def test_blur_kernel_is_odd_and_about_ten_percent(size: int, kernel: int) -> None:
    assert blur_kernel_size(size) == kernel


def test_blur_kernel_rule_for_all_sizes() -> None:
    for size in range(16, 513):
        k = blur_kernel_size(size)
        assert k % 2 == 1 and k >= 3
        assert abs(k - 0.1 * size) <= 1.5 or k == 3


def test_built_blur_at_224_and_32() -> None:
    blur = build_recipe("D", 224).step(v2.GaussianBlur)
    assert tuple(blur.kernel_size) == (23, 23)
    assert list(blur.sigma) == pytest.approx([0.1, 2.0])
    small = build_recipe("D", 32).step(v2.GaussianBlur)
    assert tuple(small.kernel_size) == (3, 3)
    assert list(small.sigma) == pytest.approx([0.1, 2.0 * 32 / 224])


def test_small_image_rule() -> None:
    assert build_recipe("D", 224).spec == RECIPES["D"]
    small = build_recipe("D", 32).spec
    assert small.crop_scale == (0.2, 1.0)
    assert build_recipe("A", 32).spec.crop_scale == (0.2, 1.0)  # 0.08 raised
    assert small.randaugment.magnitude == 5.0 and small.randaugment.increasing
    ra = build_recipe("D", 32).step(PILRandAugment).timm_transform
    names = {op.name for op in ra.ops}
    assert "PosterizeIncreasing" in names and "Posterize" not in names
    assert all(op.magnitude == 5.0 for op in ra.ops)
    assert ra.ops[0].hparams["translate_const"] == int(0.45 * 32)
    assert build_recipe("D", 32, small=False).spec == RECIPES["D"]
    assert build_recipe("D", 128, small=True).spec.randaugment.magnitude == 5.0


def test_small_image_strength_is_exposed() -> None:
    rule = SmallImageRule(randaugment_strength=0.2)
    spec = build_recipe("D", 32, small_rule=rule).spec
    assert spec.randaugment.magnitude == pytest.approx(2.0)
    ra = build_recipe("D", 32, small_rule=rule).step(PILRandAugment).timm_transform
    assert all(op.magnitude == pytest.approx(2.0) for op in ra.ops)
    with pytest.raises(ValueError):
        SmallImageRule(randaugment_strength=1.5)


def test_parameters_are_overridable_for_strength_ladders() -> None:
    d = RECIPES["D"]
    weaker = dataclasses.replace(
        d,
        crop_scale=(0.5, 1.0),
        jitter_strength=0.5,
        blur_sigma=(0.1, 1.0),
        randaugment=dataclasses.replace(d.randaugment, magnitude=7.5),
    )
    t = build_recipe(weaker, 224)
    assert t.step(v2.RandomResizedCrop).scale == (0.5, 1.0)
    assert t.step(v2.ColorJitter).brightness == pytest.approx((0.6, 1.4))
    assert list(t.step(v2.GaussianBlur).sigma) == pytest.approx([0.1, 1.0])
    assert all(op.magnitude == 7.5 for op in t.step(PILRandAugment).timm_transform.ops)
    moco = build_recipe("A", 224, crop_scale=CROP_SCALE_QUEUE)
    assert moco.step(v2.RandomResizedCrop).scale == CROP_SCALE_QUEUE
    assert RECIPES["A"].crop_scale == CROP_SCALE_BANK
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.blur_p = 0.0  # type: ignore[misc]


def test_invalid_specs_fail_clearly() -> None:
    with pytest.raises(ValueError, match="crop_scale"):
        RecipeSpec(name="x", crop_scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="jitter_p"):
        RecipeSpec(name="x", jitter_p=1.5)
    with pytest.raises(ValueError, match="colour space"):
        RecipeSpec(name="x", color_space="cmyk")
    with pytest.raises(ValueError, match="magnitude"):
        RandAugmentSpec(magnitude=11)
    with pytest.raises(ValueError, match="choose one of"):
        get_recipe("Z")
    assert get_recipe("d") is RECIPES["D"]


def test_randaugment_at_full_magnitude_never_posterizes_to_zero_bits():
    """timm maps magnitude 10 to 0 bits, which Pillow refuses; we keep 1 bit."""
    import random

    from infomin.views import RECIPES, build_recipe

    spec = RECIPES["D"]
    randaugment = dataclasses.replace(spec.randaugment, magnitude=10.0, increasing=True)
    transform = build_recipe(dataclasses.replace(spec, randaugment=randaugment), 32, small=False)
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    random.seed(0)
    torch.manual_seed(0)
    for _ in range(200):
        assert torch.isfinite(transform(image)).all()


@pytest.mark.parametrize("channels", [3, 1])
def test_randaugment_each_is_the_per_image_call_with_the_same_draws(channels: int) -> None:
    """Naive reference: torchvision's tensor <-> PIL conversions around timm's transform,
    image by image. The batch (one layout change) and the single-image call give exactly
    that from the same state of timm's draws (Python's `random` for probabilities and
    magnitudes, numpy's for the choice of ops)."""
    augment = PILRandAugment(RandAugmentSpec(), 32)
    timm = augment.timm_grey_transform if channels == 1 else augment.timm_transform
    seeded = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (12, channels, 32, 32), generator=seeded, dtype=torch.uint8)
    random.seed(7), np.random.seed(7)
    expected = torch.stack([tvf.pil_to_tensor(timm(tvf.to_pil_image(i))) for i in images])
    random.seed(7), np.random.seed(7)
    got = augment.each(images)
    assert got.dtype == torch.uint8 and got.shape == images.shape
    assert torch.equal(got, expected) and not torch.equal(got, images)
    random.seed(7), np.random.seed(7)
    assert torch.equal(torch.stack([augment(image) for image in images]), expected)
