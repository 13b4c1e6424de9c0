"""`infomin presets` and `infomin pretrain` (`infomin export` is in cli/export.py)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from infomin.cli.common import (
    EXIT_DIVERGED,
    UserError,
    add_data_args,
    add_skip_corrupt_arg,
    positive_int,
    stopped,
)

PRETRAIN_HELP = """\
Pretrain an encoder with a named preset (insdis, cmc, moco, pirl, mocov2, cmcv2,
infomin, simclr; see `infomin presets`) on Lightning: checkpoints (last and every k
epochs) in OUT/checkpoints, CSV and TensorBoard logs, a progress bar, seeds, and
--devices N --num-nodes M through Lightning's DDP. Values come from the preset, then
--config FILE (YAML with the keys of config.yaml), then the flags given here. At the
end the frozen backbone is evaluated (linear probe, kNN, localisation) and
OUT/results.json is written. --resume continues from OUT/checkpoints/last.ckpt.
"""

# Flags whose value is a PretrainConfig field of the same name (dashes for underscores).
_FIELDS = (
    "preset", "data", "data_dir", "train_size", "test_size", "backbone", "width", "epochs",
    "batch_size", "lr", "temperature", "num_negatives", "seed", "devices", "num_nodes",
    "accelerator", "precision", "channels_last", "num_workers", "checkpoint_every", "max_steps",
    "knn_every", "online_probe", "schedule", "warmup_epochs", "criterion", "views",
    "skip_corrupt",
)  # fmt: skip


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    presets = subparsers.add_parser("presets", help="print the table of method presets")
    presets.set_defaults(run=run_presets)

    parser = subparsers.add_parser(
        "pretrain",
        help="contrastive pretraining with a preset (Lightning; DDP, checkpoints, resume)",
        description=PRETRAIN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--preset", help="method preset (default infomin)")
    add_data_args(parser)
    parser.add_argument("--config", help="YAML file of config values")
    add_skip_corrupt_arg(parser)
    parser.add_argument("--train-size", type=positive_int, help="embedded data: samples")
    parser.add_argument("--test-size", type=positive_int, help="embedded data: probe test size")
    parser.add_argument("--backbone", help="backbone name (default convnet)")
    parser.add_argument("--width", type=float, help="width multiplier (default 1)")
    parser.add_argument("--epochs", type=positive_int, help="epochs (default 10)")
    parser.add_argument("--batch-size", type=positive_int, help="per-process batch size")
    parser.add_argument("--lr", type=float, help="learning rate (default: preset lr x batch/256)")
    parser.add_argument("--temperature", type=float, help="override the preset's tau")
    parser.add_argument("--num-negatives", type=positive_int, help="queue length / bank draws")
    parser.add_argument("--schedule", choices=("cosine", "step"), help="lr decay (default cosine)")
    parser.add_argument(
        "--criterion", choices=("infonce", "nce"), help="softmax InfoNCE or binary NCE"
    )
    parser.add_argument("--warmup-epochs", type=int, help="linear lr warm-up epochs")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--devices", type=positive_int, help="devices (processes) per node")
    parser.add_argument("--num-nodes", type=positive_int, help="machines")
    parser.add_argument("--accelerator", help="auto, cpu, gpu, ... (Lightning's)")
    parser.add_argument("--precision", help="32-true (default) or bf16-mixed")
    parser.add_argument("--channels-last", action="store_true", help="channels_last memory")
    parser.add_argument("--num-workers", type=int, help="data-loading workers")
    parser.add_argument("--checkpoint-every", type=positive_int, help="epochs between saves")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps")
    parser.add_argument("--knn-every", type=int, help="kNN monitor every N epochs (0: off)")
    parser.add_argument(
        "--online-probe", action="store_true", help="train linear probes alongside (monitor)"
    )
    parser.add_argument(
        "--views",
        help="train on these views instead of the preset's augmentations: a view spec as in "
        "`infomin mi --help` (e.g. toy:digit, colorspace:lab with cmc/cmcv2)",
    )
    parser.add_argument("--resume", action="store_true", help="continue from last.ckpt")
    parser.add_argument("--out", default="runs/pretrain", help="run folder")
    parser.set_defaults(run=run_pretrain)


def run_presets(args: argparse.Namespace) -> int:
    from infomin.methods.presets import TABLE_COLUMNS, preset_rows
    from infomin.reports import markdown_table

    print(markdown_table(["preset", *TABLE_COLUMNS], preset_rows()))
    return 0


def run_pretrain(args: argparse.Namespace) -> int:
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from infomin.config import build_config, load_yaml
    from infomin.methods.faults import Interrupted
    from infomin.methods.pretrain import PretrainConfig, pretrain
    from infomin.outputs import prepare_out_dir, write_json, write_yaml

    values = load_yaml(args.config) if getattr(args, "config", None) else {}
    values.update({k: getattr(args, k) for k in _FIELDS if hasattr(args, k)})
    config = build_config(PretrainConfig, values, source="the pretrain config")
    out = prepare_out_dir(args.out)
    write_yaml(out / "config.yaml", asdict(config))
    try:
        results = pretrain(config, out, resume=getattr(args, "resume", False))
    except Interrupted as stop:
        return stopped(str(stop), stop.exit_code)
    except FloatingPointError as err:  # a NaN loss, or Diverged (non-finite weights)
        return stopped(f"training diverged: {err}; {_kept(out)}", EXIT_DIVERGED)
    except MisconfigurationException as err:  # e.g. more devices than the machine has
        raise UserError(str(err).splitlines()[0]) from None
    if results is not None:  # the main process; the other DDP processes write nothing
        write_json(out / "results.json", results)
        print(f"wrote {out / 'results.json'}")
    return 0


def _kept(out: Path) -> str:
    """What a diverged run leaves to resume from (nothing non-finite is ever saved)."""
    from infomin.methods.pretrain import last_checkpoint

    last = last_checkpoint(out)
    if not last.is_file():
        return "no checkpoint was written; try a lower --lr"
    return f"the last good checkpoint is kept ({last}); try a lower --lr"
