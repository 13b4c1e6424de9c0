"""Every shipped YAML config is a valid pretrain config (no typo can hide in them)."""

from pathlib import Path

import pytest

from infomin.config import build_config, load_yaml
from infomin.methods.pretrain import PretrainConfig

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_is_valid(path):
    build_config(PretrainConfig, load_yaml(path), source=str(path))


def test_there_are_configs():
    assert CONFIGS
