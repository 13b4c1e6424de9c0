from __future__ import annotations

import math

import pytest

from infomin.experiments.statistics import (
    claim_holds,
    interval_verdict,
    mean_std,
    paired_difference,
    pm,
    summarize,
    t_interval,
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


def test_t_interval_matches_a_hand_computed_one():
    """diffs 1..5: mean 3, sample std sqrt(2.5), se sqrt(2.5/5) = 0.70711; t(0.975, df=4)
    = 2.776 from a printed t table, so the 95% interval is 3 ± 1.963."""
    low, high = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert low == pytest.approx(3 - 2.776 * 0.70711, abs=1e-3)
    assert high == pytest.approx(3 + 2.776 * 0.70711, abs=1e-3)
    # 10 differences, 90%: t(0.95, df=9) = 1.833; std of 0,2,..,18 = 6.0553, se 1.9149
    low, high = t_interval([2.0 * i for i in range(10)], confidence=0.90)
    assert (low, high) == pytest.approx((9 - 1.833 * 1.9149, 9 + 1.833 * 1.9149), abs=2e-3)
    assert t_interval([4.0]) is None


def test_paired_difference_carries_the_interval_of_its_per_seed_differences():
    paired = paired_difference([3.0, 5.0, 4.0, 8.0, 10.0], [2.0, 3.0, 1.0, 4.0, 5.0])
    assert paired["per_seed"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert paired["interval"] == pytest.approx(t_interval(paired["per_seed"]))
    assert paired["confidence"] == 0.95
    assert paired_difference([1.0], [0.0])["interval"] is None


def test_interval_verdicts():
    assert interval_verdict((0.2, 3.0)) == "positive"
    assert interval_verdict((-3.0, -0.1)) == "negative"
    assert interval_verdict((-0.4, 0.8), margin=1.0) == "no effect > 1"
    assert interval_verdict((-0.4, 1.3), margin=1.0) == "undecided"  # 1.3 > the margin
    assert interval_verdict((-0.4, 0.8)) == "undecided"  # no margin: no equivalence claim
    assert interval_verdict(None) == "unknown"
