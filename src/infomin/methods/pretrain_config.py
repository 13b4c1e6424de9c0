"""`PretrainConfig`: everything that determines a pretraining run, checked up front.

Every check here runs before any data is read or any file is written: a nonsense number,
an unknown preset, backbone or precision, and any option the run would ignore (a
`--data-dir` for embedded data, `--num-negatives` for in-batch negatives, evaluation
options with nothing to evaluate) ends in one line instead of a traceback or a silently
different run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from infomin.config import ConfigError
from infomin.data import (
    DatasetError,
    check_data_options,
    check_location,
    has_labels,
    image_channels,
    is_embedded,
)
from infomin.methods.presets import Preset, get_preset
from infomin.methods.probe_data import ProbeData, probe_data
from infomin.views.specs import SpecError, check_views_data, parse_spec

# Lightning's precision names (its ints and aliases left out: one spelling per setting);
# "auto": bf16-mixed where the device computes bf16 natively, else 32-true (pretrain.py).
PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true")


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
    crop_min: float | None = None  # random-resized-crop lower bound (None: the preset's)
    num_negatives: int | None = None
    schedule: str | None = None  # cosine or step (preset default: cosine)
    criterion: str | None = None  # infonce or nce (bank and queue methods only)
    warmup_epochs: int | None = None
    seed: int = 0
    devices: int = 1
    num_nodes: int = 1
    accelerator: str = "auto"
    precision: str = "auto"  # bench/epoch.py: bf16 ~1.5-2x faster on AVX-512 BF16 CPUs
    channels_last: bool = True  # NHWC: faster convolutions on CPUs (oneDNN) and GPUs
    num_workers: int = 0
    checkpoint_every: int = 1
    max_steps: int = -1
    evaluate: bool = True
    knn_every: int = 0  # 0: off; n: kNN monitor on held-out data every n epochs
    online_probe: bool = False  # linear probes on detached features during training
    views: str | None = None  # a view spec (infomin.views.specs) instead of the preset's aug
    # What is pretrained on, and what the frozen probe and kNN monitor are fitted and
    # scored on (None: each dataset's standard protocol; see methods/probe_data.py).
    train_split: str | None = None  # STL-10: train+unlabeled; others: train
    eval_data: str | None = None  # None: `data` itself, when it has labels
    eval_data_dir: str | None = None
    eval_train_split: str | None = None  # None: train
    eval_test_split: str | None = None  # None: test
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
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"{name} must be > 0 and finite, got {value}")
        if self.crop_min is not None and not 0 < self.crop_min <= 1:
            raise ConfigError(f"crop_min must be in (0, 1], got {self.crop_min}")
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
        self._check_colour(preset)
        if self.num_negatives is not None and preset.negatives == "batch":
            raise ConfigError(
                f"num_negatives cannot apply: preset {self.preset!r} takes its negatives from "
                "the batch (no queue, no memory bank)"
            )
        embedded = is_embedded(self.data) or bool(self.eval_data and is_embedded(self.eval_data))
        sizes = {"train_size": self.train_size, "test_size": self.test_size}
        check_data_options(self.data, sizes, self.skip_corrupt, embedded)
        if self.online_probe and not has_labels(self.data):
            raise ConfigError(f"online_probe cannot apply: {self.data!r} has no labels")
        if self.views is not None and self.train_split is not None:
            raise ConfigError("train_split cannot apply: --views pairs come from the view spec")
        self._check_eval_data()

    def _check_colour(self, preset: Preset) -> None:
        """CMC's towers split colour channels: refuse them on grey data before any work."""
        if preset.input == "ydbdr-split" and image_channels(self.data) == 1:
            raise ConfigError(
                f"preset {self.preset!r} splits colour channels (Y vs DbDr), and dataset "
                f"{self.data!r} is grayscale (1 channel): use a one-encoder preset "
                "(insdis, moco, pirl, mocov2, simclr, infomin)"
            )

    def _check_eval_data(self) -> None:
        """The evaluation data must exist, have labels, and be used by something."""
        if self.eval_data is not None:
            if not has_labels(self.eval_data):
                raise ConfigError(f"eval_data {self.eval_data!r} has no labels to probe")
            check_location(self.eval_data, self.eval_data_dir, "--eval-data-dir")
        elif self.eval_data_dir is not None:
            raise ConfigError("eval_data_dir cannot apply without eval_data (the dataset)")
        probed = self.evaluate or self.knn_every > 0
        named = ("eval_data", "eval_train_split", "eval_test_split", "test_size")
        for name in named:
            if getattr(self, name) is not None and not probed:
                raise ConfigError(f"{name} cannot apply: no evaluation and no kNN monitor")
        if self.probe() is None:
            if self.knn_every > 0:
                raise ConfigError(f"knn_every cannot apply: {self.data!r} has no labels "
                                  "(name labelled data with --eval-data)")  # fmt: skip
            for name in named[1:]:
                if getattr(self, name) is not None:
                    raise ConfigError(f"{name} cannot apply: no labelled evaluation data")

    def probe(self) -> ProbeData | None:
        """What the frozen probe is fitted and scored on; None: no labelled data."""
        return probe_data(
            self.data, self.data_dir, self.eval_data, self.eval_data_dir,
            (self.eval_train_split, self.eval_test_split), (self.train_size, self.test_size),
        )  # fmt: skip

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
            check_views_data(str(self.views), self.data)
        except (SpecError, DatasetError) as err:
            raise ConfigError(str(err)) from None
        if self.crop_min is not None:
            raise ConfigError("crop_min sets the preset's crop; --views makes its own views")
        if self.online_probe:
            raise ConfigError("the online probe reads dataset labels; --views pairs have none")
        if self.knn_every > 0 and preset.input != "rgb":
            raise ConfigError("the kNN monitor feeds dataset images; two towers on --views cannot")
