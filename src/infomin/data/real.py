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
from PIL import Image, ImageOps

from infomin.data.base import DatasetError, ImageDataset, Item, check_split, classification

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
STL_SIDE = 96
STL_IMAGE_BYTES = 3 * STL_SIDE * STL_SIDE


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


def _dataset_folder(data_dir: Path, folder: str, marker: str, expected: str) -> Path:
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
        root = _dataset_folder(data_dir, self.folder, self.meta_file, expected)
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
        root = _dataset_folder(require_dir(data_dir), self.folder, "class_names.txt", expected)
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
