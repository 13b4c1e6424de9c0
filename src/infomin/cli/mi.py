"""`infomin mi`: how much information two views share, as held-out I_NCE over seeds."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from infomin.cli.common import UserError, add_data_args, add_overwrite_arg, positive_int
from infomin.cli.options import add_config_args, print_dry_run, resolve, write_config
from infomin.run_folder import claim

VIEW_SPECS = "{view specs}"  # where a help text gets `kinds_help()`, when it is printed

HELP = f"""\
Train two critic encoders f1, f2 to maximise InfoNCE between the views named by --views,
then report I_NCE = log K - L_NCE on held-out pairs of the test split, always with K
(candidates per query) and the log K ceiling, per seed and as mean ± std over seeds, plus
the frozen probe metrics of the trained encoders on the downstream task.

  infomin mi --views colorspace:lab --out DIR

{VIEW_SPECS}

Writes OUT/results.json, OUT/config.yaml and prints a markdown table.
"""


def _view_specs_help() -> str:
    from infomin.views.specs import kinds_help

    return kinds_help()


class GeneratedHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """A raw description whose marks (`sections`) become generated text when printed.

    Why only when printed: the view-spec help is generated from the grammar
    (`infomin.views.specs.kinds_help`), whose import pulls in the view stack (timm,
    kornia, zuko: about a second), which every command would pay at start-up if the text
    were built with the parser.
    """

    sections: ClassVar[dict[str, Callable[[], str]]] = {VIEW_SPECS: _view_specs_help}

    def add_text(self, text: str | None) -> None:
        for mark, generate in self.sections.items():
            if text is not None and mark in text:
                text = text.replace(mark, generate())
        super().add_text(text)


THREADS_HELP = (
    "torch threads (default 1: these small convnets ran 7x slower with 2 threads than "
    "with 1 on a busy 2-core machine)"
)


def add_critic_args(parser: argparse.ArgumentParser) -> None:
    """Critic and size options shared by `mi` and `sweep` (None: the command's default)."""
    group = parser.add_argument_group("critics and sizes")
    group.add_argument("--seeds", type=positive_int, default=3, help="seeds 0..N-1 (default 3)")
    group.add_argument("--backbone", default=None, help="critic backbone (default convnet)")
    group.add_argument("--width", type=_positive_float, default=None, help="width multiplier")
    group.add_argument("--epochs", type=positive_int, default=None, help="critic epochs")
    group.add_argument("--batch-size", type=positive_int, default=None, help="training K")
    group.add_argument("--train-pairs", type=positive_int, default=None)
    group.add_argument("--test-pairs", type=positive_int, default=None)
    group.add_argument("--test-batch", type=positive_int, default=None, help="held-out K")
    group.add_argument("--probe-train", type=positive_int, default=None)
    group.add_argument("--probe-test", type=positive_int, default=None)
    group.add_argument("--threads", type=positive_int, default=1, help=THREADS_HELP)
    group.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the control: the same probe on untrained critics (first seed)",
    )


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


_CONFIG_ARGS = ("backbone", "width", "epochs", "batch_size")
_SIZE_ARGS = ("train_pairs", "test_pairs", "test_batch", "probe_train", "probe_test")


def critic_settings(args: argparse.Namespace, config: Any, sizes: Any) -> tuple[Any, Any]:
    """The command's defaults with the options the user gave; refuses impossible settings.

    Checked before any data is drawn, so a typo costs no training time.
    """
    from infomin.models import build_backbone

    config = replace(config, **_given(args, _CONFIG_ARGS))
    sizes = replace(sizes, **_given(args, _SIZE_ARGS))
    if sizes.train_pairs < config.batch_size:
        raise UserError(f"--train-pairs {sizes.train_pairs} < --batch-size {config.batch_size}")
    if sizes.test_pairs < sizes.test_batch:
        raise UserError(f"--test-pairs {sizes.test_pairs} < --test-batch {sizes.test_batch}")
    try:
        build_backbone(config.backbone, in_channels=1, width=config.width, image_size=32)
    except ValueError as err:
        raise UserError(str(err)) from None
    return config, sizes


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mi",
        help="I_NCE of a pair of views (with K, log K, mean ± std over seeds) and probes",
        description=HELP,
        formatter_class=GeneratedHelpFormatter,
    )
    parser.add_argument("--views", help="view spec, e.g. colorspace:lab (required)")
    add_data_args(parser, default=None)
    parser.add_argument("--data", default=None, help="dataset (default: the views' own)")
    add_critic_args(parser)
    add_config_args(parser)
    parser.add_argument("--out", default="runs/mi", help="output folder")
    add_overwrite_arg(parser)
    parser.set_defaults(run=run)


def build_source(views: str, data: str | None, data_dir: str | None) -> Any:
    """Parse a spec into a source; a bad spec or dataset is a one-line user error."""
    from infomin.views.specs import parse_view_spec

    try:
        return parse_view_spec(views, data, data_dir)
    except ValueError as err:
        raise UserError(str(err)) from None


def run(args: argparse.Namespace) -> int:
    from infomin.experiments.mi import mi_table, run_mi
    from infomin.experiments.pairs import QUICK_CONFIG, QUICK_SIZES
    from infomin.outputs import write_json
    from infomin.progress import progress_bars
    from infomin.threads import torch_threads
    from infomin.views.specs import default_data

    resolved = resolve(args)
    if args.dry_run:
        return print_dry_run(resolved)
    if args.views is None:
        raise UserError("--views SPEC is required (on the command line or in --config)")
    source = build_source(args.views, args.data, args.data_dir)
    config, sizes = critic_settings(args, QUICK_CONFIG, QUICK_SIZES)
    data = args.data or default_data(args.views)
    out = claim(args.out, "mi", overwrite=args.overwrite)
    seeds = list(range(args.seeds))
    write_config(out / "config.yaml", resolved, args.argv)
    with torch_threads(args.threads), progress_bars() as task:
        results = run_mi(source, config, sizes, seeds, task, data, not args.no_baseline)
    write_json(out / "results.json", results)
    print(f"views {results['views']} on {data}: {results['metric']} is the headline probe")
    print(mi_table(results))
    print(f"wrote {out / 'results.json'}")
    return 0
