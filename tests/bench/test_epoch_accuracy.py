"""`bench.epoch_accuracy`: the before/after accuracy comparison's arithmetic and page.

The runs themselves are pretrainings (minutes); here the paired comparison they feed is
checked on made-up runs whose verdicts are known.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def epoch_accuracy(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("bench.epoch_accuracy")


def runs(before: list[float], after: list[float]) -> dict[str, list[dict[str, float]]]:
    return {
        "before": [{"digit.linear_top1": v} for v in before],
        "after": [{"digit.linear_top1": v} for v in after],
    }


def test_a_shift_beyond_the_noise_is_a_change(epoch_accuracy) -> None:
    row = epoch_accuracy.compare(runs([50, 60, 70], [55.1, 64.9, 75.0]), margin=2.0)
    row = row["digit.linear_top1"]
    assert row["difference"] == pytest.approx(5.0)
    assert row["before"]["mean"] == pytest.approx(60.0)
    assert row["verdict"] == "positive"  # paired: seed-to-seed spread cancels


def test_tiny_paired_differences_mean_no_change(epoch_accuracy) -> None:
    row = epoch_accuracy.compare(runs([50, 60, 70], [50.2, 59.9, 70.1]), margin=2.0)
    assert row["digit.linear_top1"]["verdict"] == "no effect > 2"


def test_noisy_differences_are_undecided(epoch_accuracy) -> None:
    row = epoch_accuracy.compare(runs([50, 60, 70], [56, 55, 73]), margin=2.0)
    assert row["digit.linear_top1"]["verdict"] == "undecided"


def test_the_benchmarks_page_shows_the_comparison(epoch_accuracy, tmp_path) -> None:
    from bench.render import main

    results = tmp_path / "results"
    results.mkdir()
    settings = {"before": "aa72534", "presets": ["simclr"], "seeds": 3, "epochs": 5,
                "train_size": 4000, "batch_size": 128, "margin": 2.0}  # fmt: skip
    cell = {"runs": {}, "compare": epoch_accuracy.compare(runs([50, 60, 70], [50, 60, 70]), 2)}
    record = {
        "name": "epoch_accuracy", "command": "python -m bench.epoch_accuracy", "wall_s": 60.0,
        "date_utc": "2026-11-29 21:00", "settings": settings, "presets": {"simclr": cell},
        "machine": {"cpu": "Test CPU", "cores": 2, "torch": "2", "python": "3",
                    "torch_threads": 1},
    }  # fmt: skip
    (results / "epoch_accuracy.json").write_text(json.dumps(record))
    main(["--results", str(results), "--out", str(tmp_path / "BENCHMARKS.md")])
    page = (tmp_path / "BENCHMARKS.md").read_text()
    assert "## 7. Same accuracy after the speed-ups" in page
    assert "| simclr | digit.linear_top1 | 60.0 ± 10.0 | 60.0 ± 10.0 | +0.0" in page
    assert "`python -m bench.epoch_accuracy`" in page
