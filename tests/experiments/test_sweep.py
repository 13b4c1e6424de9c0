"""Sweeps: the files and columns they write, the shape they report, the CLI's refusals."""

from __future__ import annotations

import csv
import json

import pytest

from infomin.cli import main
from infomin.experiments.sweep import (
    CSV_COLUMNS,
    EXPERIMENTS,
    describe_shape,
    ladder_sources,
    rows_to_csv,
    sweep_rows,
)

TINY_ARGS = [
    "--seeds", "1", "--width", "0.25", "--epochs", "1", "--batch-size", "64",
    "--train-pairs", "128", "--test-pairs", "128", "--test-batch", "64",
    "--probe-train", "128", "--probe-test", "64",
]  # fmt: skip


def test_tiny_sweep_writes_csv_json_and_plots_with_the_documented_columns(tmp_path):
    out = tmp_path / "sweep"
    argv = ["sweep", "--views", "patches:distance=0,size=16,photo_size=96", "--vary",
            "distance", "--values", "0", "24", *TINY_ARGS, "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["setting"] for r in rows] == ["0", "24"] and {r["seed"] for r in rows} == {"0"}
    assert list(rows[0])[: len(CSV_COLUMNS)] == list(CSV_COLUMNS)
    for row in rows:
        assert int(row["K"]) == 64 and float(row["i_nce"]) <= float(row["log_K"]) + 1e-9
        assert float(row["accuracy"]) == float(row["photo.linear_top1"])
    # identical patches share everything; 24 px apart share less (known ordering)
    assert float(rows[0]["i_nce"]) > float(rows[1]["i_nce"])
    results = json.loads((out / "results.json").read_text())
    assert results["parameter"] == "distance" and len(results["settings"]) == 2
    assert results["settings"][1]["value"] == 24.0 and "shape" in results
    assert all("accuracy" in s["random_init"] for s in results["settings"])  # the control
    for name in ("reverse_u.png", "vs_parameter.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "I_NCE" in (out / "table.md").read_text()


def _results(labels, i_nce, acc, std=0.5, seeds=3):
    settings = [
        {"setting": label, "value": float(label),
         "summary": {"i_nce": {"mean": i, "std": 0.1}, "accuracy": {"mean": a, "std": std}}}
        for label, i, a in zip(labels, i_nce, acc, strict=True)
    ]  # fmt: skip
    return {"settings": settings, "seeds": list(range(seeds))}


def test_shape_finds_a_clear_reverse_u_and_a_monotone_i_nce():
    shape = describe_shape(_results(["0", "1", "2", "3"], [4.0, 3.0, 2.0, 1.0], [50, 60, 70, 55]))
    assert shape["i_nce_falls_monotonically"] and shape["ladder"]
    assert shape["accuracy_along_order"].startswith("interior maximum at 2 (reverse-U, clear")
    assert shape["best_setting"] == "2"


def test_shape_says_when_the_bump_is_within_the_spread_or_absent():
    bump = describe_shape(_results(["0", "1", "2"], [3.0, 2.0, 2.5], [50, 51, 50.5], std=2.0))
    assert not bump["i_nce_falls_monotonically"]
    assert "within the spread" in bump["accuracy_along_order"]
    single = describe_shape(_results(["0", "1", "2"], [3.0, 2.0, 1.0], [50, 60, 50], 0.0, 1))
    assert "spread unknown with 1 seed" in single["accuracy_along_order"]
    rising = describe_shape(_results(["0", "1", "2"], [3.0, 2.0, 1.0], [50, 52, 53]))
    assert rising["accuracy_along_order"] == "rising (monotone)"
    # sorted by falling I_NCE the same points read the other way round
    assert rising["accuracy_along_falling_i_nce"] == "rising (monotone)"


def test_csv_rows_flatten_runs_and_keep_probe_keys():
    run = {"seed": 0, "i_nce": 1.0, "num_candidates": 256.0, "log_k": 5.5, "accuracy": 70.0,
           "photo.linear_top1": 70.0, "seconds": 3.0}  # fmt: skip
    results = {"settings": [{"setting": "lab", "value": "lab", "views": "colorspace:lab",
                             "runs": [run]}]}  # fmt: skip
    rows = sweep_rows(results)
    assert rows[0]["K"] == 256 and rows[0]["photo.linear_top1"] == 70.0
    header = rows_to_csv(rows).splitlines()[0].split(",")
    assert header[: len(CSV_COLUMNS)] == list(CSV_COLUMNS) and header[-1] == "seconds"


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_named_experiments_build_their_sources(name):
    experiment = EXPERIMENTS[name]
    sources = ladder_sources(experiment.views, experiment.vary, experiment.values, experiment.data)
    assert list(sources) == list(experiment.values)
    if name == "colorspaces":
        assert len(sources) == 11


BAD = [
    (["sweep", "--experiment", "nope"], "unknown experiment"),
    (["sweep", "--views", "recipe:B", "--vary", "crop_scale"], "needs --values"),
    (["sweep", "--views", "recipe:B", "--values", "1", "2"], "needs --vary"),
    (["sweep", "--views", "recipe:Q", "--vary", "crop_scale", "--values", "1"], "bad view spec"),
    (["sweep", "--views", "recipe:B", "--vary", "nope", "--values", "1"], "no parameter 'nope'"),
    (["sweep", "--experiment", "crop", "--views", "recipe:B"], "drop --views"),
    (["sweep"], "give --experiment"),
    (["sweep", "--views", "recipe:B", "--vary", "crop_scale", "--values", "2"], "(0, 1]"),
    (["mi", "--views", "colorspace:nope"], "unknown colour space"),
    (["mi", "--views", "patches:distance=4", "--data", "cifar10"], "need data photo-patches"),
    (["mi", "--views", "colorspace:lab", "--train-pairs", "10"], "--batch-size"),
    (["mi", "--views", "colorspace:lab", "--seeds", "0"], "positive integer"),
    (["mi", "--views", "colorspace:lab", "--backbone", "vgg99"], "unknown backbone"),
]


@pytest.mark.parametrize(("argv", "message"), BAD)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("infomin: error:")
    assert message in err[0]
    assert not (tmp_path / "out").exists()  # refused before any work or output
