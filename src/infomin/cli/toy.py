"""`infomin toy`: the Colorful-Moving-MNIST table (what the views share is what is learned)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING

from infomin.cli.common import UserError, add_overwrite_arg, positive_int
from infomin.cli.options import add_config_args, print_dry_run, resolve, write_config
from infomin.run_folder import claim

if TYPE_CHECKING:
    from infomin.experiments.toy import ToyConfig

HELP = """\
The paper's toy experiment on colorful-moving-digits. For each row, view 1 (a clip of
--v1-frames frames of a moving digit) and view 2 (one frame: the clip's next frame) share a
set of factors (digit = the MNIST image, and its colour with --colour digit; position =
where the digit is; background = the photo and its crop) and everything else is drawn
independently; two convnet critics are trained with InfoNCE on such pairs, I_NCE is
measured on held-out pairs, and the frozen single-frame encoder is probed (linear digit
and background accuracy, position error in px). A random-init encoder of the same
architecture is the baseline; chance is the floor.

Rows: digit, position, background and their combinations joined by '+' (default: all
seven), or points of the toy ladder, ladder=S with S in [0, 2] (0: digit+background,
1: digit only, 2: only the colour with --colour digit). Writes OUT/toy.md (mean ± std
and the claims' verdicts), OUT/results.json (every seed's numbers), OUT/config.yaml
and OUT/toy.png. Full table: 3 seeds, 16 epochs; --quick: 1 seed, 8 epochs, smaller
probe sets.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "toy",
        help="the Colorful-Moving-MNIST table: which shared factors are learned",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="runs/toy", help="output folder (default runs/toy)")
    parser.add_argument(
        "--seeds", type=positive_int, default=None, help="seeds (default 3; 1 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="1 seed, 8 epochs, smaller probe sets")
    parser.add_argument(
        "--rows", nargs="+", default=None, metavar="ROW",
        help="rows to run, e.g. digit background digit+background ladder=0.5",
    )  # fmt: skip
    parser.add_argument(
        "--v1-frames", type=positive_int, default=None, metavar="N",
        help="frames of view 1's clip, stacked along channels; view 2 is the clip's next frame "
        "(default 3, the paper's sequence view; 1 = single frames at the same instant)",
    )  # fmt: skip
    parser.add_argument(
        "--colour", choices=("free", "digit"), default=None,
        help="free (default): each view draws its digit's colour; digit: the colour is part "
        "of the digit factor (a shared hue alone nearly identifies the pair: a shortcut)",
    )  # fmt: skip
    parser.add_argument(
        "--epochs", type=positive_int, default=None,
        help="epochs of the critics (default 16; 8 with --quick)",
    )  # fmt: skip
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default 2)")
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="torch threads per process (1)"
    )
    add_config_args(parser)
    add_overwrite_arg(parser)
    parser.set_defaults(run=run)


def _config(args: argparse.Namespace) -> ToyConfig:
    """The run's settings; nonsense (an unknown row, a bad ladder step) is a `UserError`."""
    from infomin.experiments.toy import ToyConfig, quick_config

    changes = {
        name: value
        for name, value in (
            ("seeds", args.seeds), ("workers", args.workers), ("threads", args.threads),
            ("v1_frames", args.v1_frames), ("colour", args.colour),
            ("rows", tuple(args.rows) if args.rows else None),
        )
        if value is not None
    }  # fmt: skip
    try:
        config = quick_config(**changes) if args.quick else ToyConfig(**changes)
        if args.epochs is not None:
            config = replace(config, critic=replace(config.critic, epochs=args.epochs))
        return config
    except ValueError as err:
        raise UserError(str(err)) from None


def run(args: argparse.Namespace) -> int:

    from infomin.experiments.toy import run_toy_table
    from infomin.experiments.toy_report import render_toy_markdown, save_toy_plot
    from infomin.outputs import command_line, write_json, write_text
    from infomin.progress import console, progress_bars

    resolved = resolve(args)
    if args.dry_run:
        return print_dry_run(resolved)
    config = _config(args)
    out = claim(args.out, "toy", overwrite=args.overwrite)
    write_config(out / "config.yaml", resolved, args.argv)
    console.print(
        f"toy table: {len(config.rows)} rows x {config.seeds} seed(s), {config.workers} worker(s)"
    )
    with progress_bars() as task:
        results = run_toy_table(config, task)
    results["command"] = command_line()
    write_json(out / "results.json", results)
    markdown = render_toy_markdown(results)
    write_text(out / "toy.md", markdown)
    save_toy_plot(results, out / "toy.png")
    print(markdown)
    print(f"wrote {out / 'toy.md'}, results.json, config.yaml and toy.png in {out}")
    return 0
