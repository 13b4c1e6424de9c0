"""I_NCE over seeds: what is averaged, what is always reported, and the `mi` command."""

from __future__ import annotations

import json
import math

import pytest

from infomin.cli import main
from infomin.experiments.mi import estimate_mi, mi_table, primary_metric
from infomin.experiments.pairs import CriticConfig, Sizes
from infomin.experiments.statistics import mean_std
from infomin.threads import torch_threads


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convnets on a busy 2-core machine run several times faster on one thread."""
    with torch_threads(1):
        yield


TINY = CriticConfig(width=0.25, epochs=2, batch_size=64, embed_dim=16)
TINY_SIZES = Sizes(train_pairs=128, test_pairs=128, probe_train=128, probe_test=64, test_batch=64)


def test_primary_metric_falls_back_to_the_first_linear_top1():
    class Anonymous:
        name = "x"

    assert primary_metric(Anonymous(), {"b.knn_top1": 1.0, "d.linear_top1": 2.0}) == "d.linear_top1"
    with pytest.raises(ValueError, match="no classification"):
        primary_metric(Anonymous(), {"position.linear_mae_px": 1.0})


def test_estimate_mi_reports_each_seed_k_log_k_and_the_spread(shared_colour):
    result = estimate_mi(shared_colour, TINY, TINY_SIZES, seeds=[0, 1], baseline=True)
    assert [run["seed"] for run in result["runs"]] == [0, 1]
    assert result["num_candidates"] == 64 and result["log_k"] == pytest.approx(math.log(64))
    values = [run["i_nce"] for run in result["runs"]]
    assert values[0] != values[1]  # seeds differ in data and initialisation
    assert result["summary"]["i_nce"] == pytest.approx(mean_std(values))
    assert all(run["i_nce"] <= run["log_k"] for run in result["runs"])
    assert result["metric"] == "level.linear_top1"
    assert all(run["accuracy"] == run["level.linear_top1"] for run in result["runs"])
    control = result["random_init"]  # untrained critics: no shared information found
    assert control["seed"] == 0 and abs(control["i_nce"]) < 0.5
    table = mi_table(result)
    assert "| K | log K |" in table and "±" in table and "random init" in table
    assert table.count("\n") == 2 + 2 + 1  # header, rule, two seeds, mean row, control


def test_mi_command_writes_results_with_k_and_log_k(tmp_path, capsys):
    out = tmp_path / "mi"
    code = main([
        "mi", "--views", "colorspace:lab,size=16,photo_size=96", "--seeds", "1",
        "--width", "0.25", "--epochs", "1", "--batch-size", "64", "--train-pairs", "128",
        "--test-pairs", "128", "--test-batch", "64", "--probe-train", "128",
        "--probe-test", "64", "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["num_candidates"] == 64 and results["runs"][0]["num_candidates"] == 64
    assert results["metric"] == "photo.linear_top1" and results["data"] == "photo-patches"
    assert "critics are the pretrained encoders" in results["protocol"]
    printed = capsys.readouterr().out
    assert "I_NCE" in printed and "log K" in printed
