"""photo-patches and the bundled photos: content, determinism, regions, pair distances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from infomin.data import DatasetError, PhotoPatches, patch_pairs, photos
from infomin.data.photo_patches import max_distance

PATCH, SIZE = 32, 192


def test_bundled_photos_are_real_colour_photos() -> None:
    assert photos.NUM_PHOTOS >= 10 and len(set(photos.PHOTO_NAMES)) == photos.NUM_PHOTOS
    for index in range(photos.NUM_PHOTOS):
        image = photos.photo(index, SIZE)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert min(image.shape[:2]) == SIZE
        channels = image.reshape(-1, 3).astype(np.int16)
        # True colour: the channels differ somewhere (a grey image would have r == g == b).
        assert np.abs(channels[:, 0] - channels[:, 1]).mean() > 2, photos.PHOTO_NAMES[index]
        assert image.std() > 10  # not a flat image


def _region_ok(split: str, photo: int, x: int, y: int) -> bool:
    height, width = photos.photo(photo, SIZE).shape[:2]
    boundary = int(width * photos.TRAIN_FRACTION)
    x0, x1 = (0, boundary) if split == "train" else (boundary, width)
    return x0 <= x and x + PATCH <= x1 and y >= 0 and y + PATCH <= height


@pytest.mark.parametrize("split", ["train", "test"])
def test_patches_come_from_their_photo_and_region(split: str) -> None:
    data = PhotoPatches(split, num_patches=200, seed=0)
    assert data.tasks["photo"].num_classes == photos.NUM_PHOTOS
    assert data.class_names["photo"] == photos.PHOTO_NAMES
    for index in range(len(data)):
        image, targets = data[index]
        x, y = data.offset[index].tolist()
        photo = int(targets["photo"])
        assert image.dtype == torch.uint8 and image.shape == (3, PATCH, PATCH)
        expected = photos.photo(photo, SIZE)[y : y + PATCH, x : x + PATCH].transpose(2, 0, 1)
        assert np.array_equal(image.numpy(), expected)
        assert _region_ok(split, photo, x, y)


def test_patches_are_deterministic_per_seed() -> None:
    a, b, c = (PhotoPatches("train", num_patches=50, seed=s) for s in (1, 1, 2))
    assert torch.equal(a.offset, b.offset) and torch.equal(a.photo, b.photo)
    assert torch.equal(a[7][0], b[7][0])
    assert not torch.equal(a.offset, c.offset)


@settings(max_examples=25, deadline=None)
@given(
    distance=st.floats(0, 160),
    split=st.sampled_from(["train", "test"]),
    seed=st.integers(0, 1000),
)
def test_pairs_are_at_the_requested_distance_inside_the_region(
    distance: float, split: str, seed: int
) -> None:
    pairs = patch_pairs(distance, 20, split, PATCH, SIZE, seed=seed)
    measured = torch.linalg.vector_norm(pairs.centers[:, 1] - pairs.centers[:, 0], dim=1)
    assert torch.allclose(measured, pairs.distance)
    assert (measured - distance).abs().max() <= 0.71
    for i in range(20):
        photo = int(pairs.photo[i])
        for member, patch in ((0, pairs.first[i]), (1, pairs.second[i])):
            x, y = (int(v) for v in pairs.centers[i, member] - PATCH / 2)
            assert _region_ok(split, photo, x, y)
            expected = photos.photo(photo, SIZE)[y : y + PATCH, x : x + PATCH]
            assert np.array_equal(patch.numpy(), expected.transpose(2, 0, 1))


def test_pairs_deterministic_and_directions_vary() -> None:
    a = patch_pairs(50, 64, seed=3)
    b = patch_pairs(50, 64, seed=3)
    assert torch.equal(a.first, b.first) and torch.equal(a.centers, b.centers)
    steps = a.centers[:, 1] - a.centers[:, 0]
    assert (steps[:, 0] > 0).any() and (steps[:, 0] < 0).any() and (steps[:, 1] < 0).any()
    zero = patch_pairs(0, 8, seed=1)
    assert torch.equal(zero.first, zero.second)


def test_impossible_distance_raises() -> None:
    limit = float(max_distance("test", PATCH, SIZE).min())
    with pytest.raises(DatasetError, match="impossible"):
        patch_pairs(limit + 5, 4, "test")
    with pytest.raises(DatasetError, match="impossible"):
        patch_pairs(-1, 4)
    data = PhotoPatches("test", num_patches=4)
    assert data.pairs(limit - 1, 4).first.shape == (4, 3, PATCH, PATCH)
