"""What every subcommand shares: a parser that fails in one line, and error handling.

A user mistake (unknown dataset, missing folder, nonsense number) must end with one
line naming the problem and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from infomin.config import ConfigError
from infomin.data.base import DatasetError
from infomin.models.export import CheckpointError
from infomin.outputs import OutputError

EXIT_USAGE = 2
# A run that started but cannot go on (non-finite loss): not a usage error, not a crash.
EXIT_DIVERGED = 3
# Writing a result, report or checkpoint failed (disk full, I/O error, permission): the
# previous file is intact and nothing half-written is left.
EXIT_WRITE = 4
# A multi-process (DDP) run lost one of its processes; the last checkpoint is kept.
EXIT_PEER_LOST = 5


# Exceptions that mean "the user asked for something impossible", not "we have a bug".
# Set INFOMIN_DEBUG=1 to get the traceback instead.
class UserError(ValueError):
    """A problem with the command line or config, reported in one line."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    ConfigError,
    CheckpointError,
    DatasetError,
    OutputError,
    FileNotFoundError,
    NotADirectoryError,
    PermissionError,
)


def fail(message: str) -> NoReturn:
    """Print one line to stderr and exit 2."""
    print(f"infomin: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def stopped(message: str, code: int) -> int:
    """A run that stopped early on purpose (signal, divergence): one line, its own status."""
    print(f"infomin: {message}", file=sys.stderr)
    return code


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage text is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        fail(f"{self.prog}: {message} (see --help)")


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def add_data_args(
    parser: argparse.ArgumentParser, default: str | None = "colorful-moving-digits"
) -> None:
    """The data options every data-reading command takes (`default=None`: no `--data`)."""
    if default is not None:
        parser.add_argument(
            "--data",
            default=default,
            help=f"dataset name (see `infomin data list`; default {default})",
        )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder of a dataset on disk (CIFAR, STL-10, Fashion-MNIST, image folders; "
        "see `infomin data list`)",
    )


def add_overwrite_arg(parser: argparse.ArgumentParser) -> None:
    """`--overwrite`: replace the run already in `--out` (nothing of it is kept)."""
    parser.add_argument(
        "--overwrite",
        action="store_true",
        default=False,
        help="--out holds an earlier run: delete it and start this one there (without "
        "this, a folder that holds another run is refused)",
    )


def add_skip_corrupt_arg(parser: argparse.ArgumentParser) -> None:
    """`--skip-corrupt`: image folders drop unreadable files (counted, reported) up front."""
    parser.add_argument(
        "--skip-corrupt",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="image folders: decode every file first and skip (and count) the corrupt ones "
        "instead of stopping at the first",
    )
