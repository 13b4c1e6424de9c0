"""`infomin pretrain` as a function: preset + data -> Lightning fit -> frozen evaluation.

Lightning does the engine work (DDP across devices and nodes, checkpoints, resume,
progress bar, CSV/TensorBoard logs, bf16 autocast); this module only wires our pieces
into it: the preset's views, the method module, and the probe at the end.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from infomin.config import ConfigError
from infomin.data.base import InMemory, InMemoryBatches, as_batch, in_memory
from infomin.evaluate.monitors import KNNMonitor, OnlineLinearProbe, classification_tasks
from infomin.evaluate.protocol import evaluate_backbone
from infomin.evaluate.runner import EvalConfig, load_split
from infomin.methods import build_method
from infomin.methods.base import ContrastiveMethod, TrainSettings
from infomin.methods.checkpoints import eval_preprocess
from infomin.methods.faults import AtomicCheckpointIO, FiniteGuard, GracefulStop
from infomin.methods.presets import Preset, auto_warmup_epochs, for_image_size, get_preset
from infomin.methods.pretrain_config import PretrainConfig
from infomin.methods.probe_data import (
    check_backbone_takes,
    embedded_sizes,
    open_probe_sets,
    pretrain_split,
)
from infomin.methods.resume import (
    check_resumable,
    last_checkpoint,
    refuse_old_checkpoints,
    resume_checkpoint,
)
from infomin.methods.view_pairs import evaluate_on_probe_sets, pair_views
from infomin.progress import console
from infomin.views import (
    BatchedJigsaw,
    BatchedRecipe,
    BatchedViews,
    JigsawPatches,
    MultiView,
    build_recipe,
)
from infomin.views.pairs import PairSource
from infomin.views.recipes import get_recipe
from infomin.views.specs import parse_view_spec


class IndexedViews(Dataset):
    """`(views, targets, index)`: memory banks need each sample's row index."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Any, dict, int]:
        views, targets = self.dataset[index]
        return views, targets, index


def resolve_preset(config: PretrainConfig, image_size: int) -> Preset:
    """The paper's row, adapted to the image size, with the command line's overrides.

    A warm-up the user left unset follows the reference code's rule for the run's global
    batch (5 epochs from lr 0.01 above 256), and is written into the preset so the run's
    record shows the warm-up it got.
    """
    preset = for_image_size(get_preset(config.preset), image_size)
    overridable = (
        "temperature", "crop_min", "num_negatives", "schedule", "warmup_epochs", "criterion",
    )  # fmt: skip
    changes = {k: getattr(config, k) for k in overridable if getattr(config, k) is not None}
    if config.warmup_epochs is None:
        global_batch = config.batch_size * config.devices * config.num_nodes
        changes["warmup_epochs"] = auto_warmup_epochs(global_batch)
    return replace(preset, epochs=config.epochs, **changes)


def build_views(preset: Preset, image_size: int) -> MultiView:
    """The crops a step of the preset's method uses, plus the jigsaw patches if it has them.

    Queue and in-batch methods contrast crop 1 with crop 2: two crops. A memory bank holds
    each sample's positive, so bank methods (InsDis, PIRL, CMC) take one crop; CMC's two
    towers see its Y and DbDr halves (the same crop, as in the reference code), cut by
    the method so that monitors can still read the whole crop.
    """
    recipe = build_recipe(preset.aug, image_size, crop_scale=(preset.crop_min, 1.0))
    views: list[Any] = [recipe] if preset.negatives == "bank" else [recipe, recipe]
    if preset.jigsaw:
        views.append(JigsawPatches(image_size, color_space=recipe.spec.color_space))
    return MultiView(*views)


def build_batched_views(preset: Preset, image_size: int) -> BatchedViews:
    """`build_views` for whole batches on the training device (`views/batched.py`); the
    recipe's RandAugment, which has no batched twin, runs per image in between."""
    recipe = BatchedRecipe(
        build_recipe(preset.aug, image_size, crop_scale=(preset.crop_min, 1.0)).spec,
        image_size,
        small=False,  # the spec above has the small-image rule applied already
        per_image_randaugment=True,
    )
    views: list[Any] = [recipe] if preset.negatives == "bank" else [recipe, recipe]
    if preset.jigsaw:
        views.append(BatchedJigsaw(image_size, color_space=recipe.spec.color_space))
    return BatchedViews(*views)


def on_gpu(config: PretrainConfig) -> bool:
    """Whether training will run on a CUDA device (Lightning's "auto" picks one if present)."""
    return config.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def batched_augmentation(
    config: PretrainConfig, preset: Preset, train_set: Dataset
) -> InMemory | None:
    """The training data as one tensor when the epoch can run on whole batches, else None.

    Batched: the data fits in memory as one uint8 tensor and the recipe runs on batches
    (`bench/epoch.py` measures it several times faster than per-image views on a CPU).
    Per image (DataLoader workers): data that cannot be stacked, and recipes with
    RandAugment on a GPU, where timm's per-image PIL ops would stop the device each step.
    """
    if get_recipe(preset.aug).randaugment is not None and on_gpu(config):
        return None
    return in_memory(train_set)  # type: ignore[arg-type]


class ViewsCollate:
    """The collate function that makes a batch's views where the batch is made (a worker,
    or the main process): on a CPU the step and the augmentation then overlap."""

    def __init__(self, views: BatchedViews) -> None:
        self.views = views

    def __call__(self, batch: tuple) -> tuple:
        images, targets, index = batch
        return self.views(images), targets, index


def make_loader(config: PretrainConfig, dataset: Dataset, views: BatchedViews | None) -> DataLoader:
    """Batches in the order of a seeded sampler: whole uint8 batches by indexing in-memory
    data (`views`: their batched views, made in the loader on a CPU; on a GPU after the
    copy, by the method), items through the per-image views otherwise.

    Order = f(seed, epoch), not of the global RNG, so a resumed run sees the same batches
    (under DDP Lightning swaps in its own DistributedSampler, also seeded by epoch).
    """
    world = config.devices * config.num_nodes
    sampler = None if world > 1 else DistributedSampler(dataset, 1, 0, True, config.seed, True)
    collate = None
    if views is not None:
        collate = as_batch if on_gpu(config) else ViewsCollate(views)
    workers = 0 if views is not None and on_gpu(config) else config.num_workers
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        shuffle=sampler is None,
        drop_last=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=on_gpu(config),
        collate_fn=collate,
    )


def make_monitors(
    config: PretrainConfig,
    preset: Preset,
    probe_sets: tuple[Dataset, Dataset] | None,
    train_set: Dataset,
) -> list[L.Callback]:
    """The optional kNN monitor (on the evaluation data) and online probe (on the
    pretraining data's labels): separate components, off by default."""
    monitors: list[L.Callback] = []
    if config.knn_every > 0 and probe_sets is not None:
        monitors.append(KNNMonitor(*probe_sets, eval_preprocess(preset), config.knn_every))
    tasks = classification_tasks(train_set)
    if config.online_probe:
        if not tasks:
            raise ConfigError("online_probe cannot apply: the pretraining split has no labels")
        monitors.append(OnlineLinearProbe(tasks))
    return monitors


def quiet_lightning() -> None:
    """Drop Lightning's advertising tip and a deprecation warning from its own internals:
    neither is actionable by our users, and they bury the progress bar."""
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
        lambda record: "litlogger" not in record.getMessage()
    )


def make_trainer(
    config: PretrainConfig, out: Path, steps_per_epoch: int, monitors: list[L.Callback]
) -> L.Trainer:
    checkpoints = ModelCheckpoint(
        dirpath=out / "checkpoints",
        filename="epoch{epoch:03d}",
        auto_insert_metric_name=False,
        every_n_epochs=config.checkpoint_every,
        save_top_k=-1,
        save_last=True,
    )
    loggers = [
        CSVLogger(out, name="logs", version=""),
        TensorBoardLogger(out, name="tensorboard", version=""),
    ]
    parallel = config.devices * config.num_nodes > 1
    # The bar reads the logged tensors at each refresh (a host sync on a GPU): ~20 a epoch.
    progress = TQDMProgressBar(refresh_rate=max(1, steps_per_epoch // 20))
    guards = [checkpoints, *monitors, FiniteGuard(), GracefulStop(last_checkpoint(out))]
    return L.Trainer(
        max_epochs=config.epochs,
        max_steps=config.max_steps,
        accelerator=config.accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy="ddp" if parallel else "auto",
        precision=resolve_precision(config),  # type: ignore[arg-type]
        default_root_dir=out,
        logger=loggers,
        # Faults (infomin.methods.faults): atomic checkpoint files, no checkpoint of
        # non-finite weights, SIGINT/SIGTERM save last.ckpt at a step boundary and stop.
        callbacks=[*guards, progress],
        plugins=[AtomicCheckpointIO()],
        log_every_n_steps=max(1, min(50, steps_per_epoch // 4)),
        deterministic=False,
        enable_model_summary=False,
    )


def bf16_native(config: PretrainConfig) -> bool:
    """Whether the training device computes bf16 in hardware (AVX-512 BF16/AMX, or CUDA
    with bf16): only there is bf16 autocast a speed-up rather than an emulation."""
    if on_gpu(config):
        return torch.cuda.is_bf16_supported()
    return config.accelerator in ("auto", "cpu") and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def resolve_precision(config: PretrainConfig) -> str:
    """`precision="auto"`: bf16-mixed autocast where `bf16_native`, else 32-true."""
    if config.precision != "auto":
        return config.precision
    return "bf16-mixed" if bf16_native(config) else "32-true"


def pretrain(config: PretrainConfig, out: Path, resume: bool = False) -> dict[str, Any] | None:
    """Fit the preset on the data, then evaluate the frozen backbone.

    Returns the results on the main process, None on the other DDP processes (only one
    process may write the run's results).
    """
    if not resume:
        refuse_old_checkpoints(out)
    quiet_lightning()
    L.seed_everything(config.seed, workers=True, verbose=False)
    train_size, _ = embedded_sizes(config.data, config.train_size, config.test_size)
    data_config = EvalConfig(
        data=config.data, data_dir=config.data_dir, seed=config.seed,
        skip_corrupt=config.skip_corrupt,
    )  # fmt: skip
    split = pretrain_split(config.data, config.train_split)
    train_set = load_split(data_config, split, train_size)
    probe = config.probe()
    probe_sets = open_probe_sets(probe, config.seed) if probe is not None else None
    if probe is None and config.evaluate:
        console.print(f"[yellow]no labelled evaluation data ({config.data!r} has no labels; "
                      "--eval-data names some): the frozen probe is skipped",
                      soft_wrap=True)  # fmt: skip
    source, batch_views = None, None
    if config.views is None:
        image = train_set.raw_item(0)[0]
        image_size, channels = int(image.shape[-1]), int(image.shape[-3])
        preset = resolve_preset(config, image_size)
        data = batched_augmentation(config, preset, train_set)
        if data is not None:  # views made on the device, from uint8 batches
            batch_views = build_batched_views(preset, image_size)
            dataset: Dataset = InMemoryBatches(data)
        else:
            train_set.transform = build_views(preset, image_size)
            dataset = IndexedViews(train_set)
    else:
        source = parse_view_spec(config.views, config.data, config.data_dir)
        pairs = source.pairs("train", train_size or len(train_set), config.seed)
        image_size, channels = int(pairs.v1.shape[-1]), int(pairs.v1.shape[1])
        preset = resolve_preset(config, image_size)
        dataset = pair_views(pairs, preset, config.views)
    world = config.devices * config.num_nodes
    loader = make_loader(config, dataset, batch_views)
    settings = TrainSettings(
        backbone=config.backbone,
        width=config.width,
        image_size=image_size,
        dataset_size=len(dataset),
        batch_size=config.batch_size * world,
        epochs=config.epochs,
        steps_per_epoch=max(1, len(loader) // world),
        lr=config.lr,
        channels_last=config.channels_last,
        in_channels=channels,  # grey data trains 1-channel encoders
    )
    method = build_method(preset, settings)
    method.batch_views = batch_views if on_gpu(config) else None
    if probe_sets is not None and preset.input == "rgb":  # two towers on --views: see below
        for which, probe_set in zip(("train", "test"), probe_sets, strict=True):
            what = f"evaluation data {probe.data!r} ({which} split)"  # type: ignore[union-attr]
            check_backbone_takes(method.backbone, eval_preprocess(preset), probe_set, what)
    if config.channels_last:
        method = method.to(memory_format=torch.channels_last)
    monitors = make_monitors(config, preset, probe_sets, train_set)
    trainer = make_trainer(config, out, settings.steps_per_epoch, monitors)
    start = resume_checkpoint(out / "checkpoints") if resume else None
    if resume and start is None:
        console.print(f"[yellow]no readable checkpoint in {out / 'checkpoints'}: starting afresh")
    if start is not None:
        check_resumable(start, method)
    trainer.fit(method, loader, ckpt_path=str(start) if start is not None else None)
    if not trainer.is_global_zero:
        return None
    pretrained_on = {"data": config.data, "data_dir": config.data_dir, "split": split,
                     "size": len(dataset)}  # fmt: skip
    results: dict[str, Any] = {
        "config": asdict(config),
        "data": {"pretrain": pretrained_on, "eval": None if probe is None else probe.describe()},
        "preset": preset.as_row(),
        "precision": resolve_precision(config),
        "epochs_done": trainer.current_epoch,
        "steps_done": trainer.global_step,
        "final": {k: float(v) for k, v in trainer.callback_metrics.items()},
    }
    if config.evaluate and probe_sets is not None:
        results["metrics"] = evaluate_pretrained(method, preset, probe_sets, source, config.seed)
    return results


def evaluate_pretrained(
    method: ContrastiveMethod,
    preset: Preset,
    probe_sets: tuple[Dataset, Dataset],
    source: PairSource | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """The frozen-feature protocol on the pretrained backbone (heads dropped).

    Encoders of whole images are probed on the evaluation data (by default the dataset's
    own splits, comparable with `infomin evaluate --random-init`); towers trained on
    channel groups (colorspace or learned views) can only read the source's transformed
    images, its probe sets (of the same sizes).
    """
    train_set, test_set = probe_sets
    backbone = method.backbone.to("cpu" if not torch.cuda.is_available() else method.device)
    if source is not None and preset.input != "rgb":
        sizes = (len(train_set), len(test_set))  # type: ignore[arg-type]
        return evaluate_on_probe_sets(backbone, source, sizes, seed)
    return evaluate_backbone(backbone, train_set, test_set, preprocess=eval_preprocess(preset))
