"""Real-dataset readers on tiny fixtures written in the real on-disk formats."""

from __future__ import annotations

import pickle
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infomin.data import CIFAR10, CIFAR100, STL10, DatasetError, ImageFolder, load_dataset

RNG = np.random.default_rng(0)


def _dump(path: Path, content: object, protocol: int = 2) -> None:
    path.write_bytes(pickle.dumps(content, protocol=protocol))


def _cifar_batch(count: int, label_key: bytes, num_classes: int) -> dict[bytes, object]:
    data = RNG.integers(0, 256, size=(count, 3072), dtype=np.uint8)
    labels = RNG.integers(0, num_classes, size=count).tolist()
    return {b"batch_label": b"fixture", b"data": data, label_key: labels}


@pytest.fixture
def cifar10_dir(tmp_path: Path) -> Path:
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for i in range(1, 6):
        _dump(root / f"data_batch_{i}", _cifar_batch(2, b"labels", 10))
    _dump(root / "test_batch", _cifar_batch(3, b"labels", 10), protocol=pickle.HIGHEST_PROTOCOL)
    names = [f"class{i}".encode() for i in range(10)]
    _dump(root / "batches.meta", {b"label_names": names, b"num_vis": 3072})
    return tmp_path


def _pixel(data: np.ndarray, row: int, channel: int, y: int, x: int) -> int:
    """Where the CIFAR layout stores one pixel: channel planes of 32 rows of 32."""
    return int(data[row, channel * 1024 + y * 32 + x])


def test_cifar10_reads_images_and_labels(cifar10_dir: Path) -> None:
    root = cifar10_dir / "cifar-10-batches-py"
    batch = pickle.loads((root / "data_batch_3").read_bytes())
    train = CIFAR10(cifar10_dir, "train")
    assert len(train) == 10 and train.tasks["class"].num_classes == 10
    assert train.class_names["class"][3] == "class3"
    image, targets = train[4]  # first image of data_batch_3
    assert image.dtype == torch.uint8 and image.shape == (3, 32, 32)
    assert int(image[2, 5, 17]) == _pixel(batch[b"data"], 0, 2, 5, 17)
    assert int(image[0, 31, 0]) == _pixel(batch[b"data"], 0, 0, 31, 0)
    assert int(targets["class"]) == batch[b"labels"][0]
    test = load_dataset("cifar10", "test", data_dir=root)  # the folder itself works too
    expected = pickle.loads((root / "test_batch").read_bytes())
    assert len(test) == 3 and [int(t["class"]) for _, t in test] == expected[b"labels"]


def test_cifar100_uses_fine_labels(tmp_path: Path) -> None:
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    train = _cifar_batch(4, b"fine_labels", 100)
    train[b"coarse_labels"] = [0, 1, 2, 3]
    _dump(root / "train", train)
    _dump(root / "test", {**_cifar_batch(2, b"fine_labels", 100), b"coarse_labels": [0, 0]})
    names = [f"fine{i}".encode() for i in range(100)]
    _dump(root / "meta", {b"fine_label_names": names, b"coarse_label_names": [b"c"] * 20})
    data = CIFAR100(tmp_path, "train")
    assert data.tasks["class"].num_classes == 100
    assert data.labels.tolist() == train[b"fine_labels"]
    assert int(data[1][0][1, 0, 31]) == _pixel(train[b"data"], 1, 1, 0, 31)


def test_cifar_errors_name_the_file(cifar10_dir: Path) -> None:
    root = cifar10_dir / "cifar-10-batches-py"
    (root / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match="data_batch_3"):
        CIFAR10(cifar10_dir, "train")
    (root / "test_batch").write_bytes(b"not a pickle at all")
    with pytest.raises(DatasetError, match="test_batch"):
        CIFAR10(cifar10_dir, "test")
    with pytest.raises(DatasetError, match="elsewhere does not exist"):
        CIFAR10(cifar10_dir / "elsewhere", "train")
    (cifar10_dir / "empty").mkdir()
    with pytest.raises(DatasetError, match="no cifar-10-batches-py folder"):
        CIFAR10(cifar10_dir / "empty", "train")


def test_cifar_pickle_may_hold_only_arrays(cifar10_dir: Path) -> None:
    root = cifar10_dir / "cifar-10-batches-py"
    _dump(root / "test_batch", {b"data": OrderedDict(), b"labels": []})
    with pytest.raises(DatasetError, match="unexpected object"):
        CIFAR10(cifar10_dir, "test")
    _dump(root / "test_batch", {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})
    with pytest.raises(DatasetError, match="3072"):
        CIFAR10(cifar10_dir, "test")


def _stl_write(root: Path, name: str, images: np.ndarray) -> None:
    """Write row-major `[N, 3, 96, 96]` images in STL's column-major layout."""
    (root / name).write_bytes(np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes())


@pytest.fixture
def stl_dir(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path / "stl10_binary"
    root.mkdir()
    arrays = {
        split: RNG.integers(0, 200, size=(count, 3, 96, 96), dtype=np.uint8)
        for split, count in (("train", 3), ("test", 2), ("unlabeled", 4))
    }
    arrays["train"][1, 2, 5, 70] = 255  # one asymmetric pixel: row 5, column 70
    for split, images in arrays.items():
        _stl_write(root, f"{split}_X.bin", images)
    (root / "train_y.bin").write_bytes(bytes([1, 10, 4]))
    (root / "test_y.bin").write_bytes(bytes([2, 3]))
    names = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
    (root / "class_names.txt").write_text("\n".join(names) + "\n")
    return tmp_path, arrays


def test_stl10_transposes_and_shifts_labels(stl_dir: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, arrays = stl_dir
    train = STL10(path, "train")
    assert train.labels.tolist() == [0, 9, 3]
    assert train.class_names["class"][9] == "truck"
    image, targets = train[1]
    assert image.shape == (3, 96, 96) and int(targets["class"]) == 9
    assert int(image[2, 5, 70]) == 255 and int(image[2, 70, 5]) != 255
    assert np.array_equal(image.numpy(), arrays["train"][1])
    test = load_dataset("stl10", "test", data_dir=path)
    assert [int(t["class"]) for _, t in test] == [1, 2]


def test_stl10_unlabeled_splits_have_no_tasks(stl_dir: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, arrays = stl_dir
    unlabeled = STL10(path, "unlabeled")
    assert unlabeled.tasks == {} and len(unlabeled) == 4
    image, targets = unlabeled[3]
    assert targets == {} and np.array_equal(image.numpy(), arrays["unlabeled"][3])
    both = STL10(path, "train+unlabeled")
    assert len(both) == 7 and both.tasks == {}
    assert np.array_equal(both[1][0].numpy(), arrays["train"][1])
    assert np.array_equal(both[5][0].numpy(), arrays["unlabeled"][2])


def test_stl10_errors(stl_dir: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, _ = stl_dir
    root = path / "stl10_binary"
    (root / "test_y.bin").write_bytes(bytes([1, 2, 3]))
    with pytest.raises(DatasetError, match=re.escape("test_y.bin")):
        STL10(path, "test")
    (root / "train_X.bin").write_bytes(b"\x00" * 1000)
    with pytest.raises(DatasetError, match=re.escape("train_X.bin")):
        STL10(path, "train")
    (root / "unlabeled_X.bin").unlink()
    with pytest.raises(DatasetError, match=re.escape("unlabeled_X.bin")):
        STL10(path, "unlabeled")
    with pytest.raises(DatasetError, match="split"):
        STL10(path, "validation")


def _png(path: Path, array: np.ndarray, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)


def test_labelled_folder(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 256, size=(10, 12, 3), dtype=np.uint8)
    gray = RNG.integers(0, 256, size=(8, 8), dtype=np.uint8)
    rgba = RNG.integers(0, 256, size=(6, 5, 4), dtype=np.uint8)
    _png(tmp_path / "zebra" / "a.png", rgb)
    _png(tmp_path / "ant" / "nested" / "g.png", gray)
    _png(tmp_path / "ant" / "rgba.png", rgba)
    (tmp_path / "ant" / "notes.txt").write_text("not an image")
    data = ImageFolder(tmp_path)
    assert data.class_names["class"] == ["ant", "zebra"] and data.tasks["class"].num_classes == 2
    assert len(data) == 3
    items = {path.name: data[i] for i, path in enumerate(data.paths)}
    image, targets = items["a.png"]
    assert int(targets["class"]) == 1 and image.dtype == torch.uint8
    assert np.array_equal(image.numpy(), rgb.transpose(2, 0, 1))
    image, targets = items["g.png"]
    assert int(targets["class"]) == 0 and image.shape == (3, 8, 8)
    assert np.array_equal(image[1].numpy(), gray) and torch.equal(image[0], image[2])
    assert items["rgba.png"][0].shape == (3, 6, 5)


def test_unlabelled_folder_never_takes_classes_from_names(tmp_path: Path) -> None:
    for name in ("cat/1.png", "dog/2.jpg", "deep/er/3.png", "4.png"):
        _png(tmp_path / name, RNG.integers(0, 256, size=(4, 4, 3), dtype=np.uint8))
    data = load_dataset("folder-unlabeled", data_dir=tmp_path)
    assert data.tasks == {} and data.class_names == {} and len(data) == 4
    image, targets = data[0]
    assert targets == {} and image.shape == (3, 4, 4)


def test_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        ImageFolder(tmp_path / "empty", labels=False)
    with pytest.raises(DatasetError, match="no class folders"):
        ImageFolder(tmp_path / "empty")
    (tmp_path / "labelled" / "cats").mkdir(parents=True)
    with pytest.raises(DatasetError, match="cats"):
        ImageFolder(tmp_path / "labelled")
    with pytest.raises(DatasetError, match="does not exist"):
        ImageFolder(tmp_path / "missing")
    broken = tmp_path / "labelled" / "cats" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    data = ImageFolder(tmp_path / "labelled")
    with pytest.raises(DatasetError, match=re.escape("broken.png")):
        data[0]


def test_folder_splits(tmp_path: Path) -> None:
    for split in ("train", "test"):
        _png(tmp_path / split / "a" / "x.png", np.zeros((4, 4, 3), np.uint8))
        _png(tmp_path / split / "b" / "y.png", np.full((4, 4, 3), 9, np.uint8))
    test = load_dataset("folder", "test", data_dir=tmp_path)
    assert test.paths[0].parent.parent.name == "test"
    assert int(test[1][0].max()) == 9
    flat = tmp_path / "flat"
    _png(flat / "a" / "x.png", np.zeros((4, 4, 3), np.uint8))
    assert len(load_dataset("folder", "train", data_dir=flat)) == 1
    with pytest.raises(DatasetError, match="'test'"):
        load_dataset("folder", "test", data_dir=flat)
