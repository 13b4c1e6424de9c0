from dataclasses import dataclass

import pytest

from infomin.config import ConfigError, build_config, load_yaml


@dataclass(frozen=True)
class Example:
    epochs: int = 1
    lr: float | None = None
    name: str = "x"


def test_ints_become_floats_and_none_is_allowed():
    assert build_config(Example, {"lr": 1}) == Example(lr=1.0)
    assert build_config(Example, {"lr": None}).lr is None


@pytest.mark.parametrize(
    ("values", "message"),
    [({"epoch": 3}, "did you mean 'epochs'"), ({"epochs": "3"}, "epochs must be int"),
     ({"epochs": True}, "epochs must be int"), ({"name": 3}, "name must be str")],
)  # fmt: skip
def test_bad_values_are_refused(values, message):
    with pytest.raises(ConfigError, match=message):
        build_config(Example, values)


def test_load_yaml_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_yaml(listing)
