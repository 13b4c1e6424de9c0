"""The demo end to end at tiny sizes: every stage runs and the report shows its numbers."""

import json

from infomin.experiments.demo import DemoConfig, run_demo
from infomin.experiments.toy import ToyConfig


def test_demo_writes_report_with_every_stage(tmp_path):
    toy = ToyConfig(rows=("digit", "background"), seeds=1, epochs=1, train_pairs=256,
                    test_pairs=256, probe_train=256, probe_test=128, batch_size=128,
                    workers=1)  # fmt: skip
    results = run_demo(tmp_path, DemoConfig(train_size=200, test_size=100, toy=toy))
    report = (tmp_path / "report.md").read_text()
    stored = json.loads((tmp_path / "results.json").read_text())
    for name in ("raw pixels", "random-init convnet, global pool", "chance"):
        assert f"| {name} |" in report
    assert "## What the views share decides what is learned" in report
    assert stored["baselines"].keys() == results["baselines"].keys()
    for picture in ("digits.png", "clips.png", "patches.png", "toy.png"):
        assert (tmp_path / picture).read_bytes()[:4] == b"\x89PNG"
