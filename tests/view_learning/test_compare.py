"""The comparison: rows of fixed and learned views, in-process or in worker processes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infomin.experiments.pairs import CriticConfig, Sizes
from infomin.experiments.statistics import t_interval
from infomin.view_learning.compare import (
    LearnViewsConfig,
    comparison_table,
    paired_differences,
    paired_table,
    run_comparison,
)
from infomin.view_learning.game import GameConfig

TINY = LearnViewsConfig(
    modes=("unsupervised",), fixed_spaces=("rgb",),
    game=GameConfig(steps=2, checkpoints=1, batch_size=128, critic=CriticConfig(width=0.25)),
    critic=CriticConfig(width=0.25, epochs=1, batch_size=128),
    sizes=Sizes(train_pairs=256, test_pairs=256, probe_train=64, probe_test=64, test_batch=128),
)  # fmt: skip


@pytest.mark.parametrize("workers", [1, 2])
def test_rows_and_step_zero_is_the_input_space_split(workers, tmp_path):
    results = run_comparison(TINY, tmp_path, workers=workers)
    rgb, learned = results["fixed"]["rgb"][0], results["learned"]["unsupervised"][0]
    start, final = learned["trajectory"]
    assert start["step"] == 0 and start["i_nce"] == rgb["i_nce"]  # identity g = rgb split
    assert final["step"] == 2 and learned["i_nce"] == final["i_nce"]
    assert [row["views"] for row in results["rows"]] == ["rgb split", "learned: unsupervised"]
    assert (tmp_path / "g-unsupervised.pt").is_file()
    assert "learned: unsupervised" in comparison_table(results, "photo.linear_top1", 4.85)


def test_step_zero_is_evaluated_when_no_fixed_row_matches():
    config = replace(TINY, fixed_spaces=())
    learned = run_comparison(config)["learned"]["unsupervised"][0]
    assert "i_nce" in learned["trajectory"][0]


@pytest.mark.slow
def test_unsupervised_game_lowers_i_nce_below_the_rgb_split():
    """The paper's unsupervised game at the README's settings (seed 0, about a minute)."""
    config = LearnViewsConfig(modes=("unsupervised",), fixed_spaces=("rgb",),
                              game=GameConfig(checkpoints=1))  # fmt: skip
    results = run_comparison(config)
    rgb, learned = results["fixed"]["rgb"][0], results["learned"]["unsupervised"][0]
    assert learned["i_nce"] < rgb["i_nce"] - 0.5


def _runs(values: list[float], key: str = "accuracy") -> list[dict]:
    return [{"seed": seed, key: v, "i_nce": v / 10} for seed, v in enumerate(values)]


def test_paired_differences_are_learned_minus_fixed_by_seed_with_intervals():
    results = {
        "learned": {"semi-supervised": _runs([80, 80, 80, 79]), "unsupervised": _runs([66, 70])},
        "fixed": {"ydbdr": _runs([77, 78, 76, 77]), "rgb": _runs([70, 70]), "lab": _runs([1])},
    }
    pairs = {(p["row"], p["metric"]): p for p in paired_differences(results)}
    semi = pairs[("learned: semi-supervised", "accuracy")]
    assert semi["reference"] == "ydbdr split" and semi["per_seed"] == [3, 2, 4, 2]
    assert semi["interval"] == pytest.approx(t_interval([3, 2, 4, 2]))
    assert semi["verdict"] == "positive" and semi["seeds"] == [0, 1, 2, 3]
    assert pairs[("learned: semi-supervised", "i_nce")]["margin"] is None
    assert pairs[("learned: unsupervised", "accuracy")]["verdict"] == "undecided"
    table = paired_table(results | {"paired": list(pairs.values())}, "photo.linear_top1")
    assert "| learned: semi-supervised - ydbdr split | photo.linear_top1 (points) | +2.8 |" in table
    assert "4 / 4" in table and "95% CI" in table
    del results["fixed"]["rgb"]  # a pair whose reference was not run is left out
    assert {p["row"] for p in paired_differences(results)} == {"learned: semi-supervised"}


def test_paired_differences_refuse_rows_of_different_seeds():
    results = {"learned": {"unsupervised": _runs([1, 2])}, "fixed": {"rgb": _runs([1, 2, 3])}}
    with pytest.raises(ValueError, match="different seeds"):
        paired_differences(results)
