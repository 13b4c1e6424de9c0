"""Configs: frozen dataclasses filled from YAML files and command-line overrides.

A typo in a config must not be silently ignored: unknown keys are refused with a
did-you-mean, and values are checked against the field's type before any work starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config that cannot be used, described in one line."""


def _check_type(name: str, value: Any, annotation: Any) -> Any:
    """Coerce ints to floats where a float is expected; refuse anything else off-type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        annotation = next(a for a in options if a is not type(None))
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool) and (
        not isinstance(value, annotation) or (annotation is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{name} must be {annotation.__name__}, got {value!r}")
    return value


def build_config(cls: type[T], values: dict[str, Any], source: str = "config") -> T:
    """An instance of dataclass `cls` from `values`, refusing unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown key {key!r} in {source}{hint}")
    checked = {k: _check_type(k, v, hints[k]) for k, v in values.items()}
    return cls(**checked)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from `path`, or a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of keys to values")
    return data
