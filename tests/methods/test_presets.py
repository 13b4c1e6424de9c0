"""The preset table against the paper's table (notes section 2)."""

import pytest

from infomin.config import ConfigError
from infomin.methods.presets import PRESETS, for_image_size, get_preset

# method: (input, jigsaw, negatives, aug, head, tau, crop lower bound)
PAPER = {
    "insdis": ("rgb", False, "bank", "A", "linear", 0.07, 0.08),
    "cmc": ("ydbdr-split", False, "bank", "C", "linear", 0.07, 0.08),
    "moco": ("rgb", False, "queue", "A", "linear", 0.07, 0.2),
    "pirl": ("rgb", True, "bank", "A", "linear", 0.07, 0.08),
    "mocov2": ("rgb", False, "queue", "B", "mlp", 0.2, 0.2),
    "cmcv2": ("ydbdr-split", False, "queue", "E", "mlp", 0.2, 0.2),
    "infomin": ("rgb", True, "queue", "D", "mlp", 0.15, 0.2),
    "simclr": ("rgb", False, "batch", "B", "mlp", 0.5, 0.08),
}


@pytest.mark.parametrize("name", sorted(PAPER))
def test_preset_matches_paper(name):
    p = PRESETS[name]
    assert (p.input, p.jigsaw, p.negatives, p.aug, p.head, p.temperature, p.crop_min) == PAPER[name]
    assert (p.lr, p.momentum, p.weight_decay, p.embed_dim) == (0.03, 0.9, 1e-4, 128)
    if p.negatives != "batch":
        assert p.num_negatives == 65536


def test_small_images_shorten_the_queue_but_not_simclr():
    assert for_image_size(PRESETS["mocov2"], 32).num_negatives == 4096
    assert for_image_size(PRESETS["mocov2"], 224).num_negatives == 65536
    assert for_image_size(PRESETS["simclr"], 32).num_negatives == 0


def test_unknown_preset_names_choices():
    with pytest.raises(ConfigError, match="choose one of: insdis"):
        get_preset("byol")
