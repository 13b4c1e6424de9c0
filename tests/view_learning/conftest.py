"""One torch thread for these tests: tiny convnets ran several times slower with two
threads on a busy 2-core machine (the commands default to one thread for the same reason)."""

from __future__ import annotations

import pytest

from infomin.threads import torch_threads


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield
