"""STL-10 binary: `*_X.bin` images, `*_y.bin` labels, `class_names.txt`.

Each image is stored as 3 planes of 96x96 in column-major order, so the last two axes
are swapped on reading; labels 1..10 become 0..9. The labelled splits are read into
memory; the 100,000 unlabelled images (2.7 GB) are memory-mapped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infomin.data.base import DatasetError, ImageDataset, Item, check_split, classification
from infomin.data.disk import dataset_folder, require_dir, require_file

STL_SIDE = 96
STL_IMAGE_BYTES = 3 * STL_SIDE * STL_SIDE


class STL10(ImageDataset):
    """STL-10 binary (`stl10_binary/`): splits train, test, unlabeled, train+unlabeled.

    The unlabelled splits have no targets and `tasks == {}`.
    """

    name = "stl10"
    folder = "stl10_binary"
    SPLITS = ("train", "test", "unlabeled", "train+unlabeled")

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        split: str = "train",
        transform: Callable[[torch.Tensor], Any] | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(transform)
        self.split = check_split(split, self.SPLITS, self.name)
        if download:
            import torchvision.datasets

            Path(data_dir).mkdir(parents=True, exist_ok=True)
            torchvision.datasets.STL10(str(data_dir), split=split, download=True)
        expected = f"{self.folder}/{{train,test,unlabeled}}_X.bin, *_y.bin, class_names.txt"
        root = dataset_folder(require_dir(data_dir), self.folder, "class_names.txt", expected)
        self.labels: torch.Tensor | None = None
        self._parts: list[torch.Tensor | np.ndarray] = []
        if split in ("train", "test"):
            self.images = _transpose_stl(_read_stl_images(root / f"{split}_X.bin", mmap=False))
            self.labels = _read_stl_labels(root / f"{split}_y.bin", len(self.images))
            names = _read_class_names(root / "class_names.txt")
            self.tasks = {"class": classification("class", len(names))}
            self.class_names = {"class": names}
            self._parts = [self.images]
        else:
            if split == "train+unlabeled":
                self._parts.append(_transpose_stl(_read_stl_images(root / "train_X.bin", False)))
            self._parts.append(_read_stl_images(root / "unlabeled_X.bin", mmap=True))
        self._starts = np.cumsum([0] + [len(p) for p in self._parts])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def raw_item(self, index: int) -> Item:
        part = int(np.searchsorted(self._starts, index, side="right")) - 1
        images = self._parts[part]
        local = index - int(self._starts[part])
        if isinstance(images, torch.Tensor):
            image = images[local]
        else:  # memory-mapped raw layout: swap to row-major on the fly
            image = torch.from_numpy(np.ascontiguousarray(images[local].transpose(0, 2, 1)))
        targets = {} if self.labels is None else {"class": self.labels[local]}
        return image, targets


def _read_stl_images(path: Path, mmap: bool) -> np.ndarray:
    """Raw STL images `uint8 [N, 3, 96, 96]` in the file's column-major pixel order."""
    require_file(path, "STL-10 binary images (N x 3 x 96 x 96 bytes)")
    size = path.stat().st_size
    if size % STL_IMAGE_BYTES:
        raise DatasetError(
            f"{path} is not STL-10 binary: {size} bytes is not a multiple of {STL_IMAGE_BYTES}"
        )
    shape = (size // STL_IMAGE_BYTES, 3, STL_SIDE, STL_SIDE)
    if mmap:
        return np.memmap(path, dtype=np.uint8, mode="r", shape=shape)
    return np.fromfile(path, dtype=np.uint8).reshape(shape)


def _transpose_stl(raw: np.ndarray) -> torch.Tensor:
    """Column-major STL planes -> `uint8 [N, 3, H, W]` row-major tensor."""
    return torch.from_numpy(np.ascontiguousarray(raw.transpose(0, 1, 3, 2)))


def _read_stl_labels(path: Path, count: int) -> torch.Tensor:
    """STL labels 1..10 (one byte each) -> `int64` 0..9, checked against the image count."""
    require_file(path, "STL-10 labels (one byte per image, 1..10)")
    labels = np.fromfile(path, dtype=np.uint8).astype(np.int64)
    if len(labels) != count:
        raise DatasetError(f"{path} holds {len(labels)} labels for {count} images")
    if len(labels) and (labels.min() < 1 or labels.max() > 10):
        raise DatasetError(f"{path}: STL-10 labels must be 1..10")
    return torch.from_numpy(labels - 1)


def _read_class_names(path: Path) -> list[str]:
    require_file(path, "class_names.txt, one class name per line")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(names) != 10:
        raise DatasetError(f"{path} lists {len(names)} class names, expected 10")
    return names
