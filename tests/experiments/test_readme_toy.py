"""Every command of the README's toy sections, run exactly as written on tiny sizes.

The README shows `infomin toy ...` and `infomin sweep --experiment toy-ladder` with their
real budgets, which take minutes. Here the same argv goes through the same `main`, with
the toy's budget replaced the way a fixture replaces data: `ToyConfig` and the named
ladder get one-epoch critics on a few hundred pairs. Rows, seeds, `--v1-frames` and the
command path are the real ones. Each command runs in its own folder, since several write
to the same `--out DIR`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path

import pytest

from infomin.cli import main
from infomin.experiments import sweep as sweep_module
from infomin.experiments import toy
from infomin.experiments.pairs import Sizes

README = Path(__file__).resolve().parents[2] / "README.md"
FIRST, AFTER = "### The toy: only what the views share is learned", "### Colour spaces"
TINY_CRITIC = dataclasses.replace(toy.TOY_CRITIC, width=0.125, embed_dim=16, epochs=1,
                                  batch_size=32)  # fmt: skip
TINY_SIZES = Sizes(train_pairs=64, test_pairs=32, test_batch=32, probe_train=60, probe_test=30)


def toy_commands(readme: str | None = None) -> list[list[str]]:
    """The `infomin ...` commands shown inline in the toy sections, as argv lists."""
    text = README.read_text() if readme is None else readme
    section = text.split(FIRST, 1)[1].split(AFTER, 1)[0]
    return [shlex.split(m)[1:] for m in re.findall(r"`(infomin [^`]+)`", section)]


def _tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toy's budget (not its views, rows or seeds) shrunk to seconds, in process."""
    real = toy.ToyConfig

    def tiny(**changes: object) -> toy.ToyConfig:
        return real(**{"critic": TINY_CRITIC, "sizes": TINY_SIZES, "workers": 1, **changes})

    monkeypatch.setattr(toy, "ToyConfig", tiny)
    monkeypatch.setattr(toy, "quick_config", tiny)
    ladder = dataclasses.replace(sweep_module.EXPERIMENTS["toy-ladder"], config=TINY_CRITIC,
                                 sizes=TINY_SIZES)  # fmt: skip
    monkeypatch.setitem(sweep_module.EXPERIMENTS, "toy-ladder", ladder)


def test_the_sections_show_the_table_its_variants_and_the_ladder() -> None:
    commands = toy_commands()
    assert ["toy", "--out", "DIR"] in commands  # the default: the sequence view, 3 seeds
    assert any("--v1-frames" in argv and "1" in argv for argv in commands)
    assert any(argv[:1] == ["sweep"] for argv in commands)


def test_every_toy_command_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tiny(monkeypatch)
    for number, argv in enumerate(toy_commands()):
        folder = tmp_path / str(number)
        folder.mkdir()
        monkeypatch.chdir(folder)
        assert main(argv) == 0, " ".join(argv)
        if argv[0] != "toy":
            continue
        results = json.loads((folder / argv[argv.index("--out") + 1] / "results.json").read_text())
        frames = int(argv[argv.index("--v1-frames") + 1]) if "--v1-frames" in argv else 3
        assert results["config"]["v1_frames"] == frames
        seeds = int(argv[argv.index("--seeds") + 1]) if "--seeds" in argv else 3
        assert len(results["seeds"]) == seeds
        epochs = int(argv[argv.index("--epochs") + 1]) if "--epochs" in argv else 1  # tiny
        assert results["config"]["critic"]["epochs"] == epochs
