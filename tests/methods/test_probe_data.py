"""Pretrain on one dataset or split, evaluate on another: STL-10's train+unlabeled
protocol, unlabelled folders end to end, cross-dataset probes, and every data problem
caught before the first training step (fixtures in the real on-disk formats)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infomin.cli import main
from infomin.data import DatasetError
from infomin.methods.probe_data import check_backbone_takes, probe_data
from infomin.models import build_backbone

TINY = ["--epochs", "1", "--max-steps", "2", "--batch-size", "8", "--preset", "simclr",
        "--accelerator", "cpu"]  # fmt: skip


def _stl10(root: Path, counts: dict[str, int]) -> Path:
    """STL-10's binary layout: N x 3 x 96 x 96 bytes per split, labels 1..10 in *_y.bin."""
    rng = np.random.default_rng(0)
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    for split, count in counts.items():
        images = rng.integers(0, 256, size=(count, 3, 96, 96), dtype=np.uint8)
        (folder / f"{split}_X.bin").write_bytes(images.transpose(0, 1, 3, 2).tobytes())
        if split != "unlabeled":
            (folder / f"{split}_y.bin").write_bytes(bytes(rng.integers(1, 11, count).tolist()))
    (folder / "class_names.txt").write_text("\n".join(f"c{i}" for i in range(10)) + "\n")
    return root


def _images(folder: Path, count: int, size: int = 32) -> None:
    rng = np.random.default_rng(len(str(folder)))
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")


def _run(argv: list[str], out: Path) -> dict:
    assert main(["pretrain", *argv, *TINY, "--out", str(out)]) == 0
    return json.loads((out / "results.json").read_text())


def test_stl10_pretrains_on_train_plus_unlabeled_and_probes_train_test(tmp_path):
    root = _stl10(tmp_path / "stl", {"train": 12, "test": 6, "unlabeled": 10})
    results = _run(["--data", "stl10", "--data-dir", str(root)], tmp_path / "run")
    assert results["data"]["pretrain"]["split"] == "train+unlabeled"
    assert results["data"]["pretrain"]["size"] == 22
    assert results["data"]["eval"]["train_split"] == "train"
    assert results["data"]["eval"]["test_split"] == "test"
    assert "class.linear_top1" in results["metrics"]


def test_stl10_train_split_can_be_chosen(tmp_path):
    root = _stl10(tmp_path / "stl", {"train": 12, "test": 6, "unlabeled": 10})
    argv = ["--data", "stl10", "--data-dir", str(root), "--train-split", "unlabeled"]
    results = _run(argv, tmp_path / "run")
    assert results["data"]["pretrain"] == {"data": "stl10", "data_dir": str(root),
                                           "split": "unlabeled", "size": 10}  # fmt: skip


@pytest.mark.parametrize("layout", ["flat", "train/"])
def test_unlabelled_folder_trains_and_skips_the_probe(layout, tmp_path, capsys):
    root = tmp_path / "photos"
    _images(root / "train" if layout == "train/" else root, 16)
    results = _run(["--data", "folder-unlabeled", "--data-dir", str(root)], tmp_path / "run")
    assert "metrics" not in results and results["data"]["eval"] is None
    assert results["steps_done"] == 2
    printed = capsys.readouterr()
    assert "no labelled evaluation data" in printed.out + printed.err


def test_pretrain_on_a_folder_and_probe_cifar10(tmp_path, cifar10_root):
    root = tmp_path / "photos"
    _images(root, 16)
    argv = ["--data", "folder-unlabeled", "--data-dir", str(root),
            "--eval-data", "cifar10", "--eval-data-dir", str(cifar10_root)]  # fmt: skip
    results = _run(argv, tmp_path / "run")
    assert results["data"]["eval"]["data"] == "cifar10"
    assert "class.linear_top1" in results["metrics"]
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert "eval_data: cifar10  # flag" in saved


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["--eval-data", "folder-unlabeled", "--eval-data-dir", "{TMP}"], "has no labels"),
        (["--eval-data-dir", "{TMP}"], "eval_data_dir cannot apply without eval_data"),
        (["--eval-data", "cifar10", "--eval-data-dir", "{TMP}/nope"], "does not exist"),
        (["--no-evaluate", "--eval-test-split", "val"], "no evaluation and no kNN"),
        (["--views", "toy:digit", "--train-split", "train"], "train_split cannot apply"),
    ],
)
def test_impossible_evaluation_data_is_refused_before_any_work(argv, phrase, tmp_path, capsys):
    argv = [a.replace("{TMP}", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(["pretrain", *argv, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert phrase in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_missing_test_folder_stops_before_training(tmp_path, capsys):
    """A labelled folder without test/: once this failed after the whole training."""
    root = tmp_path / "labelled"
    for label in ("a", "b"):
        _images(root / "train" / label, 8)
    with pytest.raises(SystemExit) as exit_info:
        main(["pretrain", "--data", "folder", "--data-dir", str(root), *TINY,
              "--out", str(tmp_path / "out")])  # fmt: skip
    assert exit_info.value.code == 2
    assert "no 'test' folder" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("checkpoints/*.ckpt"))


def test_an_image_the_backbone_cannot_take_is_refused():
    class Gray:  # one grayscale image, for a backbone built for RGB
        def raw_item(self, index):
            return torch.zeros(1, 32, 32, dtype=torch.uint8), {}

    backbone = build_backbone("convnet", in_channels=3, image_size=32)
    with pytest.raises(DatasetError, match="1x32x32 image cannot go through the backbone"):
        check_backbone_takes(backbone, lambda x: x.float(), Gray(), "evaluation data 'g'")
    assert backbone.training  # the check leaves the mode as it found it


def test_protocol_defaults():
    probe = probe_data("stl10", "D", None, None, (None, None), (None, None))
    assert (probe.train_split, probe.test_split, probe.train_size) == ("train", "test", None)
    assert probe_data("folder-unlabeled", "D", None, None, (None, None), (None, None)) is None
    embedded = probe_data("folder-unlabeled", "D", "photo-patches", None, (None, None), (None, 7))
    assert (embedded.data, embedded.train_size, embedded.test_size) == ("photo-patches", 4000, 7)
