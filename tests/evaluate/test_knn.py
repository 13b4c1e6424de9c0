import math

import pytest
import torch

from infomin.evaluate import knn_accuracy


def naive_knn(train_x, train_y, test_x, test_y, num_classes, k, temperature):
    """Loop over test points and neighbours, one cosine similarity at a time."""
    hits = {1: 0, 5: 0}
    for i in range(len(test_x)):
        sims = []
        for j in range(len(train_x)):
            a, b = test_x[i].tolist(), train_x[j].tolist()
            dot = sum(p * q for p, q in zip(a, b, strict=True))
            norm = math.sqrt(sum(p * p for p in a)) * math.sqrt(sum(q * q for q in b))
            sims.append((dot / norm, j))
        sims.sort(reverse=True)
        votes = [0.0] * num_classes
        for sim, j in sims[:k]:
            votes[int(train_y[j])] += math.exp(sim / temperature)
        ranked = sorted(range(num_classes), key=lambda c: -votes[c])
        ranked = [c for c in ranked if votes[c] > 0]
        for top in hits:
            hits[top] += int(int(test_y[i]) in ranked[:top])
    return {f"top{top}": 100.0 * h / len(test_x) for top, h in hits.items()}


@pytest.mark.parametrize(("k", "chunk_size"), [(10, 7), (3, 1000), (500, 13)])
def test_knn_matches_naive_loops(k, chunk_size):
    g = torch.Generator().manual_seed(k)
    classes = 8
    centres = torch.randn(classes, 6, generator=g)
    train_y = torch.randint(0, classes, (120,), generator=g)
    test_y = torch.randint(0, classes, (45,), generator=g)
    train_x = centres[train_y] + 1.5 * torch.randn(120, 6, generator=g)
    test_x = centres[test_y] + 1.5 * torch.randn(45, 6, generator=g)
    expected = naive_knn(train_x, train_y, test_x, test_y, classes, min(k, 120), 0.07)
    got = knn_accuracy(train_x, train_y, test_x, test_y, classes, k=k, chunk_size=chunk_size)
    assert got.keys() == expected.keys()
    for key in got:
        assert got[key] == pytest.approx(expected[key])
    assert 0 < got["top1"] < 100  # a non-trivial case


def test_knn_scale_invariant_and_clamped_k():
    train_x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    train_y = torch.tensor([0, 1, 0])
    test_x = torch.tensor([[5.0, 0.2], [0.0, 0.3]])
    result = knn_accuracy(train_x, train_y, test_x, torch.tensor([0, 1]), num_classes=2, k=200)
    assert result == {"top1": 100.0}  # 2 classes: no top-5


def test_knn_temperature_sharpens_towards_nearest_neighbour():
    # one close neighbour of class 1 against two far ones of class 0
    train_x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    train_y = torch.tensor([1, 0, 0])
    test = torch.tensor([[1.0, 0.5]])
    sharp = knn_accuracy(train_x, train_y, test, torch.tensor([1]), 2, k=3, temperature=0.07)
    flat = knn_accuracy(train_x, train_y, test, torch.tensor([1]), 2, k=3, temperature=100.0)
    assert sharp["top1"] == 100.0 and flat["top1"] == 0.0
