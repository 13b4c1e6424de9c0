"""Image folders, decoded lazily.

Labelled folders are ROOT/CLASS/... (classes = sorted sub-folder names); unlabelled
folders take every image below ROOT and have no tasks: classes are never inferred from
names (a known source of silent bugs).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from infomin.data.base import DatasetError, ImageDataset, Item, classification
from infomin.data.disk import require_dir

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)


def list_images(root: Path) -> list[Path]:
    """Every image file below `root` (recursive, hidden entries skipped), sorted."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found += [
            Path(folder) / f
            for f in files
            if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS
        ]
    return sorted(found)


def decode_image(path: Path) -> torch.Tensor:
    """Decode an image file to `uint8 [3, H, W]` RGB (grayscale, palette, RGBA converted)."""
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if image.mode in ("P", "PA", "LA"):
                image = image.convert("RGBA")
            array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DatasetError(f"cannot decode image {path}: {error}") from error
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


class ImageFolder(ImageDataset):
    """Images in a folder, decoded lazily.

    `labels=True`: ROOT/CLASS/**/image, task `class` over the sorted class folder names.
    `labels=False`: every image below ROOT, no targets and `tasks == {}`.

    A corrupt file stops whoever decodes it with a `DatasetError` naming it (the default:
    a damaged dataset should be noticed). `skip_corrupt=True` decodes every file once, up
    front, drops the unreadable ones and keeps their paths in `skipped` (so they can be
    counted and reported), at the cost of a pass over the whole folder.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        labels: bool = True,
        transform: Callable[[torch.Tensor], Any] | None = None,
        skip_corrupt: bool = False,
    ) -> None:
        super().__init__(transform)
        self.root = require_dir(root, "image folder")
        if labels:
            self.samples = self._labelled_samples()
            classes = self.class_names["class"]
            self.tasks = {"class": classification("class", len(classes))}
        else:
            self.samples = [(path, -1) for path in list_images(self.root)]
            if not self.samples:
                raise DatasetError(f"no images in {self.root} (looked for {_extensions()})")
        self.labelled = labels
        self.skipped: list[tuple[Path, str]] = []
        if skip_corrupt:
            self.samples, self.skipped = _readable(self.samples)
            if not self.samples:
                raise DatasetError(f"no readable images in {self.root}: all were corrupt")

    def _labelled_samples(self) -> list[tuple[Path, int]]:
        classes = sorted(
            d.name for d in self.root.iterdir() if d.is_dir() and not d.name.startswith(".")
        )
        if not classes:
            raise DatasetError(
                f"no class folders in {self.root}: a labelled folder is ROOT/CLASS/IMAGE "
                "(use folder-unlabeled for images without classes)"
            )
        samples = []
        for label, name in enumerate(classes):
            images = list_images(self.root / name)
            if not images:
                raise DatasetError(
                    f"class folder {self.root / name} has no images ({_extensions()})"
                )
            samples += [(path, label) for path in images]
        self.class_names = {"class": classes}
        return samples

    @property
    def paths(self) -> list[Path]:
        return [path for path, _ in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def raw_item(self, index: int) -> Item:
        path, label = self.samples[index]
        targets = {"class": torch.tensor(label)} if self.labelled else {}
        return decode_image(path), targets


def skipped_summary(dataset: Any) -> str | None:
    """One line on the files a `skip_corrupt` folder dropped (None if it dropped none)."""
    skipped = getattr(dataset, "skipped", None)
    if not skipped:
        return None
    path, reason = skipped[0]
    return f"skipped {len(skipped)} corrupt image(s) in {dataset.root}; first: {path} ({reason})"


def _readable(
    samples: list[tuple[Path, int]],
) -> tuple[list[tuple[Path, int]], list[tuple[Path, str]]]:
    """`samples` split into the decodable ones and (path, reason) for the others."""
    kept, skipped = [], []
    for path, label in samples:
        try:
            decode_image(path)
        except DatasetError as error:
            skipped.append((path, str(error.__cause__ or error)))
            continue
        kept.append((path, label))
    return kept, skipped


def _extensions() -> str:
    return ", ".join(sorted(IMAGE_EXTENSIONS))


def split_folder(data_dir: Path, split: str) -> Path:
    """The folder of `split`: `data_dir/split` if present, else `data_dir` for train."""
    if (data_dir / split).is_dir():
        return data_dir / split
    if split == "train":
        return data_dir
    raise DatasetError(f"no {split!r} folder in {data_dir} (expected {data_dir / split})")
