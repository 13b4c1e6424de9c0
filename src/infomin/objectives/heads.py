"""Projection heads: backbone features -> L2-normalised contrastive embeddings.

The contrastive loss is computed on a small normalised embedding, not on the backbone
features: the head can discard what the loss does not need, and the features kept for
downstream tasks stay richer. InsDis, CMC, MoCo and PIRL use a linear head; MoCo v2,
CMCv2 and InfoMin a 2-layer MLP (d -> d -> ReLU -> 128, no BatchNorm).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class LinearHead(nn.Module):
    """``Linear(in_dim, out_dim)`` then L2 normalisation (if ``normalize``).

    Args:
        in_dim: Backbone feature dimension ``d``.
        out_dim: Embedding dimension (128 in the paper).
        normalize: Return unit-norm rows; the objectives expect them.
    """

    def __init__(self, in_dim: int, out_dim: int = 128, normalize: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)
        self.normalize = normalize

    def forward(self, x: Tensor) -> Tensor:
        z = self.linear(x)
        return F.normalize(z, dim=-1) if self.normalize else z


class MLPHead(nn.Module):
    """``Linear(in_dim, hidden_dim) -> ReLU -> Linear(hidden_dim, out_dim)``, no BN.

    Args:
        in_dim: Backbone feature dimension ``d``.
        hidden_dim: Hidden width (``d`` in the paper; defaults to ``in_dim``).
        out_dim: Embedding dimension (128 in the paper).
        normalize: Return unit-norm rows.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int | None = None,
        out_dim: int = 128,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        hidden_dim = in_dim if hidden_dim is None else hidden_dim
        self.layers = nn.Sequential(
            nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim)
        )
        self.normalize = normalize

    def forward(self, x: Tensor) -> Tensor:
        z = self.layers(x)
        return F.normalize(z, dim=-1) if self.normalize else z
