"""`infomin evaluate`: frozen-feature probes (linear, kNN, localisation) of one encoder."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from infomin.cli.common import UserError, add_data_args, add_skip_corrupt_arg, positive_int

HELP = """\
Evaluate a frozen encoder on a labelled dataset: features are extracted once (BN in eval
mode, no grad) and cached; a linear probe (top-1/top-5) and a kNN classifier (k=200,
cosine, temperature-weighted votes) are fitted for each classification task, and a
linear regression of the digit position (mean error in pixels) for the localisation task.

The encoder is a backbone loaded from --weights, a random-init backbone (--random-init)
or the raw pixels (--raw-pixels); the last two are the baselines every pretraining must
beat. Writes OUT/results.json (flat keys such as digit.linear_top1,
position.linear_mae_px), OUT/config.yaml and prints a table.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="linear probe, kNN and localisation probe on frozen features",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_args(parser)
    add_skip_corrupt_arg(parser)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--weights", help="backbone state_dict (.pt) to evaluate")
    which.add_argument(
        "--random-init", action="store_true", help="evaluate a randomly initialised backbone"
    )
    which.add_argument(
        "--raw-pixels", action="store_true", help="evaluate raw pixels (no network at all)"
    )
    parser.add_argument("--backbone", default="convnet", help="backbone name (default convnet)")
    parser.add_argument("--width", type=float, default=1.0, help="width multiplier (default 1)")
    parser.add_argument(
        "--pool-size",
        type=positive_int,
        default=1,
        help="1 = global average pooling; s keeps an s x s feature map (position survives)",
    )
    parser.add_argument(
        "--train-size", type=positive_int, default=4000, help="embedded data: training samples"
    )
    parser.add_argument(
        "--test-size", type=positive_int, default=1000, help="embedded data: test samples"
    )
    parser.add_argument("--batch-size", type=positive_int, default=256)
    parser.add_argument("--knn-k", type=positive_int, default=200, help="neighbours (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="data and random-init seed")
    parser.add_argument("--out", default="runs/evaluate", help="output folder")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infomin.evaluate.runner import EvalConfig, run_evaluation
    from infomin.outputs import prepare_out_dir, write_json, write_yaml
    from infomin.progress import progress_bars
    from infomin.reports import metrics_table

    if args.weights is None and not args.random_init and not args.raw_pixels:
        raise UserError("choose what to evaluate: --weights PATH, --random-init or --raw-pixels")
    encoder = "raw-pixels" if args.raw_pixels else "random-init" if args.random_init else "weights"
    config = EvalConfig(
        data=args.data,
        data_dir=args.data_dir,
        encoder=encoder,
        weights=args.weights,
        backbone=args.backbone,
        width=args.width,
        pool_size=args.pool_size,
        train_size=args.train_size,
        test_size=args.test_size,
        seed=args.seed,
        batch_size=args.batch_size,
        knn_k=args.knn_k,
        skip_corrupt=args.skip_corrupt,
    )
    out = prepare_out_dir(args.out)
    write_yaml(out / "config.yaml", asdict(config))
    with progress_bars() as task:
        results = run_evaluation(config, progress=task("extracting features"))
    write_json(out / "results.json", results)
    print(metrics_table({encoder: results["metrics"]}))
    print(f"wrote {out / 'results.json'}")
    return 0
