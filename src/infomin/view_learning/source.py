"""A learned g as a pair of views: the `PairSource` behind ``learned:PATH``.

It is `ColorSpaceSource` with g in place of a fixed colour space: each image is
converted to g's input space, passed through g (frozen), and split into channel 1 vs
channels 2:3; the probe sees both encoders' features (CMC's protocol), so a learned view
and a fixed colour space are measured the same way (step 4 of the paper's protocol:
freeze g, train fresh encoders on its views, probe).
"""

from __future__ import annotations

import torch

from infomin.experiments.pairs import PairSet, ProbeSet
from infomin.view_learning.flows import PixelFlow
from infomin.views.specs import ImagePool, _primary_for


class LearnedViewSource:
    """Views g(X)_1 and g(X)_2:3 of the pool's images, g frozen."""

    def __init__(self, flow: PixelFlow, pool: ImagePool, name: str = "learned") -> None:
        self.flow = flow.eval()
        for parameter in self.flow.parameters():
            parameter.requires_grad_(False)
        self.pool = pool
        self.name = name
        self.primary_metric = _primary_for(pool.data)

    @torch.no_grad()
    def _views(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.flow.views(images)

    def pairs(self, split: str, n: int, seed: int) -> PairSet:
        return PairSet(*self._views(self.pool.images(split, n, seed).images))

    def probe_set(self, split: str, n: int, seed: int) -> ProbeSet:
        drawn = self.pool.images(split, n, seed)
        first, rest = self._views(drawn.images)
        return ProbeSet(first, rest, drawn.targets, drawn.tasks)
