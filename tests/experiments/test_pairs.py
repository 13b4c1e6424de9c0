"""The critic engine on cases whose answer is known."""

import math

import pytest
import torch

from infomin.experiments.pairs import (
    CriticConfig,
    PairSet,
    Sizes,
    held_out_i_nce,
    initial_critics,
    probe_critics,
    run_pair_experiment,
    train_critics,
)

FAST = CriticConfig(width=0.25, epochs=4, batch_size=64, embed_dim=32)


def _images(n, seed, channels=3):
    """Images that differ in their mean colour (what globally pooled features keep)."""
    g = torch.Generator().manual_seed(seed)
    colour = 2 * torch.rand(n, channels, 1, 1, generator=g)
    return colour + 0.1 * torch.randn(n, channels, 16, 16, generator=g)


def test_identical_views_approach_log_k_and_independent_views_stay_near_zero():
    shared = _images(512, 0)
    same = PairSet(shared, shared + 0.05 * _images(512, 1))
    independent = PairSet(_images(512, 2), _images(512, 3))
    test_shared = _images(256, 4)
    same_test = PairSet(test_shared, test_shared + 0.05 * _images(256, 5))
    indep_test = PairSet(_images(256, 6), _images(256, 7))

    high = held_out_i_nce(train_critics(same, FAST), same_test, batch_size=64)
    low = held_out_i_nce(train_critics(independent, FAST), indep_test, batch_size=64)
    assert high.num_candidates == 64 and high.log_k == pytest.approx(math.log(64))
    assert high.i_nce > 0.5 * high.log_k
    assert abs(low.i_nce) < 0.5
    assert high.i_nce <= high.log_k


def test_views_with_different_channels_get_their_own_encoders():
    pairs = PairSet(_images(128, 0, channels=1), _images(128, 1, channels=2))
    critics = train_critics(pairs, CriticConfig(width=0.25, epochs=1, batch_size=64))
    assert critics.encoders[0] is not critics.encoders[1]


def test_too_few_pairs_is_refused():
    with pytest.raises(ValueError, match="at least"):
        train_critics(PairSet(_images(10, 0), _images(10, 1)), FAST)


def test_run_pair_experiment_reports_i_nce_and_probe_keys(shared_colour):
    sizes = Sizes(train_pairs=256, test_pairs=128, probe_train=256, probe_test=128, test_batch=64)
    result = run_pair_experiment(shared_colour, FAST, sizes)
    assert result["num_candidates"] == 64 and 0 < result["i_nce"] <= result["log_k"]
    assert result["level.linear_top1"] > 60  # the shared colour is learned (chance 25)


def test_initial_critics_are_where_training_starts():
    """The random-init control is the trained critics' own starting point (0 epochs)."""
    pairs = PairSet(_images(64, 0), _images(64, 1))
    config = CriticConfig(width=0.25, epochs=0, batch_size=64, seed=3)
    start = initial_critics((3, 3), 16, config).state_dict()
    after = train_critics(pairs, config).state_dict()
    assert all(torch.equal(start[k], after[k]) for k in start)


def test_probe_critics_can_skip_knn(shared_colour):
    sizes = Sizes(train_pairs=64, test_pairs=64, probe_train=128, probe_test=64, test_batch=64)
    critics = initial_critics((3, 3), 8, FAST).eval()
    linear = probe_critics(critics, shared_colour, sizes, seed=0, use_knn=False)
    both = probe_critics(critics, shared_colour, sizes, seed=0)
    assert "level.linear_top1" in linear and not any("knn" in k for k in linear)
    assert linear["level.linear_top1"] == both["level.linear_top1"]
