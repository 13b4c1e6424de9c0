"""`infomin learn-views`: a tiny end-to-end run writes every promised output."""

from __future__ import annotations

import json

import pytest

from infomin.cli import main

TINY = ["--steps", "2", "--checkpoints", "1", "--epochs", "1", "--train-pairs", "256",
        "--test-pairs", "256", "--probe-train", "64", "--probe-test", "64"]  # fmt: skip


def test_semi_supervised_run_writes_g_and_reports(tmp_path, capsys):
    out = tmp_path / "lv"
    assert main(["learn-views", "--mode", "semi-supervised", "--out", str(out), *TINY]) == 0
    for name in ("g-semi-supervised.pt", "results.json", "config.yaml", "report.md",
                 "trajectory.csv", "game_log.csv", "trajectory.png", "channels.png"):  # fmt: skip
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    run = results["learned"]["semi-supervised"][0]
    assert [p["step"] for p in run["trajectory"]] == [0, 2]
    assert {"i_nce", "accuracy", "c1_test", "c2_labelled"} <= set(run)
    assert len(list((out / "checkpoints").glob("*.pt"))) == 2
    assert "learned: semi-supervised" in capsys.readouterr().out
    # the saved g is a view anywhere: through the spec grammar, e.g. `infomin mi`
    mi_out = tmp_path / "mi"
    spec = f"learned:{out / 'g-semi-supervised.pt'},size=16,photo_size=96"
    argv = ["mi", "--views", spec, "--seeds", "1", "--epochs", "1", "--train-pairs", "256",
            "--test-pairs", "256", "--probe-train", "64", "--probe-test", "64", "--no-baseline",
            "--out", str(mi_out)]  # fmt: skip
    assert main(argv) == 0
    assert json.loads((mi_out / "results.json").read_text())["views"].startswith("learned:")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--input-space", "cmyk"], "cmyk"),
        (["--test-pairs", "100"], "--test-pairs"),
        (["--label-fraction", "0"], "label-fraction"),
        (["--rows", "rgb"], "--rows needs --mode compare"),
    ],
)
def test_bad_options_are_one_line_exit_2(extra, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["learn-views", "--mode", "unsupervised", "--out", str(tmp_path), *extra])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_compare_rows_refuse_unknown_names(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["learn-views", "--mode", "compare", "--rows", "rgb,hsv", "--out", str(tmp_path)])
    assert stopped.value.code == 2
    assert "'rgb,hsv': choose from unsupervised" in capsys.readouterr().err
