from __future__ import annotations

import math

import pytest

from infomin.experiments.statistics import (
    claim_holds,
    mean_std,
    paired_difference,
    pm,
    summarize,
)


def test_mean_std_is_the_sample_spread_and_zero_for_one_value():
    assert mean_std([1.0, 2.0, 3.0]) == {"mean": 2.0, "std": 1.0}
    assert mean_std([5.0]) == {"mean": 5.0, "std": 0.0}
    summary = summarize(
        [{"seed": 0, "i_nce": 1.0, "a.b": 10.0, "ok": True},
         {"seed": 1, "i_nce": 3.0, "a.b": 20.0, "ok": False}]
    )  # fmt: skip
    assert set(summary) == {"i_nce", "a.b"}  # neither the seed nor booleans are averaged
    assert summary["i_nce"]["mean"] == 2.0 and summary["a.b"]["std"] == pytest.approx(math.sqrt(50))


def test_pm_writes_mean_and_std_and_nothing_for_none():
    assert pm({"mean": 1.234, "std": 0.05}) == "1.23 ± 0.05"
    assert pm({"mean": 1.234, "std": 0.05}, 1) == "1.2 ± 0.1"
    assert pm(None) == ""


def test_paired_differences_and_claims():
    paired = paired_difference([50, 52, 51], [30, 31, 29])
    assert paired["per_seed"] == [20, 21, 22] and paired["difference"] == 21
    assert paired["spread"] == pytest.approx(1.0)
    assert claim_holds(paired["difference"], paired["spread"], +1)
    assert not claim_holds(paired["difference"], paired["spread"], -1)
    noisy = paired_difference([50, 20, 45], [30, 31, 29])
    assert not claim_holds(noisy["difference"], noisy["spread"], +1)  # inside its spread
    one = paired_difference([3.0], [1.0])
    assert one["spread"] is None and claim_holds(one["difference"], None, +1)
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])
