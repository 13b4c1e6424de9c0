"""Memory bank of InsDis, PIRL and CMC: one slowly updated embedding per dataset item.

A memory bank lets a small batch see many negatives without a second encoder: every
dataset item ``i`` owns a row ``bank[i]`` that is refreshed with a moving average of
the item's features each time it is seen. Details that matter (and that the tests pin):

- The bank starts as ``randn`` rows, L2-normalised, so early negatives are uniform on
  the sphere rather than all zero.
- The *positive* of a query is the bank entry of the same item, never the live feature
  (InsDis compares the feature of this epoch to the memory of earlier epochs).
- Negatives are drawn uniformly *with replacement*; a draw may hit the query's own
  item (as in the reference code; with N in the millions this is negligible).
- The update is ``bank[i] <- normalise(m * bank[i] + (1 - m) * feature)`` with
  ``m = 0.5``, using features and indices gathered from all processes, so every
  process keeps an identical bank.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomin.objectives import distributed
from infomin.objectives.infonce import InfoNCELoss


class Criterion(Protocol):
    """A loss of a query against one positive and negatives (InfoNCE or NCE)."""

    def __call__(self, query: Tensor, positive: Tensor, negatives: Tensor) -> Tensor: ...


class MemoryBank(nn.Module):
    """``[size, dim]`` buffer of unit-norm embeddings, one row per dataset item.

    Args:
        size: Number of dataset items ``N``.
        dim: Embedding dimension.
        momentum: Weight of the old entry in the update (0.5 in InsDis/CMC/PIRL).
        generator: Optional ``torch.Generator`` for the initial rows (global RNG if
            None) so that runs are reproducible.
    """

    bank: Tensor

    def __init__(
        self,
        size: int,
        dim: int,
        momentum: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"size and dim must be >= 1, got {size}, {dim}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.size = size
        self.dim = dim
        self.momentum = momentum
        self.register_buffer(
            "bank", F.normalize(torch.randn(size, dim, generator=generator), dim=1)
        )

    def sample(
        self, batch_size: int, num_negatives: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """Uniform draws with replacement: ``[batch_size, num_negatives]`` row indices."""
        device = generator.device if generator is not None else self.bank.device
        indices = torch.randint(
            0, self.size, (batch_size, num_negatives), generator=generator, device=device
        )
        return indices.to(self.bank.device)

    def entries(self, indices: Tensor) -> Tensor:
        """Detached copy of the rows at ``indices`` (any shape ``S`` -> ``[*S, dim]``).

        A copy, so that a later :meth:`update` cannot change logits already computed.
        """
        return self.bank[indices.to(self.bank.device)].detach().clone()

    def positives(self, indices: Tensor) -> Tensor:
        """``[B, dim]`` bank entries of the batch's own items: the positives."""
        return self.entries(indices)

    @torch.no_grad()
    def update(self, indices: Tensor, features: Tensor) -> None:
        """``bank[i] <- normalise(m * bank[i] + (1 - m) * feature)`` for the global batch.

        Indices and features are gathered from all processes first (identical banks
        everywhere). Repeated indices within one update are not supported: which
        write wins would be unspecified (a sampler without replacement never repeats).
        """
        indices = distributed.gather(indices.to(self.bank.device), differentiable=False)  # [n]
        features = distributed.gather(features.detach(), differentiable=False)  # [n, dim]
        features = features.to(device=self.bank.device, dtype=self.bank.dtype)
        if features.shape != (indices.shape[0], self.dim):
            raise ValueError(f"features must be [B, {self.dim}], got {tuple(features.shape)}")
        mixed = self.momentum * self.bank[indices] + (1.0 - self.momentum) * features  # [n, dim]
        self.bank[indices] = F.normalize(mixed, dim=1)

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.dim}, momentum={self.momentum}"


def bank_loss(
    query: Tensor,
    bank: MemoryBank,
    indices: Tensor,
    criterion: Criterion,
    num_negatives: int | None = None,
    negative_indices: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Loss of live queries against their bank positives and bank negatives.

    Args:
        query: ``[B, D]`` unit-norm live features.
        bank: Bank holding the positives and negatives (for CMC: the *other* view's).
        indices: ``[B]`` dataset indices of the batch's items.
        criterion: ``(query, positive, negatives) -> loss`` (InfoNCE or NCE).
        num_negatives: K, drawn fresh when ``negative_indices`` is None.
        negative_indices: ``[B, K]`` precomputed draws, to score a second query (the
            jigsaw branch, or CMC's other direction) against the *same* negatives.
        generator: Generator for the draw.
    """
    if negative_indices is None:
        if num_negatives is None:
            raise ValueError("give num_negatives or negative_indices")
        negative_indices = bank.sample(query.shape[0], num_negatives, generator)  # [B, K]
    positive = bank.positives(indices).to(query.dtype)  # [B, D]: the item's own entry
    negatives = bank.entries(negative_indices).to(query.dtype)  # [B, K, D]
    return criterion(query, positive, negatives)  # logits [B, 1 + K], positive first


class MemoryBankLoss(nn.Module):
    """InsDis/PIRL objective: a memory bank plus a criterion (softmax InfoNCE default).

    ``forward`` scores the live queries against bank positives and ``num_negatives``
    fresh bank draws, then (if ``update``) writes the queries into the bank. The
    logits are computed from copies of the bank, so the update never alters them.

    Args:
        size: Dataset size ``N`` (one row per item).
        dim: Embedding dimension.
        num_negatives: K bank draws per sample. The paper's setting is 65,536 (the
            default here); note the ``[B, K, dim]`` gather costs ``B*K*dim`` floats.
        temperature: tau of the default InfoNCE criterion.
        momentum: Bank momentum (weight of the old entry).
        criterion: Replaces InfoNCE, e.g. ``NCELoss(num_data=size)`` for binary NCE.
        generator: Generator for the initial bank and the negative draws.
    """

    def __init__(
        self,
        size: int,
        dim: int = 128,
        num_negatives: int = 65536,
        temperature: float = 0.07,
        momentum: float = 0.5,
        criterion: nn.Module | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.bank = MemoryBank(size, dim, momentum, generator)
        self.criterion = criterion if criterion is not None else InfoNCELoss(temperature)
        self.num_negatives = num_negatives
        self.generator = generator

    def forward(self, query: Tensor, indices: Tensor, update: bool = True) -> Tensor:
        loss = bank_loss(
            query, self.bank, indices, self.criterion, self.num_negatives, generator=self.generator
        )
        if update:
            self.bank.update(indices, query)
        return loss


def cross_view_bank_loss(
    z1: Tensor,
    z2: Tensor,
    indices: Tensor,
    bank1: MemoryBank,
    bank2: MemoryBank,
    num_negatives: int | None = None,
    temperature: float = 0.07,
    criteria: tuple[Criterion, Criterion] | None = None,
    negative_indices: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """CMC with memory banks: ``loss(z1 vs bank2) + loss(z2 vs bank1)``.

    Each view's query is scored against the *other* view's bank entry of the same item
    and the other view's bank negatives. As in the reference code, both directions use
    the same negative item indices (one draw). Banks are not updated here: call
    ``bank1.update(indices, z1)`` and ``bank2.update(indices, z2)`` afterwards (or use
    :class:`CrossViewBankLoss`).

    Args:
        criteria: ``(criterion for z1 vs bank2, criterion for z2 vs bank1)``; default
            softmax InfoNCE at ``temperature``. Binary NCE needs one ``NCELoss`` per
            direction because each tracks its own normaliser Z.
    """
    if criteria is None:
        default = InfoNCELoss(temperature)
        criteria = (default, default)
    if negative_indices is None:
        if num_negatives is None:
            raise ValueError("give num_negatives or negative_indices")
        negative_indices = bank1.sample(z1.shape[0], num_negatives, generator)
    loss_12 = bank_loss(z1, bank2, indices, criteria[0], negative_indices=negative_indices)
    loss_21 = bank_loss(z2, bank1, indices, criteria[1], negative_indices=negative_indices)
    return loss_12 + loss_21


class CrossViewBankLoss(nn.Module):
    """CMC objective with two banks (one per view); updates both after the loss.

    Args:
        size, dim, num_negatives, temperature, momentum, generator: As in
            :class:`MemoryBankLoss`.
        criteria: Optional pair of criteria (see :func:`cross_view_bank_loss`).
    """

    def __init__(
        self,
        size: int,
        dim: int = 128,
        num_negatives: int = 65536,
        temperature: float = 0.07,
        momentum: float = 0.5,
        criteria: tuple[nn.Module, nn.Module] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.bank1 = MemoryBank(size, dim, momentum, generator)
        self.bank2 = MemoryBank(size, dim, momentum, generator)
        if criteria is None:
            criteria = (InfoNCELoss(temperature), InfoNCELoss(temperature))
        self.criteria = nn.ModuleList(criteria)
        self.num_negatives = num_negatives
        self.generator = generator

    def forward(self, z1: Tensor, z2: Tensor, indices: Tensor, update: bool = True) -> Tensor:
        loss = cross_view_bank_loss(
            z1,
            z2,
            indices,
            self.bank1,
            self.bank2,
            self.num_negatives,
            criteria=(self.criteria[0], self.criteria[1]),
            generator=self.generator,
        )
        if update:
            self.bank1.update(indices, z1)
            self.bank2.update(indices, z2)
        return loss
