"""Momentum queue (pre-enqueue logits, wrap-around, order) and the parameter EMA."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from infomin.objectives import (
    MoCoLoss,
    MomentumQueue,
    info_nce_logits,
    make_target_encoder,
    momentum_update,
    queue_loss,
)

from ._reference import naive_info_nce, unit_rows


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_initial_queue_unit_norm_pointer_zero():
    queue = MomentumQueue(16, 8, generator=seeded(0))
    torch.testing.assert_close(queue.queue.norm(dim=1), torch.ones(16))
    assert int(queue.pointer) == 0


def test_logits_use_pre_enqueue_queue():
    queue = MomentumQueue(6, 4, generator=seeded(1))
    manual_copy = queue.queue.clone()
    q, k = unit_rows(3, 4, seed=2), unit_rows(3, 4, seed=3)
    negatives = queue.negatives()
    logits = info_nce_logits(q, k, negatives, 0.07)
    logits_snapshot = logits.clone()
    queue.enqueue(k)
    assert not torch.equal(queue.queue, manual_copy)  # the enqueue did write
    assert torch.equal(negatives, manual_copy)  # ...but not into what we used
    assert torch.equal(logits, logits_snapshot)
    torch.testing.assert_close(logits, info_nce_logits(q, k, manual_copy, 0.07))


def test_moco_loss_matches_naive_with_pre_enqueue_queue_then_enqueues_keys():
    loss_fn = MoCoLoss(size=8, dim=4, temperature=0.2, generator=seeded(4))
    before = loss_fn.queue.queue.clone()
    q, k = unit_rows(3, 4, seed=5), unit_rows(3, 4, seed=6)
    loss = loss_fn(q, k)
    assert loss.item() == pytest.approx(naive_info_nce(q, k, before, 0.2), rel=1e-5)
    assert torch.equal(loss_fn.queue.queue[:3], k)
    assert torch.equal(loss_fn.queue.queue[3:], before[3:])
    assert int(loss_fn.queue.pointer) == 3


def test_queue_loss_matches_naive_and_detaches_key():
    queue = unit_rows(10, 5, seed=7)
    q = unit_rows(4, 5, seed=8).requires_grad_(True)
    k = unit_rows(4, 5, seed=9).requires_grad_(True)
    loss = queue_loss(q, k, queue, 0.07)
    assert loss.item() == pytest.approx(naive_info_nce(q, k, queue, 0.07), rel=1e-5)
    loss.backward()
    assert q.grad is not None and q.grad.abs().sum() > 0
    assert k.grad is None


def test_enqueue_writes_exact_keys_in_order():
    queue = MomentumQueue(10, 3, generator=seeded(10))
    old = queue.queue.clone()
    keys = unit_rows(4, 3, seed=11)
    queue.enqueue(keys)
    for j in range(4):
        assert torch.equal(queue.queue[j], keys[j])
    assert torch.equal(queue.queue[4:], old[4:])
    assert int(queue.pointer) == 4


def test_pointer_wraps_around_with_batch_not_dividing_size():
    queue = MomentumQueue(5, 2, generator=seeded(12))
    a, b = unit_rows(3, 2, seed=13), unit_rows(3, 2, seed=14)
    queue.enqueue(a)  # rows 0, 1, 2
    assert int(queue.pointer) == 3
    queue.enqueue(b)  # rows 3, 4, then wraps to 0
    assert int(queue.pointer) == 1
    assert torch.equal(queue.queue[3], b[0])
    assert torch.equal(queue.queue[4], b[1])
    assert torch.equal(queue.queue[0], b[2])
    assert torch.equal(queue.queue[1], a[1])
    assert torch.equal(queue.queue[2], a[2])


def test_batch_larger_than_queue_keeps_newest_keys():
    queue = MomentumQueue(4, 2, generator=seeded(15))
    queue.enqueue(unit_rows(1, 2, seed=16))  # pointer 1
    keys = unit_rows(6, 2, seed=17)
    queue.enqueue(keys)  # key j would land at (1 + j) % 4; keys 2..5 survive
    assert int(queue.pointer) == (1 + 6) % 4
    for j in range(2, 6):
        assert torch.equal(queue.queue[(1 + j) % 4], keys[j])


def small_bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_momentum_update_is_exact_ema_of_parameters_only():
    online = small_bn_net()
    target = make_target_encoder(online)
    assert all(not p.requires_grad for p in target.parameters())
    with torch.no_grad():
        for p in online.parameters():
            p.add_(torch.randn_like(p))
    online.train()
    online(torch.randn(8, 3))  # online BN stats move
    target.train()
    target(torch.randn(8, 3) * 3 + 1)  # target BN stats move differently
    old_params = {n: p.clone() for n, p in target.named_parameters()}
    old_buffers = {n: b.clone() for n, b in target.named_buffers()}
    online_params = dict(online.named_parameters())

    m = 0.9
    momentum_update(online, target, m=m)

    for name, p in target.named_parameters():
        expected = [
            m * a + (1 - m) * b
            for a, b in zip(
                old_params[name].flatten().tolist(),
                online_params[name].flatten().tolist(),
                strict=True,
            )
        ]
        assert p.flatten().tolist() == pytest.approx(expected, rel=1e-6, abs=1e-7)
        assert not torch.equal(p, old_params[name])
    for name, buffer in target.named_buffers():
        assert torch.equal(buffer, old_buffers[name]), f"{name} changed"
    online_buffers = dict(online.named_buffers())
    assert not torch.equal(target[1].running_mean, online_buffers["1.running_mean"])


def test_momentum_update_rejects_mismatched_modules():
    with pytest.raises(ValueError):
        momentum_update(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)))
