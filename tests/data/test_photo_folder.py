"""photo-patches from a folder of photos (--data-dir): classes, regions, pairs, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infomin.data import DatasetError, check_location, load_dataset, photos
from infomin.data.photo_patches import max_distance, patch_pairs
from infomin.views.specs import parse_view_spec

PATCH, SIZE = 16, 96


def _region(split: str, folder: Path, photo: int) -> tuple[int, int, int]:
    """Columns [x0, x1) and the height of `split`'s region, computed from the file itself."""
    height, width = photos.photo(photo, SIZE, folder).shape[:2]
    boundary = int(width * 0.65)
    return (0, boundary, height) if split == "train" else (boundary, width, height)


def test_folder_photos_are_the_classes(photo_folder: Path) -> None:
    data = load_dataset("photo-patches", "train", photo_folder, num_patches=30,
                        patch_size=PATCH, photo_size=SIZE)  # fmt: skip
    assert data.class_names["photo"] == ["photo0", "photo1", "photo2"]  # README.txt skipped
    assert data.tasks["photo"].num_classes == 3
    assert set(data.photo.tolist()) == {0, 1, 2}


@pytest.mark.parametrize("split", ["train", "test"])
def test_folder_patches_are_crops_of_their_photo_inside_the_region(
    split: str, photo_folder: Path
) -> None:
    data = load_dataset("photo-patches", split, photo_folder, num_patches=60,
                        patch_size=PATCH, photo_size=SIZE)  # fmt: skip
    for index in range(len(data)):
        image, targets = data[index]
        photo, (x, y) = int(targets["photo"]), data.offset[index].tolist()
        original = np.asarray(photos._read_file(photos.folder_photos(data.folder)[photo]))
        resized = photos.photo(photo, SIZE, data.folder)
        assert min(resized.shape[:2]) == SIZE and resized.shape[2] == 3
        aspect = original.shape[1] / original.shape[0]
        assert abs(resized.shape[1] / resized.shape[0] - aspect) < 0.02
        expected = resized[y : y + PATCH, x : x + PATCH].transpose(2, 0, 1)
        assert np.array_equal(image.numpy(), expected)
        x0, x1, height = _region(split, data.folder, photo)
        assert x0 <= x and x + PATCH <= x1 and y >= 0 and y + PATCH <= height


def test_train_and_test_never_share_a_column(photo_folder: Path) -> None:
    spans = {}
    for split in ("train", "test"):
        data = load_dataset("photo-patches", split, photo_folder, num_patches=300,
                            patch_size=PATCH, photo_size=SIZE)  # fmt: skip
        columns = [data.offset[data.photo == p, 0] for p in range(3)]
        spans[split] = [(int(c.min()), int(c.max()) + PATCH) for c in columns]
    for photo in range(3):
        assert spans["train"][photo][1] <= spans["test"][photo][0]


def test_folder_pairs_at_the_distance(photo_folder: Path) -> None:
    folder = photos.as_folder(photo_folder)
    distance = float(max_distance("test", PATCH, SIZE, folder).min()) - 1
    pairs = patch_pairs(distance, 40, "test", PATCH, SIZE, seed=2, folder=folder)
    measured = torch.linalg.vector_norm(pairs.centers[:, 1] - pairs.centers[:, 0], dim=1)
    assert (measured - distance).abs().max() <= 0.71
    for i in range(40):
        photo = int(pairs.photo[i])
        x, y = (int(v) for v in pairs.centers[i, 1] - PATCH / 2)
        x0, x1, height = _region("test", folder, photo)
        assert x0 <= x and x + PATCH <= x1 and y >= 0 and y + PATCH <= height
        expected = photos.photo(photo, SIZE, folder)[y : y + PATCH, x : x + PATCH]
        assert np.array_equal(pairs.second[i].numpy(), expected.transpose(2, 0, 1))


def test_bundled_photos_stay_the_default(photo_folder: Path) -> None:
    check_location("photo-patches", None)
    check_location("photo-patches", photo_folder)
    bundled = load_dataset("photo-patches", num_patches=4)
    assert bundled.class_names["photo"] == photos.PHOTO_NAMES
    with pytest.raises(DatasetError, match="is embedded"):
        check_location("colorful-moving-digits", photo_folder)


@pytest.mark.parametrize("problem", ["missing", "empty", "file"])
def test_no_photos_is_one_line_naming_the_package_and_data_dir(
    problem: str, tmp_path: Path
) -> None:
    path = tmp_path / problem
    if problem == "empty":
        path.mkdir()
    elif problem == "file":
        path.write_text("x")
    with pytest.raises(DatasetError) as caught:
        load_dataset("photo-patches", data_dir=path, num_patches=4)
    message = str(caught.value)
    assert "mate-backgrounds" in message and "--data-dir" in message and "\n" not in message
    assert str(path) in message


def test_corrupt_photo_names_the_file(photo_folder: Path) -> None:
    (photo_folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.raises(DatasetError, match=r"broken\.jpg is not a readable image"):
        load_dataset("photo-patches", data_dir=photo_folder, num_patches=4, photo_size=SIZE)


def test_patch_views_read_the_folder_and_refuse_impossible_distances(photo_folder: Path) -> None:
    source = parse_view_spec("patches:distance=20,size=16,photo_size=96", None, str(photo_folder))
    pairs = source.raw_pairs("train", 8, 0)
    assert int(pairs.photo.max()) < 3
    probe = source.probe_set("test", 12, 0)
    assert probe.tasks["photo"].num_classes == 3
    folder = photos.as_folder(photo_folder)
    test_only = float(max_distance("test", PATCH, SIZE, folder).min()) + 2  # fits train only
    assert test_only < float(max_distance("train", PATCH, SIZE, folder).min())
    with pytest.raises(DatasetError, match="impossible in the test region of photo"):
        parse_view_spec(f"patches:distance={test_only},size=16,photo_size=96", None,
                        str(photo_folder))  # fmt: skip


def test_camera_rotation_is_applied(tmp_path: Path) -> None:
    """A portrait camera photo stored landscape with EXIF orientation 6 is read upright."""
    folder = tmp_path / "camera"
    folder.mkdir()
    exif = Image.Exif()
    exif[274] = 6  # rotate 90 degrees clockwise to display
    Image.new("RGB", (40, 20), (200, 30, 30)).save(folder / "portrait.jpg", exif=exif)
    assert photos.photo(0, None, photos.as_folder(folder)).shape == (40, 20, 3)
