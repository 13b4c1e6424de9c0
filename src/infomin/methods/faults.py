"""What a long pretraining run must survive: a kill, a signal, a diverging loss.

Three pieces, each plugged into Lightning rather than wrapped around it:

- `AtomicCheckpointIO` writes every checkpoint through `infomin.outputs.atomic_write`
  (a temporary file in the same folder, fsync, rename, fsync of the folder). Lightning's
  own writer goes through an fsspec transaction whose temporary file lives in the system
  temp folder, so on another file system the final "rename" is a copy that a SIGKILL can
  cut in half, and nothing is fsynced.
- `GracefulStop` turns SIGINT (Ctrl-C) and SIGTERM (a scheduler's "time is up") into
  "finish this step, save `last.ckpt`, stop" and raises `Interrupted`, which the command
  line reports in one line. Without it Ctrl-C raises KeyboardInterrupt wherever Python
  happens to be, possibly half-way through an optimiser step, and Lightning's SIGTERM
  handling exits with status 0, as if the run had finished.
- `FiniteGuard` refuses to write a checkpoint whose weights are not finite, so the last
  checkpoint on disk is always a good one to resume from (the loss itself is checked in
  `ContrastiveMethod.training_step`, before any update is applied).

A SIGKILL cannot be caught: `--resume` continues from the last checkpoint written, which
the atomic writes guarantee to be complete.
"""

from __future__ import annotations

import io
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from infomin.outputs import atomic_write

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """The run was stopped by a signal after saving its checkpoint at `step`."""

    def __init__(self, signum: int, step: int, checkpoint: Path) -> None:
        self.signum, self.step, self.checkpoint = signum, step, checkpoint
        name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {name} after step {step}; saved {checkpoint} "
            "(run the same command with --resume to continue)"
        )

    @property
    def exit_code(self) -> int:
        """128 + the signal number: what a shell reports for a process ended by it."""
        return 128 + self.signum


class Diverged(FloatingPointError):
    """Training produced non-finite numbers; the previous checkpoint was kept."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """`torch.save` into a temporary sibling, fsync, rename: a checkpoint is whole or absent."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Serialised in memory first: torch.save turns a full disk into an opaque
        # RuntimeError, a plain file write keeps the OSError (and its errno) to report.
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write(target, lambda tmp: tmp.write_bytes(buffer.getbuffer()))


class GracefulStop(L.Callback):
    """SIGINT/SIGTERM -> save `checkpoint` at the end of the current step, then `Interrupted`.

    The decision is taken at a step boundary, where the weights, optimiser, schedule and
    random streams agree with each other, so the saved state is one a resume can trust.
    Under DDP the ranks agree on stopping (one of them signalled is enough) so that none
    waits forever in a collective the others have left. A second Ctrl-C while the first is
    pending is obeyed at once (KeyboardInterrupt), for a user who will not wait for a step.
    """

    def __init__(self, checkpoint: Path) -> None:
        self.checkpoint = Path(checkpoint)
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # After Lightning has registered (and recorded, to restore later) its own SIGTERM
        # handler: ours replaces it for the training loop, where ours knows better.
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be installed from the main thread
        self.received = None
        for signum in HANDLED_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.received == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        stop = trainer.strategy.reduce_boolean_decision(self.received is not None, all=False)
        if not stop:
            return
        signum = self.received or signal.SIGTERM  # another rank was signalled
        trainer.save_checkpoint(self.checkpoint)
        self._restore()
        raise Interrupted(int(signum), trainer.global_step, self.checkpoint)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self._restore()

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._restore()

    def _restore(self) -> None:
        """Put back the handlers we replaced, unless someone (Lightning's teardown) already
        did: restoring ours over theirs would leave a stale handler behind."""
        for signum, handler in self._previous.items():
            if signal.getsignal(signum) == self._handle:
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}


def non_finite_tensors(state: dict[str, Any]) -> list[str]:
    """Names of the floating-point tensors in `state` holding NaN or infinity."""
    return [
        name
        for name, value in state.items()
        if isinstance(value, torch.Tensor)
        and value.is_floating_point()
        and not bool(torch.isfinite(value).all())
    ]


class FiniteGuard(L.Callback):
    """Refuse to save a checkpoint with non-finite weights: `last.ckpt` stays the last good one.

    A finite loss can still yield an infinite update (an lr far too high); the next loss is
    then NaN and stops the run, but an epoch boundary in between would otherwise have
    written the broken weights over the good checkpoint. Checking at save time costs one
    pass over the weights per checkpoint, not per step.

    On accelerators the method records a non-finite loss on the device instead of reading
    it every step (`ContrastiveMethod.watch_loss`): this guard reads that record every
    `every` steps and before each checkpoint, so the run still stops naming the step
    where the loss went bad, and no checkpoint of the weights after it is written.
    """

    def __init__(self, every: int = 50) -> None:
        self.every = every

    @staticmethod
    def check_loss(pl_module: L.LightningModule | None) -> None:
        check = getattr(pl_module, "raise_if_diverged", None)
        if check is not None:
            check()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        if trainer.global_step % self.every == 0:
            self.check_loss(pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check_loss(pl_module)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self.check_loss(pl_module)
        bad = non_finite_tensors(checkpoint.get("state_dict", {}))
        if bad:
            raise Diverged(
                f"non-finite weights ({bad[0]}{' and others' if len(bad) > 1 else ''}) "
                f"at step {trainer.global_step}; checkpoint not written"
            )
