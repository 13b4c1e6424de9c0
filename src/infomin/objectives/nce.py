"""Binary NCE loss of InsDis and CMC, with an EMA-tracked normaliser Z.

The original InsDis/CMC papers treat instance discrimination as telling data from
noise. The model's non-parametric probability of item ``i`` is
``P(i | v) = exp(v·f_i / tau) / Z``; noise is uniform over the ``N`` items,
``P_n = 1 / N``; each query sees its positive and ``K`` noise draws. The posterior that
a sample came from the data is ``h = P / (P + K P_n)`` and the loss is

    L = -E[ log h(positive) + sum_k log(1 - h(noise_k)) ].

``Z`` is intractable (a sum over the whole dataset), so it is estimated by Monte Carlo
from the batch's logits: ``Z_hat = N * mean(exp(logits / tau))``. The reference code
estimated it once, on the first batch, and froze it; as the embedding sharpens that
frozen value drifts far from the truth. Here ``Z`` is initialised from the first batch
and then tracked: ``Z <- 0.99 Z + 0.01 Z_hat`` on every training step, the current batch
included, before it is used. ``Z`` is a constant for autograd. Softmax InfoNCE stays the
default everywhere; pass an :class:`NCELoss` as ``criterion`` to opt in.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomin.objectives import distributed
from infomin.objectives.infonce import info_nce_logits


class NCELoss(nn.Module):
    """Binary NCE with uniform noise ``1/N`` and an EMA normaliser.

    Args:
        num_data: Dataset size ``N`` (the noise distribution is uniform over it).
        temperature: tau (0.07 in InsDis/CMC).
        z_momentum: Weight of the old ``Z`` in its EMA (0.99).

    Buffers:
        z: Current normaliser (meaningless until ``z_initialised``).
        z_initialised: Whether ``z`` has been set from a first batch.

    ``Z`` moves only in training mode (``module.train()``); in eval mode it is only
    initialised if it never was. Under torch.distributed the batch estimate is averaged
    over processes so every process keeps the same ``Z``.
    """

    z: Tensor
    z_initialised: Tensor

    def __init__(self, num_data: int, temperature: float = 0.07, z_momentum: float = 0.99) -> None:
        super().__init__()
        if num_data < 1:
            raise ValueError(f"num_data must be >= 1, got {num_data}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not 0.0 <= z_momentum <= 1.0:
            raise ValueError(f"z_momentum must be in [0, 1], got {z_momentum}")
        self.num_data = num_data
        self.temperature = temperature
        self.z_momentum = z_momentum
        self.register_buffer("z", torch.ones((), dtype=torch.float32))
        self.register_buffer("z_initialised", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def batch_z_estimate(self, logits: Tensor) -> Tensor:
        """``N * mean(exp(logits))`` over all positive and noise logits (already / tau)."""
        flat = logits.detach().float().flatten()
        log_mean = torch.logsumexp(flat, dim=0) - math.log(flat.numel())
        estimate = torch.exp(log_mean) * self.num_data
        return distributed.gather(estimate.reshape(1), differentiable=False).mean()

    @torch.no_grad()
    def update_z(self, logits: Tensor) -> None:
        """Initialise ``Z`` from the first batch, afterwards ``Z <- m Z + (1 - m) Z_hat``."""
        estimate = self.batch_z_estimate(logits).to(self.z.dtype)
        if not bool(self.z_initialised):
            self.z.copy_(estimate)
            self.z_initialised.fill_(True)
        elif self.training:
            self.z.mul_(self.z_momentum).add_(estimate, alpha=1.0 - self.z_momentum)

    def forward(self, query: Tensor, positive: Tensor, negatives: Tensor) -> Tensor:
        """Loss for ``[B, D]`` queries/positives and ``[K, D]`` or ``[B, K, D]`` noise."""
        logits = info_nce_logits(query, positive, negatives, self.temperature).float()
        self.update_z(logits)
        num_noise = logits.shape[1] - 1
        log_p_model = logits - torch.log(self.z)
        log_k_pn = math.log(num_noise / self.num_data) if num_noise > 0 else -math.inf
        # log h = log(P / (P + K P_n)) = -softplus(log(K P_n) - log P), stable in log space
        log_h_positive = -F.softplus(log_k_pn - log_p_model[:, 0])
        # log(1 - h) = log(K P_n / (P + K P_n)) = -softplus(log P - log(K P_n))
        log_not_h_noise = -F.softplus(log_p_model[:, 1:] - log_k_pn)
        return -(log_h_positive + log_not_h_noise.sum(dim=1)).mean()

    def extra_repr(self) -> str:
        return (
            f"num_data={self.num_data}, temperature={self.temperature}, "
            f"z_momentum={self.z_momentum}"
        )
