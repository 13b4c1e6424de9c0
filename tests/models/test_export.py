"""Exported backbones load into torchvision with strict=True; Detectron2 names map."""

import pytest
import torch
import torchvision

from infomin.methods import PRESETS, TrainSettings, build_method
from infomin.models.export import backbone_state, export_backbone, to_detectron2


@pytest.fixture(scope="module")
def resnet50_checkpoint(tmp_path_factory):
    """A Lightning-style checkpoint of a MoCo v2 ResNet-50 (standard stem, 224 px)."""
    settings = TrainSettings(backbone="resnet50", image_size=224, batch_size=8)
    method = build_method(PRESETS["mocov2"], settings)
    path = tmp_path_factory.mktemp("ckpt") / "last.ckpt"
    torch.save({"state_dict": method.state_dict(), "epoch": 3}, path)
    return path, method


def test_export_loads_into_torchvision_resnet50_strict(resnet50_checkpoint, tmp_path):
    path, method = resnet50_checkpoint
    out = export_backbone(path, tmp_path / "backbone.pt")
    state = torch.load(out, weights_only=True)
    assert not any(k.startswith(("module.", "heads", "key_towers", "queues")) for k in state)
    model = torchvision.models.resnet50()
    model.fc = torch.nn.Identity()  # the export holds no head, by design
    model.load_state_dict(state, strict=True)
    model.eval()
    method.backbone.eval()
    x = torch.randn(2, 3, 64, 64)
    assert torch.allclose(model(x), method.backbone(x), atol=1e-5)


def test_detectron2_names(resnet50_checkpoint, tmp_path):
    path, _ = resnet50_checkpoint
    out = export_backbone(path, tmp_path / "d2.pth", fmt="detectron2")
    names = set(torch.load(out, weights_only=True)["model"])
    assert "stem.conv1.weight" in names and "stem.conv1.norm.running_mean" in names
    assert "res2.0.conv1.norm.weight" in names and "res2.0.shortcut.weight" in names
    assert "res5.2.conv3.weight" in names and "res2.0.shortcut.norm.bias" in names
    assert not any(n.startswith("layer") for n in names)


def test_wrapper_prefixes_are_removed():
    state = {"module.backbone.conv1.weight": torch.ones(1), "module.heads.0.w": torch.ones(1)}
    assert list(backbone_state(state)) == ["conv1.weight"]


def test_non_resnet_keys_refuse_detectron2():
    with pytest.raises(ValueError, match="not a torchvision ResNet key"):
        to_detectron2({"features.0.weight": torch.ones(1)})


def test_corrupt_checkpoint_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        export_backbone(bad, tmp_path / "x.pt")
