"""Precedence of option values: default < preset < --config file < typed flags, for every
key of `PretrainConfig` (cases generated from the dataclass), and reruns from a saved
`config.yaml`.

A default must never count as a typed flag: a `data: cifar10` file once trained on the
embedded toy data because `--data` had an argparse default.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from infomin.cli import main
from infomin.methods import pretrain as pretrain_module
from infomin.methods.pretrain import PretrainConfig

REPO = Path(__file__).parents[2]
FIELDS = {f.name: f for f in dataclasses.fields(PretrainConfig)}
HINTS = typing.get_type_hints(PretrainConfig)

# Keys whose valid values the type alone cannot give: (file value, flag value).
STRING_VALUES: dict[str, tuple[str, str]] = {
    "preset": ("mocov2", "moco"),
    "data": ("photo-patches", "colorful-moving-digits"),
    "backbone": ("resnet18", "convnet"),
    "accelerator": ("cpu", "auto"),
    "precision": ("bf16-mixed", "32-true"),
    "schedule": ("step", "cosine"),
    "criterion": ("nce", "infonce"),
    "views": ("toy:digit", "toy:position"),
    "train_split": ("unlabeled", "train"),
    "eval_data": ("photo-patches", "colorful-moving-digits"),
    "eval_train_split": ("test", "train"),
    "eval_test_split": ("train", "test"),
}
NUMBER_VALUES: dict[str, tuple[Any, Any]] = {
    "num_negatives": (256, 512),  # a queue no shorter than the batch
}


def _base_type(name: str) -> type:
    options = [t for t in typing.get_args(HINTS[name]) if t is not type(None)]
    return options[0] if options else HINTS[name]


def _values(name: str) -> tuple[Any, Any]:
    """Two valid values for key `name`: one for the file (never the default), one for the
    flag (never the file's)."""
    default = FIELDS[name].default
    kind = _base_type(name)
    if name in NUMBER_VALUES:
        return NUMBER_VALUES[name]
    if kind is bool:
        return (not default, default)
    if kind is int:
        first = max(default or 0, 0) + 2
        return first, first + 1
    if kind is float:
        return ((default or 0.25) * 2, (default or 0.25) * 4)
    if name in STRING_VALUES:
        return STRING_VALUES[name]
    raise AssertionError(f"new config key {name!r}: add two valid values to STRING_VALUES")


def _context(name: str, tmp_path: Path) -> dict[str, Any]:
    """Other keys a value needs in order to apply (a folder needs a dataset on disk)."""
    (tmp_path / "images").mkdir(exist_ok=True)
    if name in ("data_dir", "skip_corrupt"):
        return {"data": "folder", "data_dir": str(tmp_path / "images")}
    if name == "train_split":
        return {"data": "stl10", "data_dir": str(tmp_path / "images")}
    if name == "eval_data_dir":
        return {"eval_data": "folder", "eval_data_dir": str(tmp_path / "images")}
    return {}


def _flag(name: str, value: Any) -> list[str]:
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [flag if value else "--no-" + name.replace("_", "-")]
    return [flag, str(value)]


@pytest.fixture
def captured(monkeypatch):
    """Replace training by a recorder of the config it was given."""
    seen: list[PretrainConfig] = []

    def fake_pretrain(config: PretrainConfig, out: Path, resume: bool = False) -> dict:
        seen.append(config)
        return {"config": dataclasses.asdict(config)}

    monkeypatch.setattr(pretrain_module, "pretrain", fake_pretrain)
    return seen


def _saved(out: Path) -> dict[str, Any]:
    return yaml.safe_load((out / "config.yaml").read_text())


@pytest.mark.parametrize("name", list(FIELDS))
def test_file_value_survives_and_typed_flag_wins(name, tmp_path, captured):
    if name in ("data_dir", "eval_data_dir"):  # two folders that exist
        (tmp_path / "other").mkdir()
        file_value, flag_value = str(tmp_path / "images"), str(tmp_path / "other")
    else:
        file_value, flag_value = _values(name)
    values = {**_context(name, tmp_path), name: file_value}
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(values))

    out = tmp_path / "from-file"
    assert main(["pretrain", "--config", str(config_file), "--out", str(out)]) == 0
    assert getattr(captured[-1], name) == file_value
    assert _saved(out)[name] == file_value

    out = tmp_path / "flag"
    argv = ["pretrain", "--config", str(config_file), *_flag(name, flag_value), "--out", str(out)]
    assert main(argv) == 0
    assert getattr(captured[-1], name) == flag_value
    assert _saved(out)[name] == flag_value


def test_saved_config_records_sources(tmp_path, captured):
    config_file = tmp_path / "c.yaml"
    config_file.write_text("epochs: 3\nseed: 4\n")
    out = tmp_path / "run"
    argv = ["pretrain", "--preset", "mocov2", "--config", str(config_file), "--seed", "5"]
    main([*argv, "--out", str(out)])
    lines = {line.split(":")[0]: line for line in (out / "config.yaml").read_text().splitlines()}
    assert lines["epochs"].endswith("# file")
    assert lines["seed"] == "seed: 5  # flag"
    assert lines["batch_size"].endswith("# default")
    assert "# preset: mocov2 0.2" in lines["temperature"]
    assert (out / "config.yaml").read_text().startswith("# infomin pretrain --preset mocov2")


def test_dry_run_prints_sources_and_writes_nothing(tmp_path, capsys, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("--dry-run must not train")

    monkeypatch.setattr(pretrain_module, "pretrain", no_training)
    out = tmp_path / "never"
    argv = ["pretrain", "--data", "cifar10", "--data-dir", str(tmp_path), "--dry-run"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "data: cifar10  # flag" in printed
    assert "epochs: 10  # default" in printed
    assert yaml.safe_load(printed)["data_dir"] == str(tmp_path)  # valid YAML: a config file
    assert not out.exists()


def test_the_issue_command_names_the_missing_cifar_folder(tmp_path, capsys, monkeypatch):
    """The command from the header of configs/cifar10-resnet18.yaml with a missing folder:
    it once trained on the embedded toy data instead."""
    monkeypatch.chdir(REPO)
    missing = tmp_path / "DATA"
    argv = ["pretrain", "--preset", "mocov2", "--config", "configs/cifar10-resnet18.yaml",
            "--data-dir", str(missing), "--out", str(tmp_path / "out")]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2
    assert len(err.splitlines()) == 1
    assert "cifar10" in err and str(missing) in err and "does not exist" in err
    assert not (tmp_path / "out").exists()


def test_rerun_from_saved_config_gives_same_config_and_metrics(tmp_path):
    """A real (tiny) run, then `--config RUN/config.yaml --out NEW`: same values, key for
    key, and the same metrics on the CPU for the same seed."""
    first, second = tmp_path / "first", tmp_path / "second"
    argv = ["pretrain", "--preset", "simclr", "--train-size", "256", "--test-size", "128",
            "--epochs", "1", "--batch-size", "64", "--seed", "3", "--lr", "0.1",
            "--accelerator", "cpu"]  # fmt: skip
    assert main([*argv, "--out", str(first)]) == 0
    assert main(["pretrain", "--config", str(first / "config.yaml"), "--out", str(second)]) == 0
    assert _saved(first) == _saved(second)
    metrics = [json.loads((out / "results.json").read_text())["metrics"] for out in (first, second)]
    assert metrics[0] == metrics[1]
    assert metrics[0]  # a real evaluation ran


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["--data-dir", "{TMP}"], "dataset 'colorful-moving-digits' is embedded"),
        (["--preset", "simclr", "--num-negatives", "512"], "num_negatives cannot apply"),
        (["--data", "cifar10", "--data-dir", "{TMP}", "--train-size", "9"], "train_size cannot"),
        (["--no-evaluate", "--test-size", "9"], "test_size cannot apply"),
        (["--skip-corrupt"], "skip_corrupt applies to image folders"),
        (["--data", "folder-unlabeled", "--data-dir", "{TMP}", "--online-probe"], "no labels"),
    ],
)
def test_options_that_cannot_apply_are_refused(argv, phrase, tmp_path, capsys):
    argv = [a.replace("{TMP}", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(["pretrain", *argv, "--dry-run"])
    assert exit_info.value.code == 2
    assert phrase in capsys.readouterr().err


# Every other command that writes config.yaml: a file value, a typed flag, and a rerun of
# the printed (= saved) options, all through --dry-run (nothing is trained).
COMMANDS = [
    ("evaluate", {"seed": 4, "knn_k": 10}, ["--random-init", "--seed", "5"]),
    ("mi", {"views": "colorspace:lab", "seeds": 2}, ["--seeds", "3"]),
    ("sweep", {"experiment": "jitter", "epochs": 2}, ["--seeds", "1"]),
    ("toy", {"rows": ["digit", "position"], "seeds": 2}, ["--quick"]),
    ("learn-views", {"mode": "unsupervised", "steps": 7}, ["--coupling", "additive"]),
]


@pytest.mark.parametrize(("command", "file_values", "flags"), COMMANDS, ids=lambda c: str(c))
def test_every_command_layers_file_and_flags(command, file_values, flags, tmp_path, capsys):
    config_file = tmp_path / "c.yaml"
    config_file.write_text(yaml.safe_dump(file_values))
    assert main([command, "--config", str(config_file), *flags, "--dry-run"]) == 0
    printed = capsys.readouterr().out
    resolved = yaml.safe_load(printed)
    typed = {flags[i].lstrip("-").replace("-", "_") for i in range(len(flags))
             if flags[i].startswith("--")}  # fmt: skip
    for key, value in file_values.items():
        if key not in typed:
            assert resolved[key] == value, key
            assert f"{key}: " in printed and "# file" in printed
    for key in typed:
        assert any(line.startswith(f"{key}:") and line.endswith("# flag")
                   for line in printed.splitlines()), key  # fmt: skip
    saved = tmp_path / "saved.yaml"
    saved.write_text(printed)
    assert main([command, "--config", str(saved), "--dry-run"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == resolved


def test_unknown_key_in_a_command_config_gets_a_suggestion(tmp_path, capsys):
    config_file = tmp_path / "c.yaml"
    config_file.write_text("seedz: 3\n")
    with pytest.raises(SystemExit):
        main(["mi", "--config", str(config_file), "--dry-run"])
    assert "did you mean 'seeds'?" in capsys.readouterr().err
