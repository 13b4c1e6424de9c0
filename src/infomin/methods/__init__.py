"""Contrastive methods: the preset table and one short Lightning module per negatives source."""

from infomin.methods.bank import BankMethod
from infomin.methods.base import ContrastiveMethod, TrainSettings
from infomin.methods.in_batch import InBatchMethod
from infomin.methods.presets import PRESETS, Preset, for_image_size, get_preset
from infomin.methods.queue import QueueMethod

# The `negatives` switch of a preset picks the module: methods as data, not branches.
METHOD_CLASSES: dict[str, type[ContrastiveMethod]] = {
    "batch": InBatchMethod,
    "queue": QueueMethod,
    "bank": BankMethod,
}


def build_method(preset: Preset, settings: TrainSettings) -> ContrastiveMethod:
    """The Lightning module for `preset`."""
    return METHOD_CLASSES[preset.negatives](preset, settings)


__all__ = [
    "METHOD_CLASSES",
    "PRESETS",
    "BankMethod",
    "ContrastiveMethod",
    "InBatchMethod",
    "Preset",
    "QueueMethod",
    "TrainSettings",
    "build_method",
    "for_image_size",
    "get_preset",
]
