"""InfoNCE, NT-Xent and the I_NCE bound against naive loops and lightly."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from lightly.loss import NTXentLoss as LightlyNTXentLoss

from infomin.objectives import (
    InfoNCELoss,
    NTXentLoss,
    i_nce_bound,
    i_nce_report,
    info_nce,
    info_nce_logits,
)

from ._reference import naive_info_nce, naive_info_nce_per_sample, naive_nt_xent, unit_rows


@pytest.mark.parametrize("temperature", [0.07, 0.2, 1.0])
def test_info_nce_shared_negatives_matches_naive(temperature):
    q, k, negs = unit_rows(5, 8, seed=0), unit_rows(5, 8, seed=1), unit_rows(7, 8, seed=2)
    loss = info_nce(q, k, negs, temperature)
    assert loss.item() == pytest.approx(naive_info_nce(q, k, negs, temperature), rel=1e-5)


def test_info_nce_per_sample_negatives_matches_naive():
    q, k, negs = unit_rows(4, 6, seed=3), unit_rows(4, 6, seed=4), unit_rows(4, 5, 6, seed=5)
    loss = info_nce(q, k, negs, 0.1)
    assert loss.item() == pytest.approx(naive_info_nce(q, k, negs, 0.1), rel=1e-5)
    per_sample = info_nce(q, k, negs, 0.1, reduction="none")
    expected = naive_info_nce_per_sample(q, k, negs, 0.1)
    assert per_sample.tolist() == pytest.approx(expected, rel=1e-5)


def test_per_sample_negatives_are_not_shared():
    """Row i of [B, K, D] negatives must only be used for query i."""
    q, k = unit_rows(3, 6, seed=6), unit_rows(3, 6, seed=7)
    negs = unit_rows(3, 4, 6, seed=8)
    before = info_nce(q, k, negs, 0.1, reduction="none")
    negs2 = negs.clone()
    negs2[2] = unit_rows(4, 6, seed=9)
    after = info_nce(q, k, negs2, 0.1, reduction="none")
    assert torch.equal(before[:2], after[:2])
    assert not torch.allclose(before[2], after[2])


def test_info_nce_logits_layout_positive_first():
    q, k, negs = unit_rows(2, 4, seed=10), unit_rows(2, 4, seed=11), unit_rows(3, 4, seed=12)
    logits = info_nce_logits(q, k, negs, 0.5)
    assert logits.shape == (2, 4)
    torch.testing.assert_close(logits[:, 0], (q * k).sum(1) / 0.5)
    torch.testing.assert_close(logits[:, 1:], q @ negs.T / 0.5)


def test_info_nce_module_and_validation():
    q, k, negs = unit_rows(3, 4, seed=13), unit_rows(3, 4, seed=14), unit_rows(5, 4, seed=15)
    assert InfoNCELoss(0.2)(q, k, negs).item() == pytest.approx(info_nce(q, k, negs, 0.2).item())
    with pytest.raises(ValueError):
        info_nce(q, k, negs, 0.0)
    with pytest.raises(ValueError):
        info_nce(q, k, unit_rows(2, 5, 4, seed=0), 0.1)


@pytest.mark.parametrize("batch", [1, 2, 6])
def test_nt_xent_matches_naive(batch):
    z0, z1 = unit_rows(batch, 5, seed=20), unit_rows(batch, 5, seed=21)
    loss = NTXentLoss(temperature=0.5)(z0, z1)
    assert loss.item() == pytest.approx(naive_nt_xent(z0, z1, 0.5), rel=1e-5)


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_nt_xent_matches_lightly(temperature):
    """lightly normalises its inputs and averages over the 2B rows; ours expects unit-norm
    inputs and also averages over 2B rows, so unit-norm inputs must agree."""
    z0, z1 = unit_rows(16, 32, seed=22), unit_rows(16, 32, seed=23)
    ours = NTXentLoss(temperature=temperature)(z0, z1)
    theirs = LightlyNTXentLoss(temperature=temperature)(z0, z1)
    assert abs(ours.item() - theirs.item()) < 1e-5


def test_nt_xent_gather_without_process_group_is_plain():
    z0, z1 = unit_rows(4, 5, seed=24), unit_rows(4, 5, seed=25)
    assert torch.equal(NTXentLoss(0.5, gather=True)(z0, z1), NTXentLoss(0.5)(z0, z1))
    assert NTXentLoss.num_candidates(4) == 7


def test_nt_xent_excludes_self_similarity():
    """With identical views every query has two candidates at similarity 1 if the self
    copy were kept; masked, the positive is the unique maximum."""
    z = unit_rows(3, 4, seed=26)
    loss = NTXentLoss(temperature=0.01)(z, z.clone())
    assert loss.item() < 1e-3


def test_i_nce_bound_and_report():
    assert i_nce_bound(0.0, 10) == pytest.approx(math.log(10))
    assert i_nce_bound(math.log(10), 10) == pytest.approx(0.0)
    report = i_nce_report(torch.tensor(1.0), 65537)
    assert report.num_candidates == 65537
    assert report.log_k == pytest.approx(math.log(65537))
    assert report.i_nce == pytest.approx(math.log(65537) - 1.0)
    assert 0 < report.saturation < 1
    with pytest.raises(ValueError):
        i_nce_bound(1.0, 0)


def test_i_nce_never_exceeds_log_k():
    q = unit_rows(8, 4, seed=27)
    negs = unit_rows(31, 4, seed=28)
    loss = info_nce(q, q, negs, 0.01)  # near-perfect alignment
    assert i_nce_bound(loss, 32).item() <= math.log(32) + 1e-6


def test_symmetric_info_nce_averages_both_in_batch_directions():
    """The critics' objective: row i of z1 against all of z2 and back, K = B each way."""
    from infomin.objectives import symmetric_info_nce

    z1 = F.normalize(torch.randn(6, 4, generator=torch.Generator().manual_seed(0)), dim=1)
    z2 = F.normalize(torch.randn(6, 4, generator=torch.Generator().manual_seed(1)), dim=1)
    logits = z1 @ z2.T / 0.5
    one_way = -torch.log_softmax(logits, dim=1).diag().mean()
    other_way = -torch.log_softmax(logits.T, dim=1).diag().mean()
    expected = 0.5 * (one_way + other_way)
    torch.testing.assert_close(symmetric_info_nce(z1, z2, 0.5), expected)
    assert float(symmetric_info_nce(z1, z1, 0.01)) < 1e-3  # aligned pairs: the bound is log B
    with pytest.raises(ValueError, match="temperature"):
        symmetric_info_nce(z1, z2, 0.0)
