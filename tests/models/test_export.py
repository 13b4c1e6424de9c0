"""Exported backbones load into torchvision with strict=True; Detectron2 names map.

The Detectron2 loading rule itself is modelled in test_detectron2_rule.py.
"""

import pickle

import pytest
import torch
import torchvision
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

from infomin.cli import main
from infomin.methods import PRESETS, TrainSettings, build_method
from infomin.models.backbones import build_backbone
from infomin.models.export import (
    ExportError,
    backbone_state,
    describe_resnet,
    detectron2_config,
    export_backbone,
    to_detectron2,
)


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
    out = export_backbone(path, tmp_path / "backbone.pt").path
    state = torch.load(out, weights_only=True)
    assert not any(k.startswith(("module.", "heads", "key_towers", "queues")) for k in state)
    model = torchvision.models.resnet50()
    model.fc = torch.nn.Identity()  # the export holds no head, by design
    model.load_state_dict(state, strict=True)
    model.eval()
    method.backbone.eval()
    x = torch.randn(2, 3, 64, 64)
    assert torch.allclose(model(x), method.backbone(x), atol=1e-5)


@pytest.mark.parametrize("body", ["resnet_fpn_backbone", "fasterrcnn", "retinanet"])
def test_export_loads_into_torchvision_detection_strict(resnet50_checkpoint, tmp_path, body):
    """The detection models' trunk (IntermediateLayerGetter, FrozenBN or BN) takes it whole."""
    path, method = resnet50_checkpoint
    state = torch.load(export_backbone(path, tmp_path / "b.pt").path, weights_only=True)
    detection = torchvision.models.detection
    if body == "resnet_fpn_backbone":
        trunk = resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=5).body
    elif body == "fasterrcnn":
        model = detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)
        trunk = model.backbone.body
    else:
        model = detection.retinanet_resnet50_fpn(weights=None, weights_backbone=None)
        trunk = model.backbone.body
    trunk.load_state_dict(state, strict=True)
    trunk.eval()
    method.backbone.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        last = list(trunk(x).values())[-1]  # layer4's map, whichever layers are returned
        assert torch.allclose(last, _layer4(method.backbone, x), atol=1e-4)


def _layer4(net: torchvision.models.ResNet, x: torch.Tensor) -> torch.Tensor:
    """The last feature map of a torchvision ResNet, before pooling."""
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    return net.layer4(net.layer3(net.layer2(net.layer1(x))))


def test_detectron2_names(resnet50_checkpoint, tmp_path):
    path, _ = resnet50_checkpoint
    out = export_backbone(path, tmp_path / "d2.pkl", fmt="detectron2").path
    with open(out, "rb") as handle:
        names = set(pickle.load(handle)["model"])
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


@pytest.mark.parametrize(
    ("name", "phrase"), [("convnet", "needs a ResNet"), ("resnet18", "3x3 CIFAR stem")]
)
def test_detectron2_export_refuses_what_it_cannot_hold(tmp_path, name, phrase):
    """What Detectron2's ResNet cannot hold is refused before anything is written."""
    state = build_backbone(name, image_size=32).state_dict()
    ckpt = tmp_path / f"{name}.ckpt"
    torch.save({f"backbone.{k}": v for k, v in state.items()}, ckpt)
    with pytest.raises(ExportError, match=phrase):
        export_backbone(ckpt, tmp_path / "x.pkl", fmt="detectron2")
    assert not (tmp_path / "x.pkl").exists()


def test_detectron2_config_follows_the_weights():
    """Width-scaled trunks need Detectron2's channel keys; torchvision's stride and input."""
    layout = describe_resnet(build_backbone("resnet50", width=0.5, image_size=224).state_dict())
    assert layout is not None and layout.depth == 50 and not layout.torchvision_standard
    config = detectron2_config(layout)
    assert config["MODEL.RESNETS.STEM_OUT_CHANNELS"] == 32
    assert config["MODEL.RESNETS.RES2_OUT_CHANNELS"] == 128
    assert config["MODEL.RESNETS.WIDTH_PER_GROUP"] == 32
    assert config["MODEL.RESNETS.STRIDE_IN_1X1"] is False and config["INPUT.FORMAT"] == "RGB"
    assert config["MODEL.PIXEL_MEAN"] == [123.675, 116.28, 103.53]


def test_cli_prints_how_to_load(resnet50_checkpoint, tmp_path, monkeypatch, capsys):
    path, _ = resnet50_checkpoint
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(path), "--format", "detectron2"]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "backbone-d2.pkl").is_file()  # the default name
    assert "MODEL.WEIGHTS backbone-d2.pkl" in printed and "MODEL.RESNETS.DEPTH 50" in printed
    assert "DetectionCheckpointer(model).load('backbone-d2.pkl')" in printed
    assert main(["export", str(path)]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "backbone.pt").is_file()
    assert "torchvision.models.resnet50(weights=None)" in printed
    assert "b.body.load_state_dict(torch.load('backbone.pt'), strict=True)" in printed


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["--format", "detectron2", "--out", "d2.pth"], "from a .pkl file"),
        (["--format", "detectron2", "--out", "d2.pkl"], "needs a ResNet backbone"),
    ],
)
def test_cli_refusals_are_one_line(tmp_path, monkeypatch, capsys, argv, phrase):
    monkeypatch.chdir(tmp_path)
    state = build_backbone("convnet", image_size=32).state_dict()
    torch.save({f"backbone.{k}": v for k, v in state.items()}, tmp_path / "c.ckpt")
    with pytest.raises(SystemExit) as stop:
        main(["export", "c.ckpt", *argv])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and phrase in err and "\n" not in err
