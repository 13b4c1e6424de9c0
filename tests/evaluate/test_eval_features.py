import torch
import torch.nn.functional as F
from torch import nn

from infomin.data.base import Task
from infomin.data.transforms import to_model_input
from infomin.evaluate import extract_features, raw_pixel_features
from infomin.models import ConvNet


class TinyImages(torch.utils.data.Dataset):
    """The dataset contract: uint8 [C, H, W] images, a targets dict, a `tasks` mapping."""

    def __init__(self, n: int = 10, channels: int = 3, size: int = 16, labelled: bool = True):
        g = torch.Generator().manual_seed(n)
        self.images = torch.randint(
            0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g
        )
        self.labels = torch.arange(n) % 4
        self.labelled = labelled
        self.tasks = {"digit": Task("digit", "classification", num_classes=4)} if labelled else {}

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        targets = {"digit": self.labels[index]} if self.labelled else {}
        return self.images[index], targets


def _bn_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k
    }


def test_features_are_eval_mode_outputs_in_dataset_order():
    data = TinyImages(n=10)
    model = ConvNet(width=4)
    feats, targets = extract_features(model, data, batch_size=4)
    assert feats.shape == (10, 32) and feats.dtype == torch.float32
    assert not feats.requires_grad
    torch.testing.assert_close(targets["digit"], data.labels)
    model.eval()
    with torch.no_grad():
        expected = model(to_model_input(data.images))
    torch.testing.assert_close(feats, expected, rtol=1e-4, atol=1e-5)


def test_batchnorm_statistics_untouched_and_modes_restored():
    data = TinyImages(n=9)
    model = ConvNet(width=4)
    model(to_model_input(data.images))  # non-trivial running statistics
    model.train()
    frozen_block = model.features[2]
    frozen_block.eval()  # a deliberately frozen part must stay frozen
    before = _bn_state(model)
    assert before  # running_mean, running_var, num_batches_tracked
    extract_features(model, data, batch_size=4)
    after = _bn_state(model)
    assert before.keys() == after.keys()
    for key in before:
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)
    assert model.training and model.features[0].training
    assert not frozen_block.training and not frozen_block[1].training


def test_eval_model_stays_in_eval_and_progress_reports():
    model = ConvNet(width=4).eval()
    calls = []
    extract_features(
        model, TinyImages(n=7), batch_size=3, progress=lambda d, t: calls.append((d, t))
    )
    assert not model.training
    assert calls == [(3, 7), (6, 7), (7, 7)]


def test_unlabelled_dataset_gives_empty_targets():
    feats, targets = extract_features(
        ConvNet(1, width=4), TinyImages(n=5, channels=1, labelled=False)
    )
    assert feats.shape == (5, 32) and targets == {}


def test_raw_pixel_features():
    data = TinyImages(n=6, channels=2, size=8)
    feats, targets = raw_pixel_features(data)
    torch.testing.assert_close(feats, data.images.float().div(255).flatten(1))
    small, _ = raw_pixel_features(data, size=4)
    assert small.shape == (6, 2 * 4 * 4)
    expected = F.avg_pool2d(data.images.float() / 255, 2).flatten(1)
    torch.testing.assert_close(small, expected)
    torch.testing.assert_close(targets["digit"], data.labels)
