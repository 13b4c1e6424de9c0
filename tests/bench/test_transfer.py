"""bench.transfer: its AP is COCO's definition on cases worked by hand; the CLI runs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def transfer(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("bench.transfer")


def _boxes(*rows):
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


def _truth(*rows, labels):
    return {"boxes": _boxes(*rows), "labels": torch.tensor(labels)}


def _found(*rows, labels, scores):
    return {"boxes": _boxes(*rows), "labels": torch.tensor(labels), "scores": torch.tensor(scores)}


def test_perfect_detections_score_100(transfer):
    targets = [_truth([0, 0, 10, 10], [20, 20, 30, 34], labels=[3, 7])]
    found = [_found([0, 0, 10, 10], [20, 20, 30, 34], labels=[3, 7], scores=[0.9, 0.8])]
    assert transfer.average_precision(found, targets) == {"AP": 100.0, "AP50": 100.0, "AP75": 100.0}


def test_a_loose_box_counts_at_iou_50_not_75(transfer):
    """IoU of [0,0,10,10] with [0,0,10,15] is 100/150 = 0.67: a hit at 0.5..0.65 only."""
    targets = [_truth([0, 0, 10, 15], labels=[1])]
    scores = transfer.average_precision([_found([0, 0, 10, 10], labels=[1], scores=[1.0])], targets)
    assert scores["AP50"] == 100.0 and scores["AP75"] == 0.0
    assert scores["AP"] == pytest.approx(100 * 4 / 10)  # thresholds 0.50, 0.55, 0.60, 0.65


def test_a_better_scored_false_positive_halves_precision(transfer):
    """Ranked FP then TP: precision 0.5 at recall 1, so AP50 = 50 (101-point rule)."""
    targets = [_truth([0, 0, 10, 10], labels=[2]), _truth(labels=[])]
    found = [_found([0, 0, 10, 10], labels=[2], scores=[0.5]),
             _found([5, 5, 9, 9], labels=[2], scores=[0.9])]  # fmt: skip
    assert transfer.average_precision(found, targets)["AP50"] == pytest.approx(50.0)


def test_wrong_class_and_duplicates_do_not_count(transfer):
    """A box of the wrong digit misses; a second box on a matched digit is a false positive."""
    targets = [_truth([0, 0, 10, 10], [20, 0, 30, 10], labels=[4, 5])]
    found = [_found([0, 0, 10, 10], [0, 0, 10, 10], [20, 0, 30, 10],
                    labels=[4, 4, 6], scores=[0.9, 0.8, 0.7])]  # fmt: skip
    # class 4: hit then duplicate -> AP 100; class 5: never found -> AP 0
    assert transfer.average_precision(found, targets)["AP50"] == pytest.approx(50.0)


def test_quick_help_runs_as_a_module():
    done = subprocess.run(
        [sys.executable, "-m", "bench.transfer", "--quick", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and "--quick" in done.stdout and "--inits" in done.stdout


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["--max-digits", "9"], "do not fit a 64 px canvas"),
        (["--canvas", "200"], "canvas must be in [64, 96]"),
        (["--inits", "imagenet"], "unknown init"),
        (["--data-dir", "no-such-folder"], "dataset-fashion-mnist"),
        (["--cls-pool", "61"], "fewer than the 61 asked for"),
    ],
)
def test_bad_requests_exit_2_in_one_line(
    transfer, tmp_path, capsys, fashion_mnist_root, argv, phrase
):
    """Each refusal comes before any training, so nothing is written under --work."""
    data = ["--data-dir", str(fashion_mnist_root), "--cls-test", "20"]
    work = tmp_path / "work"
    code = transfer.main(["--quick", "--work", str(work), "--out", str(tmp_path), *data, *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and phrase in err and "\n" not in err
    assert not work.exists()


@pytest.fixture
def tiny(fashion_mnist_root):
    """A --quick run shrunk to seconds, on the Fashion-MNIST fixture."""
    return ["--quick", "--pretrain-steps", "2", "--pretrain-images", "64", "--det-steps", "2",
            "--cls-steps", "2", "--det-train", "8", "--det-test", "4", "--cls-pool", "60",
            "--cls-test", "20", "--data-dir", str(fashion_mnist_root)]  # fmt: skip


def test_tiny_run_end_to_end(transfer, tmp_path, tiny):
    """Pretrain (simclr), export, strict load, detect, score: the whole path."""
    argv = [*tiny, "--inits", "random,simclr", "--work", str(tmp_path)]
    assert transfer.main([*argv, "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "transfer-quick.json").read_text())
    assert set(result["table"]) == {"random", "simclr"}
    assert (tmp_path / "seed0" / "simclr" / "backbone.pt").is_file()
    for row in result["table"].values():
        assert 0 <= row["AP"][0] <= 100 and 0 <= row["top1@10%"][0] <= 100


def test_rows_do_not_depend_on_the_process_that_ran_them(transfer, tmp_path, tiny):
    """--jobs 2 (two spawned processes) scores every cell exactly as one process does."""
    argv = [*tiny, "--inits", "random,supervised"]
    tables = []
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}"
        assert transfer.main([*argv, "--jobs", jobs, "--work", str(out), "--out", str(out)]) == 0
        table = json.loads((out / "transfer-quick.json").read_text())["table"]
        tables.append({init: {k: v for k, v in row.items() if not k.endswith("_s")}
                       for init, row in table.items()})  # fmt: skip
    assert tables[0] == tables[1]


def _row(ap, top1):
    return {"AP": ap, "AP50": ap, "AP75": ap, "top1@1%": top1, "top1@10%": top1}


def test_the_verdict_pairs_seeds_against_supervised(transfer):
    """Worked by hand: simclr beats supervised by 2, 3, 4 AP (its interval excludes 0) and
    loses 1, 1, 3 points of top-1 (its interval crosses 0)."""
    runs = [{"supervised": _row(10, 50), "simclr": _row(12, 49)},
            {"supervised": _row(20, 60), "simclr": _row(23, 59)},
            {"supervised": _row(30, 70), "simclr": _row(34, 67)}]  # fmt: skip
    found = transfer.compare(runs)["simclr"]
    assert found["AP"]["difference"] == pytest.approx(3.0)
    assert found["AP"]["per_seed"] == [2, 3, 4] and found["AP"]["verdict"] == "positive"
    # top-1 differences -1, -1, -3: mean -5/3, t_2 interval [-4.54, +1.20]: undecided
    assert found["top1@1%"]["difference"] == pytest.approx(-5 / 3)
    assert found["top1@1%"]["verdict"] == "undecided"
    assert transfer.compare([{"random": _row(1, 1)}]) == {}  # no supervised row: no verdict


def test_summarise_rewrites_a_saved_result_without_training(transfer, tmp_path, capsys):
    runs = [{"supervised": _row(10, 50), "infomin": _row(11, 52)},
            {"supervised": _row(12, 51), "infomin": _row(14, 53)}]  # fmt: skip
    path = tmp_path / "transfer.json"
    path.write_text(json.dumps({"plan": {"seeds": 2}, "runs": runs, "wall_s": 7.0}))
    assert transfer.main(["--summarise", str(path)]) == 0
    record = json.loads(path.read_text())
    assert record["wall_s"] == 7.0 and record["table"]["infomin"]["AP"] == [
        12.5,
        pytest.approx(2.1213, abs=1e-4),
    ]
    assert "| infomin | +1.5 [" in record["markdown_comparison"]
    assert "| infomin | +1.5 [" in capsys.readouterr().out
    path.write_text("{}")
    assert transfer.main(["--summarise", str(path)]) == 2
    assert "not a bench.transfer result" in capsys.readouterr().err


def test_resume_keeps_finished_cells_of_the_same_plan_only(transfer, tmp_path, tiny):
    """A saved row is kept with --resume; without it, or for another plan, cells rerun."""
    argv = [*tiny, "--inits", "random", "--work", str(tmp_path), "--out", str(tmp_path)]
    saved = tmp_path / "seed0" / "random.json"

    def ap(*extra: str) -> float:
        assert transfer.main([*argv, *extra]) == 0
        table = json.loads((tmp_path / "transfer-quick.json").read_text())["table"]
        return table["random"]["AP"][0]

    first = ap()
    record = json.loads(saved.read_text())
    record["row"]["AP"] = 123.0  # a marker no real run produces
    saved.write_text(json.dumps(record))
    assert ap("--resume") == 123.0
    assert ap("--resume", "--det-steps", "3") != 123.0  # another plan: rerun
    saved.write_text(json.dumps(record))
    assert ap() == first  # no --resume: rerun, and the same seed gives the same row
