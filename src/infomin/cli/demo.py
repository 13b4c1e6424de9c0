"""`infomin demo`: what `make demo` runs."""

from __future__ import annotations

import argparse

from infomin.cli.common import add_overwrite_arg
from infomin.run_folder import claim

HELP = """\
The guided tour, offline on embedded data in a few minutes on 2 CPU cores: pictures of
the colorful-moving-digits and photo-patches datasets, then the raw-pixel and
random-init baselines (digit, background, position) on frozen features. Writes
OUT/report.md (tables and pictures), OUT/results.json and the PNGs, and prints the
elapsed time.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the guided tour on embedded data: pictures, baselines, report.md",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="demo", help="output folder (default demo)")
    parser.add_argument("--seed", type=int, default=0)
    add_overwrite_arg(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infomin.experiments.demo import DemoConfig, run_demo

    out = claim(args.out, "demo", overwrite=args.overwrite)
    results = run_demo(out, DemoConfig(seed=args.seed))
    print(f"wrote {out / 'report.md'} in {results['elapsed_s']:.0f} s")
    return 0
