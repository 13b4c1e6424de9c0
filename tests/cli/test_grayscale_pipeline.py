"""A grey dataset (a tiny Fashion-MNIST IDX fixture) through every command: pretrain,
evaluate, data show, mi and sweep, all on 1-channel encoders."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from infomin.cli import main
from infomin.data import registry

# Two steps of batch 16 on a quarter-width convnet: the paths, not the accuracy.
SHORT = ["--batch-size", "16", "--max-steps", "2", "--epochs", "1", "--width", "0.25"]
CRITICS = ["--seeds", "1", "--epochs", "1", "--batch-size", "16", "--train-pairs", "32",
           "--test-pairs", "16", "--test-batch", "16", "--probe-train", "32",
           "--probe-test", "16", "--no-baseline"]  # fmt: skip


@pytest.fixture
def installed(fashion_mnist_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture stands in for the Debian package's folder (the default --data-dir)."""
    entry = dataclasses.replace(registry._ENTRIES["fashion-mnist"], default_dir=fashion_mnist_root)
    monkeypatch.setitem(registry._ENTRIES, "fashion-mnist", entry)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return fashion_mnist_root


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


@pytest.mark.parametrize("preset", ["simclr", "infomin"])
def test_pretrain_and_evaluate_a_one_channel_encoder(preset: str, installed: Path,
                                                     tmp_path: Path) -> None:  # fmt: skip
    """No --data-dir: the default folder is read. The encoder takes 1 channel, the jigsaw
    branch (infomin) cuts 1-channel patches, and `evaluate --weights` rebuilds it."""
    out = tmp_path / "run"
    assert main(["pretrain", "--preset", preset, "--data", "fashion-mnist", *SHORT,
                 "--out", str(out)]) == 0  # fmt: skip
    results = _results(out)
    assert results["steps_done"] == 2
    assert results["data"]["pretrain"]["data"] == "fashion-mnist"
    assert 0 <= results["metrics"]["class.linear_top1"] <= 100
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["hyper_parameters"]["settings"]["in_channels"] == 1
    assert checkpoint["state_dict"]["backbone.features.0.0.weight"].shape[1] == 1
    has_jigsaw = any(k.startswith("jigsaw_head.") for k in checkpoint["state_dict"])
    assert has_jigsaw == (preset == "infomin")
    evaluated = tmp_path / "eval"
    weights = str(out / "checkpoints" / "last.ckpt")
    assert main(["evaluate", "--data", "fashion-mnist", "--weights", weights,
                 "--out", str(evaluated)]) == 0  # fmt: skip
    assert _results(evaluated)["num_test"] == 20


@pytest.mark.parametrize(
    ("encoder", "feature_dim"), [("--random-init", 256), ("--raw-pixels", 784)]
)
def test_evaluate_baselines_on_grey_images(
    encoder: str, feature_dim: int, fashion_mnist_root: Path, tmp_path: Path
) -> None:
    """Raw pixels of a 28x28 grey image are 784 numbers (not 3 x 784); the random-init
    convnet is built with 1 input channel (its config records it)."""
    out = tmp_path / "eval"
    assert main(["evaluate", "--data", "fashion-mnist", "--data-dir", str(fashion_mnist_root),
                 encoder, "--out", str(out)]) == 0  # fmt: skip
    results = _results(out)
    assert results["feature_dim"] == feature_dim
    assert results["num_train"] == 60 and "class.knn_top1" in results["metrics"]
    if encoder == "--random-init":
        assert results["config"]["in_channels"] == 1


def test_data_show_draws_grey_images(fashion_mnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    assert main(["data", "show", "fashion-mnist", "--data-dir", str(fashion_mnist_root),
                 "-n", "8", "--out", str(out)]) == 0  # fmt: skip
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mi_and_sweep_with_recipe_views_on_grey_data(installed: Path, tmp_path: Path) -> None:
    assert main(["mi", "--views", "recipe:D,crop_scale=0.3", "--data", "fashion-mnist",
                 *CRITICS, "--out", str(tmp_path / "mi")]) == 0  # fmt: skip
    run = _results(tmp_path / "mi")["runs"][0]
    assert run["num_candidates"] == 16 and run["i_nce"] <= math.log(16) + 1e-6
    assert main(["sweep", "--views", "recipe:B", "--vary", "crop_scale", "--values", "0.2",
                 "0.8", "--data", "fashion-mnist", *CRITICS,
                 "--out", str(tmp_path / "sweep")]) == 0  # fmt: skip
    assert (tmp_path / "sweep" / "results.csv").read_text().count("recipe:B") == 2


def test_pretrain_on_recipe_views_of_grey_data(installed: Path, tmp_path: Path) -> None:
    """`--views recipe:...` on a grey dataset: 1-channel pairs feed a 1-channel encoder
    (and the jigsaw branch cuts its patches from them)."""
    out = tmp_path / "run"
    assert main(["pretrain", "--preset", "infomin", "--views", "recipe:A,crop_scale=0.5",
                 "--data", "fashion-mnist", *SHORT, "--out", str(out)]) == 0  # fmt: skip
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["state_dict"]["backbone.features.0.0.weight"].shape[1] == 1
    assert "class.linear_top1" in _results(out)["metrics"]
