"""CIFAR-10 and CIFAR-100 from their python pickled batches, read fully into memory.

The unpickler only admits numpy arrays, because a pickle can otherwise run arbitrary
code. Nothing is downloaded unless `download=True` (torchvision's downloader).
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from infomin.data.base import DatasetError, check_split
from infomin.data.disk import TensorDataset, dataset_folder, require_dir, require_file


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, lists, dicts and strings only: CIFAR batches need no more."""

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name}")
        return super().find_class(module, name)


def _read_pickle(path: Path, expected: str) -> dict[bytes, Any]:
    """A CIFAR pickle as a dict with bytes keys, or a `DatasetError` naming the file."""
    require_file(path, expected)
    try:
        content = _RestrictedUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except Exception as error:  # any failure means the file is not a CIFAR pickle
        raise DatasetError(f"{path} is not a CIFAR python pickle ({error})") from error
    if not isinstance(content, dict):
        raise DatasetError(f"{path} is not a CIFAR python pickle (expected a dict)")
    return content


def _field(content: dict[bytes, Any], key: bytes, path: Path) -> Any:
    if key not in content:
        raise DatasetError(f"{path} has no key {key!r}; is this the right CIFAR variant?")
    return content[key]


class _Cifar(TensorDataset):
    """Common reader of the CIFAR-10 and CIFAR-100 python layouts."""

    name: ClassVar[str]
    folder: ClassVar[str]
    train_files: ClassVar[tuple[str, ...]]
    test_files: ClassVar[tuple[str, ...]]
    meta_file: ClassVar[str]
    label_key: ClassVar[bytes]
    names_key: ClassVar[bytes]
    torchvision_class: ClassVar[str]

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        split: str = "train",
        transform: Callable[[torch.Tensor], Any] | None = None,
        download: bool = False,
    ) -> None:
        check_split(split, ("train", "test"), self.name)
        data_dir = self._ensure(data_dir, split, download)
        expected = f"{self.folder}/{{{', '.join(self.train_files + self.test_files)}}}"
        root = dataset_folder(data_dir, self.folder, self.meta_file, expected)
        files = self.train_files if split == "train" else self.test_files
        images, labels = zip(*(self._read_batch(root / f) for f in files), strict=True)
        meta = _read_pickle(root / self.meta_file, f"{self.folder}/{self.meta_file}")
        names = [_text(n) for n in _field(meta, self.names_key, root / self.meta_file)]
        label_tensor = torch.from_numpy(np.concatenate(labels))
        if len(label_tensor) and int(label_tensor.max()) >= len(names):
            raise DatasetError(f"labels in {root} exceed the {len(names)} class names")
        super().__init__(torch.from_numpy(np.concatenate(images)), label_tensor, names, transform)
        self.split = split

    def _ensure(self, data_dir: str | os.PathLike[str], split: str, download: bool) -> Path:
        """Make sure the directory exists; download into it only when asked."""
        if download:
            import torchvision.datasets

            Path(data_dir).mkdir(parents=True, exist_ok=True)
            getattr(torchvision.datasets, self.torchvision_class)(
                str(data_dir), train=split == "train", download=True
            )
        return require_dir(data_dir)

    def _read_batch(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        """One batch file: images `uint8 [N, 3, 32, 32]`, labels `int64 [N]`."""
        content = _read_pickle(path, f"a {self.name} batch file")
        data = np.asarray(_field(content, b"data", path))
        labels = np.asarray(_field(content, self.label_key, path), dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DatasetError(
                f"{path}: b'data' must be uint8 [N, 3072], got {data.dtype} {list(data.shape)}"
            )
        if labels.shape != (len(data),) or (labels < 0).any():
            raise DatasetError(f"{path}: expected {len(data)} non-negative labels")
        return data.reshape(-1, 3, 32, 32), labels


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class CIFAR10(_Cifar):
    """CIFAR-10 from `cifar-10-batches-py/` (data_batch_1..5, test_batch, batches.meta)."""

    name = "cifar10"
    folder = "cifar-10-batches-py"
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    meta_file = "batches.meta"
    label_key = b"labels"
    names_key = b"label_names"
    torchvision_class = "CIFAR10"


class CIFAR100(_Cifar):
    """CIFAR-100 from `cifar-100-python/` (train, test, meta), with the 100 fine labels."""

    name = "cifar100"
    folder = "cifar-100-python"
    train_files = ("train",)
    test_files = ("test",)
    meta_file = "meta"
    label_key = b"fine_labels"
    names_key = b"fine_label_names"
    torchvision_class = "CIFAR100"
