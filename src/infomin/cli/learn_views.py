"""`infomin learn-views`: learn a view generator g (a learned colour space) and measure it."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from infomin.cli.common import UserError, add_data_args, add_overwrite_arg, positive_int
from infomin.cli.options import add_config_args, print_dry_run, resolve, write_config
from infomin.run_folder import claim

MODES = ("unsupervised", "semi-supervised", "supervised")
COMPARE_MODES = ("unsupervised", "supervised", "semi-supervised", "semi-supervised-plain")
COMPARE_SPACES = ("rgb", "ydbdr", "lab")

HELP = """\
Learn views as in the paper's section on view generators: g is a pixel-wise invertible
flow (a learned colour space, affine or additive couplings) starting from --input-space;
view 1 = g(X)_1, view 2 = g(X)_2:3.

  --mode unsupervised     min_g max_{f1,f2} I_NCE(g(X)_1; g(X)_2:3), alternating updates
  --mode semi-supervised  the same + cross-entropy of view classifiers c1, c2 on a
                          labelled subset (--label-fraction, default 0.1), minimised with g;
                          c1, c2 see flipped and shifted images and weight decay 5e-3
                          (--plain-classifiers: neither; they then memorise the subset)
  --mode supervised       the classifiers only (no MI term): the supervised baseline
  --mode compare          all three and semi-supervised with plain classifiers, plus the
                          fixed RGB, YDbDr and Lab splits (3 seeds; --workers 2 on 2 cores),
                          and the paired differences (learned minus fixed, per seed, with
                          Student-t 95% intervals): semi-supervised - YDbDr, unsupervised -
                          RGB; --rows picks the rows

Every kept g (checkpoints along training) is then evaluated as the paper does: g frozen,
fresh encoders trained with InfoNCE on its views, held-out I_NCE (K=256) and a linear
probe on both encoders' features. Default data: photo-patches at 16 px (label = photo).

Writes OUT/g-MODE.pt (use it anywhere as --views learned:OUT/g-MODE.pt), OUT/checkpoints/,
results.json, config.yaml, report.md, trajectory.csv, game_log.csv, trajectory.png
(accuracy vs I_NCE along training) and channels.png (images through g, channel by channel).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "learn-views",
        help="learn a view generator (unsupervised / semi-supervised / supervised) and compare",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--mode", choices=(*MODES, "compare"), help="what to learn (required)")
    add_data_args(parser, default="photo-patches")
    parser.add_argument("--size", type=positive_int, default=None,
                        help="image side (default 16 on photo-patches, else native)")  # fmt: skip
    parser.add_argument("--out", default="runs/learn-views", help="output folder")
    parser.add_argument("--quick", action="store_true",
                        help="one seed, 120 g steps, 2 checkpoints (a few minutes)")  # fmt: skip
    parser.add_argument("--seeds", type=positive_int, default=None,
                        help="seeds 0..N-1 (default 3 for compare, 1 otherwise)")  # fmt: skip
    parser.add_argument(
        "--rows", default=None, metavar="NAME,...",
        help=f"compare only these rows (default all: {', '.join(COMPARE_MODES + COMPARE_SPACES)});"
        " each (row, seed) is its own job: a row's numbers do not depend on the others",
    )  # fmt: skip
    game = parser.add_argument_group("view generator and game")
    game.add_argument("--input-space", default="rgb", help="g's starting colour space")
    game.add_argument("--coupling", choices=("affine", "additive"), default="affine")
    game.add_argument("--layers", type=positive_int, default=None, help="coupling layers (6)")
    game.add_argument("--steps", type=positive_int, default=None, help="g updates (200)")
    game.add_argument("--critic-steps", type=positive_int, default=None,
                      help="critic updates per g update (1)")  # fmt: skip
    game.add_argument("--label-fraction", type=_fraction, default=None, help="(0.1)")
    game.add_argument("--mi-weight", type=_non_negative, default=None, help="(1)")
    game.add_argument("--ce-weight", type=_non_negative, default=None, help="(1)")
    game.add_argument("--game-images", type=positive_int, default=None,
                      help="training images of the game (default: --train-pairs)")  # fmt: skip
    game.add_argument("--plain-classifiers", action="store_true",
                      help="c1, c2 without augmentation, weight decay 5e-4")  # fmt: skip
    game.add_argument("--checkpoints", type=positive_int, default=None,
                      help="g kept and evaluated at N steps besides step 0 (3)")  # fmt: skip
    sizes = parser.add_argument_group("evaluation (fresh encoders on frozen g) and sizes")
    sizes.add_argument("--epochs", type=positive_int, default=None, help="encoder epochs (6)")
    for name, default in (("train-pairs", 3072), ("test-pairs", 1024), ("probe-train", 2000),
                          ("probe-test", 1000)):  # fmt: skip
        sizes.add_argument(f"--{name}", type=positive_int, default=None, help=f"({default})")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="torch threads (default 1: fastest on a busy 2-core box)")  # fmt: skip
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="parallel processes for the (seed, row) jobs")  # fmt: skip
    add_config_args(parser)
    add_overwrite_arg(parser)
    parser.set_defaults(run=run)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def build_config(args: argparse.Namespace):  # -> LearnViewsConfig (imported lazily)
    """The run's settings from the command line; impossible settings are user errors."""
    from infomin.view_learning.compare import LearnViewsConfig
    from infomin.view_learning.game import GameConfig
    from infomin.views.flows import FlowConfig
    from infomin.views.images import PHOTO_PATCHES

    compare = args.mode == "compare"
    if args.rows is not None and not compare:
        raise UserError("--rows needs --mode compare")
    seeds = args.seeds or (1 if args.quick or not compare else 3)
    game_options = {
        "steps": args.steps or (120 if args.quick else None),
        "checkpoints": args.checkpoints or (2 if args.quick else None),
        "critic_steps": args.critic_steps, "label_fraction": args.label_fraction,
        "mi_weight": args.mi_weight, "ce_weight": args.ce_weight,
    }  # fmt: skip
    if args.plain_classifiers:
        game_options.update(classifier_augment=False, classifier_weight_decay=5e-4)
    try:
        flow = FlowConfig(coupling=args.coupling, input_space=args.input_space,
                          **({"layers": args.layers} if args.layers else {}))  # fmt: skip
        game = GameConfig(**{k: v for k, v in game_options.items() if v is not None})
    except ValueError as err:
        raise UserError(str(err)) from None
    size = args.size or (16 if args.data == PHOTO_PATCHES else None)
    modes, fixed = compare_rows(args.rows) if compare else ((args.mode,), (flow.input_space,))
    if flow.input_space not in fixed:
        fixed = (*fixed, flow.input_space)
    evaluation, sizes = critic_sizes(args, game)
    return LearnViewsConfig(
        data=args.data, data_dir=args.data_dir, size=size,
        photo_size=96 if args.data == PHOTO_PATCHES and size == 16 else None,
        seeds=tuple(range(seeds)), modes=modes,
        fixed_spaces=fixed, flow=flow, game=game,
        critic=evaluation, sizes=sizes, game_images=args.game_images,
    )  # fmt: skip


def compare_rows(rows: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The learned modes and fixed spaces of ``--rows`` (all of them without it).

    Why: the comparison's cost is mostly the games of the learned rows; a claim about two
    rows (e.g. semi-supervised vs YDbDr at 10 seeds) need not pay for the others.
    """
    if rows is None:
        return COMPARE_MODES, COMPARE_SPACES
    names = [name.strip() for name in rows.split(",") if name.strip()]
    unknown = [n for n in names if n not in COMPARE_MODES + COMPARE_SPACES]
    if unknown or not names:
        raise UserError(f"--rows {rows!r}: choose from {', '.join(COMPARE_MODES + COMPARE_SPACES)}")
    return (tuple(m for m in COMPARE_MODES if m in names),
            tuple(s for s in COMPARE_SPACES if s in names))  # fmt: skip


def critic_sizes(args: argparse.Namespace, game) -> tuple:
    """The evaluation's encoder settings and sizes (the `mi` defaults) with the user's."""
    from infomin.experiments.pairs import QUICK_CONFIG, QUICK_SIZES

    names = ("train_pairs", "test_pairs", "probe_train", "probe_test")
    sizes = replace(QUICK_SIZES, **{k: getattr(args, k) for k in names if getattr(args, k)})
    config = replace(QUICK_CONFIG, epochs=args.epochs or QUICK_CONFIG.epochs)
    if sizes.test_pairs < sizes.test_batch:
        raise UserError(f"--test-pairs {sizes.test_pairs} < the held-out K {sizes.test_batch}")
    if sizes.train_pairs < max(config.batch_size, game.batch_size):
        raise UserError(f"--train-pairs {sizes.train_pairs} < batch size {config.batch_size}")
    return config, sizes


def run(args: argparse.Namespace) -> int:
    from infomin.progress import console, progress_bars
    from infomin.threads import torch_threads

    resolved = resolve(args)
    if args.dry_run:
        return print_dry_run(resolved)
    if args.mode is None:
        raise UserError("--mode is required (on the command line or in --config)")
    config = build_config(args)
    out = claim(args.out, "learn-views", overwrite=args.overwrite)
    write_config(out / "config.yaml", resolved, args.argv)
    start = time.perf_counter()
    from infomin.view_learning.run import learn_views

    with torch_threads(args.threads), progress_bars() as task:
        results = learn_views(config, out, task, console.print, args.workers)
    print(results["table"])
    for mode in config.modes:
        print(f"learned g ({mode}): use --views learned:{out / f'g-{mode}.pt'}")
    print(f"wrote {out / 'report.md'} in {time.perf_counter() - start:.0f} s")
    return 0
