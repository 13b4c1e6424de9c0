"""`infomin evaluate` as a function: pick an encoder, extract, probe, report.

The encoder is either a trained backbone (weights from a file), a random-init backbone
(the floor any pretraining must clear) or raw pixels (the floor any representation must
clear). The result records the protocol next to the numbers, so a number in a report
always says how it was produced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn

from infomin.data import DatasetError, load_dataset
from infomin.data.real import skipped_summary
from infomin.data.transforms import to_model_input
from infomin.evaluate.features import extract_features, raw_pixel_features
from infomin.evaluate.protocol import chance_levels, evaluate_features
from infomin.models import build_backbone
from infomin.models.export import CheckpointError, read_checkpoint
from infomin.progress import ProgressCallback, console

ENCODERS = ("random-init", "raw-pixels", "weights")
Preprocess = Callable[[torch.Tensor], torch.Tensor]

# Option names of the embedded datasets' size, so one `--train-size` serves them all.
_SIZE_OPTION = {"colorful-moving-digits": "num_clips", "photo-patches": "num_patches"}


@dataclass(frozen=True)
class EvalConfig:
    """Everything that determines an evaluation's numbers."""

    data: str = "colorful-moving-digits"
    data_dir: str | None = None
    encoder: str = "random-init"
    weights: str | None = None
    backbone: str = "convnet"
    width: float = 1.0
    in_channels: int | None = None  # None: the data's (1 for grey datasets, else 3)
    pool_size: int = 1
    pixel_size: int | None = None
    train_size: int | None = 4000
    test_size: int | None = 1000
    seed: int = 0
    batch_size: int = 256
    knn_k: int = 200
    skip_corrupt: bool = False  # image folders: drop unreadable files (counted) instead of failing
    train_split: str = "train"  # the split the probe is fitted on
    test_split: str = "test"  # the split it is scored on


def load_split(config: EvalConfig, split: str, size: int | None):
    """The dataset for one split; embedded datasets take their size from the config."""
    options: dict[str, Any] = {}
    if config.data in _SIZE_OPTION:
        options["seed"] = config.seed
        if size is not None:
            options[_SIZE_OPTION[config.data]] = size
    if config.skip_corrupt:
        options["skip_corrupt"] = True
    dataset = load_dataset(config.data, split=split, data_dir=config.data_dir, **options)
    summary = skipped_summary(dataset)
    if summary:
        console.print(f"[yellow]{summary}", soft_wrap=True, highlight=False)
    return dataset


def is_pretrain_checkpoint(data: Mapping[str, Any]) -> bool:
    """Whether a checkpoint is a whole `infomin pretrain` run (preset and settings inside)."""
    return "preset" in data.get("hyper_parameters", {})


def build_encoder(config: EvalConfig, image_size: int) -> tuple[nn.Module, Preprocess]:
    """The backbone under evaluation and how to feed it: random init or a plain state dict.

    `weights` is a plain backbone `state_dict` for `--backbone/--width` (e.g. from
    `infomin export`); otherwise a seeded random init. A whole `infomin pretrain`
    checkpoint knows its own architecture and input: whoever knows the training recipes
    (the command line) builds that encoder and passes it to `run_evaluation`.
    """
    data = read_checkpoint(config.weights) if config.encoder == "weights" else None
    if data is not None and is_pretrain_checkpoint(data):
        raise CheckpointError(
            f"{config.weights} is an `infomin pretrain` checkpoint: build its encoder with "
            "infomin.methods.checkpoints.pretrained_encoder and pass it as run_evaluation(encoder=)"
        )
    torch.manual_seed(config.seed)
    model = build_backbone(
        config.backbone,
        in_channels=config.in_channels or 3,
        width=config.width,
        image_size=image_size,
        pool_size=config.pool_size,
    )
    if data is not None:
        state = data.get("state_dict", data)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError:
            raise CheckpointError(
                f"{config.weights} does not fit backbone {config.backbone!r} "
                f"(width {config.width}); pass the --backbone/--width it was trained with"
            ) from None
    return model, to_model_input


def run_evaluation(
    config: EvalConfig,
    progress: ProgressCallback | None = None,
    encoder: tuple[nn.Module, Preprocess] | None = None,
) -> dict[str, Any]:
    """Evaluate one encoder on one dataset; returns metrics, protocol and data sizes.

    Args:
        config: The data, the encoder kind and the probe settings.
        progress: ``(done, total)`` callback of the feature extraction.
        encoder: A built backbone (``[B, C, H, W] -> [B, D]``) and the function that turns
            ``uint8 [B, 3, H, W]`` images into its input; None builds it from ``config``
            (`build_encoder`). Pretrained checkpoints come this way (the caller knows
            the training recipes; this package does not).
    """
    if config.encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {config.encoder!r}; choose one of {ENCODERS}")
    if config.encoder == "weights" and config.weights is None:
        raise FileNotFoundError("--weights PATH is required with encoder 'weights'")
    train_set = load_split(config, config.train_split, config.train_size)
    test_set = load_split(config, config.test_split, config.test_size)
    if not train_set.tasks:
        raise DatasetError(f"dataset {config.data!r} has no labels to evaluate against")
    if config.encoder == "raw-pixels":
        train = raw_pixel_features(train_set, size=config.pixel_size)
        test = raw_pixel_features(test_set, size=config.pixel_size)
    else:
        image = train_set[0][0]
        image_size = int(image.shape[-1])
        if config.in_channels is None:
            config = replace(config, in_channels=int(image.shape[-3]))
        model, preprocess = encoder or build_encoder(config, image_size)
        extract = {"batch_size": config.batch_size, "progress": progress, "preprocess": preprocess}
        train = extract_features(model, train_set, **extract)
        test = extract_features(model, test_set, **extract)
    metrics = evaluate_features(*train, *test, train_set.tasks, knn_k=config.knn_k)
    return {
        "metrics": metrics,
        "chance": chance_levels(train_set.tasks, train[1], test[1]),
        "units": {key: _unit(key) for key in metrics},
        "feature_dim": int(train[0].shape[1]),
        "num_train": len(train_set),
        "num_test": len(test_set),
        "config": asdict(config),
        "protocol": PROTOCOL,
    }


PROTOCOL = (
    "frozen features (BN in eval mode, no grad); linear probe = multinomial logistic "
    "regression on standardised cached features; kNN k=200 cosine, votes exp(sim/0.07); "
    "position = ridge regression, mean Euclidean error in pixels"
)


def _unit(key: str) -> str:
    return "px" if key.endswith("_px") else "%" if "top" in key else ""
