"""The one place that sets torch's intra-op thread count (a small shared helper).

Why it matters here: the networks and augmentation ops of this project are tiny, and on
a busy 2-core machine intra-op threads made them several times slower (measured: up to
7x for the critics' convnets, 20-30x for per-image augmentation), so hot loops run on
one thread and parallelism comes from processes (`infomin.experiments.pool`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def set_torch_threads(count: int) -> None:
    """Set the thread count for the rest of this process (a worker's initialiser)."""
    torch.set_num_threads(count)


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run with ``count`` torch threads, then restore (in-process callers are unaffected)."""
    previous = torch.get_num_threads()
    set_torch_threads(count)
    try:
        yield
    finally:
        set_torch_threads(previous)
