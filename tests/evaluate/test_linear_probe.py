import pytest
import torch

from infomin.evaluate import (
    fit_linear_probe,
    fit_position_probe,
    fit_ridge,
    linear_probe_accuracy,
    select_weight_decay,
    topk_accuracy,
)


def blobs(n: int, classes: int = 10, dim: int = 64, spread: float = 1.0, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(123)) * 2
    labels = torch.randint(0, classes, (n,), generator=g)
    return centres[labels] + spread * torch.randn(n, dim, generator=g), labels


def test_linear_probe_separates_gaussian_blobs():
    train_x, train_y = blobs(2000)
    test_x, test_y = blobs(1000, seed=1)
    result = linear_probe_accuracy(train_x, train_y, test_x, test_y, num_classes=10)
    assert set(result) == {"top1", "top5"}
    assert result["top1"] >= 95.0 and result["top5"] >= result["top1"]


def test_linear_probe_is_scale_invariant_and_deterministic():
    train_x, train_y = blobs(600)
    scale = torch.logspace(-3, 3, 64)  # badly conditioned raw features
    a = fit_linear_probe(train_x * scale + 50, train_y, 10)
    b = fit_linear_probe(train_x * scale + 50, train_y, 10)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    test_x, test_y = blobs(500, seed=2)
    plain = linear_probe_accuracy(train_x, train_y, test_x, test_y, 10)
    scaled = linear_probe_accuracy(train_x * scale + 50, train_y, test_x * scale + 50, test_y, 10)
    assert scaled["top1"] == pytest.approx(plain["top1"], abs=0.5)


def test_top5_only_with_more_than_five_classes():
    train_x, train_y = blobs(300, classes=3)
    result = linear_probe_accuracy(train_x, train_y, train_x, train_y, num_classes=3)
    assert set(result) == {"top1"}


def test_probe_at_chance_on_random_labels():
    train_x, _ = blobs(1000)
    test_x, _ = blobs(1000, seed=5)
    g = torch.Generator().manual_seed(9)
    noise_train, noise_test = (torch.randint(0, 10, (1000,), generator=g) for _ in range(2))
    result = linear_probe_accuracy(train_x, noise_train, test_x, noise_test, 10)
    assert result["top1"] < 20.0


def test_topk_accuracy():
    scores = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.05], [0.2, 0.3, 0.5]])
    labels = torch.tensor([1, 1, 0])
    result = topk_accuracy(scores, labels, (1, 2))
    assert result["top1"] == pytest.approx(100 / 3)
    assert result["top2"] == pytest.approx(200 / 3)


def test_weight_decay_selection_picks_a_candidate_without_the_test_set():
    x, y = blobs(500, spread=3.0)
    chosen = select_weight_decay(x, y, [1e-4, 1e-2, 10.0], num_classes=10)
    assert chosen in (1e-4, 1e-2)  # 10.0 crushes the weights
    result = linear_probe_accuracy(
        x, y, *blobs(300, seed=3, spread=3.0), 10, weight_decay=(1e-3, 1e-1)
    )
    assert 0 <= result["top1"] <= 100


@pytest.mark.parametrize(("n", "dim"), [(400, 32), (50, 200)])  # primal and dual solves
def test_position_probe_recovers_a_linear_map(n, dim):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n + 100, dim, generator=g)
    true_map = torch.randn(dim, 2, generator=g)
    positions = x @ true_map + torch.tensor([32.0, 20.0])
    x_train, x_test = x[:n], x[n:]
    pos_train, pos_test = positions[:n], positions[n:]
    if n > dim:
        assert fit_position_probe(x_train, pos_train, x_test, pos_test, alpha=1e-6) < 1e-3
        assert fit_position_probe(x_train, pos_train, x_test, pos_test) < 0.1
    else:  # underdetermined: exact on train, and the predictor interpolates
        probe = fit_ridge(x_train, pos_train, alpha=1e-8)
        torch.testing.assert_close(probe.predict(x_train).float(), pos_train, atol=1e-3, rtol=0)


def test_position_probe_error_is_euclidean():
    x = torch.zeros(10, 3)  # no information: the probe predicts the training mean
    pos_train = torch.tensor([[0.0, 0.0], [6.0, 8.0]]).repeat(5, 1)
    error = fit_position_probe(x, pos_train, x[:2], torch.tensor([[3.0, 4.0], [6.0, 8.0]]))
    assert error == pytest.approx(2.5)  # distances 0 and 5
