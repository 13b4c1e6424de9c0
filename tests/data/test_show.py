"""save_grid / save_clip_strip write real PNGs, atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from infomin.data import ColorfulMovingDigits, ImageFolder, save_clip_strip, save_grid


def _is_png(path: Path) -> bool:
    with Image.open(path) as image:
        return image.format == "PNG" and image.size[0] > 100


def test_save_grid_and_strip_write_pngs(tmp_path: Path) -> None:
    digits = ColorfulMovingDigits("train", num_clips=12, seed=0, transform=lambda x: (x, x))
    grid = save_grid(digits, tmp_path / "out" / "grid.png", n=10)
    strip = save_clip_strip(digits, tmp_path / "out" / "strip.png", n=3)
    assert _is_png(grid) and _is_png(strip)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["grid.png", "strip.png"]


def test_save_grid_unlabelled_and_overwrite(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((9, 7, 3), 40 * i, np.uint8)).save(folder / f"{i}.png")
    target = tmp_path / "grid.png"
    target.write_bytes(b"old")
    save_grid(ImageFolder(folder, labels=False), target, n=32)
    assert _is_png(target)
