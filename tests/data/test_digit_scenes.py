"""digit-scenes: boxes are the ink's tight boxes, scenes are deterministic, bad requests refused."""

import numpy as np
import pytest
import torch

from infomin.data.base import DatasetError
from infomin.data.digit_scenes import INK_THRESHOLD, DigitScenes, scene_digits
from infomin.data.moving_digits import digit_indices


def test_boxes_are_the_tight_boxes_of_the_ink():
    """On a black background (dim 0) the digits' pixels are the only non-zero ones."""
    scenes = DigitScenes("train", num_scenes=40, canvas=72, dim=0.0, seed=3)
    ink_level = INK_THRESHOLD * 255 - 0.5  # a fully saturated colour puts alpha in one channel
    for image, target in scenes:
        brightness = image.max(dim=0).values.float()
        covered = torch.zeros_like(brightness, dtype=torch.bool)
        for x0, y0, x1, y1 in target["boxes"].long().tolist():
            assert 0 <= x0 < x1 <= 72 and 0 <= y0 < y1 <= 72
            assert not covered[y0:y1, x0:x1].any(), "boxes overlap"
            covered[y0:y1, x0:x1] = True
            inside = brightness[y0:y1, x0:x1] >= ink_level
            # tight: ink on each of the box's four edges
            assert inside[0].any() and inside[-1].any()
            assert inside[:, 0].any() and inside[:, -1].any()
        assert not (brightness[~covered] > 0).any(), "ink outside every box"


def test_labels_are_digits_and_counts_in_range():
    scenes = DigitScenes("test", num_scenes=60, max_digits=3, seed=1)
    counts = {len(t["labels"]) for _, t in scenes}
    assert counts == {1, 2, 3}
    assert all(((t["labels"] >= 0) & (t["labels"] <= 9)).all() for _, t in scenes)


def test_same_arguments_same_scenes_and_seed_changes_them():
    a, b = DigitScenes("train", 8, seed=5), DigitScenes("train", 8, seed=5)
    c = DigitScenes("train", 8, seed=6)
    for i in range(8):
        assert torch.equal(a[i][0], b[i][0]) and torch.equal(a[i][1]["boxes"], b[i][1]["boxes"])
    assert not all(torch.equal(a[i][0], c[i][0]) for i in range(8))


def test_digits_are_held_out_and_split_in_halves():
    train, test = set(scene_digits("train")), set(scene_digits("test"))
    assert not train & test
    assert train | test == set(np.asarray(digit_indices("test")).tolist())
    assert not (train | test) & set(np.asarray(digit_indices("train")).tolist())


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"max_digits": 9, "digit_size": (12, 24)}, "do not fit a 64 px canvas"),
        ({"canvas": 128}, "canvas must be in [64, 96]"),
        ({"min_digits": 3, "max_digits": 2}, "min_digits <= max_digits"),
        ({"split": "val"}, "split"),
    ],
)
def test_requests_the_canvas_cannot_hold_are_refused(kwargs, phrase):
    with pytest.raises(DatasetError) as error:
        DigitScenes(num_scenes=2, **kwargs)
    assert phrase in str(error.value) and "\n" not in str(error.value)
