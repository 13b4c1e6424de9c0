"""Tiny torch.distributed helpers that are identity when not distributed.

Contrastive losses see a better estimate of the data distribution when the negatives
come from every process, but gathering naively breaks gradients: ``dist.all_gather``
is not differentiable, so the gathered copies of *other* processes' embeddings carry
no gradient back to them, and each process only learns from its own share of the
global loss. :func:`gather` with ``differentiable=True`` routes the gradient of every
gathered slice back to the process that owns it, so that after DDP averages the
parameter gradients the update equals the single-process gradient of the global loss.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    """True when torch.distributed is available and a process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of processes in the default group (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """Rank of this process in the default group (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather whose backward sums each slice's gradient over all processes.

    Every process uses the full gathered tensor in its own loss, so the gradient of
    process ``r``'s slice is the sum over processes of d(loss_p)/d(slice_r). Summing
    with ``all_reduce`` (supported by every backend, gloo included) and keeping this
    process's slice gives exactly that.
    """

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:  # type: ignore[override]
        tensor = tensor.contiguous()
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor)
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad_output.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad.chunk(dist.get_world_size(), dim=0)[dist.get_rank()]


def gather(x: Tensor, differentiable: bool) -> Tensor:
    """Concatenate ``x`` from all processes along dim 0, in rank order.

    Identity when torch.distributed is not initialised or the world size is 1. All
    processes must pass tensors of the same shape (equal per-process batch sizes).

    Args:
        x: Local tensor ``[n, ...]``.
        differentiable: If True, gradients flow back to every process's slice (use
            for embeddings inside a loss). If False the result is detached (use for
            buffer updates such as memory banks and queues).

    Returns:
        ``[n * world_size, ...]`` tensor; this process's slice is rows
        ``rank * n : (rank + 1) * n``.
    """
    if world_size() == 1:
        return x if differentiable else x.detach()
    if differentiable:
        return _AllGatherWithGrad.apply(x)
    with torch.no_grad():
        parts = [torch.empty_like(x) for _ in range(world_size())]
        dist.all_gather(parts, x.detach().contiguous())
    return torch.cat(parts, dim=0)
