"""`infomin pretrain` as a function: preset + data -> Lightning fit -> frozen evaluation.

Lightning does the engine work (DDP across devices and nodes, checkpoints, resume,
progress bar, CSV/TensorBoard logs, bf16 autocast); this module only wires our pieces
into it: the preset's views, the method module, and the probe at the end.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from infomin.config import ConfigError
from infomin.data import check_location, has_labels, is_embedded
from infomin.evaluate.monitors import KNNMonitor, OnlineLinearProbe, classification_tasks
from infomin.evaluate.protocol import evaluate_backbone
from infomin.evaluate.runner import EvalConfig, load_split
from infomin.methods import build_method
from infomin.methods.base import ContrastiveMethod, TrainSettings
from infomin.methods.checkpoints import eval_preprocess
from infomin.methods.faults import AtomicCheckpointIO, FiniteGuard, GracefulStop
from infomin.methods.presets import Preset, auto_warmup_epochs, for_image_size, get_preset
from infomin.methods.view_pairs import evaluate_on_probe_sets, pair_views
from infomin.progress import console
from infomin.views import JigsawPatches, MultiView, build_recipe
from infomin.views.pairs import PairSource
from infomin.views.specs import SpecError, parse_spec, parse_view_spec

# Samples of the embedded datasets when train_size / test_size are left unset.
EMBEDDED_SIZES = (4000, 1000)
# Lightning's precision names (its ints and aliases left out: one spelling per setting).
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true")


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that determines a pretraining run (written to `config.yaml`)."""

    preset: str = "infomin"
    data: str = "colorful-moving-digits"
    data_dir: str | None = None
    # Embedded data: samples drawn (None: EMBEDDED_SIZES); datasets on disk use their splits.
    train_size: int | None = None
    test_size: int | None = None
    backbone: str = "convnet"
    width: float = 1.0
    epochs: int = 10
    batch_size: int = 128  # per process
    lr: float | None = None
    temperature: float | None = None
    num_negatives: int | None = None
    schedule: str | None = None  # cosine or step (preset default: cosine)
    criterion: str | None = None  # infonce or nce (bank and queue methods only)
    warmup_epochs: int | None = None
    seed: int = 0
    devices: int = 1
    num_nodes: int = 1
    accelerator: str = "auto"
    precision: str = "32-true"
    channels_last: bool = False
    num_workers: int = 0
    checkpoint_every: int = 1
    max_steps: int = -1
    evaluate: bool = True
    knn_every: int = 0  # 0: off; n: kNN monitor on held-out data every n epochs
    online_probe: bool = False  # linear probes on detached features during training
    views: str | None = None  # a view spec (infomin.views.specs) instead of the preset's aug
    skip_corrupt: bool = False  # image folders: drop unreadable files (counted) up front

    def __post_init__(self) -> None:
        """Refuse nonsense numbers before any data is loaded or any file written."""
        at_least_one = ("epochs", "batch_size", "devices", "num_nodes", "checkpoint_every")
        for name in at_least_one:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("train_size", "test_size", "num_negatives"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        for name in ("lr", "temperature", "width"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be > 0, got {value}")
        preset = get_preset(self.preset)  # an unknown preset fails here, with the choices
        if self.views is not None:
            self._check_views(preset)
        if self.criterion not in (None, "infonce", "nce"):
            raise ConfigError(f"criterion must be infonce or nce, got {self.criterion!r}")
        if self.criterion == "nce" and preset.negatives == "batch":
            raise ConfigError(f"preset {self.preset!r} uses in-batch negatives: no NCE option")
        self._check_queue(preset)
        self._check_engine(preset)
        self._check_applicable(preset)
        if self.schedule not in (None, "cosine", "step"):
            raise ConfigError(f"schedule must be cosine or step, got {self.schedule!r}")
        for name in ("warmup_epochs", "knn_every", "num_workers"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}")

    def _check_applicable(self, preset: Preset) -> None:
        """Refuse options this run would ignore: nothing set by the user is dropped silently."""
        check_location(self.data, self.data_dir)
        if self.num_negatives is not None and preset.negatives == "batch":
            raise ConfigError(
                f"num_negatives cannot apply: preset {self.preset!r} takes its negatives from "
                "the batch (no queue, no memory bank)"
            )
        sizes = {"train_size": self.train_size, "test_size": self.test_size}
        for name, value in sizes.items():
            if value is not None and not is_embedded(self.data):
                raise ConfigError(
                    f"{name} cannot apply: it sets the size of embedded datasets, and "
                    f"{self.data!r} uses its whole split"
                )
        if self.test_size is not None and not self.evaluate and self.knn_every == 0:
            raise ConfigError("test_size cannot apply: no evaluation and no kNN monitor")
        if self.skip_corrupt and self.data not in ("folder", "folder-unlabeled"):
            raise ConfigError(f"skip_corrupt applies to image folders, not to {self.data!r}")
        if not has_labels(self.data):
            for name in ("online_probe", "knn_every"):
                if getattr(self, name):
                    raise ConfigError(f"{name} cannot apply: {self.data!r} has no labels")

    def sizes(self) -> tuple[int | None, int | None]:
        """(train, test) sample counts of embedded data; None: the whole split on disk."""
        if not is_embedded(self.data):
            return None, None
        train, test = EMBEDDED_SIZES
        return self.train_size or train, self.test_size or test

    def _check_queue(self, preset: Preset) -> None:
        """A queue shorter than the global batch would drop part of every batch of keys it
        enqueues and hold no negatives older than the current step: refuse it."""
        if preset.negatives != "queue":
            return
        length = self.num_negatives if self.num_negatives is not None else preset.num_negatives
        batch = self.batch_size * self.devices * self.num_nodes
        if length < batch:
            raise ConfigError(
                f"num_negatives (the queue length) {length} is smaller than the global batch "
                f"{batch} (batch_size x devices x num_nodes); use a queue of at least {batch}"
            )

    def _check_engine(self, preset: Preset) -> None:
        """Backbone, accelerator, precision and max_steps are otherwise checked only once
        the data is loaded, by torch or Lightning, with a traceback instead of one line."""
        from lightning.pytorch.accelerators import AcceleratorRegistry

        from infomin.models import build_backbone

        name = f"cmc-{self.backbone}" if preset.input == "ydbdr-split" else self.backbone
        try:
            with torch.device("meta"):  # the real constructor's checks, no memory used
                build_backbone(name, width=self.width, image_size=32)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        accelerators = ("auto", "gpu", *sorted(AcceleratorRegistry.available_accelerators()))
        if self.accelerator not in accelerators:
            choices = ", ".join(accelerators)
            raise ConfigError(f"accelerator must be one of {choices}; got {self.accelerator!r}")
        if self.precision not in PRECISIONS:
            choices = ", ".join(PRECISIONS)
            raise ConfigError(f"precision must be one of {choices}; got {self.precision!r}")
        if self.max_steps < -1:
            raise ConfigError(f"max_steps must be >= 0, or -1 for no limit; got {self.max_steps}")

    def _check_views(self, preset: Preset) -> None:
        """A view spec must parse, and the monitors must be able to read its encoders."""
        try:
            parse_spec(str(self.views))
        except SpecError as err:
            raise ConfigError(str(err)) from None
        if self.online_probe:
            raise ConfigError("the online probe reads dataset labels; --views pairs have none")
        if self.knn_every > 0 and preset.input != "rgb":
            raise ConfigError("the kNN monitor feeds dataset images; two towers on --views cannot")


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
    overridable = ("temperature", "num_negatives", "schedule", "warmup_epochs", "criterion")
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


def make_monitors(
    config: PretrainConfig, preset: Preset, eval_config: EvalConfig, train_set: Dataset
) -> list[L.Callback]:
    """The optional kNN monitor and online probe (separate components, off by default)."""
    monitors: list[L.Callback] = []
    if config.knn_every > 0:
        probe_train = load_split(eval_config, "train", eval_config.train_size)
        probe_test = load_split(eval_config, "test", eval_config.test_size)
        monitors.append(
            KNNMonitor(probe_train, probe_test, eval_preprocess(preset), config.knn_every)
        )
    tasks = classification_tasks(train_set)
    if config.online_probe and tasks:
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
    return L.Trainer(
        max_epochs=config.epochs,
        max_steps=config.max_steps,
        accelerator=config.accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy="ddp" if parallel else "auto",
        precision=config.precision,  # type: ignore[arg-type]
        default_root_dir=out,
        logger=loggers,
        # Faults (infomin.methods.faults): atomic checkpoint files, no checkpoint of
        # non-finite weights, SIGINT/SIGTERM save last.ckpt at a step boundary and stop.
        callbacks=[checkpoints, *monitors, FiniteGuard(), GracefulStop(last_checkpoint(out))],
        plugins=[AtomicCheckpointIO()],
        log_every_n_steps=max(1, min(50, steps_per_epoch // 4)),
        deterministic=False,
        enable_model_summary=False,
    )


def last_checkpoint(out: Path) -> Path:
    """Where `--resume` looks first (ModelCheckpoint's `save_last` file)."""
    return out / "checkpoints" / "last.ckpt"


def resume_checkpoint(folder: Path) -> Path | None:
    """The newest readable checkpoint: `last.ckpt`, else the epoch checkpoints, newest first.

    A truncated or corrupt file (a disk that filled up, a copy cut short) is reported and
    skipped, so a resume falls back to the previous good state instead of failing.
    """
    candidates = [folder / "last.ckpt", *sorted(folder.glob("epoch*.ckpt"), reverse=True)]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        except Exception as err:  # unreadable for any reason: try the previous one
            console.print(f"[yellow]skipping unreadable checkpoint {path}: {type(err).__name__}")
            continue
        return path
    return None


def pretrain(config: PretrainConfig, out: Path, resume: bool = False) -> dict[str, Any] | None:
    """Fit the preset on the data, then evaluate the frozen backbone.

    Returns the results on the main process, None on the other DDP processes (only one
    process may write the run's results).
    """
    quiet_lightning()
    L.seed_everything(config.seed, workers=True, verbose=False)
    train_size, test_size = config.sizes()
    eval_config = EvalConfig(
        data=config.data,
        data_dir=config.data_dir,
        train_size=train_size,
        test_size=test_size,
        seed=config.seed,
        skip_corrupt=config.skip_corrupt,
    )
    train_set = load_split(eval_config, "train", train_size)
    source = None
    if config.views is None:
        image_size = int(train_set.raw_item(0)[0].shape[-1])
        preset = resolve_preset(config, image_size)
        train_set.transform = build_views(preset, image_size)
        dataset: Dataset = IndexedViews(train_set)
    else:
        source = parse_view_spec(config.views, config.data, config.data_dir)
        pairs = source.pairs("train", train_size or len(train_set), config.seed)
        image_size = int(pairs.v1.shape[-1])
        preset = resolve_preset(config, image_size)
        dataset = pair_views(pairs, preset, config.views)
    world = config.devices * config.num_nodes
    # Order = f(seed, epoch), not of the global RNG, so a resumed run sees the same batches
    # (under DDP Lightning swaps in its own DistributedSampler, also seeded by epoch).
    sampler = None if world > 1 else DistributedSampler(dataset, 1, 0, True, config.seed, True)
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        shuffle=sampler is None,
        drop_last=True,
        num_workers=config.num_workers,
        persistent_workers=config.num_workers > 0,
    )
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
    )
    method = build_method(preset, settings)
    if config.channels_last:
        method = method.to(memory_format=torch.channels_last)
    monitors = make_monitors(config, preset, eval_config, train_set)
    trainer = make_trainer(config, out, settings.steps_per_epoch, monitors)
    start = resume_checkpoint(out / "checkpoints") if resume else None
    if resume and start is None:
        console.print(f"[yellow]no readable checkpoint in {out / 'checkpoints'}: starting afresh")
    trainer.fit(method, loader, ckpt_path=str(start) if start is not None else None)
    if not trainer.is_global_zero:
        return None
    results: dict[str, Any] = {
        "config": asdict(config),
        "preset": preset.as_row(),
        "epochs_done": trainer.current_epoch,
        "steps_done": trainer.global_step,
        "final": {k: float(v) for k, v in trainer.callback_metrics.items()},
    }
    if config.evaluate:
        results["metrics"] = evaluate_pretrained(method, preset, eval_config, source)
    return results


def evaluate_pretrained(
    method: ContrastiveMethod,
    preset: Preset,
    eval_config: EvalConfig,
    source: PairSource | None = None,
) -> dict[str, float]:
    """The frozen-feature protocol on the pretrained backbone (heads dropped).

    Encoders of whole images are probed on the dataset's own splits (comparable with
    `infomin evaluate --random-init`); towers trained on channel groups (colorspace or
    learned views) can only read the source's transformed images, its probe sets.
    """
    train_set = load_split(eval_config, "train", eval_config.train_size)
    test_set = load_split(eval_config, "test", eval_config.test_size)
    backbone = method.backbone.to("cpu" if not torch.cuda.is_available() else method.device)
    if source is not None and preset.input != "rgb":
        sizes = (len(train_set), len(test_set))
        return evaluate_on_probe_sets(backbone, source, sizes, eval_config.seed)
    if not train_set.tasks:
        return {}
    return evaluate_backbone(backbone, train_set, test_set, preprocess=eval_preprocess(preset))
