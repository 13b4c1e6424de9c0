"""`--help` texts generated from the grammar and the named experiments, built lazily."""

import subprocess
import sys

import pytest

from infomin.cli import main
from infomin.experiments.sweep import EXPERIMENTS
from infomin.views.specs import KINDS


def _help(command: str, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", ["mi", "sweep"])
def test_help_lists_every_kind_of_views(command, capsys):
    text = _help(command, capsys)
    assert "{view specs}" not in text
    for name in KINDS:
        assert f"\n  {name}:" in text, name


def test_sweep_help_lists_every_named_experiment(capsys):
    text = _help("sweep", capsys)
    assert "{named experiments}" not in text
    for name in EXPERIMENTS:
        assert f"\n  {name}: " in text, name


def test_building_the_parser_does_not_import_the_grammar():
    """The help is generated when printed, so start-up does not pay for the view stack."""
    code = (
        "import sys; from infomin.cli import build_parser; build_parser(); "
        "print('infomin.views.specs' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
