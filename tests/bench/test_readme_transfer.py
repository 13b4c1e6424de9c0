"""Every `python -m bench.transfer ...` of the README's transfer section, run as written.

The README shows the real budgets (74 minutes for the table); here the
same argv goes through the same `main` with the plan shrunk to a few steps, the
Fashion-MNIST fixture as the default folder, and the results folder in a temporary
directory (the working directory too, so relative paths in the commands resolve there).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = (("## Transfer at small scale", "\n## "),)
PROGRAMS = ("python -m bench.transfer",)


@pytest.fixture
def transfer(monkeypatch, tmp_path, fashion_mnist_root):
    """bench.transfer with a tiny plan, the fixture data and results under `tmp_path`."""
    monkeypatch.syspath_prepend(str(ROOT))
    module = importlib.import_module("bench.transfer")
    plan = module.Plan(seeds=1, pretrain_images=64, pretrain_steps=2, det_train=8,
                       det_test=4, det_steps=2, cls_steps=2, cls_pool=60, cls_test=20)  # fmt: skip
    monkeypatch.setattr(module, "FULL", plan)
    monkeypatch.setattr(module, "QUICK", plan)
    monkeypatch.setattr(module, "DEFAULT_DIR", fashion_mnist_root)
    monkeypatch.setattr(module, "RESULTS_DIR", tmp_path / "bench" / "results")
    monkeypatch.chdir(tmp_path)
    return module


def test_the_section_shows_the_table_quick_gpu_and_verdict_commands(readme_commands):
    commands = [" ".join(argv) for argv in readme_commands(SECTIONS, PROGRAMS)]
    assert "python -m bench.transfer --jobs 2" in commands
    assert "python -m bench.transfer --quick" in commands
    assert any("--device cuda" in command for command in commands)
    assert any("--summarise" in command for command in commands)


def test_every_transfer_command_runs_as_written(transfer, tmp_path, capsys, readme_commands):
    for argv in readme_commands(SECTIONS, PROGRAMS):
        code = transfer.main(argv[3:])
        if "cuda" in argv and not transfer.torch.cuda.is_available():
            assert code == 2 and "no CUDA device" in capsys.readouterr().err, argv
            continue
        assert code == 0, " ".join(argv)
    result = json.loads((tmp_path / "bench/results/transfer/transfer.json").read_text())
    assert set(result["comparison"]) == {"random", "infomin", "mocov2", "simclr"}
    assert set(result["comparison_random"]) == {"supervised", "infomin", "mocov2", "simclr"}
    assert result["plan"] == dataclasses.asdict(transfer.FULL)
