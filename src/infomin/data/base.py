"""Shared vocabulary of every dataset: task descriptions, the error type, a base class.

Probes and the CLI read `Task` objects instead of guessing from targets, so a dataset
states once what each target means (how many classes, which unit). `DatasetError`
separates problems the user can fix (a path, a file, a format) from bugs: the CLI
prints the former as one line instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch.utils.data import Dataset

TaskKind = Literal["classification", "regression"]
Item = tuple[torch.Tensor, dict[str, torch.Tensor]]


class DatasetError(ValueError):
    """A problem the user caused and can fix: a missing path, a wrong format, a bad name."""


@dataclass(frozen=True)
class Task:
    """What one target of a dataset means, so evaluation knows which probe and metric fit."""

    name: str
    kind: TaskKind
    num_classes: int | None = None
    unit: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("classification", "regression"):
            raise ValueError(f"task kind must be classification or regression, not {self.kind!r}")
        if self.kind == "classification" and not self.num_classes:
            raise ValueError(f"classification task {self.name!r} needs num_classes")


def classification(name: str, num_classes: int) -> Task:
    """Shorthand for the most common task kind."""
    return Task(name, "classification", num_classes)


class ImageDataset(Dataset):
    """Base of every dataset in `infomin.data`: `(uint8 image, targets)` items.

    Subclasses implement `raw_item`; the transform is applied here once, so every dataset
    treats views the same way and tools such as `save_grid` can still see the raw image.
    """

    tasks: dict[str, Task]
    class_names: dict[str, list[str]]

    def __init__(self, transform: Callable[[torch.Tensor], Any] | None = None) -> None:
        self.transform = transform
        self.tasks = {}
        self.class_names = {}

    def __len__(self) -> int:
        raise NotImplementedError

    def raw_item(self, index: int) -> Item:
        """The untransformed item: `uint8 [C, H, W]` image and its targets."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[Any, dict[str, torch.Tensor]]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} items")
        image, targets = self.raw_item(int(index) % len(self))
        if self.transform is not None:
            image = self.transform(image)
        return image, targets


def check_split(split: str, allowed: tuple[str, ...], dataset: str) -> str:
    """Reject an unknown split with a message naming the ones that exist."""
    if split not in allowed:
        raise DatasetError(
            f"dataset {dataset!r} has no split {split!r}; choose one of: {', '.join(allowed)}"
        )
    return split
