"""`infomin presets` and `infomin pretrain` (`infomin export` is in cli/export.py)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path
from typing import Any

from infomin.cli.common import (
    EXIT_DIVERGED,
    EXIT_PEER_LOST,
    UserError,
    add_data_args,
    add_overwrite_arg,
    add_skip_corrupt_arg,
    positive_int,
    stopped,
)
from infomin.cli.options import Resolved, add_config_args, print_dry_run, resolve, write_config
from infomin.outputs import write_json
from infomin.run_folder import claim

PRETRAIN_HELP = """\
Pretrain an encoder with a named preset (insdis, cmc, moco, pirl, mocov2, cmcv2,
infomin, simclr; see `infomin presets`) on Lightning: checkpoints (last and every k
epochs) in OUT/checkpoints, CSV and TensorBoard logs, a progress bar, seeds, and
--devices N --num-nodes M through Lightning's DDP. At the end the frozen backbone is
evaluated (linear probe, kNN, localisation) and OUT/results.json is written.
--resume continues from OUT/checkpoints/last.ckpt.

Each value comes from, in increasing precedence: the built-in default, the preset,
--config FILE (YAML with the keys of config.yaml), the flags typed here. OUT/config.yaml
records every value with its source; `--config OUT/config.yaml --out NEW` reruns the
run. --dry-run prints the resolved values and exits. Options the run would ignore
(--data-dir with embedded data, --num-negatives with in-batch negatives, ...) are refused.

Data protocol: STL-10 pretrains on train+unlabeled and probes train/test; other datasets
pretrain on train and probe train/test; --eval-data probes another labelled dataset
(e.g. pretrain on a folder of photos, probe on CIFAR-10). Without labelled evaluation
data (folder-unlabeled) the run says so at the start and skips the probe. The evaluation
data is opened, and one image fed through the backbone, before the first step.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    presets = subparsers.add_parser("presets", help="print the table of method presets")
    presets.set_defaults(run=run_presets)

    parser = subparsers.add_parser(
        "pretrain",
        help="contrastive pretraining with a preset (Lightning; DDP, checkpoints, resume)",
        description=PRETRAIN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,  # the defaults are PretrainConfig's
    )
    parser.add_argument("--preset", help="method preset (default infomin)")
    add_data_args(parser)
    add_config_args(parser)
    add_skip_corrupt_arg(parser)
    parser.add_argument(
        "--train-size", type=positive_int, help="embedded data: training samples (4000)"
    )
    parser.add_argument("--test-size", type=positive_int, help="embedded data: test samples (1000)")
    parser.add_argument("--backbone", help="backbone name (default convnet)")
    parser.add_argument("--width", type=float, help="width multiplier (default 1)")
    parser.add_argument("--epochs", type=positive_int, help="epochs (default 10)")
    parser.add_argument("--batch-size", type=positive_int, help="per-process batch size (128)")
    parser.add_argument("--lr", type=float, help="learning rate (default: preset lr x batch/256)")
    parser.add_argument("--temperature", type=float, help="override the preset's tau")
    parser.add_argument(
        "--crop-min", type=float, help="the crop's lower bound (area fraction) instead of the "
        "preset's, e.g. a sweep's sweet spot (`infomin sweep --vary crop_scale`)"
    )  # fmt: skip
    parser.add_argument("--num-negatives", type=positive_int, help="queue length / bank draws")
    parser.add_argument("--schedule", choices=("cosine", "step"), help="lr decay (default cosine)")
    parser.add_argument(
        "--criterion", choices=("infonce", "nce"), help="softmax InfoNCE or binary NCE"
    )
    parser.add_argument("--warmup-epochs", type=int, help="linear lr warm-up epochs")
    parser.add_argument("--seed", type=int, help="seed (default 0)")
    parser.add_argument("--devices", type=positive_int, help="devices (processes) per node")
    parser.add_argument("--num-nodes", type=positive_int, help="machines")
    parser.add_argument("--accelerator", help="auto, cpu, gpu, ... (Lightning's)")
    parser.add_argument(
        "--precision",
        help="auto (default: bf16-mixed where the device computes bf16, else 32-true), "
        "32-true or bf16-mixed",
    )
    parser.add_argument(
        "--channels-last", action=argparse.BooleanOptionalAction, help="channels_last memory"
    )
    parser.add_argument(
        "--num-workers",
        type=int,
        help="data-loading worker processes (default 0: on a CPU the views of in-memory "
        "data are made per batch in the main process, the fastest choice when torch uses "
        "every core, measured; a resumed run repeats an uninterrupted one bit for bit "
        "only with 0, since workers draw from their own random streams)",
    )
    parser.add_argument("--checkpoint-every", type=positive_int, help="epochs between saves")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps")
    parser.add_argument("--knn-every", type=int, help="kNN monitor every N epochs (0: off)")
    parser.add_argument(
        "--online-probe",
        action=argparse.BooleanOptionalAction,
        help="train linear probes alongside (monitor)",
    )
    parser.add_argument(
        "--evaluate",
        action=argparse.BooleanOptionalAction,
        help="probe the frozen backbone at the end (default on)",
    )
    parser.add_argument(
        "--views",
        help="train on these views instead of the preset's augmentations: a view spec as in "
        "`infomin mi --help` (e.g. toy:digit, colorspace:lab with cmc/cmcv2)",
    )
    data = parser.add_argument_group(
        "pretraining and evaluation data (default: each dataset's standard protocol)"
    )
    data.add_argument(
        "--train-split",
        help="split to pretrain on (STL-10: train+unlabeled by default, or unlabeled, train)",
    )
    data.add_argument(
        "--eval-data",
        help="labelled dataset the frozen probe and kNN monitor use (default: --data itself)",
    )
    data.add_argument("--eval-data-dir", help="its folder, for a dataset on disk")
    data.add_argument("--eval-train-split", help="split the probe is fitted on (default train)")
    data.add_argument("--eval-test-split", help="split the probe is scored on (default test)")
    parser.add_argument("--resume", action="store_true", default=False,
                        help="continue from last.ckpt")  # fmt: skip
    parser.add_argument("--out", default="runs/pretrain", help="run folder")
    add_overwrite_arg(parser)
    parser.set_defaults(run=run_pretrain)


def run_presets(args: argparse.Namespace) -> int:
    from infomin.methods.presets import TABLE_COLUMNS, preset_rows
    from infomin.reports import markdown_table

    print(markdown_table(["preset", *TABLE_COLUMNS], preset_rows()))
    return 0


def run_pretrain(args: argparse.Namespace) -> int:
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from infomin.methods.faults import Interrupted
    from infomin.methods.pretrain import pretrain

    config, resolved = resolve_pretrain(args)
    if getattr(args, "dry_run", False):
        return print_dry_run(resolved)
    if args.resume and args.overwrite:
        raise UserError("--resume continues the run in --out, --overwrite deletes it: choose one")
    out = claim(args.out, "pretrain", resume=args.resume, overwrite=args.overwrite,
                can_resume=True)  # fmt: skip
    if args.resume:
        check_same_run(out, resolved)
    write_config(out / "config.yaml", resolved, args.argv)
    try:
        results = pretrain(config, out, resume=args.resume)
    except Interrupted as stop:
        return stopped(str(stop), stop.exit_code)
    except FloatingPointError as err:  # a NaN loss, or Diverged (non-finite weights)
        return stopped(f"training diverged: {err}; {_kept(out)}", EXIT_DIVERGED)
    except MisconfigurationException as err:  # e.g. more devices than the machine has
        raise UserError(str(err).splitlines()[0]) from None
    except RuntimeError as err:
        if config.devices * config.num_nodes == 1 or not _peer_lost(err):
            raise
        message = "error: another training process ended, so this one cannot go on "
        return stopped(f"{message}({_reason(err)}); rerun the same command with --resume",
                       EXIT_PEER_LOST)  # fmt: skip
    if results is not None:  # the main process; the other DDP processes write nothing
        write_json(out / "results.json", results)
        print(f"wrote {out / 'results.json'}")
    return 0


def resolve_pretrain(args: argparse.Namespace) -> tuple[Any, Resolved]:
    """The run's `PretrainConfig` (defaults < preset < file < typed flags), checked, and
    every value's source; what the preset fills in at run time is noted beside it."""
    from infomin.config import build_config
    from infomin.methods.presets import get_preset
    from infomin.methods.pretrain_config import PretrainConfig

    defaults = {f.name: f.default for f in fields(PretrainConfig)}
    resolved = resolve(args, defaults=defaults)
    config = build_config(PretrainConfig, resolved.values, source="the pretrain config")
    preset = get_preset(config.preset)
    for name in _PRESET_FILLS:
        if resolved.values[name] is None:
            resolved.sources[name] = "preset"
            resolved.notes[name] = _preset_note(preset, name)
    return config, resolved


# What a resumed run may change: how it is driven, not what it computes.
_RESUME_MAY_CHANGE = frozenset({"num_workers", "checkpoint_every", "knn_every"})


def check_same_run(out: Path, resolved: Resolved) -> None:
    """`--resume` continues the run in `out` or refuses: every value must be the run's own,
    except a longer run (more epochs or steps) and `_RESUME_MAY_CHANGE`."""
    import yaml

    path = out / "config.yaml"
    if not path.is_file():
        return  # nothing recorded (an empty folder: the run starts afresh)
    try:
        saved = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise UserError(f"--resume: {path} is not readable YAML; cannot tell the run") from None
    if not isinstance(saved, dict):
        raise UserError(f"--resume: {path} holds no run config")
    differ = [
        f"{key} {saved[key]!r} (run) vs {value!r} (now)"
        for key, value in resolved.values.items()
        if key in saved and saved[key] != value and not _may_change(key, saved[key], value)
    ]
    if differ:
        raise UserError(
            f"--resume continues the run in {out}, which differs: {'; '.join(differ)}; "
            "drop those options, or use --overwrite or a new --out"
        )


def _may_change(key: str, old: Any, new: Any) -> bool:
    if key in _RESUME_MAY_CHANGE:
        return True
    if key == "epochs":
        return new >= old
    if key == "max_steps":  # -1: no limit
        return new == -1 or (old != -1 and new >= old)
    return False


# Config keys left None so that the preset (adapted to the image size) decides them.
_PRESET_FILLS = ("lr", "temperature", "num_negatives", "schedule", "warmup_epochs", "criterion")


def _preset_note(preset: Any, name: str) -> str:
    """What the preset puts in place of an unset value (shown by --dry-run, config.yaml)."""
    if name == "lr":
        return f"{preset.name} lr {preset.lr} x global batch / 256"
    if name == "num_negatives" and preset.negatives == "batch":
        return f"{preset.name}: the rest of the batch"
    if name == "warmup_epochs":
        from infomin.methods.presets import warmup_cell

        return f"{preset.name}: {warmup_cell(preset)}"
    value = getattr(preset, name)
    if name == "num_negatives":
        return f"{preset.name} {value} (4096 for images <= 96 px)"
    return f"{preset.name} {value}"


# What torch's gloo and NCCL backends raise when a peer process has gone away.
_PEER_LOST = ("Connection reset by peer", "Connection closed by peer", "Broken pipe",
              "NCCL communicator was aborted", "DistBackendError")  # fmt: skip


def _peer_lost(err: RuntimeError) -> bool:
    import torch.distributed as dist

    dist_error = getattr(dist, "DistError", ())
    return isinstance(err, dist_error) or any(sign in str(err) for sign in _PEER_LOST)


def _reason(err: RuntimeError) -> str:
    """The backend's message without its source location and advice."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    text = text.split("] ", 1)[-1]
    return text.split(". This is typically", 1)[0].rstrip(".")


def _kept(out: Path) -> str:
    """What a diverged run leaves to resume from (nothing non-finite is ever saved)."""
    from infomin.methods.resume import last_checkpoint

    last = last_checkpoint(out)
    if not last.is_file():
        return "no checkpoint was written; try a lower --lr"
    return f"the last good checkpoint is kept ({last}); try a lower --lr"
