"""Binary NCE with its EMA-tracked normaliser Z."""

from __future__ import annotations

import pytest
import torch

from infomin.objectives import NCELoss, info_nce_logits

from ._reference import naive_logit_rows, naive_nce, naive_z_estimate, unit_rows

NUM_DATA = 1000
TAU = 0.1


def batch(seed: int):
    return (
        unit_rows(4, 8, seed=seed),
        unit_rows(4, 8, seed=seed + 1),
        unit_rows(4, 6, 8, seed=seed + 2),
    )


def test_first_batch_initialises_z_and_loss_matches_naive():
    loss_fn = NCELoss(NUM_DATA, temperature=TAU)
    assert not bool(loss_fn.z_initialised)
    q, k, negs = batch(0)
    rows = naive_logit_rows(q, k, negs, TAU)
    z1 = naive_z_estimate(rows, NUM_DATA)
    loss = loss_fn(q, k, negs)
    assert bool(loss_fn.z_initialised)
    assert loss_fn.z.item() == pytest.approx(z1, rel=1e-5)
    assert loss.item() == pytest.approx(naive_nce(rows, z1, NUM_DATA), rel=1e-5)


def test_z_follows_ema_after_initialisation():
    loss_fn = NCELoss(NUM_DATA, temperature=TAU, z_momentum=0.99)
    q, k, negs = batch(10)
    loss_fn(q, k, negs)
    z1 = loss_fn.z.item()
    q2, k2, negs2 = batch(20)
    rows2 = naive_logit_rows(q2, k2, negs2, TAU)
    z2_hat = naive_z_estimate(rows2, NUM_DATA)
    assert z2_hat != pytest.approx(z1, rel=1e-3)  # the test would not see a re-init otherwise
    loss2 = loss_fn(q2, k2, negs2)
    z2 = 0.99 * z1 + 0.01 * z2_hat
    assert loss_fn.z.item() == pytest.approx(z2, rel=1e-5)
    assert loss2.item() == pytest.approx(naive_nce(rows2, z2, NUM_DATA), rel=1e-5)
    # and once more, to see it keeps tracking rather than resetting
    q3, k3, negs3 = batch(30)
    z3_hat = naive_z_estimate(naive_logit_rows(q3, k3, negs3, TAU), NUM_DATA)
    loss_fn(q3, k3, negs3)
    assert loss_fn.z.item() == pytest.approx(0.99 * z2 + 0.01 * z3_hat, rel=1e-5)


def test_z_frozen_in_eval_mode_after_init():
    loss_fn = NCELoss(NUM_DATA, temperature=TAU)
    loss_fn(*batch(40))
    z = loss_fn.z.clone()
    loss_fn.eval()
    loss_fn(*batch(50))
    assert torch.equal(loss_fn.z, z)


def test_shared_negatives_and_gradient():
    loss_fn = NCELoss(NUM_DATA, temperature=TAU)
    q = unit_rows(3, 5, seed=60).requires_grad_(True)
    k, negs = unit_rows(3, 5, seed=61), unit_rows(7, 5, seed=62)
    loss = loss_fn(q, k, negs)
    rows = naive_logit_rows(q.detach(), k, negs, TAU)
    z = naive_z_estimate(rows, NUM_DATA)
    assert loss.item() == pytest.approx(naive_nce(rows, z, NUM_DATA), rel=1e-5)
    loss.backward()
    assert q.grad is not None and torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0
    torch.testing.assert_close(
        info_nce_logits(q.detach(), k, negs, TAU), torch.tensor(rows, dtype=torch.float32)
    )


def test_validation():
    with pytest.raises(ValueError):
        NCELoss(0)
    with pytest.raises(ValueError):
        NCELoss(10, z_momentum=1.5)
