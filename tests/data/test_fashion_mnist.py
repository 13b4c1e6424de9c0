"""Fashion-MNIST: IDX files gzipped or raw, the default folder, and every bad file in one line."""

from __future__ import annotations

import dataclasses
import gzip
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from infomin.data import (
    DatasetError,
    check_location,
    default_data_dir,
    image_channels,
    is_embedded,
    load_dataset,
    registry,
)
from infomin.data.fashion_mnist import CLASS_NAMES, DEFAULT_DIR, PACKAGE, _decoded_split


def _written(root: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """What the fixture wrote, read back with gzip and numpy only (not our reader)."""

    def raw(stem: str) -> bytes:
        path = root / stem
        if path.exists():
            return path.read_bytes()
        return gzip.decompress((root / f"{stem}.gz").read_bytes())

    images = np.frombuffer(raw(f"{prefix}-images-idx3-ubyte"), np.uint8, offset=16)
    labels = np.frombuffer(raw(f"{prefix}-labels-idx1-ubyte"), np.uint8, offset=8)
    return images.reshape(-1, 28, 28), labels


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_both_forms_load_as_one_uint8_tensor(tmp_path: Path, idx_files, gz: bool) -> None:
    _, write_fashion_mnist = idx_files
    root = write_fashion_mnist(tmp_path / "fm", train=30, test=12, gz=gz)
    assert {p.suffix == ".gz" for p in root.iterdir()} == {gz}
    for split, prefix, count in (("train", "train", 30), ("test", "t10k", 12)):
        dataset = load_dataset("fashion-mnist", split, data_dir=root)
        images, labels = _written(root, prefix)
        assert len(dataset) == count
        assert dataset.images.shape == (count, 1, 28, 28) and dataset.images.dtype == torch.uint8
        image, targets = dataset[3]
        assert image.shape == (1, 28, 28) and image.dtype == torch.uint8
        assert torch.equal(dataset.images[:, 0], torch.from_numpy(images.copy()))
        assert dataset.labels.tolist() == labels.tolist() and int(targets["class"]) == labels[3]
    assert dataset.tasks["class"].num_classes == 10
    assert dataset.class_names["class"] == CLASS_NAMES and CLASS_NAMES[9] == "Ankle boot"


def test_registry_knows_where_and_what(tmp_path: Path, fashion_mnist_root: Path) -> None:
    assert not is_embedded("fashion-mnist") and image_channels("fashion-mnist") == 1
    assert image_channels("cifar10") == 3 and default_data_dir("cifar10") is None
    assert (
        default_data_dir("fashion-mnist")
        == DEFAULT_DIR
        == Path("/usr/share/datasets/fashion-mnist")
    )
    check_location("fashion-mnist", fashion_mnist_root)
    with pytest.raises(DatasetError, match=r"--data-dir for 'fashion-mnist': .*does not exist"):
        check_location("fashion-mnist", tmp_path / "nowhere")


@pytest.fixture
def default_dir(monkeypatch: pytest.MonkeyPatch):
    """Point the registry's default folder of fashion-mnist somewhere (the package's
    folder may or may not be installed on this machine)."""

    def point_to(path: Path) -> None:
        entry = dataclasses.replace(registry._ENTRIES["fashion-mnist"], default_dir=path)
        monkeypatch.setitem(registry._ENTRIES, "fashion-mnist", entry)

    return point_to


def test_default_folder_needs_no_data_dir(fashion_mnist_root: Path, default_dir) -> None:
    default_dir(fashion_mnist_root)
    check_location("fashion-mnist", None)
    assert len(load_dataset("fashion-mnist", "test")) == 20


def test_missing_default_folder_names_the_package_and_data_dir(tmp_path: Path, default_dir) -> None:
    default_dir(tmp_path / "not-installed")
    for call in (lambda: check_location("fashion-mnist", None),
                 lambda: load_dataset("fashion-mnist")):  # fmt: skip
        with pytest.raises(DatasetError) as error:
            call()
        message = str(error.value)
        assert "not-installed" in message and PACKAGE in message and "--data-dir" in message
        assert "\n" not in message


def _bad(tmp_path: Path, idx_files, spoil) -> Path:
    _, write_fashion_mnist = idx_files
    root = write_fashion_mnist(tmp_path / "bad", train=20, test=10, gz=False)
    spoil(root)
    return root


def _swap_magic(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[3] = 0x01  # an image file claiming to be a label file
    path.write_bytes(bytes(data))


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


CASES = {
    "wrong magic": (lambda r: _swap_magic(r / "train-images-idx3-ubyte"),
                    r"train-images-idx3-ubyte: magic number 0x00000801 is not an IDX image"),
    "truncated": (lambda r: _cut(r / "train-images-idx3-ubyte"),
                  r"train-images-idx3-ubyte is truncated: 15580 bytes after the header, 15680"),
    "header cut": (lambda r: (r / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08"),
                   r"train-labels-idx1-ubyte is truncated: 3 bytes"),
    "trailing bytes": (lambda r: (r / "train-labels-idx1-ubyte").open("ab").write(b"xx"),
                       r"train-labels-idx1-ubyte has trailing bytes"),
    "counts disagree": (lambda r: _labels(r / "train-labels-idx1-ubyte", 7),
                        r"train-labels-idx1-ubyte holds 7 labels for the 20 images of .*"
                        r"train-images-idx3-ubyte"),
    "label out of range": (lambda r: _labels(r / "train-labels-idx1-ubyte", 20, value=10),
                           r"train-labels-idx1-ubyte: label 10 exceeds the 10 classes"),
    "missing file": (lambda r: (r / "train-images-idx3-ubyte").unlink(),
                     r"missing file .*train-images-idx3-ubyte\[\.gz\] .*dataset-fashion-mnist"),
}  # fmt: skip


def _labels(path: Path, count: int, value: int = 0) -> None:
    path.write_bytes(b"\x00\x00\x08\x01" + count.to_bytes(4, "big") + bytes([value]) * count)


@pytest.mark.parametrize("case", CASES)
def test_bad_file_is_one_line_naming_it(tmp_path: Path, idx_files, case: str) -> None:
    spoil, message = CASES[case]
    root = _bad(tmp_path, idx_files, spoil)
    with pytest.raises(DatasetError, match=message) as error:
        load_dataset("fashion-mnist", "train", data_dir=root)
    assert "\n" not in str(error.value)


def test_truncated_gzip_is_one_line(tmp_path: Path, idx_files) -> None:
    _, write_fashion_mnist = idx_files
    root = write_fashion_mnist(tmp_path / "fm", train=20, test=10, gz=True)
    _cut(root / "t10k-images-idx3-ubyte.gz")
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte.gz is not a complete gzip"):
        load_dataset("fashion-mnist", "test", data_dir=root)


def test_a_replaced_file_is_read_again(tmp_path: Path, idx_files) -> None:
    """Splits are cached per file; the cache key includes size and mtime."""
    _, write_fashion_mnist = idx_files
    root = write_fashion_mnist(tmp_path / "fm", train=20, test=10, gz=False)
    assert len(load_dataset("fashion-mnist", "test", data_dir=root)) == 10
    write_fashion_mnist(root, train=20, test=13, gz=False)
    assert len(load_dataset("fashion-mnist", "test", data_dir=root)) == 13


def test_unknown_split_and_option(fashion_mnist_root: Path) -> None:
    with pytest.raises(DatasetError, match="no split 'val'"):
        load_dataset("fashion-mnist", "val", data_dir=fashion_mnist_root)
    with pytest.raises(DatasetError, match="has no option 'seed'"):
        load_dataset("fashion-mnist", data_dir=fashion_mnist_root, seed=1)


@pytest.mark.slow
@pytest.mark.skipif(not DEFAULT_DIR.is_dir(), reason=f"Debian package {PACKAGE} not installed")
def test_the_real_files_load_in_under_two_seconds() -> None:
    _decoded_split.cache_clear()
    start = time.perf_counter()
    train, test = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
    seconds = time.perf_counter() - start
    assert (len(train), len(test)) == (60000, 10000)
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert seconds < 2.0, f"{seconds:.2f} s"
