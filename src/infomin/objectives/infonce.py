"""Softmax InfoNCE, SimCLR's NT-Xent, and the I_NCE mutual-information bound.

All functions here take embeddings that are *already* L2-normalised (the heads in
:mod:`infomin.objectives.heads` normalise by default), so a dot product is a cosine
similarity. Normalising twice would hide a missing normalisation upstream.

InfoNCE is a (K)-way classification: given a query, pick its positive among
``K = 1 + num_negatives`` candidates. Its loss ``L`` gives the lower bound
``I(v1; v2) >= log K - L`` (the "I_NCE" of the InfoMin paper), which can never
exceed ``log K``: that is why :func:`i_nce_report` always reports ``K`` beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomin.objectives import distributed


def info_nce_logits(
    query: Tensor, positive: Tensor, negatives: Tensor, temperature: float
) -> Tensor:
    """Logits ``[q·k+, q·n_1, ..., q·n_K] / temperature`` with the positive in column 0.

    Args:
        query: ``[B, D]`` unit-norm queries.
        positive: ``[B, D]`` unit-norm positives (row ``i`` pairs with query ``i``).
        negatives: ``[K, D]`` negatives shared by the whole batch (queue, in-batch) or
            ``[B, K, D]`` per-sample negatives (memory-bank draws).
        temperature: Softmax temperature tau (> 0).

    Returns:
        ``[B, 1 + K]`` logits.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if query.shape != positive.shape or query.dim() != 2:
        raise ValueError(
            f"query {tuple(query.shape)} and positive {tuple(positive.shape)} must be [B, D]"
        )
    positive_logit = (query * positive).sum(dim=1, keepdim=True)
    if negatives.dim() == 2:
        negative_logits = query @ negatives.T
    elif negatives.dim() == 3:
        if negatives.shape[0] != query.shape[0]:
            raise ValueError("per-sample negatives must be [B, K, D] with the query's B")
        negative_logits = torch.einsum("bd,bkd->bk", query, negatives)
    else:
        raise ValueError(f"negatives must be [K, D] or [B, K, D], got {tuple(negatives.shape)}")
    return torch.cat([positive_logit, negative_logits], dim=1) / temperature


def info_nce(
    query: Tensor,
    positive: Tensor,
    negatives: Tensor,
    temperature: float = 0.07,
    reduction: str = "mean",
) -> Tensor:
    """Softmax InfoNCE: cross-entropy of :func:`info_nce_logits` with target 0.

    Args:
        query, positive, negatives, temperature: See :func:`info_nce_logits`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-sample losses ``[B]``).
    """
    logits = info_nce_logits(query, positive, negatives, temperature)
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, target, reduction=reduction)


def symmetric_info_nce(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    """In-batch InfoNCE in both directions, averaged (CMC's two-view objective).

    Each ``z1[i]`` is scored against every ``z2`` of the batch (its positive is
    ``z2[i]``) and each ``z2[i]`` against every ``z1``: each direction alone is an
    InfoNCE bound with ``K = B`` candidates, and so is their mean.

    Args:
        z1: ``[B, D]`` unit-norm embeddings of the first views.
        z2: ``[B, D]`` unit-norm embeddings of the second views (row ``i`` pairs).
        temperature: Softmax temperature tau (> 0).

    Returns:
        The scalar mean loss ``L`` (``I_NCE = log B - L``).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = z1 @ z2.T / temperature  # [B, B], positives on the diagonal
    target = torch.arange(len(z1), device=z1.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


class InfoNCELoss(nn.Module):
    """Module form of :func:`info_nce` (query vs one positive and given negatives).

    Used as the default criterion of the memory-bank and queue objectives; any module
    with the same ``forward(query, positive, negatives)`` signature (e.g.
    :class:`infomin.objectives.nce.NCELoss`) can replace it.
    """

    def __init__(self, temperature: float = 0.07) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature

    def forward(self, query: Tensor, positive: Tensor, negatives: Tensor) -> Tensor:
        return info_nce(query, positive, negatives, self.temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"


class NTXentLoss(nn.Module):
    """SimCLR's symmetric NT-Xent loss with in-batch negatives.

    For a (global) batch of ``N`` pairs there are ``2N`` samples; each is a query whose
    positive is the other view of the same image and whose negatives are the remaining
    ``2N - 2`` samples. Its own copy is masked out (a sample is trivially similar to
    itself), so every query has ``K = 2N - 1`` candidates. The loss is the mean over
    the local ``2n`` queries.

    With ``gather=True`` and an initialised process group of size > 1, the embeddings
    of all processes are gathered *differentiably* and serve as candidates, and the
    positive index is offset by ``rank * n``. Gradient convention: each process
    computes the mean over its own ``2n`` queries; the backward of the gather sends
    every process's gradient contributions back to the owner, and DDP then averages
    parameter gradients over the ``W`` processes. The resulting update equals the
    gradient of the single-process loss on the global batch (the raw gradient on a
    process's embeddings is ``W`` times the single-process slice, before DDP's
    ``1 / W``).

    Args:
        temperature: Softmax temperature tau (SimCLR uses 0.5 or 0.1).
        gather: Gather candidates from all processes when distributed.
    """

    def __init__(self, temperature: float = 0.5, gather: bool = False) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.gather = gather

    @staticmethod
    def num_candidates(global_batch_size: int) -> int:
        """``K = 2N - 1`` candidates per query for ``N`` pairs (for :func:`i_nce_report`)."""
        return 2 * global_batch_size - 1

    def forward(self, z0: Tensor, z1: Tensor) -> Tensor:
        """Loss for ``[n, D]`` unit-norm embeddings of two views (row ``i`` pairs)."""
        if z0.shape != z1.shape or z0.dim() != 2:
            raise ValueError(f"z0 {tuple(z0.shape)} and z1 {tuple(z1.shape)} must be equal [n, D]")
        n = z0.shape[0]
        if self.gather:
            z0_all = distributed.gather(z0, differentiable=True)
            z1_all = distributed.gather(z1, differentiable=True)
            offset = distributed.rank() * n
        else:
            z0_all, z1_all, offset = z0, z1, 0
        big_n = z0_all.shape[0]

        queries = torch.cat([z0, z1], dim=0)  # [2n, D]
        candidates = torch.cat([z0_all, z1_all], dim=0)  # [2N, D]
        logits = queries @ candidates.T / self.temperature  # [2n, 2N]

        local = torch.arange(n, device=z0.device) + offset
        self_column = torch.cat([local, local + big_n])
        positive_column = torch.cat([local + big_n, local])
        rows = torch.arange(2 * n, device=z0.device)
        self_mask = torch.zeros_like(logits, dtype=torch.bool)
        self_mask[rows, self_column] = True
        logits = logits.masked_fill(self_mask, float("-inf"))
        return F.cross_entropy(logits, positive_column)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, gather={self.gather}"


def i_nce_bound(loss: Tensor | float, num_candidates: int) -> Tensor | float:
    """The InfoNCE lower bound on mutual information: ``log K - L`` (nats).

    Args:
        loss: Mean InfoNCE loss ``L`` (tensor or float).
        num_candidates: ``K``, the positive plus all negatives a query is scored
            against (``1 + num_negatives``; ``2N - 1`` for NT-Xent).
    """
    if num_candidates < 1:
        raise ValueError(f"num_candidates must be >= 1, got {num_candidates}")
    return math.log(num_candidates) - loss


@dataclass(frozen=True)
class INCEReport:
    """An I_NCE estimate with the ceiling it can never exceed.

    Attributes:
        i_nce: ``log K - L`` in nats.
        num_candidates: ``K``.
        log_k: ``log K``, the largest value ``i_nce`` can take; an estimate near it
            means the bound is saturated and more negatives are needed to see more.
    """

    i_nce: float
    num_candidates: int
    log_k: float

    @property
    def saturation(self) -> float:
        """``i_nce / log K`` (1.0 = bound saturated); 0.0 when ``K == 1``."""
        return self.i_nce / self.log_k if self.log_k > 0 else 0.0


def i_nce_report(loss: Tensor | float, num_candidates: int) -> INCEReport:
    """Report I_NCE together with ``K`` and ``log K`` (always, to make the cap visible)."""
    value = float(loss.detach()) if isinstance(loss, Tensor) else float(loss)
    return INCEReport(
        i_nce=float(i_nce_bound(value, num_candidates)),
        num_candidates=num_candidates,
        log_k=math.log(num_candidates),
    )
