"""`infomin sweep`: I_NCE and downstream accuracy along a ladder of views (the reverse-U)."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from typing import Any, ClassVar

from infomin.cli.common import UserError, add_data_args, add_overwrite_arg
from infomin.cli.mi import VIEW_SPECS, GeneratedHelpFormatter, add_critic_args, critic_settings
from infomin.cli.options import add_config_args, print_dry_run, write_config
from infomin.cli.options import resolve as resolve_options
from infomin.run_folder import claim

NAMED_EXPERIMENTS = "{named experiments}"  # where the help gets `EXPERIMENTS`, when printed

HELP = f"""\
For each setting of one view parameter: train the critics f1, f2 to maximise InfoNCE
(with the pair engine the critics are the pretrained encoders), measure held-out I_NCE
(with K and log K), and probe the frozen encoders on the downstream task; repeat over
seeds. List --values from the weakest to the strongest views; --vary names any
parameter of the views' kind (below).

  infomin sweep --views recipe:B --vary jitter_strength --values 0 0.5 1 2 --out DIR
  infomin sweep --experiment colorspaces --out DIR

{NAMED_EXPERIMENTS}

{VIEW_SPECS}

Writes OUT/results.csv (one row per setting and seed: setting, value, seed, i_nce, K,
log_K, accuracy, views, probe keys, seconds), OUT/results.json (with mean ± std per
setting and the curve's shape), OUT/reverse_u.png (accuracy vs I_NCE, error bars over
seeds, log K line), OUT/vs_parameter.png, OUT/table.md and OUT/config.yaml.
"""


def _named_experiments_help(width: int = 88) -> str:
    """``--experiment`` NAME: what it sweeps, one entry per named experiment."""
    from infomin.experiments.sweep import EXPERIMENTS

    lines = ["Named experiments (--experiment NAME; 3 seeds, a few minutes each on 2 cores):"]
    for name, experiment in EXPERIMENTS.items():
        text = f"{name}: {experiment.vary} of {experiment.views}; {experiment.description}"
        lines.append(textwrap.fill(text, width, initial_indent="  ", subsequent_indent="      "))
    return "\n".join(lines)


class _SweepHelpFormatter(GeneratedHelpFormatter):
    sections: ClassVar[dict[str, Callable[[], str]]] = {
        **GeneratedHelpFormatter.sections,
        NAMED_EXPERIMENTS: _named_experiments_help,
    }


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="I_NCE and accuracy along a ladder of views: table, CSV, reverse-U plot",
        description=HELP,
        formatter_class=_SweepHelpFormatter,
    )
    parser.add_argument("--experiment", default=None, help="a named experiment (see above)")
    parser.add_argument("--views", default=None, help="base view spec, e.g. recipe:B")
    parser.add_argument("--vary", default=None, help="the spec parameter to vary")
    parser.add_argument("--values", nargs="+", default=None, help="its values, weakest first")
    add_data_args(parser, default=None)
    parser.add_argument("--data", default=None, help="dataset (default: the views' own)")
    add_critic_args(parser)
    add_config_args(parser)
    parser.add_argument("--out", default="runs/sweep", help="output folder")
    add_overwrite_arg(parser)
    parser.set_defaults(run=run)


def resolve(args: argparse.Namespace) -> Any:
    """The `NamedExperiment` to run: a named one, or one made of --views/--vary/--values."""
    from infomin.experiments.sweep import NamedExperiment, get_experiment

    if args.experiment is not None:
        if args.views or args.vary or args.values:
            raise UserError("--experiment runs a fixed sweep: drop --views/--vary/--values")
        try:
            return get_experiment(args.experiment)
        except ValueError as err:
            raise UserError(str(err)) from None
    if args.views is None:
        raise UserError("give --experiment NAME, or --views SPEC --vary PARAM --values V ...")
    if args.vary is None or args.values is None:
        missing = "--values" if args.values is None else "--vary"
        raise UserError(f"a sweep over --views needs {missing} (--vary PARAM --values V ...)")
    return NamedExperiment("custom", args.views, args.vary, tuple(args.values), "")


def run(args: argparse.Namespace) -> int:
    from infomin.experiments.sweep import ladder_sources, run_sweep, shape_lines, sweep_table
    from infomin.experiments.sweep import write_sweep as write_files
    from infomin.outputs import command_line
    from infomin.progress import console, progress_bars
    from infomin.threads import torch_threads
    from infomin.views.specs import default_data

    resolved = resolve_options(args)
    if args.dry_run:
        return print_dry_run(resolved)
    experiment = resolve(args)
    data, data_dir = args.data or experiment.data, args.data_dir or experiment.data_dir
    try:
        sources = ladder_sources(experiment.views, experiment.vary, experiment.values, data,
                                 data_dir)  # fmt: skip
    except ValueError as err:
        raise UserError(str(err)) from None
    config, sizes = critic_settings(args, experiment.config, experiment.sizes)
    seeds = list(range(args.seeds))
    out = claim(args.out, "sweep", overwrite=args.overwrite)
    data = data or default_data(experiment.views)
    write_config(out / "config.yaml", resolved, args.argv)
    console.print(f"[bold]sweep[/] {experiment.vary} of {experiment.views} on {data}")
    with torch_threads(args.threads), progress_bars() as task:
        results = run_sweep(sources, config, sizes, seeds, task, parameter=experiment.vary,
                            baseline=not args.no_baseline)  # fmt: skip
    results.update(experiment=experiment.name, views=experiment.views, data=data,
                   data_dir=data_dir, command=command_line())  # fmt: skip
    paths = write_files(results, out)
    print(sweep_table(results))
    print("\n".join(shape_lines(results)))
    print(f"elapsed {results['elapsed_s']:.0f} s; wrote {', '.join(p.name for p in paths)} "
          f"in {out}")  # fmt: skip
    return 0
