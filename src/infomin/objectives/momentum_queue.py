"""MoCo's momentum queue: negatives are keys of recent batches from an EMA encoder.

The queue decouples the number of negatives from the batch size; the momentum (EMA)
key encoder keeps keys of successive batches consistent with each other. Details that
matter (and that the tests pin):

- Logits use the queue as it was *before* this step's keys are enqueued
  (:meth:`MomentumQueue.negatives` returns a copy, so a later enqueue cannot change
  them); otherwise the key would be its own negative.
- The *global* batch of keys (gathered from all processes) is enqueued, so every
  process holds the same queue.
- The loss is query(crop 1) vs key(crop 2), not symmetrised, and keys carry no gradient.
- The EMA runs over *parameters only*: BatchNorm running buffers are not averaged; the
  key encoder is kept in train mode so its BN normalises with batch statistics.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomin.objectives import distributed
from infomin.objectives.infonce import InfoNCELoss, info_nce


class MomentumQueue(nn.Module):
    """Ring buffer of ``size`` unit-norm keys with a write pointer.

    Starts as ``randn`` rows, L2-normalised (random negatives until the queue has been
    filled once).

    Args:
        size: Number of keys kept (65,536 in the paper).
        dim: Key dimension.
        generator: Optional generator for the initial keys (global RNG if None).
    """

    queue: Tensor
    pointer: Tensor

    def __init__(self, size: int, dim: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"size and dim must be >= 1, got {size}, {dim}")
        self.size = size
        self.dim = dim
        self.register_buffer(
            "queue", F.normalize(torch.randn(size, dim, generator=generator), dim=1)
        )
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))

    def negatives(self) -> Tensor:
        """``[size, dim]`` detached copy of the queue as it is now (before enqueueing)."""
        return self.queue.detach().clone()

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write the global batch of ``keys`` at the pointer, wrapping around the end.

        Keys from all processes are gathered (rank order) first. Key ``j`` of the global
        batch lands in row ``(pointer + j) % size``, so a batch that does not divide
        ``size`` simply continues at the start; the pointer advances to
        ``(pointer + n) % size``. If the batch is larger than the queue, only its last
        ``size`` keys (the newest) are kept, at the rows they would have reached.
        """
        keys = distributed.gather(keys.detach(), differentiable=False)  # [n, dim], all ranks
        keys = keys.to(device=self.queue.device, dtype=self.queue.dtype)
        if keys.dim() != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"keys must be [n, {self.dim}], got {tuple(keys.shape)}")
        n = keys.shape[0]
        start = int(self.pointer)
        offsets = torch.arange(n, device=self.queue.device)  # [n]
        if n > self.size:  # keep the newest `size` keys
            keys, offsets = keys[n - self.size :], offsets[n - self.size :]
        self.queue[(start + offsets) % self.size] = keys  # rows [min(n, size)] of [size, dim]
        self.pointer.fill_((start + n) % self.size)

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.dim}"


def make_target_encoder(online: nn.Module) -> nn.Module:
    """Deep copy of ``online`` with gradients off: the starting point of the EMA encoder."""
    target = copy.deepcopy(online)
    for parameter in target.parameters():
        parameter.requires_grad_(False)
    return target


@torch.no_grad()
def momentum_update(online: nn.Module, target: nn.Module, m: float = 0.999) -> None:
    """EMA of parameters: ``target <- m * target + (1 - m) * online``.

    Parameters only: buffers (BatchNorm running statistics) are deliberately left
    alone, as in MoCo; the key encoder runs BN on batch statistics.
    """
    if not 0.0 <= m <= 1.0:
        raise ValueError(f"m must be in [0, 1], got {m}")
    online_params = dict(online.named_parameters())
    target_params = dict(target.named_parameters())
    if online_params.keys() != target_params.keys():
        raise ValueError("online and target must have the same parameter names")
    for name, target_param in target_params.items():
        target_param.mul_(m).add_(online_params[name].detach(), alpha=1.0 - m)


def queue_loss(query: Tensor, key: Tensor, queue: Tensor, temperature: float = 0.07) -> Tensor:
    """InfoNCE of ``query`` (crop 1) vs ``key`` (crop 2) with the queue as negatives.

    Not symmetrised; ``key`` and ``queue`` are detached (no gradient to the key side).
    ``queue`` must be the pre-enqueue queue (:meth:`MomentumQueue.negatives`).
    """
    return info_nce(query, key.detach(), queue.detach(), temperature)


class MoCoLoss(nn.Module):
    """MoCo objective: a :class:`MomentumQueue` plus a criterion (InfoNCE default).

    ``forward(query, key)`` scores each query against its key and the queue before
    this step, then (if ``update``) enqueues the global batch of keys.

    Args:
        size: Queue length (65,536 in the paper).
        dim: Embedding dimension.
        temperature: tau (0.07 MoCo, 0.2 MoCo v2, 0.15 InfoMin).
        criterion: Optional replacement for softmax InfoNCE with the
            ``(query, positive, negatives)`` signature, e.g. binary NCE.
        generator: Generator for the initial queue.
    """

    def __init__(
        self,
        size: int = 65536,
        dim: int = 128,
        temperature: float = 0.07,
        criterion: nn.Module | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.queue = MomentumQueue(size, dim, generator)
        self.criterion = criterion if criterion is not None else InfoNCELoss(temperature)

    def forward(self, query: Tensor, key: Tensor, update: bool = True) -> Tensor:
        key = key.detach()  # [B, dim], no gradient to the key encoder
        negatives = self.queue.negatives().to(query.dtype)  # [size, dim], before this enqueue
        loss = self.criterion(query, key, negatives)  # query [B, dim]; logits [B, 1 + size]
        if update:
            self.queue.enqueue(key)
        return loss
