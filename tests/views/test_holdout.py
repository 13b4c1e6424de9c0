"""`holdout=N`: view experiments score on held-out training images, never the test split."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from infomin.cli import main
from infomin.data import DatasetError, load_dataset
from infomin.views.images import ImagePool
from infomin.views.spec_kinds import SpecError
from infomin.views.specs import parse_view_spec


@pytest.fixture
def train_only(fashion_mnist_root: Path) -> Path:
    """The 60-image fixture without its test files: a holdout run must not need them."""
    for path in fashion_mnist_root.glob("t10k-*"):
        path.unlink()
    return fashion_mnist_root


def _rows(images: torch.Tensor, stored: torch.Tensor) -> set[int]:
    """Indices of the stored training images that `images` are."""
    flat = stored.flatten(1)
    return {int((flat == img.flatten()).all(1).nonzero()[0]) for img in images}


def test_the_two_splits_are_disjoint_parts_of_the_training_split(train_only: Path) -> None:
    stored = load_dataset("fashion-mnist", "train", train_only).images
    pool = ImagePool("fashion-mnist", str(train_only), holdout=20)
    held = _rows(pool.images("test", 20, seed=0).images, stored)
    fitted = _rows(pool.images("train", 40, seed=0).images, stored)
    assert held == set(range(40, 60)) and fitted == set(range(40))
    with pytest.raises(DatasetError, match=r"holdout \(the last 20 training images\) has 20"):
        pool.images("test", 21, seed=0)
    with pytest.raises(DatasetError, match="leaves nothing"):
        ImagePool("fashion-mnist", str(train_only), holdout=60).images("train", 1, seed=0)


def test_without_holdout_the_test_split_is_read(train_only: Path) -> None:
    with pytest.raises(DatasetError, match="t10k"):
        ImagePool("fashion-mnist", str(train_only)).images("test", 5, seed=0)


def test_the_spec_carries_holdout_and_refuses_it_where_it_means_nothing(train_only: Path):
    source = parse_view_spec("recipe:B,holdout=20", "fashion-mnist", str(train_only))
    assert source.name == "recipe:B,holdout=20" and source.pool.holdout == 20
    assert source.overrides == {}  # a pool setting, not an augmentation override
    assert source.probe_set("test", 10, seed=0).images_1.shape == (10, 1, 28, 28)
    with pytest.raises(DatasetError, match="generates its own test split"):
        parse_view_spec("recipe:B,holdout=20", "photo-patches")
    with pytest.raises(SpecError, match="integer >= 1"):
        parse_view_spec("recipe:B,holdout=0", "fashion-mnist", str(train_only))


def test_mi_with_holdout_runs_without_the_test_files(train_only: Path, tmp_path: Path) -> None:
    out = tmp_path / "mi"
    code = main(["mi", "--views", "recipe:B,holdout=20", "--data", "fashion-mnist",
                 "--data-dir", str(train_only), "--seeds", "1", "--epochs", "1",
                 "--train-pairs", "32", "--batch-size", "16", "--test-pairs", "16",
                 "--test-batch", "8", "--probe-train", "32", "--probe-test", "16",
                 "--width", "0.25",
                 "--out", str(out)])  # fmt: skip
    assert code == 0 and (out / "results.json").is_file()
