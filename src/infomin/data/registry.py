"""`load_dataset`: the one entry point from a dataset name to a dataset object.

Why a registry: the CLI, the experiments and the tests all name datasets by string; one
table turns names into constructors, lists the choices for help texts, and turns every
user mistake (unknown name, option or split, missing `--data-dir`) into a one-line
`DatasetError` instead of a traceback.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infomin.data.base import DatasetError, ImageDataset
from infomin.data.moving_digits import ColorfulMovingDigits
from infomin.data.photo_patches import PhotoPatches
from infomin.data.real import CIFAR10, CIFAR100, STL10, ImageFolder, require_dir, split_folder


@dataclass(frozen=True)
class _Entry:
    """One registry entry: a description for help texts and how to build the dataset."""

    description: str
    build: Callable[..., ImageDataset]
    needs_data_dir: bool
    options_of: Callable[..., Any]  # the callable whose keyword arguments are the options


def _folder(labels: bool) -> Callable[..., ImageDataset]:
    def build(
        split: str, data_dir: Path, transform: Any = None, skip_corrupt: bool = False
    ) -> ImageDataset:
        folder = split_folder(data_dir, split)
        return ImageFolder(folder, labels=labels, transform=transform, skip_corrupt=skip_corrupt)

    return build


_ENTRIES: dict[str, _Entry] = {
    "colorful-moving-digits": _Entry(
        "coloured MNIST digits moving over photo crops (embedded toy; digit/background/position)",
        lambda split, data_dir, **kw: ColorfulMovingDigits(split, **kw),
        False,
        ColorfulMovingDigits,
    ),
    "photo-patches": _Entry(
        "square patches of bundled photos, labelled by photo (embedded; patch-distance views)",
        lambda split, data_dir, **kw: PhotoPatches(split, **kw),
        False,
        PhotoPatches,
    ),
    "cifar10": _Entry(
        "CIFAR-10 from DATA_DIR/cifar-10-batches-py (python pickles), 10 classes",
        lambda split, data_dir, **kw: CIFAR10(data_dir, split, **kw),
        True,
        CIFAR10,
    ),
    "cifar100": _Entry(
        "CIFAR-100 from DATA_DIR/cifar-100-python (python pickles), 100 fine classes",
        lambda split, data_dir, **kw: CIFAR100(data_dir, split, **kw),
        True,
        CIFAR100,
    ),
    "stl10": _Entry(
        "STL-10 from DATA_DIR/stl10_binary; splits train, test, unlabeled, train+unlabeled",
        lambda split, data_dir, **kw: STL10(data_dir, split, **kw),
        True,
        STL10,
    ),
    "folder": _Entry(
        "labelled image folder DATA_DIR[/SPLIT]/CLASS/*.jpg|png, task 'class'",
        _folder(labels=True),
        True,
        _folder(labels=True),
    ),
    "folder-unlabeled": _Entry(
        "every image below DATA_DIR[/SPLIT], no labels (classes never taken from names)",
        _folder(labels=False),
        True,
        _folder(labels=False),
    ),
}


# Name -> one-line description, in the order help texts list them.
DATASETS: dict[str, str] = {name: entry.description for name, entry in _ENTRIES.items()}


def dataset_options(name: str) -> list[str]:
    """Keyword options dataset `name` accepts besides split, data_dir and transform."""
    _check_name(name)
    parameters = inspect.signature(_ENTRIES[name].options_of).parameters
    return [p for p in parameters if p not in ("self", "split", "data_dir", "root", "transform")]


def is_embedded(name: str) -> bool:
    """True for the datasets that ship with the package (no `--data-dir`)."""
    _check_name(name)
    return not _ENTRIES[name].needs_data_dir


def has_labels(name: str) -> bool:
    """False for datasets that never carry labels (an unlabelled folder)."""
    _check_name(name)
    return name != "folder-unlabeled"


def check_location(name: str, data_dir: str | os.PathLike[str] | None) -> None:
    """Refuse, before any work, a data folder that cannot serve dataset `name`: a folder
    given for an embedded dataset (it would be ignored), none or a missing one for a
    dataset on disk. The line names the dataset and what it expects."""
    _check_name(name)
    if is_embedded(name):
        if data_dir is not None:
            raise DatasetError(
                f"--data-dir {data_dir} cannot apply: dataset {name!r} is embedded "
                "(drop --data-dir, or name a dataset read from disk with --data)"
            )
        return
    if data_dir is None:
        raise DatasetError(f"dataset {name!r} is read from disk: --data-dir is required")
    require_dir(data_dir, f"--data-dir for {name!r}:")


def _check_name(name: str) -> None:
    if name not in _ENTRIES:
        raise DatasetError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")


def load_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    transform: Callable[..., Any] | None = None,
    **options: Any,
) -> ImageDataset:
    """Build dataset `name` for `split`; options are passed to its constructor.

    Datasets read from disk require `data_dir`; embedded datasets refuse one (it would
    be ignored, and a user who names a folder expects it to be read).
    """
    _check_name(name)
    info = _ENTRIES[name]
    if not info.needs_data_dir and data_dir is not None:
        check_location(name, data_dir)
    allowed = dataset_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise DatasetError(
            f"dataset {name!r} has no option {unknown[0]!r}; "
            f"options: {', '.join(allowed) or 'none'}"
        )
    path = None
    if info.needs_data_dir:
        if data_dir is None:
            raise DatasetError(f"dataset {name!r} is read from disk: --data-dir is required")
        if options.get("download"):
            Path(data_dir).expanduser().mkdir(parents=True, exist_ok=True)
        path = require_dir(data_dir)
    return info.build(split, path, transform=transform, **options)
