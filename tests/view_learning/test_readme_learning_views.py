"""Every command of the README's "Learning views" section, run exactly as written on small
sizes, so that the section cannot show a command that no longer runs.

The commands are read from the section's bash blocks (not copied here); the small sizes
are appended (argparse keeps a flag's last value) and each command runs in a temporary
folder, so `--out runs/...` and the `learned:runs/...` spec of a later command resolve
there, in the order the README gives them.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from infomin.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"
SIZES = ["--epochs", "1", "--train-pairs", "256", "--test-pairs", "256", "--probe-train", "64",
         "--probe-test", "64"]  # fmt: skip
SMALL = {
    "learn-views": ["--steps", "2", "--checkpoints", "1", *SIZES],
    "mi": ["--seeds", "1", "--no-baseline", *SIZES],
}


def section_commands(readme: str = README.read_text(), title: str = "## Learning views") -> list:
    """The `infomin ...` lines of the section's bash blocks, comments dropped, as argv lists."""
    section = readme.split(title + "\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    lines = [shlex.split(line, comments=True) for block in blocks for line in block.splitlines()]
    return [argv[1:] for argv in lines if argv and argv[0] == "infomin"]


def _small(argv: list[str]) -> list[str]:
    """Small sizes: one seed, or two where the command asks for seeds (the paired
    intervals need two), in-process (`--workers 1`: spawning workers costs more than
    these tiny jobs; test_compare.py runs the pool)."""
    extra = SMALL[argv[0]]
    if argv[0] == "learn-views" and "compare" in argv:
        extra = [*extra, "--seeds", "2" if "--seeds" in argv else "1", "--workers", "1"]
    return [*argv, *extra]


def test_the_section_shows_the_commands_the_tests_run():
    commands = section_commands()
    assert {argv[0] for argv in commands} <= set(SMALL), commands
    assert any("--rows" in argv and "--seeds" in argv for argv in commands)  # the claims run


def test_every_command_of_the_section_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv in section_commands():
        assert main(_small(argv)) == 0, " ".join(argv)
    claims = [argv for argv in section_commands() if "--rows" in argv]
    out = tmp_path / claims[0][claims[0].index("--out") + 1]
    paired = json.loads((out / "results.json").read_text())["paired"]
    assert {p["reference"] for p in paired} == {"ydbdr split", "rgb split"}
    assert all(len(p["interval"]) == 2 for p in paired)
    assert "95% CI" in (out / "report.md").read_text()
