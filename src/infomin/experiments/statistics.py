"""The statistics of every view experiment: mean ± std over seeds, paired differences, claims.

Why one module: one training run gives one noisy number, so every table of this package
(`mi`, sweeps, the toy table, the view-learning comparison) reports the mean and the
*sample* standard deviation over seeds, and every claim ("row A beats row B") is a
difference paired by seed (same data draw, same initialisation) that must exceed its
own spread. Where a claim is to be settled rather than screened (the view-learning
comparison at 10+ seeds), the paired difference carries a Student-t confidence interval
of its mean. Written once here, they cannot drift apart.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from scipy import stats as scipy_stats

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


def paired_difference(
    ours: Sequence[float], theirs: Sequence[float], confidence: float = 0.95
) -> dict[str, Any]:
    """``ours - theirs`` paired by seed: the per-seed differences, their mean and spread,
    and the ``confidence`` interval of the mean difference (`t_interval`).

    The spread is the sample std of the differences; spread and interval are None with
    one seed (unknown).
    """
    diffs = [a - b for a, b in zip(ours, theirs, strict=True)]
    spread = statistics.stdev(diffs) if len(diffs) > 1 else None
    interval = t_interval(diffs, confidence)
    return {
        "difference": statistics.fmean(diffs), "spread": spread, "per_seed": diffs,
        "confidence": confidence, "interval": interval,
    }  # fmt: skip


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """Student-t confidence interval of the mean: mean ± t_{n-1} * std / sqrt(n).

    Why Student-t: the per-seed differences are few (3-20) and their std is estimated
    from them, so the normal quantile (1.96) would make the interval too narrow (t_9 at
    95% is 2.26). None for fewer than two values.
    """
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    quantile = float(scipy_stats.t.ppf(0.5 + confidence / 2, df=len(values) - 1))
    half = quantile * statistics.stdev(values) / math.sqrt(len(values))
    return (mean - half, mean + half)


def interval_verdict(interval: tuple[float, float] | None, margin: float | None = None) -> str:
    """What an interval of a difference settles: a sign, no effect beyond ``margin``, or nothing.

    ``positive``/``negative``: it excludes 0; ``no effect > MARGIN``: it lies inside
    (-margin, margin) (an equivalence claim, only with a margin); ``undecided``: neither,
    more seeds needed; ``unknown``: no interval (one seed).
    """
    if interval is None:
        return "unknown"
    low, high = interval
    if low > 0:
        return "positive"
    if high < 0:
        return "negative"
    if margin is not None and -margin < low and high < margin:
        return f"no effect > {margin:g}"
    return "undecided"


def claim_holds(difference: float, spread: float | None, direction: int) -> bool:
    """A difference in the claimed direction (+1 or -1) and larger than its spread.

    With an unknown spread (one seed) only the sign is checked.
    """
    return direction * difference > 0 and (spread is None or abs(difference) > spread)
