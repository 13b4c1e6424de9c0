"""The toy's views: a clip and a frame of colorful-moving-digits that share chosen factors.

Why: the paper's first experiment (Colorful-Moving-MNIST) shows that a contrastive
encoder learns only what its two views share. Here the views are built from explicit
factors (`infomin.data.moving_digits.render`), so "what is shared" is exact, not hoped.

The three factors, and exactly what each includes:

- ``digit``: the digit *image* (which of the MNIST images: its class and handwriting,
  the `digit_index`/`digit` fields), and with ``colour="digit"`` **its colour** (`color`)
  too. With ``colour="free"`` each view draws its own colour and no row shares it.
  Why both: an early prototype that recoloured v2 learned nothing from digit-only sharing
  (I_NCE about 0), so colour went with the digit; but a shared hue, continuous, is
  enough on its own to pick the positive among K candidates, and on the measured toy
  (`docs/toy-investigation.md`) it was a shortcut that left the digit's shape half
  learned: digit-only sharing gave less digit accuracy than position-only sharing. With
  free colour digit-only sharing learns the digit best. `infomin toy` uses "free"; the
  default here stays "digit" so that `toy:...` view specs and the ladder keep their
  meaning.
- ``position``: where the digit is drawn, its ink centre of mass (`position`) in px.
- ``background``: the photo (`background`, the photo class) **and the crop of it**
  (`crop_offset`), i.e. the same background pixels.

v1 is a clip of `v1_frames` frames (the paper's "sequence of frames"), stacked along
channels for its encoder (`3 * v1_frames` channels: the simplest temporal encoder, early
fusion); v2 is one frame. With several frames, v2 is the clip's *next* frame (frame
`v1_frames`), so a shared ``position`` is where v1's motion carries the digit: the
encoder must read the velocity off the frames to match it. With `v1_frames=1` (the
single-frame variant) there is no motion to read, and v2 shows the same instant: a shared
position is "the digit at the same place". v2's shared factors are copied from v1's clip
and its other factors come from an independent clip of the same split, so v1 and v2 have
the same marginal distribution. Both clips move (each at its own velocity, reflecting off
the walls) inside the range where v1's digit and the independently drawn one both fit
whole (the intersection of their in-canvas ranges, at most a pixel or two narrower than
one digit's), so a shared position puts v2's digit, whichever it is, exactly there with
no ink clipped. ``position`` owns the velocity too (how the digit moves).

The ladder (`ladder=s`, s in [0, 2]) weakens sharing step by step, from too much to too
little: s = 0 shares digit and background; for s in (0, 1] each pair shares the
background with probability 1 - s (s = 1 is digit only); for s in (1, 2] v2's digit image
is replaced by an independent one with probability s - 1, keeping v1's colour (s = 2
shares only the colour). Position follows `shared` all along the ladder.

Negatives are the other pairs of a batch, which share nothing with the query beyond
chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from infomin.data import photos
from infomin.data.base import Task, classification
from infomin.data.moving_digits import (
    ClipFactors,
    RenderConfig,
    bounce,
    position_bounds,
    render,
    sample_factors,
)
from infomin.data.transforms import to_model_input
from infomin.views.pairs import PairSet, ProbeSet

FACTORS = ("digit", "position", "background")
# Which `ClipFactors` fields each factor owns (the digit's image fields vs its colour are
# split so that the ladder can replace the image but keep the colour).
DIGIT_IMAGE_FIELDS = ("digit", "digit_index")
FACTOR_FIELDS: dict[str, tuple[str, ...]] = {
    "digit": (*DIGIT_IMAGE_FIELDS, "color"),
    "position": ("position", "velocity"),
    "background": ("background", "crop_offset"),
}
LADDER_RANGE = (0.0, 2.0)
# Whose colour the digit wears: "digit" = part of the digit factor, "free" = each view's own.
COLOURS = ("digit", "free")
# Streams of the seed: each draw gets its own so that changing one leaves the others.
_V1, _FRESH, _MIX, _PROBE, _POSITION = 0, 1, 2, 3, 4


def parse_shared(shared: frozenset[str] | set[str] | str) -> frozenset[str]:
    """Normalise `"digit+background"`, `"all"`, `"none"` or a set of names; validate them."""
    if isinstance(shared, str):
        text = shared.strip().lower()
        if text == "all":
            return frozenset(FACTORS)
        names = [] if text in ("", "none") else [part.strip() for part in text.split("+")]
    else:
        names = list(shared)
    unknown = sorted(set(names) - set(FACTORS))
    if unknown:
        raise ValueError(
            f"unknown toy factor(s) {', '.join(map(repr, unknown))}; valid: "
            f"{', '.join(FACTORS)} (join with '+', or 'all' / 'none')"
        )
    return frozenset(names)


def shared_label(shared: frozenset[str]) -> str:
    """`digit+background` in the canonical factor order (`none` for the empty set)."""
    return "+".join(f for f in FACTORS if f in shared) or "none"


def share_probabilities(
    shared: frozenset[str], ladder: float | None, colour: str = "digit"
) -> dict[str, float]:
    """Per field group, the probability that v2 copies it from v1."""
    probs = {
        "digit_image": float("digit" in shared),
        "color": float("digit" in shared and colour == "digit"),
        "position": float("position" in shared),
        "background": float("background" in shared),
    }
    if ladder is not None:
        probs["background"] = max(0.0, 1.0 - ladder)
        probs["digit_image"] = min(1.0, 2.0 - ladder)
    return probs


def _seed(seed: int, stream: int) -> int:
    """A seed for one independent stream of draws of one experiment seed."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def mix_factors(
    v1: ClipFactors, fresh: ClipFactors, probs: dict[str, float], rng: np.random.Generator
) -> ClipFactors:
    """v2's factors: each field group copied from `v1` with its probability, else `fresh`.

    One uniform number per pair and group is always drawn, so probability 1 copies every
    pair and 0 none: the ladder's endpoints equal the named rows exactly.
    """
    groups = {
        "digit_image": DIGIT_IMAGE_FIELDS,
        "color": ("color",),
        "position": FACTOR_FIELDS["position"],
        "background": FACTOR_FIELDS["background"],
    }
    changes = {}
    for group, fields in groups.items():
        take = torch.from_numpy(rng.random(len(v1)) < probs[group])
        for field in fields:
            ours, theirs = getattr(v1, field), getattr(fresh, field)
            mask = take.view(-1, *([1] * (ours.dim() - 1)))
            changes[field] = torch.where(mask, ours, theirs)
    return fresh.replace(**changes)


def fitting_positions(
    first: ClipFactors,
    second: ClipFactors,
    config: RenderConfig,
    rng: np.random.Generator,
    frames: int = 1,
    velocity: torch.Tensor | None = None,
) -> torch.Tensor:
    """Positions `[N, frames, 2]`: a start uniform where both clips' digits fit inside the
    canvas, moving at `velocity` (`[N, 2]`, px/frame) and reflecting off that range.

    Why: copying a position drawn for one digit onto a larger one would clip its ink at
    the edge and move its drawn centre by up to 3 px (measured: 3.5% of pairs by > 1 px).
    With one frame the velocity is not used.
    """
    low_a, high_a = position_bounds(first.digit_index.numpy(), config)
    low_b, high_b = position_bounds(second.digit_index.numpy(), config)
    low, high = np.maximum(low_a, low_b), np.minimum(high_a, high_b)
    high = np.maximum(high, low)  # never empty for digits that fit the canvas; be safe
    start = low + rng.random(low.shape) * (high - low)
    if frames == 1:
        return torch.from_numpy(start.astype(np.float32))[:, None, :]
    speed = np.zeros_like(start) if velocity is None else velocity.numpy().astype(np.float64)
    return torch.from_numpy(bounce(start, speed, frames, low, high).astype(np.float32))


def render_frame(factors: ClipFactors, config: RenderConfig, frame: int = 0) -> torch.Tensor:
    """Frame `frame` of each clip: `uint8 [N, 3, H, W]`."""
    return render(
        factors.digit_index,
        factors.color,
        factors.position[:, frame],
        factors.background,
        factors.crop_offset,
        config,
    )


def render_clip(factors: ClipFactors, config: RenderConfig, frames: int) -> torch.Tensor:
    """The first `frames` frames of each clip stacked along channels: `uint8 [N, 3T, H, W]`."""
    clips = render(
        factors.digit_index,
        factors.color,
        factors.position[:, :frames],
        factors.background,
        factors.crop_offset,
        config,
    )
    return clips.flatten(1, 2)


def clip_model_input(clips: torch.Tensor) -> torch.Tensor:
    """`uint8 [N, 3T, H, W]` stacked frames -> floats, each frame normalised as RGB."""
    n, channels, height, width = clips.shape
    frames = to_model_input(clips.view(n, channels // 3, 3, height, width))
    return frames.flatten(1, 2)


TOY_TASKS: dict[str, Task] = {
    "digit": classification("digit", 10),
    "background": classification("background", photos.NUM_PHOTOS),
    "position": Task("position", "regression", unit="px"),
}


@dataclass(frozen=True)
class ToyPairs:
    """Raw material of a pair set, for tests and pictures: both views' factors and frames."""

    v1_factors: ClipFactors
    v2_factors: ClipFactors
    v1: torch.Tensor  # uint8 [n, 3 * v1_frames, H, W]: v1's frames stacked along channels
    v2: torch.Tensor  # uint8 [n, 3, H, W]


class ToyPairSource:
    """Pairs (a clip, a frame) sharing `shared` factors (a `PairSource` for the critic engine).

    `shared`: a set of factor names or a string such as `"digit+background"`. `ladder`:
    the view-strength ladder of the module docstring; it needs `shared` to contain digit
    and background (its s = 0 end) and keeps position shared or not as `shared` says.
    `v1_frames`: frames of v1's clip (1 = the single-frame variant, the default here so
    that `toy:...` view specs keep single frames; `infomin toy` passes its own).
    `colour`: "digit" (the digit factor includes its colour) or "free" (never shared).
    The probe set is single frames of the split with targets digit, background and
    position, given to f2 only (`ProbeSet.images_2`): one single-frame encoder, so its
    features are comparable with a random-init encoder of the same architecture.
    """

    def __init__(
        self,
        shared: frozenset[str] | str,
        canvas: int = 32,
        digit_size: int = 20,
        dim: float = 0.6,
        ladder: float | None = None,
        v1_frames: int = 1,
        colour: str = "digit",
    ) -> None:
        self.shared = parse_shared(shared)
        if v1_frames < 1:
            raise ValueError(f"v1_frames must be >= 1, got {v1_frames}")
        if colour not in COLOURS:
            raise ValueError(f"colour must be one of {', '.join(COLOURS)}, got {colour!r}")
        self.v1_frames = int(v1_frames)
        self.colour = colour
        if ladder is not None:
            self._check_ladder(ladder)
        self.ladder = None if ladder is None else float(ladder)
        self.config = RenderConfig(canvas=canvas, digit_size=digit_size, dim=dim)
        self.probabilities = share_probabilities(self.shared, self.ladder, colour)
        label = shared_label(self.shared)
        self.name = f"toy:{label}" if ladder is None else f"toy:ladder={ladder:g}"

    def _check_ladder(self, ladder: float) -> None:
        low, high = LADDER_RANGE
        if not low <= ladder <= high:
            raise ValueError(f"ladder must be in [{low:g}, {high:g}], got {ladder}")
        if not {"digit", "background"} <= self.shared:
            raise ValueError(
                "the toy ladder starts from digit+background shared: pass shared="
                f"'digit+background' (optionally +position), got {shared_label(self.shared)!r}"
            )

    @property
    def v2_frame(self) -> int:
        """Which frame of the clip v2 shows: the next one after v1's clip, or with a single
        frame the same instant (no motion to read)."""
        return self.v1_frames if self.v1_frames > 1 else 0

    def raw_pairs(self, split: str, n: int, seed: int) -> ToyPairs:
        """Factors and `uint8` frames of `n` pairs (same arguments, same pairs)."""
        frames = self.v2_frame + 1
        v1 = sample_factors(n, split, frames=1, seed=_seed(seed, _V1), config=self.config)
        fresh = sample_factors(n, split, frames=1, seed=_seed(seed, _FRESH), config=self.config)
        split_id = photos.SPLITS.index(split)
        place = np.random.default_rng([seed, _POSITION, split_id])
        first = fitting_positions(v1, fresh, self.config, place, frames, v1.velocity)
        second = fitting_positions(v1, fresh, self.config, place, frames, fresh.velocity)
        v1, fresh = v1.replace(position=first), fresh.replace(position=second)
        rng = np.random.default_rng([seed, _MIX, split_id])
        v2 = mix_factors(v1, fresh, self.probabilities, rng)
        clip = render_clip(v1, self.config, self.v1_frames)
        return ToyPairs(v1, v2, clip, render_frame(v2, self.config, self.v2_frame))

    def pairs(self, split: str, n: int, seed: int) -> PairSet:
        raw = self.raw_pairs(split, n, seed)
        return PairSet(clip_model_input(raw.v1), to_model_input(raw.v2))

    def probe_set(self, split: str, n: int, seed: int) -> ProbeSet:
        return toy_probe_set(self.config, split, n, seed)


def toy_probe_targets(
    config: RenderConfig, split: str, n: int, seed: int
) -> tuple[ClipFactors, dict[str, torch.Tensor]]:
    """The probe frames' factors and targets (cheap: nothing is rendered)."""
    factors = sample_factors(n, split, frames=1, seed=_seed(seed, _PROBE), config=config)
    targets = {
        "digit": factors.digit,
        "background": factors.background,
        "position": factors.position[:, 0],
    }
    return factors, targets


def toy_probe_set(config: RenderConfig, split: str, n: int, seed: int) -> ProbeSet:
    """Single frames of `split` with their factors as targets, for f2 only.

    It does not depend on what the views share, so one probe set serves every row.
    """
    factors, targets = toy_probe_targets(config, split, n, seed)
    images = to_model_input(render_frame(factors, config))
    return ProbeSet(None, images, targets, dict(TOY_TASKS))
