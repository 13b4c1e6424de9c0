"""The benchmark scripts: paired timing, the CPU path of the GPU bench, the rendered page.

Timed numbers are never asserted here (they depend on the machine); what is checked is
the machinery that makes them trustworthy.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ("step", "data", "probe", "memory", "gpu", "epoch", "epoch_accuracy")


@pytest.fixture
def bench(monkeypatch):
    """The `bench` package (it lives beside `src`, importable from the repo root)."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("bench")


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_has_help_with_quick(bench, script, capsys) -> None:
    module = importlib.import_module(f"bench.{script}")
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out


def test_alternate_rotates_the_order_and_pairs_rounds(bench) -> None:
    from bench.common import alternate, paired_ratio

    calls: list[str] = []
    variants = {name: (lambda n=name: calls.append(n)) for name in ("a", "b", "c")}
    times = alternate(variants, rounds=3, repeats=1, warmup=0)
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert all(len(t) == 3 for t in times.values())
    fake = {"ours": [2.0, 4.0, 30.0], "peer": [1.0, 4.0, 10.0]}  # a slow round hits both
    assert paired_ratio(fake, "ours", "peer") == 2.0


def test_alternate_starts_no_round_after_the_deadline(bench) -> None:
    from bench.common import alternate

    times = alternate({"a": lambda: None}, rounds=5, repeats=1, warmup=0, deadline=0.0)
    assert len(times["a"]) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the path without a GPU")
def test_gpu_bench_without_cuda_says_so_and_exits_zero(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.gpu", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "no CUDA device" in done.stdout
    record = json.loads((tmp_path / "gpu.json").read_text())
    assert record["skipped"] == "no CUDA device"
    assert record["machine"]["cores"] >= 1 and record["command"].startswith("python -m bench.gpu")
    measured = {**_provenance("python -m bench.gpu"), "gpu": "NVIDIA H200", "vs_bare": 1.4}
    (tmp_path / "gpu.json").write_text(json.dumps(measured))
    again = subprocess.run([sys.executable, "-m", "bench.gpu", "--out", str(tmp_path)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert again.returncode == 0 and "kept the GPU results" in again.stdout
    assert json.loads((tmp_path / "gpu.json").read_text()) == measured  # not erased by a CPU


def _provenance(command: str) -> dict:
    machine = {"cpu": "Test CPU", "cores": 2, "torch": "2.x", "python": "3.x", "torch_threads": 1}
    return {"command": command, "machine": machine, "wall_s": 60.0, "date_utc": "2026-01-01"}


def _step_result(vs_lightly: float) -> dict:
    method = {
        "vs_lightly": vs_lightly,
        "vs_bare": 1.05,
        "lightly_vs_bare": 1.02,
        "times": {"ours": {"median_ms": 100.0}},
    }
    settings = {
        "backbone": "convnet",
        "image_size": 32,
        "batch_size": 64,
        "threads": 1,
        "lightly": "1.6",
        "rounds": 9,
        "steps_per_round": 2,
    }
    methods = {"infomin": method, "simclr": dict(method, vs_lightly=0.97)}
    return {**_provenance("python -m bench.step"), "settings": settings, "methods": methods}


def test_render_shows_ratios_commands_machine_and_verdicts(bench, tmp_path) -> None:
    from bench.render import main

    results = tmp_path / "results"
    results.mkdir()
    (results / "step.json").write_text(json.dumps(_step_result(vs_lightly=1.23)))
    skipped = {**_provenance("python -m bench.gpu"), "skipped": "no CUDA device"}
    (results / "gpu.json").write_text(json.dumps(skipped))
    main(["--results", str(results), "--out", str(tmp_path / "BENCHMARKS.md")])
    page = (tmp_path / "BENCHMARKS.md").read_text()
    assert "`python -m bench.step`" in page and "`python -m bench.gpu`" in page
    assert "Test CPU, 2 cores" in page
    assert "| simclr | 0.97x | 1.05x |" in page  # methods in their usual order
    assert page.index("| simclr") < page.index("| infomin")
    assert "**not met** (worst: infomin 1.23x)" in page
    assert "Not measured: no CUDA device" in page
    assert "Total benchmark time: 2.0 min" in page


@pytest.mark.filterwarnings("ignore:.*self.log.*")
def test_gpu_recipe_runs_on_cpu_with_bf16_autocast_and_channels_last(bench) -> None:
    """The GPU bench's code path (autocast, channels_last, all three variants), tiny, on CPU."""
    from bench import step as steps
    from infomin.methods import TrainSettings, for_image_size, get_preset

    preset = for_image_size(get_preset("infomin"), 32)
    settings = TrainSettings(image_size=32, batch_size=8, width=0.25)
    rt = steps.Runtime(torch.device("cpu"), torch.bfloat16, channels_last=True)
    data = steps.Batch.make(8, 32, preset.jigsaw, seed=0, rt=rt)
    assert data.views[0].is_contiguous(memory_format=torch.channels_last)
    built = [
        steps.ours(preset, settings, data, rt),
        steps.bare(preset, settings, data, 0.01, rt),
        steps.lightly(preset, settings, data, 0.01, rt),
    ]
    for step in built:
        step()
