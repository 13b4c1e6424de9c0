"""Human-readable tables beside the machine-readable JSON.

One markdown table format serves the terminal, `report.md` and the README, so the
numbers a user sees are formatted the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def format_value(value: object) -> str:
    """Numbers to 2 decimals (accuracies in %, errors in px), everything else as text."""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(format_value(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_table(runs: Mapping[str, Mapping[str, float]], label: str = "encoder") -> str:
    """One row per run, one column per metric key (the union, in first-seen order)."""
    keys: list[str] = []
    for metrics in runs.values():
        keys += [k for k in metrics if k not in keys]
    rows = [[name, *(metrics.get(k, "") for k in keys)] for name, metrics in runs.items()]
    return markdown_table([label, *keys], rows)
