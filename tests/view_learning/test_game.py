"""The game: gradients reach g from both terms; each mode runs and keeps its checks."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from infomin.experiments.pairs import CriticConfig, PairCritics
from infomin.view_learning.game import (
    GameConfig,
    ViewClassifiers,
    augment,
    game_data,
    learn_view,
    split_views,
)
from infomin.views.flows import FlowConfig, PixelFlow


def _images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 8, 8), generator=generator, dtype=torch.uint8)
    return images, torch.randint(0, 3, (n,), generator=generator)


def _flow_grads(flow: PixelFlow) -> list[torch.Tensor]:
    return [p.grad for p in flow.parameters() if p.grad is not None and p.grad.abs().sum() > 0]


def test_gradient_reaches_g_from_the_mi_term():
    torch.manual_seed(0)
    flow = PixelFlow(FlowConfig())
    critics = PairCritics((1, 2), 8, CriticConfig(width=0.25, embed_dim=8))
    loss = critics.loss(*split_views(flow(torch.randn(16, 3, 8, 8))))
    loss.backward()
    assert _flow_grads(flow)


def test_gradient_reaches_g_from_the_classifiers():
    torch.manual_seed(0)
    flow = PixelFlow(FlowConfig(coupling="additive"))
    classifiers = ViewClassifiers(num_classes=3, image_size=8, width=0.25)
    ce1, ce2 = classifiers.losses(split_views(flow(torch.randn(16, 3, 8, 8))),
                                  torch.randint(0, 3, (16,)))  # fmt: skip
    ce1.backward(retain_graph=True)
    from_first = [g.clone() for g in _flow_grads(flow)]
    assert from_first
    flow.zero_grad()
    ce2.backward()
    assert _flow_grads(flow)


def _data(label_fraction: float = 0.25):
    train, y_train = _images(64, 0)
    test, y_test = _images(32, 1)
    return game_data(train, y_train, test, y_test, 3, "rgb", label_fraction, seed=0)


def test_labelled_subset_has_the_requested_fraction():
    assert len(_data(0.25).labelled) == 16
    assert len(_data(1.0).labelled) == 64


@pytest.mark.parametrize("mode", ["unsupervised", "semi-supervised", "supervised"])
def test_each_mode_moves_g_and_keeps_checkpoints_and_checks(mode):
    config = GameConfig(mode=mode, steps=4, batch_size=32, label_batch=8, checkpoints=2,
                        log_every=2, critic=CriticConfig(width=0.25, embed_dim=8))  # fmt: skip
    result = learn_view(_data(), FlowConfig(), config)
    assert sorted(result.checkpoints) == [0, 2, 4]
    first, last = result.checkpoints[0], result.checkpoints[4]
    assert any(not torch.equal(first[k], last[k]) for k in first)  # g was trained
    checks = result.checks[-1]
    assert ("game_i_nce_test" in checks) == (mode != "supervised")
    assert ("c1_test" in checks) == (mode != "unsupervised")
    assert [row["step"] for row in result.log] == [1, 2, 4]


def test_game_config_refuses_nonsense():
    with pytest.raises(ValueError, match="mode"):
        GameConfig(mode="adversarial")
    with pytest.raises(ValueError, match="label_fraction"):
        GameConfig(label_fraction=0)


def test_classifier_augmentation_moves_pixels_but_keeps_colours():
    """Flips and shifts only: g is pixel-wise, so the colours it sees are unchanged."""
    x = torch.randn(8, 3, 6, 6)
    out = augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.equal(out, x)
    for before, after in zip(x, out, strict=True):
        colours = {tuple(p.tolist()) for p in before.reshape(3, -1).T}
        assert {tuple(p.tolist()) for p in after.reshape(3, -1).T} <= colours


def test_checkpoints_and_a_shorter_run_leave_g_unchanged():
    """Why `--checkpoints 1` and `--steps N` are cheaper settings of the *same* game: the
    checks read g without drawing random numbers, so g at step 4 is the same whether it
    is kept at 2 checkpoints or 1, and a 2-step run ends where a 4-step run passes step 2."""
    base = GameConfig(mode="semi-supervised", steps=4, batch_size=32, label_batch=8,
                      checkpoints=2, critic=CriticConfig(width=0.25, embed_dim=8))  # fmt: skip
    two = learn_view(_data(), FlowConfig(), base)
    one = learn_view(_data(), FlowConfig(), replace(base, checkpoints=1))
    short = learn_view(_data(), FlowConfig(), replace(base, steps=2, checkpoints=1))
    for key, value in two.checkpoints[4].items():
        assert torch.equal(one.checkpoints[4][key], value), key
        assert torch.equal(short.checkpoints[2][key], two.checkpoints[2][key]), key
    assert not all(torch.equal(two.checkpoints[2][k], v) for k, v in two.checkpoints[4].items())
