"""Naive references written with explicit Python loops and math.exp/log.

Deliberately slow and independent of torch's vectorised ops: every logit is a Python
float computed from ``tolist()`` rows, and log-softmax is done by hand.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def unit_rows(*shape: int, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Random unit-norm rows (normalised over the last dim), seeded."""
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=gen, dtype=dtype), dim=-1)


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def cross_entropy_from_logits(logits: list[float], target: int) -> float:
    """-log softmax(logits)[target], by hand (max-shifted for stability)."""
    top = max(logits)
    log_sum = top + math.log(sum(math.exp(v - top) for v in logits))
    return log_sum - logits[target]


def naive_info_nce_per_sample(query, positive, negatives, temperature: float) -> list[float]:
    """Per-sample losses; ``negatives`` is ``[K, D]`` (shared) or ``[B, K, D]``."""
    q, p, n = query.tolist(), positive.tolist(), negatives.tolist()
    shared = negatives.dim() == 2
    losses = []
    for i in range(len(q)):
        negs_i = n if shared else n[i]
        logits = [dot(q[i], p[i]) / temperature]
        for neg in negs_i:
            logits.append(dot(q[i], neg) / temperature)
        losses.append(cross_entropy_from_logits(logits, 0))
    return losses


def naive_info_nce(query, positive, negatives, temperature: float) -> float:
    losses = naive_info_nce_per_sample(query, positive, negatives, temperature)
    return sum(losses) / len(losses)


def naive_nt_xent(z0, z1, temperature: float) -> float:
    """SimCLR: 2N samples; positive = the other view; own copy excluded."""
    samples = z0.tolist() + z1.tolist()
    n = len(z0)
    total = 0.0
    for a in range(2 * n):
        positive = (a + n) % (2 * n)
        logits, target = [], None
        for b in range(2 * n):
            if b == a:
                continue
            if b == positive:
                target = len(logits)
            logits.append(dot(samples[a], samples[b]) / temperature)
        total += cross_entropy_from_logits(logits, target)
    return total / (2 * n)


def naive_logit_rows(query, positive, negatives, temperature: float) -> list[list[float]]:
    q, p, n = query.tolist(), positive.tolist(), negatives.tolist()
    shared = negatives.dim() == 2
    rows = []
    for i in range(len(q)):
        negs_i = n if shared else n[i]
        rows.append([dot(q[i], p[i]) / temperature] + [dot(q[i], v) / temperature for v in negs_i])
    return rows


def naive_z_estimate(rows: list[list[float]], num_data: int) -> float:
    values = [math.exp(v) for row in rows for v in row]
    return num_data * sum(values) / len(values)


def naive_nce(rows: list[list[float]], z: float, num_data: int) -> float:
    """Binary NCE: h = P / (P + K/N), P = exp(logit)/Z; -[log h+ + sum log(1 - h-)]."""
    total = 0.0
    for row in rows:
        k = len(row) - 1
        k_pn = k / num_data
        probs = [math.exp(v) / z for v in row]
        loss = -math.log(probs[0] / (probs[0] + k_pn))
        for prob in probs[1:]:
            loss -= math.log(k_pn / (prob + k_pn))
        total += loss
    return total / len(rows)
