"""View specs: one short string names a pair of views, parsed into a `PairSource`.

Why a string: `infomin mi` and `infomin sweep` take views on the command line, and a
sweep changes one parameter of a spec at a time (`with_param`), so the views of every
experiment must be nameable, comparable and round-trippable as text.

The grammar is written once, in `KINDS`: per kind, its parameters (in canonical order,
each with its placeholder and check), what the views are, the datasets it takes and how
its source is built. ``GRAMMAR`` (the end of every error message) and `kinds_help()`
(help texts) are generated from it::

    SPEC  := KIND [":" ITEM ("," ITEM)*]
    ITEM  := VALUE            the kind's main parameter (only as the first item)
           | NAME "=" VALUE

The kinds themselves (`KINDS`: parameters, meaning, builders) are in
`infomin.views.spec_kinds`, the sources in `infomin.views.sources` and
`infomin.views.toy`; this module parses and writes specs and builds their sources. It is
the public face of both: `KINDS`, `GRAMMAR`, `SpecError` and `kinds_help` are imported
from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infomin.data import image_channels
from infomin.data.base import DatasetError
from infomin.views.pairs import PairSource
from infomin.views.spec_kinds import GRAMMAR, KINDS, Kind, SpecError, kinds_help

__all__ = [
    "GRAMMAR",
    "KINDS",
    "SpecError",
    "ViewSpec",
    "check_views_data",
    "default_data",
    "kinds_help",
    "parse_spec",
    "parse_view_spec",
    "spec_parameters",
    "with_param",
]


# ---------------------------------------------------------------------------------
# Parsing and formatting
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewSpec:
    """A parsed spec: the kind and its parameters as canonical text."""

    kind: str
    params: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        info = KINDS[self.kind]
        items = [v if k == info.main and info.bare_main else f"{k}={v}" for k, v in self.params]
        return f"{self.kind}:{','.join(items)}" if items else self.kind

    def values(self) -> dict[str, Any]:
        """The parameters converted to their Python values."""
        converters = KINDS[self.kind].params
        return {k: converters[k].convert(v) for k, v in self.params}


def _canonical_text(value: Any) -> str:
    """How a converted value is written back: numbers with ``:g`` (0.30 -> 0.3)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return f"{value:g}"
    return str(value)


def _split_items(kind: Kind, body: str) -> dict[str, str]:
    """``"lab,size=16"`` -> ``{"space": "lab", "size": "16"}`` (no conversion yet)."""
    items: dict[str, str] = {}
    for position, item in enumerate(part.strip() for part in body.split(",")):
        if not item:
            raise SpecError(f"empty item in {body!r}")
        name, has_eq, value = item.partition("=")
        if not has_eq:
            if position != 0:
                raise SpecError(f"bare value {item!r} must come first (or write NAME=VALUE)")
            name, value = kind.main, item
        name, value = name.strip(), value.strip()
        if name in items:
            raise SpecError(f"parameter {name!r} given twice")
        items[name] = value
    return items


def _canonical_params(kind: Kind, raw: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Check names, requirements and values; order the parameters canonically."""
    for name in raw:
        if name not in kind.params:
            raise SpecError(
                f"{kind.name} has no parameter {name!r} (parameters: {', '.join(kind.params)})"
            )
    missing = [name for name in kind.required if name not in raw]
    if missing:
        raise SpecError(f"{kind.name} needs {missing[0]}")
    params = []
    for name in kind.params:
        if name in raw:
            try:
                value = kind.params[name].convert(raw[name])
            except ValueError as err:
                raise SpecError(f"{kind.name} {name}={raw[name]}: {err}") from None
            params.append((name, _canonical_text(value)))
    return tuple(params)


def parse_spec(spec: str) -> ViewSpec:
    """Parse and validate the text of a spec (no data is touched)."""
    text = spec.strip()
    kind_name, _, body = text.partition(":")
    kind_name = kind_name.strip().lower()
    if kind_name not in KINDS:
        raise SpecError(f"unknown kind {kind_name!r} in {spec!r}")
    kind = KINDS[kind_name]
    raw = _split_items(kind, body) if body.strip() else {}
    return ViewSpec(kind.name, _canonical_params(kind, raw))


def with_param(spec: str, name: str, value: object) -> str:
    """The canonical spec with parameter ``name`` set to ``value`` (what sweeps vary)."""
    parsed = parse_spec(spec)
    kind = KINDS[parsed.kind]
    raw = dict(parsed.params)
    raw[name] = str(value)
    return str(ViewSpec(kind.name, _canonical_params(kind, raw)))


def spec_parameters(spec: str) -> tuple[str, ...]:
    """The parameter names the spec's kind accepts (for help texts and `--vary` checks)."""
    return tuple(KINDS[parse_spec(spec).kind].params)


def default_data(spec: str) -> str:
    """The dataset a spec uses when none is given."""
    return KINDS[parse_spec(spec).kind].default_data


def parse_view_spec(spec: str, data: str | None = None, data_dir: str | None = None) -> PairSource:
    """Build the `PairSource` that ``spec`` names, on dataset ``data`` (None: its default)."""
    parsed = parse_spec(spec)
    kind = KINDS[parsed.kind]
    data = data or kind.default_data
    if kind.datasets is not None and data not in kind.datasets:
        raise DatasetError(
            f"{kind.name} views need data {' or '.join(kind.datasets)}, not {data!r}"
        )
    check_views_data(spec, data)
    return kind.build(parsed.values(), data, data_dir, str(parsed))


def check_views_data(spec: str, data: str) -> None:
    """Refuse, before any work (also on `--dry-run`), views that cannot run on this data,
    in one line: views that need colour on a grey dataset, a learned view file that is
    not there."""
    parsed = parse_spec(spec)
    use = KINDS[parsed.kind].colour_use
    reason = None if use is None else use(parsed.values())
    if reason is not None and image_channels(data) == 1:
        raise DatasetError(
            f"views {parsed} need colour images ({reason}); dataset {data!r} is grayscale "
            "(1 channel): use recipe views A, B or D"
        )
    path = parsed.values().get("path")
    if parsed.kind == "learned" and not Path(path).is_file():
        raise DatasetError(
            f"views {parsed}: no learned view file at {path} (`infomin learn-views` saves one)"
        )
