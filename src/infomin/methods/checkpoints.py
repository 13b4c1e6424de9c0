"""Rebuilding a pretrained backbone from an `infomin pretrain` checkpoint.

A checkpoint carries its preset and settings as hyper-parameters, so the backbone's
architecture and the input it expects (RGB, or YDbDr for CMC's two towers) are never
guessed from the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor, nn

from infomin.data.transforms import to_model_input
from infomin.evaluate.runner import is_pretrain_checkpoint
from infomin.methods.base import TrainSettings, build_towers
from infomin.methods.presets import Preset
from infomin.models.export import backbone_state, read_checkpoint
from infomin.views import to_normalized_color_space

SPLIT_SPACE = "ydbdr"


def eval_preprocess(preset: Preset) -> Callable[[Tensor], Tensor]:
    """How frozen evaluation feeds images: RGB, or YDbDr for the two-tower methods."""
    if preset.input == "ydbdr-split":
        return lambda x: to_normalized_color_space(x.float() / 255.0, SPLIT_SPACE)
    return to_model_input


def load_pretrained(data: Mapping[str, Any]) -> tuple[nn.Module, Preset]:
    """The backbone of a pretrain checkpoint (heads, queues and banks dropped)."""
    hparams = data["hyper_parameters"]
    preset = Preset(**hparams["preset"])
    model = build_towers(preset, TrainSettings(**hparams["settings"]))
    model.load_state_dict(backbone_state(data["state_dict"]), strict=True)
    return model, preset


def pretrained_encoder(weights: str | None) -> tuple[nn.Module, Callable[[Tensor], Tensor]] | None:
    """The backbone of an `infomin pretrain` checkpoint and how to feed it, for evaluation.

    Args:
        weights: Path of a checkpoint, or None.

    Returns:
        ``(backbone, preprocess)`` to hand to `infomin.evaluate.runner.run_evaluation`
        (``preprocess`` maps ``uint8 [B, 3, H, W]`` to the backbone's input), or None when
        ``weights`` is None or not a pretrain checkpoint (a plain backbone state dict,
        which the evaluation loads itself).
    """
    data = read_checkpoint(weights) if weights is not None else None
    if data is None or not is_pretrain_checkpoint(data):
        return None
    model, preset = load_pretrained(data)
    return model, eval_preprocess(preset)
