"""`load_dataset`: the one entry point from a dataset name to a dataset object.

Why a registry: the CLI, the experiments and the tests all name datasets by string; one
table turns names into constructors, lists the choices for help texts, and turns every
user mistake (unknown name, option or split, missing `--data-dir`) into a one-line
`DatasetError` instead of a traceback.

Where data lives, four kinds: embedded (generated or bundled: `--data-dir` is refused,
it would be ignored), embedded unless a folder is given (`reads_folder`: photo-patches
cuts its patches from the photos of `--data-dir` when given one, e.g. high-resolution
photos, and from the bundled ones otherwise), on disk with no usual place (`--data-dir`
required), and on disk where a system package installs it (`--data-dir` optional: the
entry's `default_dir`, e.g. Debian's `/usr/share/datasets/fashion-mnist`).
`check_location` and `load_dataset` both resolve the folder through `data_location`,
the one place for these rules.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infomin.data import fashion_mnist, photos
from infomin.data.base import DatasetError, ImageDataset
from infomin.data.moving_digits import ColorfulMovingDigits
from infomin.data.photo_patches import PhotoPatches
from infomin.data.real import CIFAR10, CIFAR100, STL10, ImageFolder, split_folder


@dataclass(frozen=True)
class _Entry:
    """One registry entry: a description for help texts and how to build the dataset."""

    description: str
    build: Callable[..., ImageDataset]
    needs_data_dir: bool
    options_of: Callable[..., Any]  # the callable whose keyword arguments are the options
    default_dir: Path | None = None  # where a system package installs it (no --data-dir)
    install_hint: str = ""  # how to get the data, for the missing-folder line
    channels: int = 3  # of every item's image: known before any file is read
    reads_folder: bool = False  # embedded, but a given --data-dir replaces its files


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
        "square patches of bundled photos, or of the photos in DATA_DIR when given (e.g. "
        f"{photos.HIRES_DIR}), labelled by photo (patch-distance views)",
        lambda split, data_dir, **kw: PhotoPatches(split, data_dir=data_dir, **kw),
        False,
        PhotoPatches,
        install_hint=photos.FOLDER_HINT,
        reads_folder=True,
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
    "fashion-mnist": _Entry(
        "Fashion-MNIST from the IDX files (.gz or raw) in DATA_DIR (default "
        f"{fashion_mnist.DEFAULT_DIR}, Debian package {fashion_mnist.PACKAGE}); 28x28 grey, "
        "10 classes",
        lambda split, data_dir, **kw: fashion_mnist.FashionMNIST(data_dir, split, **kw),
        True,
        fashion_mnist.FashionMNIST,
        default_dir=fashion_mnist.DEFAULT_DIR,
        install_hint=fashion_mnist.INSTALL_HINT,
        channels=1,
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
    """True for the datasets that ship with the package (no `--data-dir`, or one that
    replaces their files: photo-patches); they take sample counts, not whole splits."""
    _check_name(name)
    return not _ENTRIES[name].needs_data_dir


def has_labels(name: str) -> bool:
    """False for datasets that never carry labels (an unlabelled folder)."""
    _check_name(name)
    return name != "folder-unlabeled"


def image_channels(name: str) -> int:
    """Channels of dataset `name`'s images (1: grey), known before any file is read, so
    that colour-only methods and views are refused before any work."""
    _check_name(name)
    return _ENTRIES[name].channels


def default_data_dir(name: str) -> Path | None:
    """Where dataset `name` is read from without `--data-dir` (None: nowhere)."""
    _check_name(name)
    return _ENTRIES[name].default_dir


def check_location(
    name: str, data_dir: str | os.PathLike[str] | None, flag: str = "--data-dir"
) -> None:
    """Refuse, before any work, a data folder that cannot serve dataset `name`: a folder
    given for an embedded dataset that reads none (it would be ignored), a missing one,
    or none for a dataset on disk. The line names the dataset, the option (`flag`) and
    what it expects."""
    _check_name(name)
    if is_embedded(name):
        if data_dir is not None and _ENTRIES[name].reads_folder:
            data_location(name, data_dir, flag)
        elif data_dir is not None:
            raise DatasetError(
                f"{flag} {data_dir} cannot apply: dataset {name!r} is embedded "
                f"(drop {flag}, or name a dataset read from disk)"
            )
        return
    data_location(name, data_dir, flag)


def data_location(
    name: str, data_dir: str | os.PathLike[str] | None, flag: str = "--data-dir"
) -> Path:
    """The existing folder dataset `name` (read from disk) is read from: `data_dir`, else
    the entry's default folder; a `DatasetError` saying what to do otherwise."""
    entry = _ENTRIES[name]
    hint = f" ({entry.install_hint})" if entry.install_hint else ""
    if data_dir is None:
        if entry.default_dir is None:
            raise DatasetError(f"dataset {name!r} is read from disk: {flag} is required")
        if not entry.default_dir.is_dir():
            raise DatasetError(f"dataset {name!r} not found in {entry.default_dir}{hint}")
        return entry.default_dir
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        problem = "is not a directory" if path.exists() else "does not exist"
        raise DatasetError(f"{flag} for {name!r}: {path} {problem}{hint}")
    return path


def check_data_options(
    name: str, sizes: dict[str, int | None], skip_corrupt: bool, embedded: bool | None = None
) -> None:
    """Refuse data options that would be ignored: sample counts (`sizes`, by option name)
    for data read whole from disk, `skip_corrupt` off image folders. `embedded`: whether
    some dataset of the run takes sizes (default: whether `name` does)."""
    takes_sizes = is_embedded(name) if embedded is None else embedded
    for option, value in sizes.items():
        if value is not None and not takes_sizes:
            raise DatasetError(
                f"{option} cannot apply: it sets the size of embedded datasets, and "
                f"{name!r} uses its whole split"
            )
    if skip_corrupt and name not in ("folder", "folder-unlabeled"):
        raise DatasetError(f"skip_corrupt applies to image folders, not to {name!r}")


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

    Datasets read from disk require `data_dir` unless a package installs them in a
    known folder; embedded datasets refuse one (it would be ignored, and a user who
    names a folder expects it to be read).
    """
    _check_name(name)
    info = _ENTRIES[name]
    if not info.needs_data_dir and data_dir is not None:
        check_location(name, data_dir)  # refused unless the entry reads a given folder
    allowed = dataset_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise DatasetError(
            f"dataset {name!r} has no option {unknown[0]!r}; "
            f"options: {', '.join(allowed) or 'none'}"
        )
    path = None
    if info.needs_data_dir:
        if options.get("download") and data_dir is not None:
            Path(data_dir).expanduser().mkdir(parents=True, exist_ok=True)
        path = data_location(name, data_dir)
    elif data_dir is not None:  # an embedded dataset reading the given folder instead
        path = data_location(name, data_dir)
    return info.build(split, path, transform=transform, **options)
