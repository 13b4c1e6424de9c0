"""Fashion-MNIST read from its four IDX files, gzipped or not.

Why our own reader: torchvision's `FashionMNIST` wants its own folder layout
(`ROOT/FashionMNIST/raw`) and its IDX parser fails on a bad file with a bare
`AssertionError`; Debian's package `dataset-fashion-mnist` installs the original
`*.gz` files flat in `/usr/share/datasets/fashion-mnist`. Here each problem (missing
file, wrong magic number, truncated file, image and label counts that disagree) is a
one-line `DatasetError` naming the file.

IDX: a big-endian header (magic ``0x00000803`` for 3-D unsigned-byte images,
``0x00000801`` for 1-D unsigned-byte labels, then one 32-bit size per dimension),
then the bytes, row-major. A split is decoded once into one ``uint8 [N, 1, H, W]``
tensor (all 70,000 images in well under 2 s) and cached per file, so the pretraining
split and the probe's copy of it are decoded once per process.
"""

from __future__ import annotations

import functools
import gzip
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infomin.data.base import DatasetError, check_split
from infomin.data.real import TensorDataset, require_dir

#: Where Debian's package `dataset-fashion-mnist` installs the IDX files.
DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
PACKAGE = "dataset-fashion-mnist"
INSTALL_HINT = (
    f"install the Debian package {PACKAGE} with `make fashion-mnist`, "
    "or pass --data-dir FOLDER holding its four IDX files"
)

CLASS_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IMAGE_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABEL_MAGIC = 0x00000801  # unsigned bytes, 1 dimension


def idx_file(folder: Path, stem: str) -> Path:
    """`folder/stem`, else `folder/stem.gz`; a `DatasetError` naming both when neither is
    there (the uncompressed file wins: it needs no decompression)."""
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    raise DatasetError(f"missing file {folder / stem}[.gz] (Fashion-MNIST IDX; {INSTALL_HINT})")


def _file_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it ends in `.gz`."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
        raise DatasetError(f"{path} is not a complete gzip file ({error})") from None


def read_idx(path: Path, magic: int) -> np.ndarray:
    """An unsigned-byte IDX file as an array of the shape its header states.

    Args:
        path: The file (`.gz`: gzipped).
        magic: The expected magic number (`IMAGE_MAGIC` or `LABEL_MAGIC`); its last byte
            is the number of dimensions.
    """
    data = _file_bytes(path)
    dims = magic & 0xFF
    header = 4 * (1 + dims)
    if len(data) < header:
        raise DatasetError(f"{path} is truncated: {len(data)} bytes, shorter than its header")
    (found,) = struct.unpack_from(">I", data)
    if found != magic:
        raise DatasetError(
            f"{path}: magic number 0x{found:08x} is not an IDX {_kind(magic)} file "
            f"(expected 0x{magic:08x})"
        )
    shape = struct.unpack_from(f">{dims}I", data, 4)
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        problem = "is truncated" if len(data) - header < expected else "has trailing bytes"
        raise DatasetError(
            f"{path} {problem}: {len(data) - header} bytes after the header, "
            f"{expected} for shape {list(shape)}"
        )
    return np.frombuffer(data, dtype=np.uint8, count=expected, offset=header).reshape(shape)


def _kind(magic: int) -> str:
    return "image" if magic == IMAGE_MAGIC else "label"


@functools.lru_cache(maxsize=4)
def _decoded_split(images: Path, labels: Path, _stamp: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """`uint8 [N, 1, H, W]` images and `int64 [N]` labels (cached; `_stamp` = the files'
    sizes and modification times, so a replaced file is read again)."""
    pixels = read_idx(images, IMAGE_MAGIC)
    targets = read_idx(labels, LABEL_MAGIC)
    if len(pixels) != len(targets):
        raise DatasetError(
            f"{labels} holds {len(targets)} labels for the {len(pixels)} images of {images}"
        )
    if len(targets) and int(targets.max()) >= len(CLASS_NAMES):
        raise DatasetError(f"{labels}: label {int(targets.max())} exceeds the 10 classes")
    image_tensor = torch.from_numpy(pixels.copy()).unsqueeze(1)  # a writable copy, once
    return image_tensor, torch.from_numpy(targets.astype(np.int64))


def _stamp(*paths: Path) -> tuple:
    return tuple((os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths)


class FashionMNIST(TensorDataset):
    """Fashion-MNIST (Xiao et al. 2017): 60,000 train and 10,000 test 28x28 grey images.

    Items are `uint8 [1, 28, 28]` with target `class` (10 names in `CLASS_NAMES`).
    """

    name = "fashion-mnist"

    def __init__(
        self,
        data_dir: str | os.PathLike[str] = DEFAULT_DIR,
        split: str = "train",
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        check_split(split, tuple(FILES), self.name)
        folder = require_dir(data_dir, f"Fashion-MNIST folder ({INSTALL_HINT}):")
        paths = [idx_file(folder, stem) for stem in FILES[split]]
        images, labels = _decoded_split(*paths, _stamp(*paths))
        super().__init__(images, labels, list(CLASS_NAMES), transform)
        self.split = split
        self.root = folder
