"""Every shipped YAML config works as its header says: the header's command is run as
written (placeholders filled with fixtures in the right format), for one or two steps."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from infomin.cli import main

REPO = Path(__file__).parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
# What a header's placeholders stand for: P any preset, DATA the dataset's folder.
PRESET_FOR_P = "infomin"


def header_command(path: Path) -> list[str]:
    """The `infomin ...` command in the file's comment header, split into words."""
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("# ")
        if "infomin " in text:
            return shlex.split(text[text.index("infomin ") :])
    raise AssertionError(f"{path.name} has no `infomin ...` command in its header")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_header_command_runs_as_written(path, tmp_path, monkeypatch, cifar10_root):
    monkeypatch.chdir(REPO)  # headers name configs/... relative to the repository
    values = yaml.safe_load(path.read_text())
    data_dir = {"cifar10": cifar10_root}.get(values.get("data"))
    words = header_command(path)
    assert words[0] == "infomin"
    argv = [
        PRESET_FOR_P if word == "P" else str(data_dir) if word == "DATA" else word
        for word in words[1:]
    ]
    assert ("DATA" in words) == (data_dir is not None), "DATA placeholder vs a dataset on disk"
    out = tmp_path / "run"
    assert main([*argv, "--max-steps", "1", "--out", str(out)]) == 0
    saved = yaml.safe_load((out / "config.yaml").read_text())
    for key, value in values.items():  # the file's values were the ones used
        assert saved[key] == value, key
    assert (out / "results.json").is_file()


def test_there_are_configs():
    assert CONFIGS
