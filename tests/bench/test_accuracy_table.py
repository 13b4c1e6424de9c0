"""bench.accuracy: every row trains and is scored on tiny IDX fixtures; goals are judged
from the numbers; `--validate` never opens the test set; a missing dataset is one line."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--subset", "64", "--epochs", "1", "--batch", "32", "--seeds", "1", "--peer-seeds", "1",
        "--threads", "1"]  # fmt: skip
# One row of each kind of training: pixels, untrained, cross-entropy, `pretrain`, lightly.
FAST_ROWS = "raw-pixels,random-init,supervised,simclr,lightly-simclr"


@pytest.fixture
def accuracy(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("bench.accuracy")


@pytest.fixture
def fashion(tmp_path: Path, idx_files) -> Path:
    _, write_fashion_mnist = idx_files
    return write_fashion_mnist(tmp_path / "fm", train=120, test=40)


def _run(accuracy, tmp_path: Path, fashion: Path, *extra: str) -> dict:
    argv = ["--data-dir", str(fashion), "--out", str(tmp_path / "out"),
            "--work", str(tmp_path / "work"), *TINY, *extra]  # fmt: skip
    assert accuracy.main(argv) == 0
    path = max((tmp_path / "out").glob("accuracy*.json"), key=lambda p: p.stat().st_mtime_ns)
    return json.loads(path.read_text())


def _check_rows(result: dict, rows: list[str]) -> None:
    assert result["rows"] == rows and sorted(result["table"]) == sorted(rows)  # JSON sorts keys
    for row in rows:
        entry = result["table"][row]
        for metric in ("linear_top1", "knn_top1"):
            mean, std = entry[metric]
            assert math.isfinite(mean) and 0.0 <= mean <= 1.0 and std >= 0.0, (row, metric)
        assert math.isfinite(entry["pretrain_s"]) and entry["seeds"] == 1
        trains = row not in ("raw-pixels", "random-init")
        assert (entry["images_per_s"] is not None) == trains, row
        assert f"| {row} |" in result["markdown"]


def test_each_kind_of_row_runs_and_is_tabled(accuracy, tmp_path, fashion, capsys) -> None:
    result = _run(accuracy, tmp_path, fashion, "--rows", FAST_ROWS)
    _check_rows(result, FAST_ROWS.split(","))
    assert result["scored_on"] == "test" and result["num_scored"] == 40
    assert result["num_pretrain"] == 64 and result["num_probe_train"] == 120
    printed = capsys.readouterr().out
    assert result["markdown"] in printed
    verdicts = {g["goal"]: g["verdict"] for g in result["goals"]}
    assert all(v in ("met", "not met", "not measured") for v in verdicts.values())
    assert "goal: simclr within 1 point of lightly" in printed


@pytest.mark.slow
def test_every_row_runs(accuracy, tmp_path, fashion) -> None:
    result = _run(accuracy, tmp_path, fashion)
    _check_rows(result, list(accuracy.ROWS))
    assert {g["verdict"] for g in result["goals"]} <= {"met", "not met"}


def test_validate_scores_on_training_images_without_the_test_set(accuracy, tmp_path, fashion):
    for path in fashion.glob("t10k-*"):
        path.unlink()  # --validate must not need (or read) the test split
    result = _run(accuracy, tmp_path, fashion, "--validate", "--rows", "raw-pixels,random-init")
    assert result["scored_on"] == "validation"
    assert result["num_scored"] == 20 and result["num_probe_train"] == 100
    assert [p.name for p in (tmp_path / "out").glob("*.json")] == [
        "accuracy-subset64-epochs1-batch32-raw-pixels+random-init-validate.json"
    ]  # named apart from a test-set table


def test_missing_dataset_is_one_line_naming_the_package(accuracy, tmp_path, capsys) -> None:
    code = accuracy.main(["--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "dataset-fashion-mnist" in err and err.startswith("bench.accuracy: error:")


def test_unknown_row_is_refused(accuracy, tmp_path, fashion, capsys) -> None:
    code = accuracy.main(["--data-dir", str(fashion), "--rows", "simclr,byol"])
    assert code == 2 and "byol" in capsys.readouterr().err


def _table(**linear: float) -> dict:
    return {row: {"linear_top1": [v, 0.0], "seeds": 1} for row, v in linear.items()}


def test_goals_are_judged_from_the_numbers(accuracy) -> None:
    presets = dict.fromkeys(accuracy.PRESETS, 0.86)
    table = _table(**{"raw-pixels": 0.844, "random-init": 0.83, **presets,
                      "simclr": 0.885, "lightly-simclr": 0.89})  # fmt: skip
    assert [g["verdict"] for g in accuracy.goals(table)] == ["met", "met", "met"]
    table["insdis"]["linear_top1"] = [0.84, 0.0]
    table["lightly-simclr"]["linear_top1"] = [0.90, 0.0]
    table["simclr"]["linear_top1"] = [0.875, 0.0]
    verdicts = accuracy.goals(table)
    assert [g["verdict"] for g in verdicts] == ["not met", "not met", "not met"]
    assert "insdis 84.00" in verdicts[0]["detail"]
    assert accuracy.goals(_table(simclr=0.9))[0]["verdict"] == "not measured"


def test_a_second_table_in_the_same_work_folder_scores_its_own_training(
    accuracy, tmp_path, fashion
) -> None:
    """A rerun with another budget retrains the preset: it must never score the earlier
    run's checkpoint left in `--work` (found on a GPU: 10 and 30 epochs scored alike)."""
    _run(accuracy, tmp_path, fashion, "--rows", "simclr")
    checkpoints = tmp_path / "work" / "simclr-seed0" / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("*.ckpt")) == ["epoch000.ckpt", "last.ckpt"]
    _run(accuracy, tmp_path, fashion, "--rows", "simclr", "--epochs", "2")
    assert sorted(p.name for p in checkpoints.glob("*.ckpt")) == ["epoch001.ckpt", "last.ckpt"]


def test_crop_min_reaches_the_preset_rows(accuracy, tmp_path, fashion) -> None:
    """`--crop-min` (a sweep's sweet spot) is the crop the preset rows train with."""
    import torch

    _run(accuracy, tmp_path, fashion, "--rows", "simclr", "--crop-min", "0.55")
    last = tmp_path / "work" / "simclr-seed0" / "checkpoints" / "last.ckpt"
    saved = torch.load(last, map_location="cpu", weights_only=False)["hyper_parameters"]
    assert saved["preset"]["crop_min"] == 0.55
    assert list((tmp_path / "out").glob("accuracy-*-cropmin0.55-simclr.json"))  # not the table
    assert accuracy.main(["--crop-min", "1.5", "--rows", "simclr"]) == 2  # before any data
