"""The view generator g: a pixel-wise invertible flow over the colour channels.

g is a learned colour space: the same invertible map R^3 -> R^3 applied at every pixel,
so g(X) has as much information as X (nothing is thrown away; the views only choose how
it is split between channel 1 and channels 2:3). It is a stack of coupling layers whose
conditioners are small MLPs on the 3 channel values of one pixel (equivalently 1x1
convolutions). Two variants:

- ``additive`` (NICE): y_b = x_b + t(x_a); volume-preserving, log-determinant exactly 0;
- ``affine`` (RealNVP): y_b = exp(s(x_a)) * x_b + t(x_a), s soft-clipped by zuko to
  |s| < log 1000 (no overflow); log-determinant = sum of s.

Why zuko: its `GeneralCouplingTransform` is exactly a coupling layer on vectors with a
chosen mask and univariate transform (`AdditiveTransform`, `MonotonicAffineTransform`),
with exact inverses and log-determinants; a pixel-wise flow is that flow on the
``[B*H*W, 3]`` matrix of pixels. We only add the reshaping, the masks, identity
initialisation (the hyper-networks' last layer is zeroed, so g starts as the input
colour space) and saving/loading.

The input is a fixed, standardised colour space (``rgb`` or e.g. ``ydbdr``, see
`infomin.views.colorspaces`): the flow starts there and learns from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from zuko.flows.coupling import GeneralCouplingTransform
from zuko.transforms import AdditiveTransform, MonotonicAffineTransform

from infomin.outputs import atomic_write
from infomin.views.colorspaces import canonical_color_space, to_normalized_color_space

COUPLINGS = ("affine", "additive")
FORMAT = "infomin-learned-view"

# Which channels each coupling keeps fixed (True) and conditions on: alternately one
# channel conditioning the other two and two conditioning the third, rotating which
# channel plays which role, so that 6 layers let every channel depend on every other.
MASKS: tuple[tuple[bool, bool, bool], ...] = (
    (True, False, False),
    (False, True, True),
    (False, True, False),
    (True, False, True),
    (False, False, True),
    (True, True, False),
)


class FlowFileError(ValueError):
    """A file that is not a saved view generator (or is damaged)."""


@dataclass(frozen=True)
class FlowConfig:
    """The architecture of g and the colour space it starts from."""

    coupling: str = "affine"  # affine (RealNVP) or additive (NICE, volume-preserving)
    layers: int = 6
    hidden: int = 16  # width of the conditioner MLPs (two hidden layers; 32 was 2x slower)
    input_space: str = "rgb"

    def __post_init__(self) -> None:
        if self.coupling not in COUPLINGS:
            raise ValueError(f"coupling must be {' or '.join(COUPLINGS)}, not {self.coupling!r}")
        if self.layers < 1 or self.hidden < 1:
            raise ValueError(f"layers and hidden must be >= 1, got {self.layers}, {self.hidden}")
        object.__setattr__(self, "input_space", canonical_color_space(self.input_space))


DEFAULT_FLOW = FlowConfig()


def _coupling(mask: Sequence[bool], kind: str, hidden: int) -> GeneralCouplingTransform:
    if kind == "additive":
        univariate, shapes = AdditiveTransform, ((),)
    else:
        univariate, shapes = MonotonicAffineTransform, ((), ())
    layer = GeneralCouplingTransform(
        3, mask=torch.tensor(mask), univariate=univariate, shapes=shapes,
        hidden_features=(hidden, hidden), activation=nn.SiLU,
    )  # fmt: skip
    last = layer.hyper[-1]  # zuko's MLP is a Sequential ending in its output Linear
    nn.init.zeros_(last.weight)  # identity at initialisation: shift 0, log-scale 0
    nn.init.zeros_(last.bias)
    return layer


def _pixels(x: Tensor) -> Tensor:
    """``[B, 3, H, W]`` -> ``[B*H*W, 3]``: one row per pixel."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected [B, 3, H, W] images, got shape {tuple(x.shape)}")
    return x.permute(0, 2, 3, 1).reshape(-1, 3)


def _images(rows: Tensor, like: Tensor) -> Tensor:
    b, _, h, w = like.shape
    return rows.reshape(b, h, w, 3).permute(0, 3, 1, 2).contiguous()


class PixelFlow(nn.Module):
    """g: ``[B, 3, H, W]`` -> ``[B, 3, H, W]``, the same invertible map at every pixel."""

    def __init__(self, config: FlowConfig = FlowConfig()) -> None:
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList(
            _coupling(MASKS[i % len(MASKS)], config.coupling, config.hidden)
            for i in range(config.layers)
        )

    def forward(self, x: Tensor) -> Tensor:
        rows = _pixels(x)
        for layer in self.layers:
            rows = layer()(rows)
        return _images(rows, x)

    def inverse(self, y: Tensor) -> Tensor:
        rows = _pixels(y)
        for layer in reversed(self.layers):
            rows = layer().inv(rows)
        return _images(rows, y)

    def forward_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """g(x) and log |det dg/dx| per image (the per-pixel log-determinants summed)."""
        rows = _pixels(x)
        total = torch.zeros(len(rows), dtype=x.dtype, device=x.device)
        for layer in self.layers:
            rows, ladj = layer().call_and_ladj(rows)
            total = total + ladj
        return _images(rows, x), total.reshape(len(x), -1).sum(dim=1)

    def views(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """`uint8` RGB images -> (g(X)_1, g(X)_2:3) as float network inputs."""
        x = to_normalized_color_space(images.float() / 255.0, self.config.input_space)
        y = self(x)
        return y[:, :1].contiguous(), y[:, 1:].contiguous()


def save_flow(flow: PixelFlow, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Save g (config, weights and free-form metadata) so `load_flow` can rebuild it."""
    payload = {
        "format": FORMAT,
        "config": asdict(flow.config),
        "state_dict": {k: v.detach().cpu() for k, v in flow.state_dict().items()},
        "meta": dict(meta or {}),
    }
    return atomic_write(Path(path), lambda tmp: torch.save(payload, tmp))


def load_flow(path: str | Path) -> PixelFlow:
    """Rebuild a saved g in eval mode; a missing file raises FileNotFoundError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no learned view file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged or foreign file
        raise FlowFileError(f"{path} is not a readable learned view file ({err})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise FlowFileError(f"{path} is not a learned view file (saved by infomin learn-views)")
    flow = PixelFlow(FlowConfig(**payload["config"]))
    flow.load_state_dict(payload["state_dict"])
    return flow.eval()
