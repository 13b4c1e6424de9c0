"""patch-distance-hires: the named sweep over high-resolution photos, and its README command.

The README shows the command with its default folder (Debian's mate-backgrounds), which
these tests must not need. So the README's command is run here exactly as written (the
same argv, parsed by the same `main`), with the experiment's default folder and sizes
replaced by fixture ones, the way a fixture replaces data: photos this test writes and
one step per critic. The views, distances and the command path are the real ones.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shlex
from pathlib import Path

import pytest

from infomin.cli import main
from infomin.data import photos
from infomin.experiments import sweep as sweep_module
from infomin.experiments.pairs import CriticConfig, Sizes
from infomin.experiments.plots import parameter_scale
from infomin.views.specs import parse_spec

README = Path(__file__).resolve().parents[2] / "README.md"
NAME = "patch-distance-hires"
TINY_CONFIG = CriticConfig(width=0.25, epochs=1, batch_size=16, embed_dim=16)
TINY_SIZES = Sizes(train_pairs=16, test_pairs=16, probe_train=24, probe_test=12, test_batch=16)


def readme_commands() -> list[str]:
    """Every `infomin sweep --experiment patch-distance-hires ...` the README shows, inline
    or in a code block (up to the closing backtick or the end of the line)."""
    pattern = rf"infomin sweep --experiment {NAME}\b[^`\n]*"
    return [match.strip() for match in re.findall(pattern, README.read_text())]


def _use_fixtures(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    """The named experiment with the fixture folder as its default and one-step sizes."""
    experiment = dataclasses.replace(sweep_module.EXPERIMENTS[NAME], data_dir=str(data_dir),
                                     config=TINY_CONFIG, sizes=TINY_SIZES)  # fmt: skip
    monkeypatch.setitem(sweep_module.EXPERIMENTS, NAME, experiment)


def test_the_experiment_is_what_the_readme_says() -> None:
    """32 px patches of photos at short side 1024, distances 0 and 4..512 (two orders of
    magnitude), Debian's mate-backgrounds folder by default."""
    experiment = sweep_module.EXPERIMENTS[NAME]
    params = dict(parse_spec(experiment.views).params)
    assert (params["size"], params["photo_size"], experiment.vary) == ("32", "1024", "distance")
    distances = [float(v) for v in experiment.values]
    assert distances == sorted(distances) and distances[0] == 0 and distances[-1] >= 512
    assert math.log10(distances[-1] / distances[1]) >= 2
    assert experiment.data_dir == str(photos.HIRES_DIR) == "/usr/share/backgrounds/mate/nature"


def test_readme_command_runs_as_written_on_fixture_photos(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, photo_folder: Path
) -> None:
    commands = readme_commands()
    assert commands, f"README.md shows no `infomin sweep --experiment {NAME}` command"
    _use_fixtures(monkeypatch, photo_folder)
    monkeypatch.chdir(tmp_path)
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "infomin"
        assert main(argv[1:]) == 0
        out = tmp_path / argv[argv.index("--out") + 1]
        results = json.loads((out / "results.json").read_text())
        assert results["data_dir"] == str(photo_folder)
        assert [s["setting"] for s in results["settings"]] == list(
            sweep_module.EXPERIMENTS[NAME].values
        )
        assert len(results["seeds"]) == 3
        assert all(math.isfinite(s["summary"]["i_nce"]["mean"]) for s in results["settings"])
        assert (out / "reverse_u.png").stat().st_size > 0


def test_missing_default_folder_exits_2_naming_package_and_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    _use_fixtures(monkeypatch, tmp_path / "no-backgrounds")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--experiment", NAME, "--out", str(out)])
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert exit_info.value.code == 2
    assert len(lines) == 1 and "mate-backgrounds" in lines[0] and "--data-dir" in lines[0]
    assert not out.exists()  # refused before the output folder was claimed


def test_data_dir_replaces_the_default_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, photo_folder: Path
) -> None:
    _use_fixtures(monkeypatch, tmp_path / "no-backgrounds")
    out = tmp_path / "out"
    argv = ["sweep", "--experiment", NAME, "--data-dir", str(photo_folder), "--seeds", "1",
            "--no-baseline", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["data_dir"] == str(photo_folder) and len(results["settings"]) == 8


def test_distances_over_two_decades_get_a_log_axis() -> None:
    distances = [float(v) for v in sweep_module.EXPERIMENTS[NAME].values]
    assert parameter_scale(distances) == {"value": "symlog", "linthresh": 4.0, "linscale": 0.5}
    assert parameter_scale([0, 2, 4, 8, 16, 32, 64]) == {"value": "linear"}  # patch-distance
    assert parameter_scale([1, 0.6, 0.4, 0.2, 0.1, 0.05]) == {"value": "linear"}  # crop
