"""Hypothesis properties: finiteness and invariance to permuting the batch."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from infomin.objectives import NCELoss, NTXentLoss, i_nce_bound, info_nce

finite = st.floats(-100.0, 100.0, allow_nan=False, allow_infinity=False, width=64)
temperatures = st.floats(0.01, 2.0)
SETTINGS = settings(max_examples=40, deadline=None)


def unit(array: np.ndarray) -> torch.Tensor:
    """Unit-norm rows from a finite array (rows of tiny norm are rejected)."""
    tensor = torch.from_numpy(array)
    assume(bool((tensor.norm(dim=-1) > 1e-3).all()))
    return F.normalize(tensor, dim=-1)


@st.composite
def batches(draw, per_sample: bool = False):
    b, d, k = draw(st.integers(1, 6)), draw(st.integers(1, 5)), draw(st.integers(1, 7))
    q = unit(draw(arrays(np.float64, (b, d), elements=finite)))
    pos = unit(draw(arrays(np.float64, (b, d), elements=finite)))
    neg_shape = (b, k, d) if per_sample else (k, d)
    negs = unit(draw(arrays(np.float64, neg_shape, elements=finite)))
    perm = torch.tensor(draw(st.permutations(range(b))))
    return q, pos, negs, perm


@SETTINGS
@given(batches(), temperatures)
def test_info_nce_finite_and_permutation_invariant_shared(data, tau):
    q, pos, negs, perm = data
    loss = info_nce(q, pos, negs, tau)
    assert torch.isfinite(loss)
    assert loss.item() >= 0
    k = negs.shape[0] + 1
    assert i_nce_bound(loss, k).item() <= math.log(k) + 1e-9
    permuted = info_nce(q[perm], pos[perm], negs, tau)
    assert math.isclose(loss.item(), permuted.item(), rel_tol=1e-9, abs_tol=1e-9)


@SETTINGS
@given(batches(per_sample=True), temperatures)
def test_info_nce_finite_and_permutation_invariant_per_sample(data, tau):
    q, pos, negs, perm = data
    loss = info_nce(q, pos, negs, tau)
    assert torch.isfinite(loss)
    permuted = info_nce(q[perm], pos[perm], negs[perm], tau)
    assert math.isclose(loss.item(), permuted.item(), rel_tol=1e-9, abs_tol=1e-9)


@SETTINGS
@given(batches(), temperatures)
def test_nt_xent_finite_and_permutation_invariant(data, tau):
    z0, z1, _, perm = data
    loss_fn = NTXentLoss(temperature=tau)
    z0 = z0.clone().requires_grad_(True)
    loss = loss_fn(z0, z1)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(z0.grad).all()
    permuted = loss_fn(z0.detach()[perm], z1[perm])
    assert math.isclose(loss.item(), permuted.item(), rel_tol=1e-9, abs_tol=1e-9)


@SETTINGS
@given(batches(per_sample=True), st.floats(0.05, 1.0), st.integers(10, 10**6))
def test_nce_finite(data, tau, num_data):
    q, pos, negs, _ = data
    loss_fn = NCELoss(num_data, temperature=tau)
    loss = loss_fn(q.float(), pos.float(), negs.float())
    assert torch.isfinite(loss)
    assert torch.isfinite(loss_fn.z) and loss_fn.z.item() > 0


@SETTINGS
@given(
    arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 5)), elements=finite),
    st.integers(1, 7),
    temperatures,
)
def test_info_nce_and_its_gradient_finite_even_for_unnormalised_input(query, k, tau):
    """Finite in, finite out, even where a caller forgets to normalise: logits up to
    ~5e6 must not overflow the log-sum-exp, and the gradient must stay finite too."""
    q = torch.from_numpy(query).requires_grad_(True)
    pos = torch.flip(q.detach(), dims=(0,)) * 0.5
    negs = torch.linspace(-100, 100, k * q.shape[1], dtype=q.dtype).view(k, -1)
    loss = info_nce(q, pos, negs, tau)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(q.grad).all()


@SETTINGS
@given(batches(per_sample=True), st.floats(0.05, 1.0), st.integers(10, 10**6))
def test_nce_permutation_invariant_including_its_normaliser(data, tau, num_data):
    """NCE's normaliser Z is estimated from the first batch; a permuted first batch must give
    the same Z and the same loss (two fresh criteria, one fed the permuted batch)."""
    q, pos, negs, perm = (t.float() if t.is_floating_point() else t for t in data)
    plain, permuted = NCELoss(num_data, temperature=tau), NCELoss(num_data, temperature=tau)
    loss = plain(q, pos, negs)
    loss_permuted = permuted(q[perm], pos[perm], negs[perm])
    assert math.isclose(loss.item(), loss_permuted.item(), rel_tol=1e-5, abs_tol=1e-6)
    assert math.isclose(plain.z.item(), permuted.z.item(), rel_tol=1e-5)
