"""The batched augmentation path: torchvision's semantics, per-image randomness, seeds."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import roi_align
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as tvf

from infomin.data.transforms import to_model_input
from infomin.views import BatchedRecipe
from infomin.views import batched as B
from infomin.views import batched_color as BC
from infomin.views.blur import SeparableGaussianBlur, blur_by_matrices


def images(n: int = 6, side: int = 40, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, side, side), generator=g, dtype=torch.uint8)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(
    ("ours", "reference", "factors"),
    [
        (BC.adjust_brightness, tvf.adjust_brightness, (0.6, 1.4, 1.0)),
        (BC.adjust_contrast, tvf.adjust_contrast, (0.2, 1.8, 1.0)),
        (BC.adjust_saturation, tvf.adjust_saturation, (0.0, 1.7, 1.0)),
        (BC.adjust_hue, tvf.adjust_hue, (-0.4, 0.25, 0.0)),
    ],
)
def test_colour_ops_match_torchvision_per_image(ours, reference, factors) -> None:
    x = torch.rand(3, 3, 12, 12, generator=seeded(1))
    factor = torch.tensor(factors)
    expected = torch.stack([reference(x[i], float(factor[i])) for i in range(3)])
    torch.testing.assert_close(ours(x, factor), expected, atol=2e-4, rtol=0)


@pytest.mark.parametrize("channels", [3, 1])
def test_color_jitter_is_torchvisions_per_image_with_the_same_draws(channels) -> None:
    """Naive reference: replay the jitter's draws (factors, order, whether applied) and
    run torchvision's four ops image by image in that order."""
    n, strengths, p = 24, (0.4, 0.4, 0.4, 0.1), 0.8
    x = torch.rand(n, channels, 10, 10, generator=seeded(5))
    draws = seeded(6)
    factors = [BC._uniform(n, 1 - s, 1 + s, draws) for s in strengths[:3]]
    factors.append(BC._uniform(n, -strengths[3], strengths[3], draws))
    order = torch.rand(n, 4, generator=draws).argsort(dim=1)
    applied = BC._chance(n, p, draws)
    ops = (tvf.adjust_brightness, tvf.adjust_contrast, tvf.adjust_saturation, tvf.adjust_hue)
    expected = x.clone()
    for i in range(n):
        for op_index in order[i].tolist() if applied[i] else []:
            expected[i] = ops[op_index](expected[i], float(factors[op_index][i]))
    ours = BC.color_jitter(x, strengths, p, seeded(6))
    assert 0 < int(applied.sum()) < n  # both kinds of image are in the batch
    torch.testing.assert_close(ours, expected, atol=2e-4, rtol=0)


@pytest.mark.parametrize(("mean", "grey"), [(False, False), (True, False), (True, True)])
def test_blend_by_matrix_is_the_elementwise_blend(mean: bool, grey: bool) -> None:
    """The CPU's batched colour matrix against the per-pixel form other devices run; an
    image with weights (1, 0, 0) comes out bit for bit, even inside an autocast region."""
    x = torch.rand(5, 3, 7, 9, generator=seeded(21))
    weights = torch.rand(3, 5, generator=seeded(22))
    weights[:, 0] = torch.tensor([1.0, 0.0, 0.0])
    constant = (weights[1] * BC._grey_mean(x)).view(5, 1, 1) if mean else None
    expected = BC._blend_elementwise(x, weights, constant, grey)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = BC._blend(x, weights, mean, grey)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    assert torch.equal(got[0], x[0])


def test_hsv_round_trip() -> None:
    x = torch.rand(2, 3, 9, 9, generator=seeded(2))
    torch.testing.assert_close(BC.hsv_to_rgb(BC.rgb_to_hsv(x)), x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kernel", [3, 5, 9])  # shifted taps up to 7, a convolution above
def test_blur_matches_torchvision_with_a_sigma_per_image(kernel: int) -> None:
    x = torch.rand(3, 3, 16, 12, generator=seeded(3))
    sigmas = torch.tensor([0.3, 1.0, 2.0])
    size = [kernel, kernel]
    per_image = [tvf.gaussian_blur(x[i], size, [float(s)] * 2) for i, s in enumerate(sigmas)]
    expected = torch.stack(per_image)
    torch.testing.assert_close(B._blur(x, kernel, sigmas), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("as_float", [False, True])
def test_separable_blur_is_torchvisions_blur(as_float: bool) -> None:
    """Same sigma draw (same seed) and the same image, uint8 and float."""
    x = images(1, side=48)[0]
    x = x.float() / 255 if as_float else x
    torch.manual_seed(0)
    expected = v2.GaussianBlur(11, (0.5, 2.0))(x)
    torch.manual_seed(0)
    got = SeparableGaussianBlur(11, (0.5, 2.0))(x)
    assert got.dtype == x.dtype and got.shape == x.shape
    if as_float:
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    else:  # rounding at a .5 boundary may land one level apart, rarely
        diff = (got.int() - expected.int()).abs()
        assert diff.max() <= 1 and (diff > 0).float().mean() < 0.01


def test_blur_by_matrices_equals_the_convolution() -> None:
    x = torch.rand(3, 3, 12, 16, generator=seeded(16))
    sigmas = torch.tensor([0.4, 1.0, 3.0])
    torch.testing.assert_close(blur_by_matrices(x, 7, sigmas), B._blur(x, 7, sigmas))


def test_crop_matches_bilinear_resize_inside_the_box() -> None:
    x = torch.rand(1, 3, 16, 16, generator=seeded(4))
    out = B.resized_crop(x, torch.tensor([[3.0, 2.0, 13.0, 12.0]]), 20)[0]
    expected = tvf.resized_crop(x[0], 2, 3, 10, 10, [20, 20], antialias=False)
    # Border pixels read the image beyond the box instead of repeating its edge.
    torch.testing.assert_close(out[:, 1:-1, 1:-1], expected[:, 1:-1, 1:-1], atol=1e-5, rtol=0)


@pytest.mark.parametrize("size", [24, 8])  # 24: enlargements only (grid_sample); 8: not
def test_crop_and_flip_are_roi_aligns_resampling_then_a_mirror(size: int) -> None:
    x = torch.rand(16, 3, 20, 24, generator=seeded(14))
    boxes = B.crop_boxes(16, 20, 24, (0.1, 1.0), generator=seeded(15))
    flip = torch.arange(16) % 3 == 0
    rois = torch.cat([torch.arange(16.0).unsqueeze(1), boxes], dim=1)
    expected = roi_align(x, rois, (size, size), sampling_ratio=-1, aligned=True)
    expected[flip] = expected[flip].flip(-1)
    assert B._enlargements_inside(x, boxes, size) == (size == 24)
    torch.testing.assert_close(B.resized_crop(x, boxes, size, flip), expected, atol=1e-5, rtol=0)


def test_crop_boxes_stay_inside_and_respect_the_scale() -> None:
    boxes = B.crop_boxes(500, 30, 40, (0.2, 0.6), generator=seeded(5))
    x1, y1, x2, y2 = boxes.unbind(1)
    assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= 40).all() and (y2 <= 30).all()
    area = (x2 - x1) * (y2 - y1) / (30 * 40)
    assert area.min() > 0.15 and area.max() < 0.7  # rounding to whole pixels widens a little
    assert len(set(map(tuple, boxes.tolist()))) > 400  # a draw per image, not one per batch


def test_crop_falls_back_to_the_centre_when_no_try_fits() -> None:
    boxes = B.crop_boxes(4, 10, 100, (1.0, 1.0), generator=seeded(6))  # ratio 10: never fits
    assert boxes.tolist() == [[43.0, 0.0, 56.0, 10.0]] * 4  # 13 = round(10 * 4 / 3), centred


def test_recipe_output_shape_dtype_and_normalisation() -> None:
    out = BatchedRecipe("B", 24)(images(), seeded(0))
    assert out.shape == (6, 3, 24, 24) and out.dtype == torch.float32
    black = to_model_input(torch.zeros(3, 1, 1, dtype=torch.uint8))
    white = to_model_input(torch.full((3, 1, 1), 255, dtype=torch.uint8))
    assert (out >= black.min() - 1e-5).all() and (out <= white.max() + 1e-5).all()


def test_same_seed_same_views_other_seed_other_views() -> None:
    recipe = BatchedRecipe("D", 32, drop_randaugment=True)
    x = images()
    first, again = recipe(x, seeded(7)), recipe(x, seeded(7))
    torch.testing.assert_close(first, again, atol=0, rtol=0)
    assert not torch.allclose(first, recipe(x, seeded(8)))


def test_each_image_gets_its_own_draw() -> None:
    x = images(1).expand(8, -1, -1, -1)  # eight copies of one image
    out = BatchedRecipe("A", 32)(x, seeded(9))
    distinct = {tuple(v.flatten()[:50].tolist()) for v in out}
    assert len(distinct) == 8


def test_float_and_uint8_inputs_agree() -> None:
    x = images()
    recipe = BatchedRecipe("B", 32)
    torch.testing.assert_close(
        recipe(x, seeded(10)), recipe(x.float() / 255, seeded(10)), atol=1e-5, rtol=0
    )


def test_grey_input_and_colour_space_output() -> None:
    grey = images()[:, :1]
    assert BatchedRecipe("C", 32)(grey, seeded(11)).shape == (6, 3, 32, 32)


def test_randaugment_is_never_dropped_silently() -> None:
    with pytest.raises(ValueError, match="RandAugment"):
        BatchedRecipe("D", 32)


def test_probabilities_are_per_image() -> None:
    x = torch.rand(400, 3, 8, 8, generator=seeded(12))
    out = B.random_grayscale(x, 0.25, seeded(13))
    grey = (out == out[:, :1]).flatten(1).all(dim=1)
    assert 60 < int(grey.sum()) < 140


def test_meta_device_keeps_the_device() -> None:
    """Device-agnostic: every op stays on the images' device (meta needs no hardware)."""
    x = torch.rand(4, 3, 16, 16, generator=seeded(14))
    out = BC.adjust_hue(x.to("meta"), torch.zeros(4, device="meta"))
    assert out.device.type == "meta" and out.shape == x.shape


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_for_one_seed() -> None:
    recipe = BatchedRecipe("B", 32)
    x = images()
    torch.testing.assert_close(
        recipe(x.cuda(), seeded(15)).cpu(), recipe(x, seeded(15)), atol=1e-4, rtol=0
    )
