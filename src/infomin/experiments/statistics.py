"""The statistics of every view experiment: mean ± std over seeds, paired differences, claims.

Why one module: one training run gives one noisy number, so every table of this package
(`mi`, sweeps, the toy table, the view-learning comparison) reports the mean and the
*sample* standard deviation over seeds, and every claim ("row A beats row B") is a
difference paired by seed (same data draw, same initialisation) that must exceed its
own spread. Written once here, they cannot drift apart.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

# Keys of a run that are bookkeeping, not measurements to average.
NOT_AVERAGED = ("seed",)


def mean_std(values: Sequence[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": mean, "std": std}


def summarize(runs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Per numeric key of the first run, the mean and std over runs (missing keys skipped)."""
    keys = [k for k, v in runs[0].items() if k not in NOT_AVERAGED and is_number(v)]
    return {k: mean_std([float(run[k]) for run in runs if k in run]) for k in keys}


def is_number(value: object) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def pm(stats: Mapping[str, float] | None, digits: int = 2) -> str:
    """``mean ± std`` text (empty for None)."""
    if stats is None:
        return ""
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def paired_difference(ours: Sequence[float], theirs: Sequence[float]) -> dict[str, Any]:
    """``ours - theirs`` paired by seed: the per-seed differences, their mean and spread.

    The spread is the sample std of the differences; None with one seed (unknown).
    """
    diffs = [a - b for a, b in zip(ours, theirs, strict=True)]
    spread = statistics.stdev(diffs) if len(diffs) > 1 else None
    return {"difference": statistics.fmean(diffs), "spread": spread, "per_seed": diffs}


def claim_holds(difference: float, spread: float | None, direction: int) -> bool:
    """A difference in the claimed direction (+1 or -1) and larger than its spread.

    With an unknown spread (one seed) only the sign is checked.
    """
    return direction * difference > 0 and (spread is None or abs(difference) > spread)
