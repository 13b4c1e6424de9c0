"""Projection heads and the jigsaw head."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from infomin.objectives import (
    JigsawHead,
    LinearHead,
    MLPHead,
    combine_jigsaw,
    random_patch_permutation,
)


@pytest.mark.parametrize("head_cls", [LinearHead, MLPHead])
def test_heads_output_unit_norm_128(head_cls):
    head = head_cls(32)
    z = head(torch.randn(5, 32))
    assert z.shape == (5, 128)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(5))
    raw = head_cls(32, normalize=False)(torch.randn(5, 32))
    assert not torch.allclose(raw.norm(dim=1), torch.ones(5))


def test_mlp_head_structure_no_batchnorm():
    head = MLPHead(16)
    kinds = [type(m) for m in head.layers]
    assert kinds == [nn.Linear, nn.ReLU, nn.Linear]
    assert head.layers[0].out_features == 16 and head.layers[2].out_features == 128
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in head.modules())


def test_jigsaw_head_shape_unit_norm():
    head = JigsawHead(24)
    z = head(torch.randn(3, 9, 24), generator=torch.Generator().manual_seed(0))
    assert z.shape == (3, 128)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(3))
    assert head.output.in_features == 9 * 128


def test_jigsaw_permutation_is_seeded_and_changes_concat_order():
    torch.manual_seed(0)
    head = JigsawHead(12, patch_dim=4, out_dim=6)
    x = torch.randn(2, 9, 12)
    z_a = head(x, generator=torch.Generator().manual_seed(7))
    z_b = head(x, generator=torch.Generator().manual_seed(7))
    assert torch.equal(z_a, z_b)

    perm = random_patch_permutation(2, 9, torch.Generator().manual_seed(7))
    identity = torch.arange(9).expand(2, 9)
    assert not torch.equal(perm, identity)
    assert sorted(perm[0].tolist()) == list(range(9))
    # manual concat in permuted order
    projected = head.patch_projections[0](x)  # [2, 9, 4]
    rows = []
    for b in range(2):
        concat = torch.cat([projected[b, j] for j in perm[b].tolist()])
        rows.append(F.normalize(head.output(concat), dim=0))
    torch.testing.assert_close(z_a, torch.stack(rows))
    assert not torch.allclose(z_a, head(x, permutation=identity))


def test_jigsaw_gradients_reach_backbone():
    torch.manual_seed(1)
    backbone = nn.Linear(20, 16)
    head = JigsawHead(16)
    patches = torch.randn(2, 9, 20)
    z = head(backbone(patches), generator=torch.Generator().manual_seed(0))
    (z * torch.randn_like(z)).sum().backward()
    assert backbone.weight.grad is not None and backbone.weight.grad.abs().sum() > 0


def test_jigsaw_per_position_projections_are_distinct():
    torch.manual_seed(2)
    head = JigsawHead(8, patch_dim=4, per_position=True, hidden_dim=10)
    assert len(head.patch_projections) == 9
    x = torch.randn(1, 9, 8)
    identity = torch.arange(9).unsqueeze(0)
    before = head(x, permutation=identity)
    with torch.no_grad():
        head.patch_projections[4].layers[2].bias.add_(1.0)
    after = head(x, permutation=identity)
    assert not torch.allclose(before, after)
    assert head(torch.randn(4, 9, 8)).shape == (4, 128)


def test_combine_jigsaw():
    main, jig = torch.tensor(2.0), torch.tensor(4.0)
    assert combine_jigsaw(main, jig).item() == pytest.approx(3.0)
    assert combine_jigsaw(main, jig, weight=0.25).item() == pytest.approx(2.5)
    with pytest.raises(ValueError):
        combine_jigsaw(main, jig, weight=2.0)
