"""Weighted k-nearest-neighbour classifier: the cheap monitor of InsDis/MoCo-style code.

Each test feature votes with its k most cosine-similar training features; a neighbour of
similarity s adds exp(s / T) to its class. No fitting, so it tracks representation
quality during pretraining at the cost of one matrix product per chunk of test points.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from infomin.evaluate.linear import reported_ks

DEFAULT_K = 200
DEFAULT_TEMPERATURE = 0.07
DEFAULT_CHUNK_SIZE = 1024


def knn_votes(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    num_classes: int,
    k: int = DEFAULT_K,
    temperature: float = DEFAULT_TEMPERATURE,
) -> torch.Tensor:
    """Per-class vote sums `[M, num_classes]` for test rows; inputs need not be normalised.

    `k` larger than the training set is clamped to its size.
    """
    k = min(k, len(train_x))
    sims = F.normalize(test_x.float(), dim=1) @ F.normalize(train_x.float(), dim=1).T
    top_sims, top_idx = sims.topk(k, dim=1)
    weights = (top_sims / temperature).exp()
    votes = torch.zeros(len(test_x), num_classes, dtype=weights.dtype, device=weights.device)
    return votes.scatter_add_(1, train_y.long()[top_idx], weights)


def knn_accuracy(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    num_classes: int | None = None,
    k: int = DEFAULT_K,
    temperature: float = DEFAULT_TEMPERATURE,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> dict[str, float]:
    """Top-1 (and top-5 when > 5 classes) accuracy in percent of the weighted kNN.

    The test set is processed `chunk_size` rows at a time, so memory is
    `chunk_size x N_train` similarities however large the test set is. A class with no
    votes never counts as a hit, even when ties let it into the top k.
    """
    if len(train_x) == 0 or len(test_x) == 0:
        raise ValueError("kNN needs non-empty train and test features")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if num_classes is None:
        num_classes = int(max(train_y.max(), test_y.max())) + 1
    ks = reported_ks(num_classes)
    hits = torch.zeros(len(ks), dtype=torch.long)
    train_n = F.normalize(train_x.float(), dim=1)
    for start in range(0, len(test_x), chunk_size):
        votes = knn_votes(
            train_n, train_y, test_x[start : start + chunk_size], num_classes, k, temperature
        )
        labels = test_y[start : start + chunk_size].long().view(-1, 1)
        top_votes, top_classes = votes.topk(min(max(ks), num_classes), dim=1)
        correct = (top_classes == labels) & (top_votes > 0)
        for i, kk in enumerate(ks):
            hits[i] += int(correct[:, :kk].any(dim=1).sum())
    return {f"top{kk}": 100.0 * int(h) / len(test_x) for kk, h in zip(ks, hits, strict=True)}
