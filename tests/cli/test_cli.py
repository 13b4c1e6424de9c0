"""The command line as a user meets it: one-line errors with exit 2, files on success."""

import json
import subprocess
import sys

import pytest

from infomin.cli import main

BAD_INPUTS = [
    (["evaluate", "--data", "no-such-dataset", "--random-init"], "unknown dataset"),
    (["evaluate", "--data", "cifar10", "--random-init"], "--data-dir is required"),
    (["evaluate", "--data", "cifar10", "--data-dir", "/no/such/dir", "--random-init"], "/no/such"),
    (["evaluate", "--random-init", "--train-size", "-5"], "positive integer"),
    (["evaluate"], "choose what to evaluate"),
    (["evaluate", "--weights", "/no/such/file.pt"], "checkpoint not found"),
    (["pretrain", "--preset", "nope"], "unknown preset"),
    (["pretrain", "--epochs", "0"], "positive integer"),
    (["pretrain", "--temperature", "0"], "temperature must be > 0"),
    (["pretrain", "--lr", "-1"], "lr must be > 0"),
    (["pretrain", "--preset", "simclr", "--criterion", "nce"], "no NCE option"),
    (["pretrain", "--warmup-epochs", "-2"], "warmup_epochs must be >= 0"),
    (["data", "show", "nope"], "unknown dataset"),
    (["export", "/no/such.ckpt"], "checkpoint not found"),
    (["frobnicate"], "invalid choice"),
    (["export", "pyproject.toml"], "cannot read checkpoint"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(tmp_path / "out")] if argv[0] != "frobnicate" else argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("infomin: error:")
    assert message in err[0]


def test_config_typo_gets_did_you_mean(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("epocs: 3\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["pretrain", "--config", str(config), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "did you mean 'epochs'" in capsys.readouterr().err


def test_real_process_prints_no_traceback(tmp_path):
    """What a user sees in a terminal: stderr has one line, no Python traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "infomin", "evaluate", "--data", "no-such-dataset",
         "--random-init", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0


def test_evaluate_raw_pixels_writes_results(tmp_path, capsys):
    out = tmp_path / "ev"
    code = main(["evaluate", "--raw-pixels", "--train-size", "200", "--test-size", "100",
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    metrics = results["metrics"]
    for key in ("digit.linear_top1", "background.linear_top1", "position.linear_mae_px",
                "digit.knn_top1"):  # fmt: skip
        assert key in metrics
    assert (out / "config.yaml").exists()
    assert "digit.linear_top1" in capsys.readouterr().out


def test_data_show_writes_png(tmp_path):
    out = tmp_path / "grid.png"
    assert main(["data", "show", "photo-patches", "--out", str(out), "-n", "8"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_presets_prints_every_method(capsys):
    assert main(["presets"]) == 0
    table = capsys.readouterr().out
    for name in ("insdis", "cmc", "moco", "pirl", "mocov2", "cmcv2", "infomin", "simclr"):
        assert f"| {name} |" in table
