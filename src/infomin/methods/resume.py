"""Resuming a run: where its checkpoints are, which one to continue, and whether it is
a checkpoint of this run at all.

A truncated checkpoint (a disk that filled up, a copy cut short) is skipped for the
previous good one; a checkpoint of another run (other preset, backbone or data size) is
refused in one line before Lightning's strict load could fail with a traceback.
"""

from __future__ import annotations

from pathlib import Path

import torch

from infomin.config import ConfigError
from infomin.methods.base import ContrastiveMethod
from infomin.outputs import OutputError
from infomin.progress import console


def last_checkpoint(out: Path) -> Path:
    """Where `--resume` looks first (ModelCheckpoint's `save_last` file)."""
    return out / "checkpoints" / "last.ckpt"


def refuse_old_checkpoints(out: Path) -> None:
    """A fresh run must start in a folder without checkpoints.

    Otherwise Lightning writes `last-v1.ckpt` beside the old run's `last.ckpt`, and
    whatever reads `last.ckpt` afterwards (export, evaluate, --resume, the benchmarks)
    silently takes the old run's weights. The CLI's `--overwrite` empties the folder first.
    """
    folder = out / "checkpoints"
    old = sorted(p.name for p in folder.glob("*.ckpt")) if folder.is_dir() else []
    if old:
        raise OutputError(
            f"{folder} already holds checkpoints of another run ({', '.join(old[:3])}"
            f"{', ...' if len(old) > 3 else ''}): resume it, or start in an empty folder"
        )


def resume_checkpoint(folder: Path) -> Path | None:
    """The newest readable checkpoint: `last.ckpt`, else the epoch checkpoints, newest first.

    A truncated or corrupt file (a disk that filled up, a copy cut short) is reported and
    skipped, so a resume falls back to the previous good state instead of failing.
    """
    candidates = [folder / "last.ckpt", *sorted(folder.glob("epoch*.ckpt"), reverse=True)]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        except Exception as err:  # unreadable for any reason: try the previous one
            console.print(f"[yellow]skipping unreadable checkpoint {path}: {type(err).__name__}")
            continue
        return path
    return None


def check_resumable(path: Path, method: ContrastiveMethod) -> None:
    """A checkpoint of another run (preset, backbone, data size) is refused in one line,
    instead of failing inside Lightning's strict load with a traceback."""
    data = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    state = data.get("state_dict") if isinstance(data, dict) else None
    if not isinstance(state, dict):
        raise ConfigError(f"--resume: {path} holds no model state")
    own = method.state_dict()
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    shapes = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or extra or shapes:
        example = (missing or extra or shapes)[0]
        raise ConfigError(
            f"--resume: {path} is not a checkpoint of this run ({len(missing)} weights "
            f"missing, {len(extra)} unexpected, {len(shapes)} of another shape, e.g. "
            f"{example!r}); use --overwrite or a new --out"
        )
    settings = (data.get("hyper_parameters") or {}).get("settings") or {}
    size = settings.get("dataset_size")
    if size is not None and size != method.settings.dataset_size:
        raise ConfigError(
            f"--resume: the run was trained on {size} samples, the data now holds "
            f"{method.settings.dataset_size}; use --overwrite or a new --out"
        )
