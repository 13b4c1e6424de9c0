"""Real datasets read from disk in their standard formats.

Nothing is downloaded unless `download=True` is passed; then torchvision's own
downloader fetches the archive and this module reads the extracted files. The readers
are our own (not torchvision's classes) because torchvision checks the MD5 of every file
and cannot tell "not there" from "corrupt"; here each problem is a `DatasetError` that
names the path.

- CIFAR-10 / CIFAR-100: python pickled batches, read fully into memory. The unpickler
  only admits numpy arrays, because a pickle can otherwise run arbitrary code.
- STL-10 binary: `*_X.bin` stores each image as 3 planes of 96x96 in column-major
  order, so the last two axes are swapped on reading; labels 1..10 become 0..9. The
  labelled splits are read into memory; the 100,000 unlabelled images (2.7 GB) are
  memory-mapped.
- Image folders: decoded lazily. Labelled folders are ROOT/CLASS/... (classes = sorted
  sub-folder names); unlabelled folders take every image below ROOT and have no tasks:
  classes are never inferred from names (a known source of silent bugs).

This module is their public face; the readers are `cifar`, `stl10` and `image_folder`,
built on the shared checks of `disk`.
"""

from __future__ import annotations

from infomin.data.cifar import CIFAR10, CIFAR100
from infomin.data.disk import TensorDataset, dataset_folder, require_dir, require_file
from infomin.data.image_folder import (
    IMAGE_EXTENSIONS,
    ImageFolder,
    decode_image,
    list_images,
    skipped_summary,
    split_folder,
)
from infomin.data.stl10 import STL10

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "IMAGE_EXTENSIONS",
    "STL10",
    "ImageFolder",
    "TensorDataset",
    "dataset_folder",
    "decode_image",
    "list_images",
    "require_dir",
    "require_file",
    "skipped_summary",
    "split_folder",
]
