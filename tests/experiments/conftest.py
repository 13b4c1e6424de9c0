"""A view source whose answer is known, shared by the engine and the MI tests."""

import pytest
import torch

from infomin.data.base import Task
from infomin.views.pairs import PairSet, ProbeSet


class SharedColour:
    """v1, v2: two noisy copies of one colour; label: which of 4 red levels (known answer)."""

    name = "shared-colour"
    primary_metric = "level.linear_top1"

    def _draw(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        level = torch.randint(0, 4, (n,), generator=g)
        colour = torch.rand(n, 3, 1, 1, generator=g)
        colour[:, 0, 0, 0] = level.float() / 2
        return colour, level, g

    def pairs(self, split, n, seed):
        colour, _, g = self._draw(n, seed + 100 * (split == "test"))
        noise = lambda: 0.1 * torch.randn(n, 3, 8, 8, generator=g)  # noqa: E731
        return PairSet(colour + noise(), colour + noise())

    def probe_set(self, split, n, seed):
        colour, level, g = self._draw(n, seed + 10 + 100 * (split == "test"))
        images = colour + 0.1 * torch.randn(n, 3, 8, 8, generator=g)
        task = {"level": Task("level", "classification", num_classes=4)}
        return ProbeSet(images, None, {"level": level}, task)


@pytest.fixture
def shared_colour():
    return SharedColour()
