"""Pretraining on named views (`--views SPEC`) instead of the preset's augmentation recipe.

Why: the paper's claim is that what the two views share decides what is learned. With
`--views` a preset keeps everything that makes it a method (loss, negatives, head,
temperature, jigsaw branch, optimiser) and only the views change, so the same method
can be trained on views that share the digit but not the background, on a colour-space
split, or on views a generator learned (`learned:PATH`).

The pairs come from the spec's `PairSource` (`infomin.views.specs`), rendered once for
the run: tensors already in network-input form. Views that are whole images feed one
shared encoder; views that are channel groups (colorspace, learned) feed CMC's two
towers, whose group sizes must match.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from infomin.config import ConfigError
from infomin.evaluate.features import encode
from infomin.evaluate.protocol import evaluate_features
from infomin.methods.presets import Preset
from infomin.models.backbones import Backbone, SplitEncoder
from infomin.views import JigsawPatches
from infomin.views.pairs import PairSet, PairSource, ProbeSet


class PairViews(Dataset):
    """`((v1, v2[, jigsaw patches of v1]), {}, index)` for each pair of a `PairSet`.

    The pairs are fixed for the run (rendered once, as the view experiments do); the
    jigsaw branch still draws a fresh crop and fresh patch offsets every time.
    """

    def __init__(self, pairs: PairSet, jigsaw: JigsawPatches | None = None) -> None:
        self.pairs, self.jigsaw = pairs, jigsaw

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[tuple[Tensor, ...], dict, int]:
        v1, v2 = self.pairs.v1[index], self.pairs.v2[index]
        views = (v1, v2) if self.jigsaw is None else (v1, v2, self.jigsaw(v1))
        return views, {}, index


def view_channels(pairs: PairSet) -> tuple[int, int]:
    return int(pairs.v1.shape[1]), int(pairs.v2.shape[1])


def check_views_fit(preset: Preset, pairs: PairSet, spec: str) -> None:
    """Refuse views the preset's encoder cannot take, before any training starts."""
    channels = view_channels(pairs)
    if preset.input == "rgb" and channels not in ((3, 3), (1, 1)):
        raise ConfigError(
            f"views {spec!r} give {channels[0]}- and {channels[1]}-channel inputs; preset "
            f"{preset.name!r} has one encoder for whole (RGB or grey) images: use a "
            "two-tower preset (cmc, cmcv2)"
        )
    if preset.input == "ydbdr-split" and channels != (1, 2):
        raise ConfigError(
            f"views {spec!r} give {channels[0]}- and {channels[1]}-channel inputs; preset "
            f"{preset.name!r} has towers for 1 and 2 channels: use an RGB preset"
        )
    if preset.jigsaw and channels[0] not in (1, 3):
        raise ConfigError(f"preset {preset.name!r} cuts jigsaw patches from whole images")


def pair_views(pairs: PairSet, preset: Preset, spec: str) -> PairViews:
    """The training pairs as `preset`'s dataset (refused if its encoder cannot take them)."""
    check_views_fit(preset, pairs, spec)
    jigsaw = JigsawPatches(int(pairs.v1.shape[-1])) if preset.jigsaw else None
    return PairViews(pairs, jigsaw)


def probe_inputs(probe: ProbeSet, backbone: Backbone) -> Tensor:
    """What the frozen backbone sees: the probe images, channel groups concatenated for
    two towers (their features come out concatenated, CMC's protocol)."""
    parts = [images for images in (probe.images_1, probe.images_2) if images is not None]
    if isinstance(backbone, SplitEncoder):
        return torch.cat(parts, dim=1)
    return parts[-1]  # one encoder: the single-image probe set of the source


def evaluate_on_probe_sets(
    backbone: Backbone, source: PairSource, sizes: tuple[int, int], seed: int
) -> dict[str, Any]:
    """The frozen protocol on the source's own probe sets (train, test)."""
    train = source.probe_set("train", sizes[0], seed)
    test = source.probe_set("test", sizes[1], seed)
    return evaluate_features(
        encode(backbone, probe_inputs(train, backbone)), train.targets,
        encode(backbone, probe_inputs(test, backbone)), test.targets, train.tasks,
    )  # fmt: skip
