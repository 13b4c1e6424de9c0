"""The thin Lightning base every contrastive method shares.

What is common: the backbone (one shared encoder, or CMC's two towers on channel
groups), a projection head per tower, the optional jigsaw head, the optimiser and its
schedule, and logging of the loss with its I_NCE = log K - L. What differs (where the
negatives come from) lives in one short subclass per source: `InBatchMethod`,
`QueueMethod`, `BankMethod`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn

from infomin.methods.presets import WARMUP_FROM_LR, Preset, auto_warmup_epochs
from infomin.models import build_backbone
from infomin.models.backbones import Backbone, SplitEncoder
from infomin.objectives import InfoNCELoss, JigsawHead, LinearHead, MLPHead, NCELoss


@dataclass(frozen=True)
class TrainSettings:
    """What the method needs to know about the run, beyond its preset."""

    backbone: str = "convnet"
    width: float = 1.0
    image_size: int = 32
    dataset_size: int = 0  # memory-bank methods need one row per sample
    batch_size: int = 256  # global batch (all processes), for linear lr scaling
    epochs: int = 200
    steps_per_epoch: int = 1
    lr: float | None = None  # None: the preset's lr scaled by batch / 256
    channels_last: bool = False  # NHWC memory for images (faster convolutions on GPUs)
    in_channels: int = 3  # of the images one shared encoder takes (1 for grey datasets)


def build_towers(preset: Preset, settings: TrainSettings) -> Backbone:
    """One backbone for whole images (RGB, or grey with `in_channels=1`); CMC's
    SplitEncoder (Y | DbDr halves of an RGB image) otherwise."""
    name, channels = settings.backbone, settings.in_channels
    if preset.input == "ydbdr-split":
        name, channels = f"cmc-{name}", 3
    return build_backbone(
        name, in_channels=channels, width=settings.width, image_size=settings.image_size
    )


def tower_list(backbone: Backbone) -> list[nn.Module]:
    """The encoders a loss addresses one by one (a single one for RGB methods)."""
    return list(backbone.encoders) if isinstance(backbone, SplitEncoder) else [backbone]


def rng_states() -> dict:
    """The states of every generator our views and objectives draw from."""
    # Plain tensors and tuples only: Lightning loads checkpoints with weights_only=True.
    name, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
    }


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    random.setstate(states["python"])
    name, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))


def make_criterion(preset: Preset, dataset_size: int) -> nn.Module:
    """`(query, positive, negatives) -> loss`: softmax InfoNCE, or binary NCE with its
    EMA-tracked normaliser (noise uniform over the dataset)."""
    if preset.criterion == "nce":
        return NCELoss(max(1, dataset_size), preset.temperature)
    return InfoNCELoss(preset.temperature)


def make_head(kind: str, in_dim: int, out_dim: int) -> nn.Module:
    """Linear d->128, or MLP d->d->ReLU->128 (no BN); both L2-normalise their output."""
    return LinearHead(in_dim, out_dim) if kind == "linear" else MLPHead(in_dim, in_dim, out_dim)


def make_jigsaw_head(preset: Preset, in_dim: int) -> JigsawHead:
    """PIRL/InfoMin's patch head, built like the preset's main head.

    As in the reference code, each patch is projected by an MLP d->d->ReLU->E when the
    preset's head is an MLP (InfoMin), linearly otherwise (PIRL), and the 9 shuffled
    projections go through Linear(9E, E): E is the preset's embedding size throughout,
    so the jigsaw query lives in the same space as the keys it is scored against.
    """
    hidden = in_dim if preset.head == "mlp" else None
    return JigsawHead(
        in_dim, patch_dim=preset.embed_dim, out_dim=preset.embed_dim, hidden_dim=hidden
    )


def base_lr(preset: Preset, settings: TrainSettings) -> float:
    """The peak lr: the user's, or the preset's (for batch 256) scaled by global batch / 256."""
    if settings.lr is not None:
        return settings.lr
    return preset.lr * settings.batch_size / 256


def warmup_epochs(preset: Preset, settings: TrainSettings) -> int:
    """The preset's value when one was set (by the user; 0 included), otherwise the
    reference code's rule for the global batch (`presets.auto_warmup_epochs`)."""
    if preset.warmup_epochs is not None:
        return preset.warmup_epochs
    return auto_warmup_epochs(settings.batch_size)


def decay_factor(progress: float, schedule: str) -> float:
    """Multiplier of the base lr at `progress` (0..1) of the whole run, warm-up ignored.

    Cosine decays to 0.001x (the reference code's floor, lr x 0.1^3); step decay multiplies
    by 0.1 at 60% and 80% of training (epochs 120 and 160 of 200).
    """
    if schedule == "cosine":
        floor = 1e-3
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    return 0.1 ** sum(progress >= milestone for milestone in (0.6, 0.8))


def learning_rate_factor(step: int, settings: TrainSettings, preset: Preset) -> float:
    """Multiplier of the base lr at `step` (0-based): the decay schedule over the whole
    run, whose warm-up steps are replaced by a line from lr 0.01 to the schedule's value
    where the warm-up ends (PyContrast's warm-up, per step, so the lr never jumps).

    The line starts at the base lr instead when that is below 0.01: a warm-up that
    lowers the lr would be no warm-up at all.
    """
    total = max(1, settings.epochs * settings.steps_per_epoch)
    warmup = warmup_epochs(preset, settings) * settings.steps_per_epoch
    if step >= warmup:
        return decay_factor(min(1.0, step / total), preset.schedule)
    start = min(1.0, WARMUP_FROM_LR / base_lr(preset, settings))
    end = decay_factor(min(1.0, warmup / total), preset.schedule)
    return start + (end - start) * step / warmup


class ContrastiveMethod(L.LightningModule):
    """Encoders + heads + optimiser; subclasses implement `contrastive_loss`."""

    num_candidates: int  # K of the InfoNCE bound, set by each subclass

    def __init__(self, preset: Preset, settings: TrainSettings) -> None:
        super().__init__()
        self.preset, self.settings = preset, settings
        self.save_hyperparameters({"preset": preset.as_row(), "settings": vars(settings)})
        self.backbone = build_towers(preset, settings)
        self.towers = tower_list(self.backbone)
        self.heads = nn.ModuleList(
            make_head(preset.head, int(t.out_dim), preset.embed_dim) for t in self.towers
        )
        # One criterion per tower's negatives: NCE keeps a normaliser per distribution.
        self.criteria = nn.ModuleList(
            make_criterion(preset, settings.dataset_size) for _ in self.towers
        )
        self.jigsaw_head = (
            make_jigsaw_head(preset, int(self.towers[0].out_dim)) if preset.jigsaw else None
        )
        # Views made on the device from uint8 batches (`pretrain` sets them for in-memory
        # data): `(images, targets, index)` batches become `(views, targets, index)`.
        self.batch_views: Callable[[Tensor], tuple[Tensor, ...]] | None = None
        # First non-finite loss, kept on the loss's device (see `watch_loss`).
        self.first_bad_loss: tuple[Tensor, Tensor] | None = None

    def is_whole_crop(self, view: Tensor) -> bool:
        """True for a two-tower method's crop with every channel (the recipe's views), to be
        cut into channel groups here; False for RGB methods, and for views that arrive as
        the towers' channel groups already (`pretrain --views`: colorspace, learned)."""
        backbone = self.backbone
        return isinstance(backbone, SplitEncoder) and view.shape[1] == backbone.in_channels

    def channel_groups(self, views: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        """The two inputs of an in-batch pair: whole crops, or on two towers group 1 of crop 1
        and group 2 of crop 2 (bank and queue methods choose their own inputs)."""
        v1, v2 = views[0], views[1]
        if self.is_whole_crop(v1):
            return self.backbone.split(v1)[0], self.backbone.split(v2)[1]
        return v1, v2

    @staticmethod
    def jigsaw_view(views: tuple[Tensor, ...]) -> Tensor:
        """The jigsaw patches `[B, 9, C, p, p]`: always the last view of a batch."""
        return views[-1]

    def embed(self, tower: int, x: Tensor) -> Tensor:
        """Unit-norm embedding of `x` by tower `tower` and its head."""
        return self.heads[tower](self.towers[tower](x))

    def embed_jigsaw(self, patches: Tensor) -> Tensor:
        """`[B, 9, C, p, p]` patches -> one unit-norm embedding per image."""
        assert self.jigsaw_head is not None
        b, n = patches.shape[:2]
        features = self.towers[0](patches.flatten(0, 1)).view(b, n, -1)  # [B, 9, D]
        return self.jigsaw_head(features)  # [B, E]

    def contrastive_loss(self, views: tuple[Tensor, ...], index: Tensor) -> Tensor:
        raise NotImplementedError

    def on_after_batch_transfer(self, batch: tuple, dataloader_idx: int) -> tuple:
        """Make the views of a uint8 batch where it now lives (the training device)."""
        if self.batch_views is None:
            return batch
        images, targets, index = batch
        return self.batch_views(images), targets, index

    def training_step(self, batch: tuple, batch_idx: int) -> Tensor:
        views, _, index = batch
        if self.settings.channels_last:
            views = [v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v
                     for v in views]  # fmt: skip
        loss = self.contrastive_loss(tuple(views), index)
        self.watch_loss(loss)
        log_k = math.log(self.num_candidates)
        size = len(index)
        self.log("train/loss", loss, prog_bar=True, batch_size=size, sync_dist=True)
        self.log("train/i_nce", log_k - loss.detach(), prog_bar=True, batch_size=size)
        self.log("train/log_k", log_k, batch_size=size)
        return loss

    def watch_loss(self, loss: Tensor) -> None:
        """Stop on a non-finite loss, naming its step, without a host sync per step.

        On a CPU reading the flag costs nothing: the run stops before this step's update.
        On an accelerator that read would stall the device queue every step, so the first
        bad (step, loss) is recorded on the device and `raise_if_diverged` reads it every
        few steps and before every checkpoint (`FiniteGuard`), which still writes no
        non-finite weights and reports the step where the loss first went bad.
        """
        bad = ~torch.isfinite(loss.detach())
        if loss.device.type == "cpu":
            if bad:
                step = self.global_step
                raise FloatingPointError(f"non-finite loss {loss.item()} at step {step}")
            return
        step = torch.full_like(loss, self.global_step, dtype=torch.float64)
        value = loss.detach().double()
        if self.first_bad_loss is None:
            self.first_bad_loss = (torch.full_like(step, -1.0), torch.zeros_like(value))
        seen, kept = self.first_bad_loss
        first = bad & (seen < 0)
        self.first_bad_loss = (torch.where(first, step, seen), torch.where(first, value, kept))

    def raise_if_diverged(self) -> None:
        """The deferred check of `watch_loss` (one host read)."""
        if self.first_bad_loss is None:
            return
        step, value = (float(t) for t in self.first_bad_loss)
        if step >= 0:
            raise FloatingPointError(f"non-finite loss {value} at step {int(step)}")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Keep the random streams (augmentations, bank draws, ShuffleBN) in checkpoints,
        so a resumed run continues exactly where an uninterrupted one would be."""
        checkpoint["rng_states"] = rng_states()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "rng_states" in checkpoint:
            set_rng_states(checkpoint["rng_states"])

    def base_lr(self) -> float:
        return base_lr(self.preset, self.settings)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(
            [p for p in self.parameters() if p.requires_grad],
            lr=self.base_lr(),
            momentum=self.preset.momentum,
            weight_decay=self.preset.weight_decay,
        )
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: learning_rate_factor(step, self.settings, self.preset)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
