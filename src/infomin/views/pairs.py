"""The view contract: what a pair of views hands to whoever trains on it or measures it.

A view experiment needs two things from its views: *pairs* (two float network inputs
per sample, for training critics and measuring held-out I_NCE) and a *probe set*
(labelled single inputs, for the frozen probe of what was learned). `PairSource` is
that contract; the sources of `infomin.views.sources` and `infomin.views.toy` satisfy
it, and everything that consumes it (the critic engine of `infomin.experiments`,
`pretrain --views`, the view-learning comparison) sits above this package.

Pairs are tensors held in memory: the embedded datasets are small, and rendering views
once keeps training fast on two CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from torch import Tensor

from infomin.data.base import Task


@dataclass(frozen=True)
class PairSet:
    """``n`` pairs of float network inputs.

    Attributes:
        v1: ``[n, C1, H, W]`` the first view of each sample.
        v2: ``[n, C2, H, W]`` the second view (row ``i`` pairs with ``v1[i]``).
    """

    v1: Tensor
    v2: Tensor

    def __post_init__(self) -> None:
        if len(self.v1) != len(self.v2):
            raise ValueError(f"v1 and v2 hold {len(self.v1)} and {len(self.v2)} samples")

    def __len__(self) -> int:
        return len(self.v1)


@dataclass(frozen=True)
class ProbeSet:
    """Labelled images for the frozen probe: inputs for f1 and/or f2, targets, tasks.

    Features are the concatenation of f1(images_1) and f2(images_2) for the encoders
    given (CMC's protocol for two-view encoders; a single encoder when one is None).

    Attributes:
        images_1: ``[n, C1, H, W]`` inputs of the first view's encoder, or None.
        images_2: ``[n, C2, H, W]`` inputs of the second view's encoder, or None.
        targets: Task name -> ``[n]`` class indices or ``[n, ...]`` regression targets.
        tasks: Task name -> its description (`infomin.data.Task`).
    """

    images_1: Tensor | None
    images_2: Tensor | None
    targets: dict[str, Tensor]
    tasks: dict[str, Task]


class PairSource(Protocol):
    """A view experiment's data: pairs to train the critics, labelled images to probe.

    The same ``(split, n, seed)`` always gives the same tensors. A source may also name
    its headline probe metric in a ``primary_metric`` attribute (e.g.
    ``"photo.linear_top1"``).
    """

    name: str

    def pairs(self, split: str, n: int, seed: int) -> PairSet:
        """``n`` pairs of ``split`` (``"train"`` or ``"test"``) drawn with ``seed``."""
        ...

    def probe_set(self, split: str, n: int, seed: int) -> ProbeSet:
        """``n`` labelled images of ``split`` for the frozen probe."""
        ...
