"""What a pretraining run is probed on, opened and checked before its first step.

Self-supervised work pretrains on one dataset or split (often without labels) and probes
on labelled data, often another dataset: STL-10 pretrains on `train+unlabeled` and
probes `train`/`test`; a folder of unlabelled photos can be probed on CIFAR-10. The
evaluation data is opened and one image is fed through the freshly built backbone
before training, so that a missing split, a dataset without labels or an image the
backbone cannot take stops the run in one line instead of after the compute is spent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from infomin.data import DatasetError, has_labels, is_embedded
from infomin.evaluate.runner import EvalConfig, load_split

# Samples of the embedded datasets when train_size / test_size are left unset.
EMBEDDED_SIZES = (4000, 1000)
# The split a dataset is pretrained on by default (its standard protocol), else "train".
PRETRAIN_SPLITS = {"stl10": "train+unlabeled"}


def pretrain_split(data: str, split: str | None) -> str:
    """The pretraining split: the one asked for, else the dataset's protocol default."""
    return split or PRETRAIN_SPLITS.get(data, "train")


def embedded_sizes(data: str, train: int | None, test: int | None) -> tuple[int | None, ...]:
    """(train, test) samples of an embedded dataset; None for data on disk (whole splits)."""
    if not is_embedded(data):
        return None, None
    return train or EMBEDDED_SIZES[0], test or EMBEDDED_SIZES[1]


@dataclass(frozen=True)
class ProbeData:
    """The labelled data the frozen probe (and the kNN monitor) is fitted and scored on."""

    data: str
    data_dir: str | None
    train_split: str = "train"
    test_split: str = "test"
    train_size: int | None = None  # embedded data only
    test_size: int | None = None

    def eval_config(self, seed: int, skip_corrupt: bool = False) -> EvalConfig:
        return EvalConfig(
            data=self.data, data_dir=self.data_dir, train_size=self.train_size,
            test_size=self.test_size, seed=seed, skip_corrupt=skip_corrupt,
        )  # fmt: skip

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def probe_data(
    data: str,
    data_dir: str | None,
    eval_data: str | None,
    eval_data_dir: str | None,
    splits: tuple[str | None, str | None],
    sizes: tuple[int | None, int | None],
) -> ProbeData | None:
    """The evaluation data a run names, or the pretraining data itself when it has labels;
    None when there is no labelled data to probe on."""
    name = eval_data or data
    if not has_labels(name):
        return None
    folder = eval_data_dir if eval_data else data_dir
    train, test = embedded_sizes(name, *sizes)
    return ProbeData(name, folder, splits[0] or "train", splits[1] or "test", train, test)


def open_probe_sets(probe: ProbeData, seed: int, skip_corrupt: bool = False) -> tuple[Any, Any]:
    """Both probe splits, opened and checked (non-empty, labelled, first image readable)."""
    config = probe.eval_config(seed, skip_corrupt)
    sets = []
    for split, size in ((probe.train_split, probe.train_size), (probe.test_split, probe.test_size)):
        dataset = load_split(config, split, size)
        where = f"evaluation data {probe.data!r} split {split!r}"
        if len(dataset) == 0:
            raise DatasetError(f"{where} is empty")
        if not dataset.tasks:
            raise DatasetError(f"{where} has no labels to probe (name one with --eval-data)")
        dataset.raw_item(0)  # decodes the first image: a corrupt or foreign file fails here
        sets.append(dataset)
    return sets[0], sets[1]


def check_backbone_takes(backbone: nn.Module, preprocess: Any, dataset: Any, what: str) -> None:
    """Feed one image of `dataset` through `backbone` (eval mode, no grad): an image size or
    channel count the backbone cannot take is refused now, in one line."""
    image = dataset.raw_item(0)[0]
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            backbone(preprocess(image.unsqueeze(0)))
    except (RuntimeError, ValueError) as err:
        shape = "x".join(map(str, image.shape))
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DatasetError(
            f"{what}: a {shape} image cannot go through the backbone: {first}"
        ) from None
    finally:
        backbone.train(was_training)
