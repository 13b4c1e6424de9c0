"""What every reader of real data on disk shares: path checks and an in-memory dataset.

Why: each problem a user can cause (a missing folder, a missing file) is a
`DatasetError` that names the path, written once here for the CIFAR, STL-10,
Fashion-MNIST and image-folder readers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from infomin.data.base import DatasetError, ImageDataset, Item, classification


def require_dir(path: str | os.PathLike[str], what: str = "data directory") -> Path:
    """`path` as a `Path`, or a `DatasetError` if it is not an existing directory."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetError(f"{what} {path} does not exist")
    if not path.is_dir():
        raise DatasetError(f"{what} {path} is not a directory")
    return path


def require_file(path: Path, expected: str) -> Path:
    """`path` if it is a file, else a `DatasetError` naming it and the expected layout."""
    if not path.is_file():
        raise DatasetError(f"missing file {path} (expected {expected})")
    return path


def dataset_folder(data_dir: Path, folder: str, marker: str, expected: str) -> Path:
    """The folder holding a dataset's files: `data_dir/folder`, or `data_dir` itself."""
    if (data_dir / folder).is_dir():
        return data_dir / folder
    if (data_dir / marker).is_file():
        return data_dir
    raise DatasetError(
        f"no {folder} folder in {data_dir} (expected {expected}); pass download=True to fetch it"
    )


class TensorDataset(ImageDataset):
    """Images held in memory as one `uint8 [N, C, H, W]` tensor, with optional labels."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None,
        class_names: list[str] | None,
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        super().__init__(transform)
        self.images = images
        self.labels = labels
        if labels is not None and class_names is not None:
            self.tasks = {"class": classification("class", len(class_names))}
            self.class_names = {"class": class_names}

    def __len__(self) -> int:
        return len(self.images)

    def raw_item(self, index: int) -> Item:
        targets = {} if self.labels is None else {"class": self.labels[index]}
        return self.images[index], targets
