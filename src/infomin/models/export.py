"""Clean backbones out of training checkpoints, for transfer.

Users lost 10 points of transfer accuracy to checkpoint key names (`module.` prefixes,
heads mixed in, unfamiliar layer names) that silently failed to load. An export is a
plain torchvision-style `state_dict` of the backbone only, or the same weights under
Detectron2's ResNet names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

BACKBONE_PREFIX = "backbone."
_WRAPPERS = ("module.", "_orig_mod.", "model.")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or holds no backbone, in one line."""


def read_checkpoint(path: str | Path) -> Mapping[str, Any]:
    """A checkpoint's dict (Lightning or plain `state_dict`), or a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, corrupt or foreign: say so in one line
        raise CheckpointError(f"cannot read checkpoint {path}: {type(err).__name__}") from None
    if not isinstance(data, Mapping):
        raise CheckpointError(f"{path} holds no state_dict")
    return data


def load_checkpoint_state(path: str | Path) -> dict[str, Tensor]:
    """The model weights of a Lightning checkpoint or of a plain `state_dict` file."""
    data = read_checkpoint(path)
    state = data.get("state_dict", data)
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path} holds no state_dict")
    return dict(state)


def backbone_state(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Only the backbone's weights, with wrapper prefixes and the `backbone.` scope removed."""
    cleaned: dict[str, Tensor] = {}
    for key, value in state.items():
        for wrapper in _WRAPPERS:
            key = key.removeprefix(wrapper)
        if key.startswith(BACKBONE_PREFIX):
            cleaned[key.removeprefix(BACKBONE_PREFIX)] = value
    if not cleaned:
        raise CheckpointError("no backbone weights found (expected keys starting with 'backbone.')")
    return cleaned


_D2_RULES: tuple[tuple[str, str], ...] = (
    (r"^conv1\.weight$", "stem.conv1.weight"),
    (r"^bn1\.(.+)$", r"stem.conv1.norm.\1"),
    (r"^layer(\d)\.(\d+)\.conv(\d)\.weight$", "res{stage}.\\2.conv\\3.weight"),
    (r"^layer(\d)\.(\d+)\.bn(\d)\.(.+)$", "res{stage}.\\2.conv\\3.norm.\\4"),
    (r"^layer(\d)\.(\d+)\.downsample\.0\.weight$", "res{stage}.\\2.shortcut.weight"),
    (r"^layer(\d)\.(\d+)\.downsample\.1\.(.+)$", "res{stage}.\\2.shortcut.norm.\\3"),
)


def to_detectron2(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """torchvision ResNet names -> Detectron2's (stem.*, res2..res5, convK.norm, shortcut)."""
    renamed: dict[str, Tensor] = {}
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        for pattern, template in _D2_RULES:
            match = re.match(pattern, key)
            if match:
                stage = int(match.group(1)) + 1 if key.startswith("layer") else 0
                renamed[re.sub(pattern, template.replace("{stage}", str(stage)), key)] = value
                break
        else:
            raise CheckpointError(f"not a torchvision ResNet key, cannot map to Detectron2: {key}")
    return renamed


def export_backbone(checkpoint: str | Path, out: str | Path, fmt: str = "torchvision") -> Path:
    """Write the backbone of `checkpoint` to `out` in format `torchvision` or `detectron2`."""
    from infomin.outputs import atomic_write

    state = backbone_state(load_checkpoint_state(checkpoint))
    if fmt == "detectron2":
        payload: object = {"model": to_detectron2(state), "__author__": "infomin"}
    elif fmt == "torchvision":
        payload = state
    else:
        raise ValueError(f"unknown export format {fmt!r}; choose torchvision or detectron2")
    return atomic_write(out, lambda tmp: torch.save(payload, tmp))
