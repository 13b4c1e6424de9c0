"""Clean backbones out of training checkpoints, for transfer.

Users lost 10 points of transfer accuracy to checkpoint key names (`module.` prefixes,
heads mixed in, unfamiliar layer names) that silently failed to load. An export is a
plain torchvision-style `state_dict` of the backbone only, or the same weights under
Detectron2's ResNet names.

The Detectron2 file has to follow that framework's loading rule, or it loads nothing
without an error: a `.pkl` is read with `pickle.load` (a `torch.save` zip fails), and
its names are aligned by suffix (`stem.conv1.weight` into
`backbone.bottom_up.stem.conv1.weight`) only when the dict says
`"matching_heuristics": True`; otherwise names must match exactly and every backbone
weight is skipped with a warning. So it is a plain pickle of numpy arrays with that flag,
as the converted backbones of the MoCo family are.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

BACKBONE_PREFIX = "backbone."
_WRAPPERS = ("module.", "_orig_mod.", "model.")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or holds no backbone, in one line."""


class ExportError(CheckpointError):
    """A backbone the requested format cannot hold (a user error, reported in one line)."""


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
# Detectron2 builds ResNets by depth: (bottleneck?, blocks per stage) -> MODEL.RESNETS.DEPTH.
_DEPTHS: dict[tuple[bool, tuple[int, ...]], int] = {
    (False, (2, 2, 2, 2)): 18,
    (False, (3, 4, 6, 3)): 34,
    (True, (3, 4, 6, 3)): 50,
    (True, (3, 4, 23, 3)): 101,
    (True, (3, 8, 36, 3)): 152,
}
DETECTRON2_DEFAULT_OUT = "backbone-d2.pkl"
TORCHVISION_DEFAULT_OUT = "backbone.pt"


@dataclass(frozen=True)
class ResNetLayout:
    """What a loader must build to take a ResNet's weights, read off the weights' shapes.

    The same trunk can be built with other widths, stems or depths; the frameworks do not
    infer these, so the export says them (Detectron2 config keys, torchvision constructor).
    """

    bottleneck: bool
    blocks: tuple[int, ...]
    in_channels: int
    stem_kernel: int
    stem_channels: int
    res2_channels: int
    inner_channels: int  # the first stage's bottleneck width (Detectron2's WIDTH_PER_GROUP)

    @property
    def depth(self) -> int | None:
        """18/34/50/101/152, or None for a block count no standard ResNet has."""
        return _DEPTHS.get((self.bottleneck, self.blocks))

    @property
    def torchvision_standard(self) -> bool:
        """True when `torchvision.models.resnet<depth>()` has exactly these shapes."""
        standard_res2 = 256 if self.bottleneck else 64
        return (
            self.depth is not None
            and (self.in_channels, self.stem_kernel, self.stem_channels) == (3, 7, 64)
            and self.res2_channels == standard_res2
        )


def describe_resnet(state: Mapping[str, Tensor]) -> ResNetLayout | None:
    """The layout of a torchvision-named ResNet state, or None when it is not one."""
    if "conv1.weight" not in state or "layer1.0.conv1.weight" not in state:
        return None
    blocks = tuple(
        len({key.split(".")[1] for key in state if key.startswith(f"layer{stage}.")})
        for stage in range(1, 5)
    )
    bottleneck = "layer1.0.conv3.weight" in state
    stem = state["conv1.weight"]
    last_conv = "conv3" if bottleneck else "conv2"
    return ResNetLayout(
        bottleneck=bottleneck,
        blocks=blocks,
        in_channels=int(stem.shape[1]),
        stem_kernel=int(stem.shape[-1]),
        stem_channels=int(stem.shape[0]),
        res2_channels=int(state[f"layer1.0.{last_conv}.weight"].shape[0]),
        inner_channels=int(state["layer1.0.conv1.weight"].shape[0]),
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
            raise ExportError(f"not a torchvision ResNet key, cannot map to Detectron2: {key}")
    return renamed


def check_detectron2_layout(layout: ResNetLayout | None) -> ResNetLayout:
    """Refuse, in one line, a trunk Detectron2's ResNet cannot be built to hold."""
    if layout is None:
        raise ExportError("Detectron2 export needs a ResNet backbone (resnet18/34/50/101/152)")
    if layout.depth is None:
        raise ExportError(f"blocks per stage {layout.blocks} match no Detectron2 ResNet depth")
    if layout.stem_kernel != 7:
        raise ExportError(
            f"this ResNet has a {layout.stem_kernel}x{layout.stem_kernel} CIFAR stem (trained "
            "at <= 64 px); Detectron2's stem is 7x7 and would skip it: pretrain at a larger "
            "image size, or use --format torchvision"
        )
    if layout.in_channels != 3:
        raise ExportError(f"Detectron2's stem takes 3 channels, this one {layout.in_channels}")
    return layout


def detectron2_payload(state: Mapping[str, Tensor]) -> dict[str, Any]:
    """The dict Detectron2's checkpointer reads from a `.pkl`: numpy arrays, flag set."""
    check_detectron2_layout(describe_resnet(state))
    arrays = {name: _to_numpy(value) for name, value in to_detectron2(state).items()}
    return {"model": arrays, "__author__": "infomin", "matching_heuristics": True}


def detectron2_config(layout: ResNetLayout) -> dict[str, object]:
    """Detectron2 config values that rebuild this trunk and feed it its training input.

    Our ResNets are torchvision's: stride in the 3x3 conv (Detectron2 defaults to the
    1x1, as in the MSRA weights) and RGB input normalised by the ImageNet mean/std
    (Detectron2 defaults to BGR in 0-255 with std 1).
    """
    from infomin.data.transforms import RGB_MEAN, RGB_STD

    config: dict[str, object] = {
        "MODEL.RESNETS.DEPTH": layout.depth,
        "MODEL.RESNETS.STRIDE_IN_1X1": False,
        "MODEL.RESNETS.STEM_OUT_CHANNELS": layout.stem_channels,
        "MODEL.RESNETS.RES2_OUT_CHANNELS": layout.res2_channels,
    }
    if layout.bottleneck:
        config["MODEL.RESNETS.WIDTH_PER_GROUP"] = layout.inner_channels
    config["INPUT.FORMAT"] = "RGB"
    config["MODEL.PIXEL_MEAN"] = [round(255 * m, 3) for m in RGB_MEAN]
    config["MODEL.PIXEL_STD"] = [round(255 * s, 3) for s in RGB_STD]
    return config


def _to_numpy(value: Tensor) -> np.ndarray:
    """A CPU numpy copy; low-precision floats widened (numpy has no bfloat16)."""
    value = value.detach().cpu()
    return (value.float() if value.is_floating_point() else value).numpy().copy()


@dataclass(frozen=True)
class Exported:
    """What `export_backbone` wrote, and the ResNet layout a loader must rebuild."""

    path: Path
    fmt: str
    layout: ResNetLayout | None


def export_backbone(checkpoint: str | Path, out: str | Path, fmt: str = "torchvision") -> Exported:
    """Write the backbone of `checkpoint` to `out` in format `torchvision` or `detectron2`.

    torchvision: `torch.save` of the `state_dict` (load with `load_state_dict`).
    detectron2: a plain pickle named `.pkl` (see the module docstring for why).
    """
    from infomin.outputs import atomic_write

    if fmt not in ("torchvision", "detectron2"):
        raise ValueError(f"unknown export format {fmt!r}; choose torchvision or detectron2")
    if fmt == "detectron2" and Path(out).suffix != ".pkl":
        raise ExportError(f"Detectron2 reads converted weights from a .pkl file, not {out}")
    state = backbone_state(load_checkpoint_state(checkpoint))
    layout = describe_resnet(state)
    if fmt == "detectron2":
        payload = detectron2_payload(state)
        atomic_write(out, lambda tmp: tmp.write_bytes(pickle.dumps(payload)))
    else:
        atomic_write(out, lambda tmp: torch.save(state, tmp))
    return Exported(Path(out), fmt, layout)
