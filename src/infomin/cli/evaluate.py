"""`infomin evaluate`: frozen-feature probes (linear, kNN, localisation) of one encoder."""

from __future__ import annotations

import argparse
from pathlib import Path

from infomin.cli.common import (
    UserError,
    add_data_args,
    add_overwrite_arg,
    add_skip_corrupt_arg,
    positive_int,
)
from infomin.cli.options import add_config_args, print_dry_run, resolve, write_config
from infomin.evaluate.runner import EvalConfig
from infomin.run_folder import claim, run_in

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
    parser.add_argument("--backbone", help="backbone name (default convnet)")
    parser.add_argument("--width", type=float, help="width multiplier (default 1)")
    parser.add_argument(
        "--pool-size",
        type=positive_int,
        help="1 (default) = global average pooling; s keeps an s x s feature map "
        "(position survives)",
    )
    parser.add_argument(
        "--train-size", type=positive_int, help="embedded data: training samples (4000)"
    )
    parser.add_argument("--test-size", type=positive_int, help="embedded data: test samples (1000)")
    parser.add_argument("--batch-size", type=positive_int, help="feature batch (default 256)")
    parser.add_argument(
        "--train-split", default="train", help="split the probe is fitted on (default train)"
    )
    parser.add_argument(
        "--test-split", default="test", help="split the probe is scored on (default test)"
    )
    parser.add_argument("--knn-k", type=positive_int, default=200, help="neighbours (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="data and random-init seed")
    add_config_args(parser)
    add_overwrite_arg(parser)
    parser.add_argument("--out", default="runs/evaluate", help="output folder")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infomin.evaluate.runner import run_evaluation
    from infomin.methods.checkpoints import pretrained_encoder
    from infomin.outputs import write_json
    from infomin.progress import progress_bars
    from infomin.reports import metrics_table

    resolved = resolve(args)
    if args.dry_run:
        return print_dry_run(resolved)
    pretrained = pretrained_encoder(args.weights)
    config = eval_config(args, pretrained is not None)
    out = claim(_beside_other_run(Path(args.out), config.data), "evaluate",
                overwrite=args.overwrite)  # fmt: skip
    write_config(out / "config.yaml", resolved, args.argv)
    with progress_bars() as task:
        results = run_evaluation(config, progress=task("extracting features"), encoder=pretrained)
    write_json(out / "results.json", results)
    print(metrics_table({config.encoder: results["metrics"]}))
    print(f"wrote {out / 'results.json'}")
    return 0


def _beside_other_run(out: Path, data: str) -> Path:
    """Evaluating into another command's run folder (a pretraining run's, typically)
    writes into a subfolder of it, never over that run's own files."""
    held = run_in(out)
    if held is None or held == "evaluate":
        return out
    beside = out / f"eval-{data}"
    print(f"{out} holds a {held} run: this evaluation goes to {beside}")
    return beside


# Options that shape the network: a pretrain checkpoint names its own, raw pixels have none.
_NETWORK_OPTIONS = ("backbone", "width", "pool_size", "batch_size")


def eval_config(args: argparse.Namespace, pretrained: bool) -> EvalConfig:
    """The evaluation's config from resolved options; refuses options it would ignore."""
    from infomin.data import check_data_options, check_location, is_embedded

    chosen = [name for name in ("weights", "random_init", "raw_pixels") if getattr(args, name)]
    if len(chosen) != 1:
        raise UserError("choose what to evaluate: --weights PATH, --random-init or --raw-pixels")
    encoder = {"weights": "weights", "random_init": "random-init", "raw_pixels": "raw-pixels"}
    check_location(args.data, args.data_dir)
    if args.raw_pixels or pretrained:
        why = "raw pixels pass through no network" if args.raw_pixels else (
            f"the pretrain checkpoint {args.weights} names its own architecture")  # fmt: skip
        for name in _NETWORK_OPTIONS[: 4 if args.raw_pixels else 3]:
            if getattr(args, name) is not None:
                raise UserError(f"--{name.replace('_', '-')} cannot apply: {why}")
    embedded = is_embedded(args.data)
    sizes = {"train_size": args.train_size, "test_size": args.test_size}
    check_data_options(args.data, sizes, args.skip_corrupt)
    base = EvalConfig()
    network = {name: getattr(args, name) for name in _NETWORK_OPTIONS}
    network = {k: v if v is not None else getattr(base, k) for k, v in network.items()}
    return EvalConfig(
        data=args.data,
        data_dir=args.data_dir,
        encoder=encoder[chosen[0]],
        weights=args.weights,
        **network,
        train_size=(args.train_size or base.train_size) if embedded else None,
        test_size=(args.test_size or base.test_size) if embedded else None,
        seed=args.seed,
        knn_k=args.knn_k,
        skip_corrupt=args.skip_corrupt,
        train_split=args.train_split,
        test_split=args.test_split,
    )
