"""`pretrain --views SPEC`: a preset's method trained on named views instead of its recipe."""

import math

import pytest
import torch

from infomin.config import ConfigError
from infomin.methods import PRESETS
from infomin.methods.pretrain import PretrainConfig, pretrain
from infomin.methods.view_pairs import PairViews, check_views_fit
from infomin.views import JigsawPatches
from infomin.views.pairs import PairSet

TINY = dict(train_size=32, test_size=32, batch_size=8, epochs=1, max_steps=2, width=0.25)


def _pairs(c1=3, c2=3, n=4, size=32):
    return PairSet(torch.randn(n, c1, size, size), torch.randn(n, c2, size, size))


def test_pair_views_yield_the_pair_its_index_and_jigsaw_patches_of_v1():
    pairs = _pairs()
    views, targets, index = PairViews(pairs)[2]
    assert index == 2 and targets == {}
    assert torch.equal(views[0], pairs.v1[2]) and torch.equal(views[1], pairs.v2[2])
    views, _, _ = PairViews(pairs, JigsawPatches(32))[1]
    assert len(views) == 3 and views[2].shape == (9, 3, 9, 9)


@pytest.mark.parametrize(
    ("preset", "channels", "message"),
    [
        ("simclr", (1, 2), "two-tower preset"),
        ("cmc", (3, 3), "RGB preset"),
        ("cmcv2", (2, 1), "RGB preset"),
    ],
)
def test_views_the_encoder_cannot_take_are_refused(preset, channels, message):
    with pytest.raises(ConfigError, match=message):
        check_views_fit(PRESETS[preset], _pairs(*channels), "spec")


def test_fitting_views_pass():
    check_views_fit(PRESETS["infomin"], _pairs(3, 3), "spec")
    check_views_fit(PRESETS["cmc"], _pairs(1, 2), "spec")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(views="toy:digit,colour=1"), "bad view spec"),
        (dict(views="nonsense:1"), "unknown kind"),
        (dict(views="toy:digit", online_probe=True), "online probe"),
        (dict(views="colorspace:lab", preset="cmc", knn_every=1), "kNN monitor"),
    ],
)
def test_config_refuses_unusable_views_before_any_work(changes, message):
    with pytest.raises(ConfigError, match=message):
        PretrainConfig(**changes)


def test_rgb_preset_on_toy_views_trains_with_jigsaw_and_probes_the_dataset(tmp_path):
    config = PretrainConfig(preset="infomin", views="toy:digit", **TINY)
    results = pretrain(config, tmp_path)
    assert results["steps_done"] == 2 and math.isfinite(results["final"]["train/loss"])
    assert {"digit.linear_top1", "background.linear_top1"} <= set(results["metrics"])


def test_two_towers_on_a_colour_space_split_probe_the_sources_images(tmp_path):
    config = PretrainConfig(preset="cmc", views="colorspace:lab", **TINY)
    results = pretrain(config, tmp_path)
    assert results["steps_done"] == 2
    assert "digit.linear_top1" in results["metrics"]
