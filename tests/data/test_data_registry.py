"""load_dataset: names, options and the errors a user can cause."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from infomin.data import DATASETS, DatasetError, Task, load_dataset


def test_listing_has_every_name_with_a_description() -> None:
    expected = {"colorful-moving-digits", "photo-patches", "cifar10", "cifar100", "stl10",
                "fashion-mnist"}  # fmt: skip
    assert expected | {"folder", "folder-unlabeled"} == set(DATASETS)
    assert all(isinstance(d, str) and d and "\n" not in d for d in DATASETS.values())


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(DatasetError, match=r"unknown dataset 'mnist'; choose one of: .*cifar10"):
        load_dataset("mnist")


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "stl10", "folder", "folder-unlabeled"])
def test_real_datasets_need_an_existing_data_dir(name: str, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="--data-dir is required"):
        load_dataset(name)
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError, match="nowhere"):
        load_dataset(name, data_dir=missing)
    assert not missing.exists()  # nothing was created or downloaded


def test_missing_dataset_folder_suggests_download(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="download=True"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_embedded_datasets_take_options() -> None:
    digits = load_dataset("colorful-moving-digits", "test", num_clips=6, seed=2, frames=3)
    assert digits.clips.shape[:2] == (6, 3)
    patches = load_dataset("photo-patches", num_patches=5, patch_size=16, transform=lambda x: x * 0)
    image, targets = patches[0]
    assert image.shape == (3, 16, 16) and int(image.max()) == 0
    assert isinstance(patches.tasks["photo"], Task) and targets["photo"].dtype == torch.int64


def test_bad_option_and_split() -> None:
    with pytest.raises(DatasetError, match=r"no option 'clips'.*num_clips"):
        load_dataset("colorful-moving-digits", clips=5)
    with pytest.raises(DatasetError, match="no split 'val'"):
        load_dataset("photo-patches", "val")
