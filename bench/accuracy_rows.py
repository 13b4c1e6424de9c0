"""The rows of the Fashion-MNIST accuracy table (`bench.accuracy`): data, training, scoring.

Each row is a backbone, or the raw pixels, scored by the frozen protocol of
`infomin evaluate` (features of the network in eval mode, no grad; multinomial logistic
regression by L-BFGS on standardised features; kNN k=200, cosine, temperature 0.07).
Features are computed from the in-memory uint8 tensors (`encode` on `to_model_input`),
the same numbers `extract_features` gives without its per-item data loader.

Training rows share one backbone, one training subset, one batch, one number of epochs
and one precision (what `pretrain` resolves `auto` to: bf16 autocast where the CPU has
bf16, else fp32):
- presets: `infomin.methods.pretrain.pretrain` itself, on a folder holding the training
  subset as IDX files (so `data="fashion-mnist"` reads it like the real one);
- supervised: cross-entropy on the same subset and augmentation (one crop of the simclr
  preset's recipe per image), with bench.transfer's classifier step;
- lightly: lightly's SimCLR (NTXentLoss, SimCLRProjectionHead as bench.step builds it,
  SimCLRTransform) in a plain torch loop with our SGD and lr schedule.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from bench.step import LightlyModel, sgd
from bench.transfer import _batches, _classifier_step, _quiet
from infomin.data import load_dataset
from infomin.data.transforms import GRAY_MEAN, GRAY_STD, to_model_input
from infomin.evaluate.features import encode
from infomin.evaluate.protocol import evaluate_features
from infomin.methods import TrainSettings, for_image_size, get_preset
from infomin.methods.base import learning_rate_factor
from infomin.methods.presets import Preset
from infomin.models import build_backbone

SIZE = 28  # Fashion-MNIST's side
CLASSES = 10
VALIDATION_IMAGES = 5000  # `--validate`: the last training images, never the test set


@dataclass(frozen=True)
class Split:
    """Images `uint8 [N, 1, 28, 28]` and labels `int64 [N]`."""

    images: Tensor
    labels: Tensor

    def head(self, count: int | None) -> Split:
        """The first `count` samples (None: all)."""
        return self if count is None else Split(self.images[:count], self.labels[:count])


@dataclass(frozen=True)
class TableData:
    """What one table run reads: the pretraining subset and the probe's two splits."""

    pretrain: Split
    probe_train: Split
    probe_test: Split
    scored_on: str  # "test" (the 10,000 test images) or "validation"
    tasks: dict[str, Any]  # the dataset's `class` task (10 classes)


def load_table_data(
    data_dir: str | None, validate: bool, subset: int, probe_sizes: tuple[int | None, ...]
) -> TableData:
    """Fashion-MNIST's splits; a missing folder raises the dataset's one-line error.

    `validate`: the last `VALIDATION_IMAGES` training images are scored on, and neither
    pretrained nor probed on; the test set is not even opened. The pretraining subset is
    a fixed draw (seed 0) of the rest, the same for every row and seed.
    """
    train = load_dataset("fashion-mnist", "train", data_dir=data_dir)
    images, labels = train.images, train.labels  # type: ignore[attr-defined]
    if validate:
        cut = len(labels) - min(VALIDATION_IMAGES, len(labels) // 6)
        pool, scored = Split(images[:cut], labels[:cut]), Split(images[cut:], labels[cut:])
    else:
        test = load_dataset("fashion-mnist", "test", data_dir=data_dir)
        pool, scored = Split(images, labels), Split(test.images, test.labels)  # type: ignore[attr-defined]
    order = torch.randperm(len(pool.labels), generator=torch.Generator().manual_seed(0))
    chosen = order[: min(subset, len(order))]
    return TableData(
        pretrain=Split(pool.images[chosen], pool.labels[chosen]),
        probe_train=pool.head(probe_sizes[0]),
        probe_test=scored.head(probe_sizes[1]),
        scored_on="validation" if validate else "test",
        tasks=train.tasks,
    )


# ------------------------------------------------------------------ scoring
def score_features(train_x: Tensor, test_x: Tensor, data: TableData) -> dict[str, float]:
    """Linear and kNN top-1 as fractions in [0, 1] (the protocol reports percent)."""
    metrics = evaluate_features(
        train_x, {"class": data.probe_train.labels}, test_x, {"class": data.probe_test.labels},
        data.tasks,
    )  # fmt: skip
    return {
        "linear_top1": metrics["class.linear_top1"] / 100,
        "knn_top1": metrics["class.knn_top1"] / 100,
    }


def score_pixels(data: TableData) -> dict[str, float]:
    """The raw-pixel row: the 784 grey values in [0, 1], no network."""
    flat = [s.images.flatten(1).float() / 255 for s in (data.probe_train, data.probe_test)]
    return score_features(*flat, data)


@torch.no_grad()
def features(model: nn.Module, images: Tensor, device: str) -> Tensor:
    """Frozen features (eval mode, no grad, fp32) of uint8 images: 4,096 converted to
    network input at a time, 512 per forward pass."""
    model = model.to(device).eval()
    chunks = [
        encode(model, to_model_input(images[i : i + 4096].to(device))).float().cpu()
        for i in range(0, len(images), 4096)
    ]
    return torch.cat(chunks)


def score_backbone(model: nn.Module, data: TableData, device: str) -> dict[str, float]:
    """A backbone's row: its frozen features through both probes."""
    return score_features(
        features(model, data.probe_train.images, device),
        features(model, data.probe_test.images, device),
        data,
    )


# ------------------------------------------------------------------ shared settings
@dataclass(frozen=True)
class Training:
    """What every training row shares."""

    backbone: str
    width: float
    epochs: int
    batch: int
    lr: float | None  # None: each preset's own (0.03 x batch / 256)
    supervised_lr: float
    seed: int
    device: str  # cpu or cuda
    precision: str  # bf16-mixed or 32-true, as pretrain resolves "auto"
    workers: int = 0  # DataLoader workers of per-image views (infomin on a GPU, lightly)
    crop_min: float | None = None  # presets' crop lower bound (None: each preset's own)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.precision.startswith("bf16"):
            return torch.autocast(self.device, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def steps(self, images: int) -> int:
        """Optimiser steps: whole batches (the last partial one dropped) times epochs."""
        return max(1, images // self.batch) * self.epochs


def new_backbone(train: Training) -> nn.Module:
    """The one architecture of every row (1 grey input channel)."""
    return build_backbone(train.backbone, in_channels=1, width=train.width, image_size=SIZE)


def simclr_preset() -> Preset:
    """Our simclr preset as a 28-px run resolves it (the lightly row copies its numbers)."""
    return for_image_size(get_preset("simclr"), SIZE)


# ------------------------------------------------------------------ presets: infomin pretrain
def write_idx(path: Path, array: np.ndarray) -> None:
    """An uncompressed unsigned-byte IDX file (magic 0x0800 | dims, big-endian sizes)."""
    data = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(f">I{data.ndim}I", 0x0800 | data.ndim, *data.shape)
    path.write_bytes(header + data.tobytes())


def write_subset_folder(folder: Path, data: TableData) -> Path:
    """The pretraining subset as a Fashion-MNIST folder (`train-*`), with the scored split
    as its `t10k-*` (pretrain opens it; with `evaluate=False` nothing is scored on it)."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, split in (("train", data.pretrain), ("t10k", data.probe_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", split.images[:, 0].numpy())
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", split.labels.numpy())
    return folder


def train_preset(preset: str, train: Training, subset_dir: Path, run: Path) -> nn.Module:
    """`pretrain` on the subset folder (probe off: the table scores every row alike), then
    the backbone of its last checkpoint (heads, queues and banks dropped)."""
    from infomin.methods.checkpoints import pretrained_encoder
    from infomin.methods.pretrain import PretrainConfig, last_checkpoint, pretrain

    config = PretrainConfig(
        preset=preset, data="fashion-mnist", data_dir=str(subset_dir),
        backbone=train.backbone, width=train.width, epochs=train.epochs,
        batch_size=train.batch, lr=train.lr, seed=train.seed, evaluate=False,
        checkpoint_every=train.epochs, accelerator="gpu" if train.device == "cuda" else "cpu",
        num_workers=train.workers, crop_min=train.crop_min,
    )  # fmt: skip
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # its start-up lines
    shutil.rmtree(run, ignore_errors=True)  # an earlier table's run: always train afresh
    with _quiet(run / "pretrain.log"):
        pretrain(config, run)
    encoder = pretrained_encoder(str(last_checkpoint(run)))
    assert encoder is not None, f"{run} holds no pretrain checkpoint"
    return encoder[0]


# ------------------------------------------------------------------ supervised
def train_supervised(train: Training, images: Tensor, labels: Tensor) -> nn.Module:
    """Cross-entropy end to end: one crop per image of the simclr recipe (crop, flip,
    brightness and contrast jitter, blur), bench.transfer's step (SGD momentum 0.9,
    weight decay 5e-4, 5% warm-up then cosine)."""
    from infomin.methods.pretrain import build_batched_views

    torch.manual_seed(train.seed)
    recipe = build_batched_views(simclr_preset(), SIZE).views[0]
    trunk = new_backbone(train).to(train.device)
    head = nn.Linear(trunk.out_dim, CLASSES).to(train.device)
    steps = train.steps(len(labels))
    step = _classifier_step(trunk, head, steps, lr=train.supervised_lr)
    generator = torch.Generator().manual_seed(train.seed)
    for batch in _batches(len(labels), min(train.batch, len(labels)), steps, train.seed):
        x = recipe(images[batch], generator).to(train.device)
        with train.autocast():
            step(x, labels[batch].to(train.device))
    return trunk


# ------------------------------------------------------------------ lightly's SimCLR
class LightlyViews(Dataset):
    """Two SimCLRTransform views of each image, as lightly's examples feed them."""

    def __init__(self, images: Tensor) -> None:
        from lightly.transforms import SimCLRTransform

        self.images = images
        preset = simclr_preset()
        jitter = 0.4  # our recipe B's brightness and contrast (saturation, hue: no-ops on grey)
        self.transform = SimCLRTransform(
            input_size=SIZE, min_scale=max(preset.crop_min, 0.2), cj_prob=0.8,
            cj_strength=1.0, cj_bright=jitter, cj_contrast=jitter, cj_sat=0.0, cj_hue=0.0,
            random_gray_scale=0.0, gaussian_blur=0.0, hf_prob=0.5,
            normalize={"mean": list(GRAY_MEAN), "std": list(GRAY_STD)},
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[list[Tensor], int]:
        from torchvision.transforms.v2 import functional as tvf

        return self.transform(tvf.to_pil_image(self.images[index])), 0


def train_lightly(train: Training, images: Tensor) -> nn.Module:
    """lightly's SimCLR on our backbone: the simclr preset's temperature, head sizes, SGD
    (lr, momentum, weight decay) and per-step lr schedule, so only the code differs.

    Min crop 0.2 as our recipe on small images (lightly's default 0.08 would differ);
    no blur (ours is a 3-px kernel of sigma <= 0.25 at 28 px, close to none).
    """
    torch.manual_seed(train.seed)
    preset = simclr_preset()
    steps_per_epoch = max(1, len(images) // train.batch)
    settings = TrainSettings(
        backbone=train.backbone, width=train.width, image_size=SIZE, in_channels=1,
        batch_size=train.batch, epochs=train.epochs, steps_per_epoch=steps_per_epoch,
        lr=train.lr,
    )  # fmt: skip
    model = LightlyModel(preset, settings).to(train.device)
    lr = train.lr if train.lr is not None else preset.lr * train.batch / 256
    optimizer = sgd(model.parameters(), preset, lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: learning_rate_factor(i, settings, preset)
    )
    for x0, x1 in lightly_batches(images, train):
        with train.autocast():
            loss = model.loss((x0.to(train.device), x1.to(train.device)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.backbone


def lightly_batches(images: Tensor, train: Training) -> Iterator[tuple[Tensor, ...]]:
    """Every epoch's batches of view pairs from a shuffling DataLoader (seeded), in
    `train.workers` processes (at least 1: lightly's examples load in a worker)."""
    workers = max(1, train.workers)
    loader = DataLoader(
        LightlyViews(images), batch_size=min(train.batch, len(images)), shuffle=True,
        drop_last=True, num_workers=workers, persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(train.seed),
    )  # fmt: skip
    for _ in range(train.epochs):
        for (x0, x1), _ in loader:
            yield x0, x1


# ------------------------------------------------------------------ one row
def timed(fn) -> tuple[Any, float]:
    """`fn()` and its wall seconds."""
    began = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - began


def run_row(row: str, train: Training, data: TableData, work: Path) -> dict[str, Any]:
    """Train (if the row trains) and score one row at one seed."""
    images, labels = data.pretrain.images, data.pretrain.labels
    if row == "raw-pixels":
        return {**score_pixels(data), "pretrain_s": 0.0, "images_per_s": None}
    if row == "random-init":
        torch.manual_seed(train.seed)
        model, seconds = new_backbone(train), 0.0
    elif row == "supervised":
        model, seconds = timed(lambda: train_supervised(train, images, labels))
    elif row == "lightly-simclr":
        model, seconds = timed(lambda: train_lightly(train, images))
    else:
        run = work / f"{row}-seed{train.seed}"
        model, seconds = timed(lambda: train_preset(row, train, work / "subset", run))
    seen = train.steps(len(labels)) * min(train.batch, len(labels)) if seconds else 0
    rate = seen / seconds if seconds else None
    scores = score_backbone(model, data, train.device)
    return {**scores, "pretrain_s": seconds, "images_per_s": rate}
