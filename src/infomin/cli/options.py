"""Where each option's value comes from: default, then preset, then `--config FILE`, then
only the flags actually typed on the command line.

Why one mechanism: argparse fills every option with its default, so "was this flag typed?"
cannot be read off the parsed namespace. A command that merged a config file with such a
namespace let defaults beat the file (a `data: cifar10` file trained on the embedded toy
data). Here the typed flags are found by parsing the same command line a second time with
every default suppressed; every command that takes `--config` resolves its options through
`resolve`, and records each value's source in its `config.yaml`, so that
`--config RUN/config.yaml` reruns the run.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infomin.config import ConfigError, load_yaml

# Namespace entries that are not options of a run: where it goes and how it is driven.
NOT_OPTIONS = frozenset(
    {"help", "version", "config", "dry_run", "out", "resume", "overwrite", "run", "command"}
)
SOURCES = ("default", "preset", "file", "flag")


@dataclass
class Resolved:
    """Every option's value and where it came from (`SOURCES`)."""

    values: dict[str, Any]
    sources: dict[str, str]
    notes: dict[str, str] = field(default_factory=dict)  # e.g. what a preset fills in


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """`--config FILE` and `--dry-run`, the same for every command that takes a config."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="YAML file of option values (keys as the flags, with underscores; a run's own "
        "config.yaml reruns it); flags typed on the command line win over the file",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved options with their source (default, preset, file, flag) "
        "and exit without reading data or writing anything",
    )


def option_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The parser's options that configure a run, by destination name."""
    return {
        action.dest: action
        for action in parser._actions
        if action.dest not in NOT_OPTIONS and action.dest is not argparse.SUPPRESS
        and not isinstance(action, argparse._SubParsersAction)
    }  # fmt: skip


def subcommand_parser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The sub-parser of command `name`."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise KeyError(name)


def typed_dests(build_parser: Callable[[], argparse.ArgumentParser], argv: list[str]) -> set[str]:
    """The destinations of the flags typed in `argv` (a default never counts as typed)."""
    parser = build_parser()
    _suppress_defaults(parser)
    return set(vars(parser.parse_args(argv)))


def _suppress_defaults(parser: argparse.ArgumentParser) -> None:
    parser._defaults.clear()  # set_defaults(...) entries
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _suppress_defaults(sub)
        else:
            action.default = argparse.SUPPRESS


def resolve(args: argparse.Namespace, defaults: dict[str, Any] | None = None) -> Resolved:
    """Merge default < `--config` file < typed flags, and write the result back into
    `args` (so the command reads `args.x` as before).

    `defaults` replaces the parser's own defaults where a config dataclass holds them.
    File values are checked as if typed: unknown keys get a did-you-mean, values go
    through the flag's own type and choices. (A preset's layer, between the default and
    the file, is the command's: it fills what is still unset, see `cli/pretrain.py`.)
    """
    actions = option_actions(args.parser)
    config_path = getattr(args, "config", None)
    from_file = load_yaml(config_path) if config_path else {}
    where = str(config_path) if config_path else "config"
    _check_keys(from_file, actions, where)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for dest, action in actions.items():
        if dest in args.typed:
            values[dest], sources[dest] = getattr(args, dest), "flag"
        elif dest in from_file:
            values[dest], sources[dest] = _coerce(action, from_file[dest], where), "file"
        elif defaults is not None:
            values[dest], sources[dest] = defaults[dest], "default"
        else:
            values[dest], sources[dest] = getattr(args, dest, None), "default"
        setattr(args, dest, values[dest])
    return Resolved(values, sources)


def _check_keys(values: dict[str, Any], actions: dict[str, argparse.Action], where: str) -> None:
    for key in values:
        if key not in actions:
            close = difflib.get_close_matches(str(key), list(actions), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown key {key!r} in {where}{hint}")


def _coerce(action: argparse.Action, value: Any, where: str) -> Any:
    """A file value checked by the flag's own rules (type, choices, on/off, lists)."""
    name = action.dest
    if value is None:
        if action.default in (None, argparse.SUPPRESS):
            return None
        raise ConfigError(f"{name} in {where} cannot be empty")
    if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction):  # on/off
        if not isinstance(value, bool):
            raise ConfigError(f"{name} in {where} must be true or false, got {value!r}")
        return value
    if action.nargs in ("+", "*"):
        items = value if isinstance(value, list) else [value]
        return [_coerce_one(action, item, where) for item in items]
    return _coerce_one(action, value, where)


def _coerce_one(action: argparse.Action, value: Any, where: str) -> Any:
    name = action.dest
    if isinstance(value, dict | list) or (isinstance(value, bool) and action.type is not None):
        raise ConfigError(f"{name} in {where} must be a single value, got {value!r}")
    if action.type is None:
        if not isinstance(value, str):
            raise ConfigError(f"{name} in {where} must be a string, got {value!r}")
    else:
        try:
            value = action.type(str(value))
        except argparse.ArgumentTypeError as err:  # the flag's own words: "expected ..."
            raise ConfigError(f"{name} in {where}: {err}") from None
        except (ValueError, TypeError):
            kind = "int" if "int" in getattr(action.type, "__name__", "") else "a number"
            raise ConfigError(f"{name} in {where} must be {kind}, got {value!r}") from None
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise ConfigError(f"{name} in {where} must be one of {choices}; got {value!r}")
    return value


def source_lines(resolved: Resolved, keys: Iterable[str] | None = None) -> list[str]:
    """`key: value  # source` lines, valid YAML (the comment is the source)."""
    lines = []
    for key in keys or resolved.values:
        # A one-item flow list renders any value on one line, quoted where YAML needs it.
        value = yaml.safe_dump([resolved.values[key]], default_flow_style=True, width=10**6)
        note = resolved.notes.get(key)
        source = resolved.sources[key] + (f": {note}" if note else "")
        lines.append(f"{key}: {value.strip()[1:-1]}  # {source}")
    return lines


def config_text(resolved: Resolved, command: str) -> str:
    """A run's `config.yaml`: the command line, then every option with its source."""
    header = [
        f"# {command}",
        "# Every option of this run, with its source (default, preset, file or flag).",
        "# Rerun it with: infomin COMMAND --config THIS_FILE --out NEW_FOLDER",
    ]
    return "\n".join([*header, *source_lines(resolved)]) + "\n"


def write_config(path: Path, resolved: Resolved, argv: list[str]) -> Path:
    """Atomically write `config_text` to `path` (`argv`: the command line as typed)."""
    from infomin.outputs import write_text

    return write_text(path, config_text(resolved, shlex.join(argv)))


def print_dry_run(resolved: Resolved) -> int:
    """`--dry-run`: the resolved options and their sources; nothing read or written."""
    print("\n".join(source_lines(resolved)))
    return 0
