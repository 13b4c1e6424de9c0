"""Memory bank: initial rows, update rule, sampling, bank-entry positives, losses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from infomin.objectives import (
    CrossViewBankLoss,
    InfoNCELoss,
    MemoryBank,
    MemoryBankLoss,
    bank_loss,
    cross_view_bank_loss,
)

from ._reference import naive_info_nce, unit_rows


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_initial_rows_are_unit_norm_and_seeded():
    bank = MemoryBank(50, 16, generator=seeded(0))
    torch.testing.assert_close(bank.bank.norm(dim=1), torch.ones(50))
    assert torch.equal(bank.bank, MemoryBank(50, 16, generator=seeded(0)).bank)
    assert not torch.equal(bank.bank, MemoryBank(50, 16, generator=seeded(1)).bank)


def test_update_is_half_old_half_new_then_renormalised():
    bank = MemoryBank(10, 4, momentum=0.5, generator=seeded(1))
    old = bank.bank.clone()
    indices = torch.tensor([7, 2, 5])
    features = unit_rows(3, 4, seed=2)
    bank.update(indices, features)
    for row, i in enumerate(indices.tolist()):
        mixed = [
            0.5 * a + 0.5 * b for a, b in zip(old[i].tolist(), features[row].tolist(), strict=True)
        ]
        norm = sum(v * v for v in mixed) ** 0.5
        assert bank.bank[i].tolist() == pytest.approx([v / norm for v in mixed], abs=1e-7)
    untouched = [i for i in range(10) if i not in indices.tolist()]
    assert torch.equal(bank.bank[untouched], old[untouched])
    torch.testing.assert_close(bank.bank.norm(dim=1), torch.ones(10))


def test_update_momentum_is_weight_of_old_entry():
    bank = MemoryBank(4, 3, momentum=0.9, generator=seeded(3))
    old = bank.bank.clone()
    feat = unit_rows(1, 3, seed=4)
    bank.update(torch.tensor([1]), feat)
    torch.testing.assert_close(bank.bank[1], F.normalize(0.9 * old[1] + 0.1 * feat[0], dim=0))


def test_sample_in_range_shape_and_with_replacement():
    bank = MemoryBank(3, 2, generator=seeded(5))
    indices = bank.sample(4, 100, generator=seeded(6))
    assert indices.shape == (4, 100)
    assert indices.dtype == torch.long
    assert int(indices.min()) >= 0 and int(indices.max()) < 3
    for row in indices.tolist():
        assert len(set(row)) < len(row)  # a large draw from a tiny bank repeats
    counts = torch.bincount(bank.sample(1, 30000, generator=seeded(7)).flatten(), minlength=3)
    assert (counts - 10000).abs().max() < 500  # uniform


def test_positives_are_bank_entries_not_live_features():
    bank = MemoryBank(20, 8, generator=seeded(8))
    indices = torch.tensor([3, 11, 0, 19])
    query = unit_rows(4, 8, seed=9)
    assert torch.equal(bank.positives(indices), bank.bank[indices])
    negative_indices = bank.sample(4, 6, generator=seeded(10))
    loss = bank_loss(query, bank, indices, InfoNCELoss(0.07), negative_indices=negative_indices)
    negatives = bank.bank[negative_indices]
    expected = naive_info_nce(query, bank.bank[indices], negatives, 0.07)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    live = naive_info_nce(query, query, negatives, 0.07)
    assert loss.item() != pytest.approx(live, rel=1e-3)


def test_returned_entries_are_copies_unchanged_by_update():
    bank = MemoryBank(6, 4, generator=seeded(11))
    indices = torch.tensor([1, 2])
    positives = bank.positives(indices)
    snapshot = positives.clone()
    bank.update(indices, unit_rows(2, 4, seed=12))
    assert torch.equal(positives, snapshot)
    assert not torch.equal(bank.positives(indices), snapshot)


def test_memory_bank_loss_matches_naive_and_updates_after():
    loss_fn = MemoryBankLoss(30, dim=8, num_negatives=5, temperature=0.1, generator=seeded(13))
    bank_before = loss_fn.bank.bank.clone()
    indices = torch.tensor([4, 9, 28])
    query = unit_rows(3, 8, seed=14)
    # replay the module's generator: bank init first, then the negative draw
    replay = seeded(13)
    replay_bank = MemoryBank(30, 8, generator=replay)
    assert torch.equal(replay_bank.bank, bank_before)
    negative_indices = replay_bank.sample(3, 5, generator=replay)
    loss = loss_fn(query, indices)
    expected = naive_info_nce(query, bank_before[indices], bank_before[negative_indices], 0.1)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    expected_rows = F.normalize(0.5 * bank_before[indices] + 0.5 * query, dim=1)
    torch.testing.assert_close(loss_fn.bank.bank[indices], expected_rows)


def test_memory_bank_loss_no_update_and_gradient_to_query_only():
    loss_fn = MemoryBankLoss(10, dim=4, num_negatives=3, generator=seeded(15))
    before = loss_fn.bank.bank.clone()
    query = unit_rows(2, 4, seed=16).requires_grad_(True)
    loss_fn(query, torch.tensor([0, 1]), update=False).backward()
    assert torch.equal(loss_fn.bank.bank, before)
    assert query.grad is not None and query.grad.abs().sum() > 0


def test_cross_view_bank_loss_sums_both_directions():
    bank1 = MemoryBank(12, 6, generator=seeded(17))
    bank2 = MemoryBank(12, 6, generator=seeded(18))
    z1, z2 = unit_rows(3, 6, seed=19), unit_rows(3, 6, seed=20)
    indices = torch.tensor([2, 5, 11])
    negative_indices = bank1.sample(3, 4, generator=seeded(21))
    loss = cross_view_bank_loss(
        z1, z2, indices, bank1, bank2, temperature=0.07, negative_indices=negative_indices
    )
    v1_vs_bank2 = naive_info_nce(z1, bank2.bank[indices], bank2.bank[negative_indices], 0.07)
    v2_vs_bank1 = naive_info_nce(z2, bank1.bank[indices], bank1.bank[negative_indices], 0.07)
    assert loss.item() == pytest.approx(v1_vs_bank2 + v2_vs_bank1, rel=1e-5)


def test_cross_view_module_updates_each_bank_with_its_own_view():
    loss_fn = CrossViewBankLoss(8, dim=4, num_negatives=3, generator=seeded(22))
    old1, old2 = loss_fn.bank1.bank.clone(), loss_fn.bank2.bank.clone()
    z1, z2 = unit_rows(2, 4, seed=23), unit_rows(2, 4, seed=24)
    indices = torch.tensor([1, 6])
    loss = loss_fn(z1, z2, indices)
    assert torch.isfinite(loss)
    torch.testing.assert_close(
        loss_fn.bank1.bank[indices], F.normalize(0.5 * old1[indices] + 0.5 * z1, dim=1)
    )
    torch.testing.assert_close(
        loss_fn.bank2.bank[indices], F.normalize(0.5 * old2[indices] + 0.5 * z2, dim=1)
    )
