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


#: Datasets up to this size are held as one tensor for training (`in_memory`).
IN_MEMORY_MAX_BYTES = 2 * 2**30


@dataclass(frozen=True)
class InMemory:
    """A whole dataset as tensors: `images` `uint8 [N, C, H, W]`, each target `[N, ...]`."""

    images: torch.Tensor
    targets: dict[str, torch.Tensor]


def in_memory(dataset: ImageDataset, max_bytes: int = IN_MEMORY_MAX_BYTES) -> InMemory | None:
    """The dataset's raw items stacked into one tensor, or None when they cannot be.

    Why: an epoch that indexes one `uint8` tensor costs microseconds per batch, where
    per-item reads (files decoded, items rendered, one Python call each) cost a worker.
    None when the images differ in size or dtype, or would take more than `max_bytes`.
    Items are read once here, through `raw_item` (a dataset's transform is not applied).
    """
    if len(dataset) == 0:
        return None
    first, targets = dataset.raw_item(0)
    if first.dtype != torch.uint8 or first.numel() * len(dataset) > max_bytes:
        return None
    images = getattr(dataset, "images", None)  # TensorDataset: already one tensor
    if isinstance(images, torch.Tensor) and images.shape[1:] == first.shape:
        labels = getattr(dataset, "labels", None)
        stacked = {} if labels is None else {name: labels for name in targets}
        if len(stacked) == len(targets):
            return InMemory(images, stacked)
    items = [dataset.raw_item(i) for i in range(len(dataset))]
    if any(image.shape != first.shape or image.dtype != first.dtype for image, _ in items):
        return None
    return InMemory(
        torch.stack([image for image, _ in items]),
        {name: torch.stack([t[name] for _, t in items]) for name in targets},
    )


class InMemoryBatches(Dataset):
    """`(uint8 images [B, C, H, W], targets, index)` per batch of indices, for a DataLoader
    with `collate_fn=as_batch`: one indexing operation per batch instead of B items.

    `DataLoader` hands a batch's indices to `__getitems__` when a dataset has it.
    """

    def __init__(self, data: InMemory) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        targets = {name: value[index] for name, value in self.data.targets.items()}
        return self.data.images[index], targets, index

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, dict, torch.Tensor]:
        index = torch.as_tensor(indices)
        targets = {name: value[index] for name, value in self.data.targets.items()}
        return self.data.images[index], targets, index


def as_batch(batch: Any) -> Any:
    """The collate function of `InMemoryBatches`: its batches are made already."""
    return batch


def check_split(split: str, allowed: tuple[str, ...], dataset: str) -> str:
    """Reject an unknown split with a message naming the ones that exist."""
    if split not in allowed:
        raise DatasetError(
            f"dataset {dataset!r} has no split {split!r}; choose one of: {', '.join(allowed)}"
        )
    return split
