import pytest
import torch

from infomin.data.base import Task
from infomin.evaluate import chance_levels, evaluate_backbone, evaluate_features
from infomin.models import build_backbone

TASKS = {
    "digit": Task("digit", "classification", num_classes=10),
    "background": Task("background", "classification", num_classes=3),
    "position": Task("position", "regression", unit="px"),
    "scale": Task("scale", "regression"),
}
KEYS = {
    "digit.linear_top1",
    "digit.linear_top5",
    "digit.knn_top1",
    "digit.knn_top5",
    "background.linear_top1",
    "background.knn_top1",
    "position.linear_mae_px",
    "scale.linear_mae",
}


def _split(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    targets = {
        "digit": torch.randint(0, 10, (n,), generator=g),
        "background": torch.randint(0, 3, (n,), generator=g),
        "position": torch.rand(n, 2, generator=g) * 64,
        "scale": torch.rand(n, generator=g),
    }
    feats = torch.cat(
        [
            torch.nn.functional.one_hot(targets["digit"], 10).float(),
            torch.nn.functional.one_hot(targets["background"], 3).float(),
            targets["position"] / 64,
            targets["scale"][:, None],
            0.05 * torch.randn(n, 8, generator=g),
        ],
        dim=1,
    )
    return feats, targets


def test_evaluate_features_keys_and_values():
    results = evaluate_features(*_split(300, 0), *_split(200, 1), TASKS)
    assert set(results) == KEYS
    assert results["digit.linear_top1"] > 95 and results["background.knn_top1"] > 95
    assert results["position.linear_mae_px"] < 1.0
    chance = chance_levels(TASKS, _split(300, 0)[1], _split(200, 1)[1])
    assert set(chance) == KEYS
    assert chance["digit.linear_top1"] == pytest.approx(10.0)
    assert chance["digit.linear_top5"] == pytest.approx(50.0)
    assert chance["position.linear_mae_px"] > 10 * results["position.linear_mae_px"]


def test_missing_targets_and_unknown_kind_are_reported():
    train_x, train_t = _split(50, 0)
    test_x, test_t = _split(50, 1)
    del test_t["scale"]
    with pytest.raises(ValueError, match=r"'scale'.*test"):
        evaluate_features(train_x, train_t, test_x, test_t, {"scale": TASKS["scale"]})
    assert evaluate_features(train_x, train_t, test_x, test_t, {}) == {}


class Shapes(torch.utils.data.Dataset):
    """Bright square on the left (class 0) or right (class 1) of a 1-channel image."""

    tasks = {"side": Task("side", "classification", num_classes=2)}  # noqa: RUF012

    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, 2, (n,), generator=g)
        self.images = torch.randint(0, 40, (n, 1, 16, 16), dtype=torch.uint8, generator=g)
        for i, side in enumerate(self.labels.tolist()):
            self.images[i, :, 4:12, side * 8 : side * 8 + 8] = 255

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.images[index], {"side": self.labels[index]}


def test_evaluate_backbone_end_to_end():
    torch.manual_seed(0)
    model = build_backbone("convnet", in_channels=1, width=0.25, pool_size=2)
    results = evaluate_backbone(model, Shapes(64, 0), Shapes(32, 1), batch_size=16)
    assert set(results) == {"side.linear_top1", "side.knn_top1"}
    assert results["side.linear_top1"] >= 90  # random conv features keep position
