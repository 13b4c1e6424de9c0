"""A corrupt file in an image folder: a clear error by default, skipped and counted on request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from infomin.data import DatasetError, load_dataset
from infomin.data.real import ImageFolder


def _folder(root: Path, corrupt: int = 1) -> Path:
    """Class folders a and b with three 16 px PNGs each; the last `corrupt` files of b broken."""
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(
                root / label / f"{i}.png"
            )
    for i in range(3 - corrupt, 3):
        (root / "b" / f"{i}.png").write_bytes(b"\x89PNG but then nothing")
    return root


def test_by_default_the_corrupt_file_is_named_when_read(tmp_path):
    folder = ImageFolder(_folder(tmp_path))
    assert len(folder) == 6 and folder.skipped == []
    folder[0]  # good files are fine
    with pytest.raises(DatasetError, match=r"cannot decode image .*b/2\.png"):
        folder[5]


def test_skip_corrupt_drops_and_counts_the_unreadable_files(tmp_path):
    folder = load_dataset("folder", data_dir=_folder(tmp_path, corrupt=2), skip_corrupt=True)
    assert len(folder) == 4
    assert [path.name for path, _ in folder.skipped] == ["1.png", "2.png"]
    assert all(reason for _, reason in folder.skipped)
    assert sorted({int(folder[i][1]["class"]) for i in range(len(folder))}) == [0, 1]


def test_a_folder_of_only_corrupt_files_is_an_error_even_when_skipping(tmp_path):
    root = tmp_path / "only"
    (root / "a").mkdir(parents=True)
    (root / "a" / "0.png").write_bytes(b"nothing")
    with pytest.raises(DatasetError, match="no readable images"):
        ImageFolder(root, skip_corrupt=True)


def test_datasets_that_are_not_folders_refuse_the_option():
    with pytest.raises(DatasetError, match="has no option 'skip_corrupt'"):
        load_dataset("colorful-moving-digits", skip_corrupt=True)
