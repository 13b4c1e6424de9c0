"""The toy table: documented keys, claim checks on known numbers, the CLI's files."""

import json
from dataclasses import replace

import pytest

from infomin.cli import main
from infomin.experiments import toy
from infomin.experiments.pairs import Sizes
from infomin.experiments.toy import (
    BASELINE,
    CHANCE,
    TOY_CRITIC,
    ToyConfig,
    check_claims,
    run_toy_table,
)
from infomin.experiments.toy_report import render_toy_markdown

TINY = ToyConfig(
    rows=("digit", "background"), seeds=1, workers=1,
    critic=replace(TOY_CRITIC, width=0.125, embed_dim=16, epochs=1, batch_size=64),
    sizes=Sizes(train_pairs=128, test_pairs=64, test_batch=64, probe_train=120, probe_test=60),
)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_results():
    return run_toy_table(TINY)


def test_tiny_table_returns_the_documented_keys(tiny_results):
    results = tiny_results
    assert {"config", "seeds", "num_candidates", "log_k", "columns", "rows", "claims",
            "row_seconds", "elapsed_s"} <= set(results)  # fmt: skip
    assert [row["name"] for row in results["rows"]] == ["digit", "background", BASELINE, CHANCE]
    assert results["num_candidates"] == 64
    for row in results["rows"]:
        assert {"name", "kind", "shared", "per_seed", "mean", "std"} <= set(row)
        assert {"digit.linear_top1", "background.linear_top1", "position.linear_mae_px"} <= set(
            row["mean"]
        )
    trained = results["rows"][0]
    assert trained["shared"] == ["digit"] and len(trained["per_seed"]) == 1
    assert trained["mean"]["i_nce"] <= results["log_k"]
    chance = results["rows"][-1]["mean"]
    assert chance["digit.linear_top1"] == pytest.approx(10.0)
    assert chance["background.linear_top1"] == pytest.approx(100 / 11)
    assert [c["claim"] for c in results["claims"]][:1] == ["digit only raises digit accuracy"]
    assert all(c["spread"] is None for c in results["claims"])  # one seed


def test_markdown_shows_log_k_rows_and_claims(tiny_results):
    text = render_toy_markdown(tiny_results)
    assert "I_NCE (log K = 4.16)" in text
    for name in ("| digit |", "| background |", "| random-init |", "| chance |"):
        assert name in text
    assert "## Claims" in text and "unknown with 1 seed" in text


def _rows(values):
    """Rows with given per-seed accuracies (the claim checker's input)."""
    keys = ("digit.linear_top1", "background.linear_top1")
    return [
        {"name": name, "per_seed": [dict.fromkeys(keys, v) for v in per_seed]}
        for name, per_seed in values.items()
    ]


def test_claims_need_the_right_sign_and_a_difference_above_the_spread():
    clear = check_claims(_rows({"digit": [50, 52, 51], BASELINE: [30, 31, 29]}))
    assert clear[0]["holds"] and clear[0]["difference"] == pytest.approx(21)
    noisy = check_claims(_rows({"digit": [50, 20, 45], BASELINE: [30, 31, 29]}))
    assert noisy[0]["difference"] > 0 and not noisy[0]["holds"]  # spread 16 > 8.3
    wrong = check_claims(_rows({"digit": [20, 21, 22], BASELINE: [30, 31, 29]}))
    assert not wrong[0]["holds"]


def test_bad_rows_and_sizes_are_refused():
    for rows, message in [(("digit", "colour"), "valid: digit"), (("ladder=2.5",), "in \\[0, 2\\]"),
                          (("digit", "digit"), "repeat")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            replace(TINY, rows=rows)
    with pytest.raises(ValueError, match="train_pairs"):
        replace(TINY, sizes=replace(TINY.sizes, train_pairs=10))
    with pytest.raises(ValueError, match="epochs"):
        replace(TINY, critic=replace(TINY.critic, epochs=0))
    assert replace(TINY, rows=("background+digit", "ladder=0.50")).rows == (
        "digit+background",
        "ladder=0.5",
    )


def test_cli_writes_its_files_with_worker_processes(tmp_path, monkeypatch, tiny_results):
    """Two spawned workers give the same numbers as one in-process run."""
    monkeypatch.setattr(toy, "quick_config", lambda **changes: replace(TINY, **changes))
    out = tmp_path / "toy"
    assert main(["toy", "--quick", "--workers", "2", "--out", str(out)]) == 0
    for name in ("toy.md", "results.json", "config.yaml", "toy.png"):
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["workers"] == 2
    for ours, theirs in zip(results["rows"], tiny_results["rows"], strict=True):
        assert ours["mean"]["digit.linear_top1"] == pytest.approx(
            theirs["mean"]["digit.linear_top1"]
        )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rows", "digit", "colour"], "bad row 'colour'"),
        (["--seeds", "0"], "positive"),
        (["--epochs", "0"], "positive"),
    ],
)
def test_cli_refuses_bad_input_in_one_line(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["toy", *argv, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


@pytest.mark.slow
def test_quick_table_reproduces_the_paper_claims():
    """The quick table (1 seed): every claim has the paper's sign."""
    results = run_toy_table(toy.quick_config(rows=("digit", "background", "digit+background")))
    assert all(claim["holds"] for claim in results["claims"]), results["claims"]


def _digit_rows(values):
    """Rows with given per-seed digit accuracies."""
    return [
        {"name": name, "per_seed": [{"digit.linear_top1": v} for v in per_seed]}
        for name, per_seed in values.items()
    ]


def _claim(checks, start):
    return next(c for c in checks if c["claim"].startswith(start))


def test_best_single_factor_must_beat_each_other_single_factor():
    rows = {"digit": [60, 62, 61], "position": [55, 58, 56], "background": [20, 21, 19]}
    best = _claim(check_claims(_digit_rows(rows)), "digit-only gives the best")
    assert best["holds"] and best["reference"] == "position"  # the closest competitor
    assert best["difference"] == pytest.approx(14 / 3)
    assert best["references"] == ["position", "background"]
    rows["position"] = [65, 58, 70]
    beaten = _claim(check_claims(_digit_rows(rows)), "digit-only gives the best")
    assert not beaten["holds"] and beaten["difference"] < 0
    assert not [
        c
        for c in check_claims(_digit_rows({"digit": [1], "position": [0]}))
        if c["claim"].startswith("digit-only")
    ]  # background not run: left out


@pytest.mark.parametrize(
    ("both", "holds"),
    [([70, 71, 72], True), ([59, 62, 60], True), ([50, 52, 51], False)],
)  # fmt: skip
def test_at_least_claim_tolerates_a_drop_within_the_spread(both, holds):
    rows = {"digit": [60, 61, 62], "digit+position": both}
    check = _claim(check_claims(_digit_rows(rows)), "digit+position: digit accuracy at least")
    assert check["holds"] is holds
    text = render_toy_markdown({**_FAKE, "claims": [check]})
    assert ("does NOT hold" in text) is not holds


_FAKE = {"log_k": 1.0, "rows": [], "seeds": [0, 1, 2], "num_candidates": 2,
         "config": {**vars(TINY), "critic": vars(TINY.critic), "sizes": vars(TINY.sizes)},
         "row_seconds": {}, "elapsed_s": 0.0}  # fmt: skip


def test_sequence_table_gives_f1_the_stacked_frames():
    """`--v1-frames` reaches the table: f1 takes 3 x N channels, the report says so, and
    the baseline starts as the rows' critics do."""
    config = replace(TINY, rows=("position",), v1_frames=2)
    assert config.channels == (6, 3) and ToyConfig().v1_frames == 3
    assert config.source("position").v1_frames == 2
    results = run_toy_table(config)
    assert results["config"]["v1_frames"] == 2
    assert "v1 a clip of 2 frames stacked along channels, v2 its next frame" in (
        render_toy_markdown(results)
    )
    with pytest.raises(ValueError, match="v1_frames"):
        replace(TINY, v1_frames=0)
    with pytest.raises(ValueError, match="colour"):
        replace(TINY, colour="red")
    assert ToyConfig().colour == "free" and config.source("digit").colour == "free"


def test_cli_takes_v1_frames(tmp_path, monkeypatch):
    monkeypatch.setattr(toy, "quick_config", lambda **changes: replace(TINY, **changes))
    out = tmp_path / "toy"
    argv = ["toy", "--quick", "--rows", "digit", "--v1-frames", "1", "--colour", "digit",
            "--epochs", "2", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["v1_frames"] == 1 and results["config"]["colour"] == "digit"
    assert results["config"]["critic"]["epochs"] == 2
    text = (out / "toy.md").read_text()
    assert "v1 and v2 single frames" in text and "colour shared with the digit" in text
