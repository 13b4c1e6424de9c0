"""Every command of the README's Fashion-MNIST sections, run exactly as written, tiny.

The README shows `python -m bench.accuracy ...` (the table, each row, the tuning and the
sweet-spot runs) and `infomin sweep ... --data fashion-mnist` with their real budgets,
which take minutes to hours. Here the same argv goes through the same `main`, with the
data replaced the way a fixture replaces it (the default Fashion-MNIST folder points at
5,100 written training images, enough for `holdout=5000`) and the budget shrunk: the
table's `Plan` to one epoch on 64 images, the sweep's critics to one epoch on a few
pairs. Rows, seeds, options and the command path are the real ones.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest

from infomin.cli import main
from infomin.data import registry
from infomin.experiments import sweep as sweep_module
from infomin.experiments.pairs import QUICK_CONFIG, Sizes

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = (
    ("## Fashion-MNIST: every preset", "\n## "),
    ("### Fashion-MNIST: a crop and a RandAugment ladder", "\n## "),
)
TINY_CRITIC = dataclasses.replace(QUICK_CONFIG, width=0.125, embed_dim=16, epochs=1,
                                  batch_size=32)  # fmt: skip
TINY_SIZES = Sizes(train_pairs=64, test_pairs=32, test_batch=32, probe_train=60, probe_test=30)


@pytest.fixture
def tiny(tmp_path_factory, idx_files, monkeypatch):
    """The default Fashion-MNIST folder -> a 5,100-image fixture; budgets -> seconds."""
    _, write_fashion_mnist = idx_files
    folder = write_fashion_mnist(tmp_path_factory.mktemp("fm") / "fm", train=5100, test=40)
    entry = dataclasses.replace(registry._ENTRIES["fashion-mnist"], default_dir=folder)
    monkeypatch.setitem(registry._ENTRIES, "fashion-mnist", entry)
    real = sweep_module.NamedExperiment

    def small(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), config=TINY_CRITIC, sizes=TINY_SIZES)

    monkeypatch.setattr(sweep_module, "NamedExperiment", small)
    monkeypatch.syspath_prepend(str(ROOT))
    accuracy = importlib.import_module("bench.accuracy")
    plan = accuracy.Plan(subset=64, epochs=1, batch=32, peer_seeds=1, probe_train=200,
                         probe_test=40)  # fmt: skip
    monkeypatch.setattr(accuracy, "Plan", lambda: plan)
    monkeypatch.setattr(accuracy, "QUICK", plan)
    monkeypatch.setattr(
        importlib.import_module("bench.common"), "RESULTS_DIR", tmp_path_factory.mktemp("results")
    )
    return accuracy


PROGRAMS = ("infomin", "python -m bench.accuracy")


def test_the_sections_show_every_row_the_sweeps_and_the_gpu_command(readme_commands) -> None:
    commands = [" ".join(argv) for argv in readme_commands(SECTIONS, PROGRAMS)]
    for row in ("raw-pixels", "random-init", "supervised", "insdis", "moco", "pirl", "mocov2",
                "simclr", "infomin", "lightly-simclr"):  # fmt: skip
        assert f"python -m bench.accuracy --rows {row}" in commands, row
    assert any("--accelerator gpu" in c for c in commands)
    assert any("--crop-min" in c for c in commands)
    assert sum(c.startswith("infomin sweep") and "holdout=5000" in c for c in commands) == 2


def test_every_fashion_command_runs_as_written(
    tiny, tmp_path, monkeypatch, capsys, readme_commands
) -> None:
    for number, argv in enumerate(readme_commands(SECTIONS, PROGRAMS)):
        folder = tmp_path / str(number)
        folder.mkdir()
        monkeypatch.chdir(folder)
        if argv[0] == "infomin":
            assert main(argv[1:]) == 0, " ".join(argv)
            continue
        code = tiny.main(argv[3:])  # `--out` defaults to the patched results folder
        if "--accelerator" in argv and not tiny.torch.cuda.is_available():
            assert code == 2, " ".join(argv)  # one line, before any data is read
            assert "no CUDA device" in capsys.readouterr().err
        else:
            assert code == 0, " ".join(argv)
