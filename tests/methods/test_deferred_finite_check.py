"""The non-finite loss check off the hot path: recorded on the device, read by FiniteGuard."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from infomin.methods import TrainSettings, build_method, get_preset
from infomin.methods.faults import FiniteGuard


def _method():
    settings = TrainSettings(width=0.25, batch_size=8, epochs=1, steps_per_epoch=4)
    return build_method(get_preset("simclr"), settings)


def test_cpu_losses_stop_the_step_at_once() -> None:
    with pytest.raises(FloatingPointError, match="non-finite loss nan at step 0"):
        _method().watch_loss(torch.tensor(float("nan")))


def test_a_recorded_bad_loss_is_reported_with_its_first_step() -> None:
    method = _method()
    method.raise_if_diverged()  # nothing recorded: nothing to say
    # What watch_loss keeps on an accelerator: (first bad step, its loss), -1 until then.
    method.first_bad_loss = (torch.tensor(7.0, dtype=torch.float64),
                             torch.tensor(float("inf"), dtype=torch.float64))  # fmt: skip
    trainer = SimpleNamespace(global_step=50)
    with pytest.raises(FloatingPointError, match="non-finite loss inf at step 7"):
        FiniteGuard(every=50).on_train_batch_end(trainer, method, None, None, 0)  # type: ignore[arg-type]
    with pytest.raises(FloatingPointError, match="at step 7"):  # before any checkpoint
        FiniteGuard().on_save_checkpoint(trainer, method, {"state_dict": {}})  # type: ignore[arg-type]
