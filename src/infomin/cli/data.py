"""`infomin data`: list the datasets and look at them."""

from __future__ import annotations

import argparse
import sys

from infomin.cli.common import add_data_args, add_skip_corrupt_arg, positive_int
from infomin.outputs import prepare_out_dir


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="list datasets, or save a grid of samples with their labels",
        description="List the datasets infomin knows, or save a picture of one.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="the dataset names, with a line on each")
    listing.set_defaults(run=run_list)

    show = actions.add_parser(
        "show",
        help="save a grid of samples with their labels (PNG)",
        description="Save a grid of samples, each titled with its labels; for "
        "colorful-moving-digits a cross marks the labelled digit position.",
    )
    show.add_argument("name", help="dataset name (see `infomin data list`)")
    add_data_args(show, default=None)
    add_skip_corrupt_arg(show)
    show.add_argument("--split", default="train", help="which split (default train)")
    show.add_argument("--out", default="grid.png", help="PNG file to write (default grid.png)")
    show.add_argument("-n", "--num", type=positive_int, default=32, help="samples (default 32)")
    show.add_argument("--seed", type=int, default=0, help="which samples are drawn")
    show.set_defaults(run=run_show)


def run_list(args: argparse.Namespace) -> int:
    from infomin.data import DATASETS

    width = max(len(name) for name in DATASETS)
    for name, description in DATASETS.items():
        print(f"{name:<{width}}  {description}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from pathlib import Path

    from infomin.data import load_dataset
    from infomin.data.real import skipped_summary
    from infomin.data.show import save_grid

    out = Path(args.out)
    prepare_out_dir(out.parent if str(out.parent) else ".")
    options = {"skip_corrupt": True} if args.skip_corrupt else {}
    dataset = load_dataset(args.name, split=args.split, data_dir=args.data_dir, **options)
    summary = skipped_summary(dataset)
    if summary:
        print(f"infomin: {summary}", file=sys.stderr)
    save_grid(dataset, out, n=args.num, seed=args.seed)
    print(f"wrote {out}")
    return 0
