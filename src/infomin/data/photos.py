"""Real colour photos that ship inside installed packages, for the embedded datasets.

Why: the toy experiments need natural-image backgrounds and patches, but nothing may be
downloaded at run time. scikit-image, scikit-learn and matplotlib each carry a few true
colour photos on disk; eleven of them make a small "which photo is this?" class set.

Photos (class index, name, source file):
  0 astronaut, 1 coffee, 2 chelsea, 3 rocket, 4 hubble_deep_field,
  5 immunohistochemistry (ihc.png), 6 motorcycle (motorcycle_left.png),
  7 retina (its central square, cut inside the black fundus border) - scikit-image;
  8 china, 9 flower - scikit-learn `load_sample_images`;
  10 grace_hopper - matplotlib sample data.
Logos, text pages, synthetic images and grayscale textures are left out.

Scale: callers ask for a photo resized so its *shorter side* is `short_side` pixels.
A common short side (rather than a common factor) gives every photo the same scale
relative to a crop, although the originals range from 300 px (chelsea) to 1411 px.

Train/test regions: the left `TRAIN_FRACTION` = 65% of the columns of the (resized)
photo are the train region, the right 35% the test region. A crop or patch belongs to a
split only if it lies entirely inside that split's region, so train and test never share
a pixel. 35% (not the usual 30%) leaves room for a crop of a third of the short side
even in a square photo, which is the default background scale of colorful-moving-digits.

A folder of photos (`folder`, photo-patches' `--data-dir`) replaces the bundled set: every
.jpg/.jpeg/.png/.bmp/.tif/.tiff/.webp file directly inside it, in name order, class = the
file's stem. Why: the paper cuts its patch pairs from high-resolution photos, so that
distances of hundreds of pixels exist; the bundled ones are too small for that. Debian's
`mate-backgrounds` installs 12 nature photos (1280-2560 px wide) in `HIRES_DIR`. Folder
photos are read once per process (the resized copies are cached, the originals are not:
they can be 15 MB each); the same left/right regions keep train and test disjoint.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from infomin.data.base import DatasetError

TRAIN_FRACTION = 0.65
SPLITS = ("train", "test")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
HIRES_PACKAGE = "mate-backgrounds"
HIRES_DIR = Path("/usr/share/backgrounds/mate/nature")
FOLDER_HINT = (
    f"Debian package {HIRES_PACKAGE} installs 12 high-resolution photos in {HIRES_DIR} "
    f"(apt-get install {HIRES_PACKAGE}); or give --data-dir FOLDER of .jpg/.png photos"
)


@dataclass(frozen=True)
class PhotoSource:
    """Where one photo lives: an installed package and a file inside it."""

    name: str
    package: str
    file: str
    box: tuple[int, int, int, int] | None = None  # (left, upper, right, lower) to keep


PHOTOS: tuple[PhotoSource, ...] = (
    PhotoSource("astronaut", "skimage", "data/astronaut.png"),
    PhotoSource("coffee", "skimage", "data/coffee.png"),
    PhotoSource("chelsea", "skimage", "data/chelsea.png"),
    PhotoSource("rocket", "skimage", "data/rocket.jpg"),
    PhotoSource("hubble_deep_field", "skimage", "data/hubble_deep_field.jpg"),
    PhotoSource("immunohistochemistry", "skimage", "data/ihc.png"),
    PhotoSource("motorcycle", "skimage", "data/motorcycle_left.png"),
    # The fundus is a disc of radius ~695 px centred at (705, 705); keep its inner square.
    PhotoSource("retina", "skimage", "data/retina.jpg", box=(220, 220, 1190, 1190)),
    PhotoSource("china", "sklearn", "datasets/images/china.jpg"),
    PhotoSource("flower", "sklearn", "datasets/images/flower.jpg"),
    PhotoSource("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
)
PHOTO_NAMES: list[str] = [p.name for p in PHOTOS]
NUM_PHOTOS = len(PHOTOS)


@functools.cache
def load_photo(index: int) -> np.ndarray:
    """The bundled photo `index` as a read-only `uint8 [H, W, 3]` RGB array (cached)."""
    source = PHOTOS[index]
    path = resources.files(source.package) / source.file
    try:
        with path.open("rb") as handle, Image.open(handle) as image:
            image = image.convert("RGB")
            if source.box is not None:
                image = image.crop(source.box)
            array = np.asarray(image, dtype=np.uint8).copy()
    except (OSError, FileNotFoundError) as error:
        raise DatasetError(
            f"bundled photo {source.name!r} not found or unreadable at {path}: {error}"
        ) from error
    array.setflags(write=False)
    return array


def as_folder(data_dir: str | os.PathLike[str] | None) -> Path | None:
    """`data_dir` as the absolute path the caches key on (None: the bundled photos)."""
    return None if data_dir is None else Path(data_dir).expanduser().absolute()


@functools.cache
def folder_photos(folder: Path) -> tuple[Path, ...]:
    """The photo files directly inside `folder`, in name order (listed once per process,
    so that class indices stay fixed while a run reads them)."""
    if not folder.is_dir():
        problem = "is not a directory" if folder.exists() else "does not exist"
        raise DatasetError(f"photo folder {folder} {problem}: {FOLDER_HINT}")
    files = sorted(
        path for path in folder.iterdir()
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    )  # fmt: skip
    if not files:
        raise DatasetError(f"no photos ({', '.join(IMAGE_SUFFIXES)}) in {folder}: {FOLDER_HINT}")
    return tuple(files)


def photo_names(folder: Path | None = None) -> list[str]:
    """Class names: the bundled photos' names, or the folder's file stems."""
    return list(PHOTO_NAMES) if folder is None else [p.stem for p in folder_photos(folder)]


def num_photos(folder: Path | None = None) -> int:
    """How many photos (classes) the bundled set or `folder` holds."""
    return NUM_PHOTOS if folder is None else len(folder_photos(folder))


def _read_file(path: Path) -> np.ndarray:
    """One photo file as `uint8 [H, W, 3]` RGB; a corrupt or unreadable file is one line."""
    try:
        with Image.open(path) as image:
            upright = ImageOps.exif_transpose(image)  # cameras store the rotation in EXIF
            return np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise DatasetError(f"photo {path} is not a readable image: {error}") from None


def _original(index: int, folder: Path | None) -> np.ndarray:
    if folder is None:
        return load_photo(index)
    return _read_file(folder_photos(folder)[index])


@functools.cache
def photo(index: int, short_side: int | None = None, folder: Path | None = None) -> np.ndarray:
    """Photo `index` (bundled, or of `folder`) resized (antialiased) so its shorter side is
    `short_side` (cached).

    `None` keeps the original resolution. The array is read-only because it is shared.
    """
    original = _original(index, folder)
    if short_side is None:
        array = original
    else:
        height, width = original.shape[:2]
        scale = short_side / min(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        resized = Image.fromarray(original).resize(size, Image.Resampling.LANCZOS)
        array = np.asarray(resized, dtype=np.uint8).copy()
    array.setflags(write=False)
    return array


def region_columns(width: int, split: str) -> tuple[int, int]:
    """Columns `[x0, x1)` of a photo `width` pixels wide that belong to `split`."""
    boundary = int(width * TRAIN_FRACTION)
    if split == "train":
        return 0, boundary
    if split == "test":
        return boundary, width
    raise DatasetError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")


def offset_ranges(
    short_side: int | None, split: str, size: int, folder: Path | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per photo (bundled, or of `folder`), the allowed top-left offsets of a `size` square
    inside `split`'s region.

    Returns `x_low, x_high, y_low, y_high` (inclusive bounds, one entry per photo). Raises
    `DatasetError` when the square does not fit some photo's region, naming the fix.
    """
    bounds = []
    for index, name in enumerate(photo_names(folder)):
        height, width = photo(index, short_side, folder).shape[:2]
        x0, x1 = region_columns(width, split)
        if x1 - x0 < size or height < size:
            raise DatasetError(
                f"a {size}px square does not fit the {split} region ({x1 - x0}x{height} px) of "
                f"photo {name!r} at short side {short_side}; use a larger short side"
            )
        bounds.append((x0, x1 - size, 0, height - size))
    x_low, x_high, y_low, y_high = (np.array(column) for column in zip(*bounds, strict=True))
    return x_low, x_high, y_low, y_high
