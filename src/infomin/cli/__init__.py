"""The `infomin` command: one entry point, a subcommand per job.

Each subcommand lives in its own module and registers itself with `add_parser`;
`main` dispatches and turns user errors into one line and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from infomin.cli import data, demo, evaluate, export, learn_views, mi, pretrain, sweep, toy
from infomin.cli.common import EXIT_WRITE, USER_ERRORS, Parser, fail, stopped
from infomin.cli.options import subcommand_parser, typed_dests
from infomin.outputs import WriteError
from infomin.run_folder import abandon_fresh, release_all

EXIT_SIGINT = 130  # 128 + SIGINT, what a shell reports for Ctrl-C

SUBCOMMANDS = (data, pretrain, export, evaluate, demo, mi, sweep, toy, learn_views)

DESCRIPTION = """\
Contrastive self-supervised learning where the views are the object of study
(InfoMin, "What Makes for Good Views for Contrastive Learning?", NeurIPS 2020).

Every command that produces results writes into --out DIR: config.yaml (what was run),
results.json (the numbers, machine-readable) and human-readable tables or plots.
"""


def build_parser() -> Parser:
    parser = Parser(
        prog="infomin",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    # What `--config` layering needs: the flags actually typed, the command's own parser
    # (its options' types and choices check file values) and the command line as typed.
    args.typed = typed_dests(build_parser, argv)
    args.parser = subcommand_parser(parser, args.command)
    args.argv = ["infomin", *argv]
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:  # Ctrl-C outside training (training saves and stops itself)
        return stopped("interrupted", EXIT_SIGINT)
    except WriteError as err:  # before USER_ERRORS: a full disk is not a usage error
        if os.environ.get("INFOMIN_DEBUG"):
            raise
        return stopped(f"error: {err.strerror}", EXIT_WRITE)
    except USER_ERRORS as err:
        if os.environ.get("INFOMIN_DEBUG"):
            raise
        abandon_fresh()  # a refused run leaves no folder behind that looks like a run
        fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
    finally:
        release_all()  # the --out folder's lock, however the command ended


def _version() -> str:
    from infomin import __version__

    return f"infomin {__version__}"
