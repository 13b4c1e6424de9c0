"""The demo end to end at tiny sizes: every stage runs and the report shows its numbers."""

import json
from dataclasses import replace

from infomin.experiments.demo import DemoConfig, run_demo
from infomin.experiments.pairs import Sizes
from infomin.experiments.sweep import get_experiment
from infomin.experiments.toy import TOY_CRITIC, ToyConfig


def test_demo_writes_report_with_every_stage(tmp_path):
    toy = ToyConfig(rows=("digit", "background"), seeds=1, workers=1,
                    critic=replace(TOY_CRITIC, epochs=1, batch_size=128),
                    sizes=Sizes(train_pairs=256, test_pairs=256, probe_train=256,
                                probe_test=128))  # fmt: skip
    ladder = get_experiment("toy-ladder")
    sweep = replace(ladder, values=("0", "1"), config=replace(ladder.config, epochs=1),
                    sizes=Sizes(train_pairs=256, test_pairs=256, probe_train=256,
                                probe_test=128))  # fmt: skip
    config = DemoConfig(train_size=200, test_size=100, toy=toy, sweep=sweep)
    results = run_demo(tmp_path, config)
    report = (tmp_path / "report.md").read_text()
    stored = json.loads((tmp_path / "results.json").read_text())
    for name in ("raw pixels", "random-init convnet, global pool", "chance"):
        assert f"| {name} |" in report
    assert "## What the views share decides what is learned" in report
    assert "## The reverse-U" in report
    assert stored["baselines"].keys() == results["baselines"].keys()
    for picture in ("digits.png", "clips.png", "patches.png", "toy.png", "reverse_u.png"):
        assert (tmp_path / picture).read_bytes()[:4] == b"\x89PNG"
