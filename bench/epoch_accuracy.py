"""Did the fast path change what pretraining learns? Probe accuracy, before vs after.

Issue 12 made whole epochs several times faster (batched views, bf16 autocast,
channels_last, split BatchNorm per chunk, a cheaper colour jitter). Speed must not buy a
different result: here the same short pretraining runs on the tree of `--before` (the
per-image views, fp32) and on this tree (its defaults), for the same seeds, and the
frozen linear probe and kNN top-1 are compared seed by seed.

The verdict is that of the paired difference (after - before, per seed): its 95%
Student-t interval either excludes 0 (a change) or lies inside +-`--margin` points (no
change larger than that); otherwise more seeds are needed. Every run is a fresh process,
as in `bench.epoch`.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import make_parser, start, write_result
from bench.epoch import BEFORE_REV, RESULT_TAG, run_child, source_tree

METRICS = ("linear_top1", "knn_top1")
SETTINGS = ("before", "presets", "seeds", "epochs", "train_size", "batch_size", "margin")


def child(spec: dict[str, Any]) -> None:
    """One pretraining run (probe on), in this process; prints the metrics."""
    import torch

    from infomin.methods.pretrain import pretrain
    from infomin.methods.pretrain_config import PretrainConfig

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    with tempfile.TemporaryDirectory() as out:
        results = pretrain(PretrainConfig(**spec["config"]), Path(out))
    assert results is not None
    metrics = {k: v for k, v in results["metrics"].items() if k.endswith(METRICS)}
    print(RESULT_TAG + json.dumps(metrics), flush=True)


def verdict(differences: list[float], margin: float) -> dict[str, Any]:
    """Mean and 95% interval of the per-seed differences, and what they settle."""
    from infomin.experiments.statistics import interval_verdict, t_interval

    interval = t_interval(differences)
    return {
        "difference": statistics.fmean(differences),
        "per_seed": differences,
        "interval": interval,
        "verdict": interval_verdict(interval, margin),
    }


def run(args) -> dict[str, Any]:
    """Every (preset, seed, tree) run; the paired comparison per preset and metric."""
    out: dict[str, Any] = {}
    with source_tree(args.before) as before_src:
        for preset in args.presets:
            runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
            for seed in range(args.seed, args.seed + args.seeds):
                config = {"preset": preset, "seed": seed, "epochs": args.epochs,
                          "train_size": args.train_size, "batch_size": args.batch_size}  # fmt: skip
                for name, src in (("before", before_src), ("after", None)):
                    spec = {"config": config, "threads": args.threads}
                    runs[name].append(run_child(spec, src, "bench.epoch_accuracy"))
                    print(f"  {preset} seed {seed} {name}: {runs[name][-1]}", flush=True)
            out[preset] = {"runs": runs, "compare": compare(runs, args.margin)}
    return out


def compare(runs: dict[str, list[dict[str, float]]], margin: float) -> dict[str, Any]:
    """Per metric: mean ± std of before and after, and the paired verdict (in points)."""
    table = {}
    for key in runs["after"][0]:
        before = [r[key] for r in runs["before"]]  # percent already
        after = [r[key] for r in runs["after"]]
        table[key] = {
            "before": {"mean": statistics.fmean(before), "std": _std(before)},
            "after": {"mean": statistics.fmean(after), "std": _std(after)},
            **verdict([a - b for a, b in zip(after, before, strict=True)], margin),
        }
    return table


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def markdown(results: dict[str, Any]) -> str:
    """The table for BENCHMARKS.md (points of top-1 accuracy)."""
    lines = ["| preset | metric | before | after | after - before [95% CI] | verdict |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for preset, cell in results.items():
        for key, row in cell["compare"].items():
            low, high = row["interval"] or (float("nan"), float("nan"))
            lines.append(
                f"| {preset} | {key} | {row['before']['mean']:.1f} ± {row['before']['std']:.1f}"
                f" | {row['after']['mean']:.1f} ± {row['after']['std']:.1f}"
                f" | {row['difference']:+.1f} [{low:+.1f}, {high:+.1f}] | {row['verdict']} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument("--child", help="(internal) one run's JSON spec")
    parser.add_argument("--before", default=BEFORE_REV, help="commit of the 'before' tree")
    parser.add_argument("--presets", nargs="+", default=["simclr", "mocov2"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=4000, help="embedded samples")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--margin", type=float, default=2.0, help="points: an interval inside it = no change"
    )
    args = parser.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    if args.quick:
        args.presets, args.seeds, args.epochs, args.train_size = ["simclr"], 2, 1, 512
    started = start(args)
    results = run(args)
    print(markdown(results))
    settings = {k: getattr(args, k) for k in SETTINGS}
    payload = {"settings": settings, "presets": results}
    print(f"wrote {write_result('epoch_accuracy', args.out, payload, started)}")
    return None


if __name__ == "__main__":
    main(sys.argv[1:])
