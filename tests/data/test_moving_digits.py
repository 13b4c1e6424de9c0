"""colorful-moving-digits: determinism, labels that match pixels, motion, disjoint splits."""

from __future__ import annotations

import colorsys
import time

import numpy as np
import pytest
import torch

from infomin.data import (
    ColorfulMovingDigits,
    DatasetError,
    photos,
    render,
    render_factors,
    sample_factors,
)
from infomin.data.moving_digits import (
    RenderConfig,
    digit_indices,
    hue_to_rgb,
    mnist_digits,
    position_bounds,
)

CANVAS = 32


@pytest.fixture(scope="module")
def train() -> ColorfulMovingDigits:
    return ColorfulMovingDigits("train", num_clips=300, seed=1)


@pytest.fixture(scope="module")
def test_split() -> ColorfulMovingDigits:
    return ColorfulMovingDigits("test", num_clips=300, seed=1)


def _centroid(weights: torch.Tensor) -> torch.Tensor:
    """Weighted centre (x, y) of `[..., H, W]` maps; pixel j covers [j, j + 1)."""
    grid = torch.arange(weights.shape[-1], dtype=torch.float64) + 0.5
    weights = weights.double()
    mass = weights.sum((-2, -1))
    x = (weights.sum(-2) * grid).sum(-1) / mass
    y = (weights.sum(-1) * grid).sum(-1) / mass
    return torch.stack([x, y], -1)


def test_same_seed_same_tensors_and_different_seed_differs() -> None:
    a = ColorfulMovingDigits("train", num_clips=64, seed=3)
    b = ColorfulMovingDigits("train", num_clips=64, seed=3)
    c = ColorfulMovingDigits("train", num_clips=64, seed=4)
    assert torch.equal(a.clips, b.clips)
    for name, value in a.factors.as_dict().items():
        assert torch.equal(value, getattr(b.factors, name)), name
    assert not torch.equal(a.clips, c.clips)
    assert not torch.equal(a.digit_index, c.digit_index)


def test_item_contract(train: ColorfulMovingDigits) -> None:
    image, targets = train[5]
    assert image.dtype == torch.uint8 and image.shape == (3, CANVAS, CANVAS)
    assert torch.equal(image, train.clips[5, 0])
    assert set(targets) == set(train.tasks) == {"digit", "background", "position"}
    assert targets["digit"].dtype == torch.int64 and targets["digit"].shape == ()
    assert targets["position"].dtype == torch.float32 and targets["position"].shape == (2,)
    assert train.tasks["digit"].num_classes == 10
    assert train.tasks["background"].num_classes == photos.NUM_PHOTOS >= 10
    assert train.tasks["position"].kind == "regression" and train.tasks["position"].unit == "px"
    assert train.class_names["background"] == photos.PHOTO_NAMES
    assert train.clips.shape == (300, 4, 3, CANVAS, CANVAS)


def test_frame_option_and_transform() -> None:
    third = ColorfulMovingDigits("train", num_clips=8, seed=2, frame=2, transform=lambda x: -x)
    image, targets = third[1]
    assert torch.equal(image, -third.clips[1, 2])
    assert torch.equal(targets["position"], third.position[1, 2])
    clip, factors = third.clip(1)
    assert clip.shape == (4, 3, CANVAS, CANVAS)
    assert factors["position"].shape == (4, 2) and factors["color"].shape == (3,)
    with pytest.raises(DatasetError):
        ColorfulMovingDigits("train", num_clips=2, frame=4)


def test_digit_is_where_its_label_says_on_black() -> None:
    data = ColorfulMovingDigits("train", num_clips=200, dim=0.0, seed=5)
    ink = data.clips.float().amax(dim=2)  # [N, T, H, W]; full-value colours: max = 255 alpha
    error = (_centroid(ink) - data.position.double()).abs()
    assert error.max() <= 0.75, float(error.max())
    # The brightest pixel (alpha 1) shows exactly the stored colour.
    flat = data.clips[:, 0].flatten(2)  # [N, 3, H*W]
    brightest = flat.float().amax(1).argmax(-1)
    shown = flat[torch.arange(len(data)), :, brightest].float() / 255.0
    assert (shown - data.color).abs().max() <= 2.0 / 255.0


def test_digit_is_where_its_label_says_over_the_photo(train: ColorfulMovingDigits) -> None:
    """Pixels that differ from the dimmed photo crop are the digit, centred at its label."""
    for index in range(40):
        _, factors = train.clip(index)
        x, y = factors["crop_offset"].tolist()
        photo = photos.photo(int(factors["background"]), 3 * CANVAS)
        crop = torch.from_numpy(photo[y : y + CANVAS, x : x + CANVAS].astype(np.float64))
        expected = (crop * 0.6).round().permute(2, 0, 1)
        for t in range(4):
            changed = (train.clips[index, t].double() - expected).abs().amax(0) > 2
            centre = _centroid(changed.double())
            assert (centre - factors["position"][t]).abs().max() <= 1.5, (index, t)
            far = ~changed
            frame = train.clips[index, t].double()
            assert (frame - expected).abs()[:, far].max() <= 2  # the rest is the dimmed crop


def test_motion_is_constant_velocity_with_bounces(train: ColorfulMovingDigits) -> None:
    low, high = position_bounds(train.digit_index.numpy(), train.config)
    position = train.position.double().numpy()
    velocity = train.velocity.double().numpy().copy()
    current = position[:, 0].copy()
    for t in range(1, position.shape[1]):
        current += velocity
        over, under = current > high, current < low
        current = np.where(over, 2 * high - current, np.where(under, 2 * low - current, current))
        velocity = np.where(over | under, -velocity, velocity)
        np.testing.assert_allclose(position[:, t], current, atol=1e-4)
    assert (position >= low[:, None] - 1e-5).all() and (position <= high[:, None] + 1e-5).all()
    speed = np.linalg.norm(train.velocity.numpy(), axis=1)
    assert speed.min() >= 1.0 - 1e-6 and speed.max() <= 3.0 + 1e-6


def test_ink_never_leaves_the_canvas() -> None:
    """With a black background the total ink of a clip is the same in every frame."""
    data = ColorfulMovingDigits("train", num_clips=300, dim=0.0, seed=6, speed=(3.0, 6.0))
    total = data.clips.long().sum((2, 3, 4))  # [N, T]
    assert (total == total[:, :1]).all()
    bounced = (data.velocity.sign() != (data.position[:, 1] - data.position[:, 0]).sign()).any()
    assert bounced  # the fast clips really hit walls


def test_splits_use_disjoint_digits_and_photo_regions(
    train: ColorfulMovingDigits, test_split: ColorfulMovingDigits
) -> None:
    train_pool, test_pool = set(digit_indices("train")), set(digit_indices("test"))
    assert len(train_pool) == 4000 and len(test_pool) == 1000 and not train_pool & test_pool
    labels = mnist_digits()[1]
    assert np.bincount(labels[list(test_pool)]).tolist() == [100] * 10
    assert set(train.digit_index.tolist()) <= train_pool
    assert set(test_split.digit_index.tolist()) <= test_pool
    for data, split in ((train, "train"), (test_split, "test")):
        for (x, y), photo in zip(data.crop_offset.tolist(), data.background.tolist(), strict=True):
            height, width = photos.photo(photo, 3 * CANVAS).shape[:2]
            boundary = int(width * photos.TRAIN_FRACTION)
            if split == "train":
                assert x >= 0 and x + CANVAS <= boundary
            else:
                assert boundary <= x and x + CANVAS <= width
            assert y >= 0 and y + CANVAS <= height
    assert len(set(train.background.tolist())) == photos.NUM_PHOTOS


def test_render_from_factors_matches_clips_and_swaps_backgrounds(
    train: ColorfulMovingDigits,
) -> None:
    f = train.factors.select(slice(0, 16))
    frames = render(f.digit_index, f.color, f.position[:, 2], f.background, f.crop_offset)
    assert frames.shape == (16, 3, CANVAS, CANVAS)
    assert torch.equal(frames, train.clips[:16, 2])
    # v2 shares the digit (image, colour, position) but shows another photo crop:
    # every pixel is the new dimmed crop blended with the same ink by the same alpha.
    other = train.sample_factors(16, seed=99)
    swapped = f.replace(background=other.background, crop_offset=other.crop_offset)
    v2 = train.render(swapped).double()  # [16, T, 3, H, W]
    white_on_black = RenderConfig(dim=0.0)
    alpha = render_factors(f.replace(color=torch.ones(16, 3)), white_on_black)[:, :, :1] / 255.0
    for i in range(16):
        x, y = swapped.crop_offset[i].tolist()
        crop = photos.photo(int(swapped.background[i]), 3 * CANVAS)[y : y + CANVAS, x : x + CANVAS]
        base = torch.from_numpy(crop.astype(np.float64)).permute(2, 0, 1) * 0.6
        ink = f.color[i].double().view(3, 1, 1) * 255.0
        expected = base + alpha[i] * (ink - base)  # [T, 3, H, W]
        assert (v2[i] - expected).abs().max() <= 2.0
    assert not torch.equal(v2, train.clips[:16].double())


def test_hue_to_rgb_matches_colorsys() -> None:
    hues = np.linspace(0, 0.999, 37)
    expected = np.array([colorsys.hsv_to_rgb(h, 1.0, 1.0) for h in hues])
    np.testing.assert_allclose(hue_to_rgb(hues), expected, atol=1e-9)


def test_bad_settings_raise_dataset_error() -> None:
    with pytest.raises(DatasetError, match="split"):
        sample_factors(4, split="val")
    with pytest.raises(DatasetError, match="digit_size"):
        RenderConfig(canvas=16, digit_size=20)


def test_other_sizes_render() -> None:
    data = ColorfulMovingDigits("test", num_clips=16, frames=6, canvas=48, digit_size=28, seed=0)
    assert data.clips.shape == (16, 6, 3, 48, 48)
    total = ColorfulMovingDigits("test", num_clips=16, frames=6, canvas=48, digit_size=28, dim=0)
    sums = total.clips.long().sum((2, 3, 4))
    assert (sums == sums[:, :1]).all()


def test_ten_thousand_clips_generate_fast() -> None:
    ColorfulMovingDigits("train", num_clips=16)  # warm the caches (MNIST, photos)
    start = time.perf_counter()
    data = ColorfulMovingDigits("train", num_clips=10_000, seed=11)
    elapsed = time.perf_counter() - start
    assert data.clips.shape[0] == 10_000
    assert elapsed < 15.0, f"10,000 clips took {elapsed:.1f} s"
