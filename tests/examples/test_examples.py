"""Every script in examples/ runs to the end with --quick (the Python API, not the CLI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def test_the_five_uses_have_an_example():
    names = {path.stem for path in SCRIPTS}
    assert {"simclr", "mi_between_views", "sweep", "learn_view", "pretrain_learned_view"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.stem)
def test_example_runs_quick(script, tmp_path):
    extra = ["--out", str(tmp_path / "g.pt")] if script.stem == "learn_view" else []
    done = subprocess.run(
        [sys.executable, str(script), "--quick", *extra], cwd=tmp_path, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip(), "an example prints what it measured"
