"""The Detectron2 export, loaded under a model of Detectron2's own loading rule.

Detectron2 is not installed here, so its rule is restated from the facts of its source
(detectron2/checkpoint/detection_checkpoint.py and c2_model_loading.py, and the fvcore
Checkpointer it extends):

- a file ending in `.pkl` is read with `pickle.load(f, encoding="latin1")`; a dict with
  both "model" and "__author__" is taken as is (anything else is treated as a Caffe2
  blob file, which is not what we write);
- only when the dict carries `"matching_heuristics": True` are names aligned: each model
  key takes the longest checkpoint key that equals it or is a dot-separated suffix of
  it; a shape mismatch skips that weight; one checkpoint key matching two model keys is
  an error;
- then the weights are loaded non-strictly: an exact name match is needed, a shape
  mismatch is skipped, and every model key left over is only reported as missing.

The model keys are generated below from the architecture of Detectron2's ResNet
(detectron2/modeling/backbone/resnet.py: BasicStem conv1 with a norm; stages res2..res5
of BottleneckBlock/BasicBlock with conv1..conv3 and a `shortcut` conv where the channel
count changes; every conv bias-free with its norm at `<conv>.norm`; FrozenBatchNorm's
four buffers), not from our exporter.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
import torch

from infomin.models.backbones import build_backbone
from infomin.models.export import export_backbone

NORM = ("weight", "bias", "running_mean", "running_var")  # FrozenBatchNorm2d buffers
# depth -> (bottleneck?, blocks per stage) as Detectron2's build_resnet_backbone has them.
D2_DEPTHS = {18: (False, (2, 2, 2, 2)), 50: (True, (3, 4, 6, 3))}
# Non-backbone keys of a Faster R-CNN R50-FPN: they must stay unmatched.
FPN_HEAD_KEYS = {
    "backbone.fpn_lateral2.weight": (256, 256, 1, 1),
    "backbone.fpn_output2.weight": (256, 256, 3, 3),
    "proposal_generator.rpn_head.conv.weight": (256, 256, 3, 3),
    "roi_heads.box_head.fc1.weight": (1024, 12544),
    "roi_heads.box_predictor.cls_score.weight": (81, 1024),
}

Shapes = dict[str, tuple[int, ...]]


def _conv(name: str, cout: int, cin: int, k: int) -> Shapes:
    """A Detectron2 Conv2d with a norm: bias-free weight plus `<name>.norm.*`."""
    return {f"{name}.weight": (cout, cin, k, k), **{f"{name}.norm.{b}": (cout,) for b in NORM}}


def d2_resnet_keys(depth: int) -> Shapes:
    """Every state-dict key (and shape) of Detectron2's ResNet-`depth` trunk, default widths."""
    bottleneck, blocks = D2_DEPTHS[depth]
    keys = _conv("stem.conv1", 64, 3, 7)
    cin = 64
    for stage, count in enumerate(blocks, start=2):
        inner = 64 * 2 ** (stage - 2)
        cout = inner * 4 if bottleneck else inner
        for i in range(count):
            name = f"res{stage}.{i}"
            if cin != cout:
                keys |= _conv(f"{name}.shortcut", cout, cin, 1)
            if bottleneck:
                keys |= _conv(f"{name}.conv1", inner, cin, 1)
                keys |= _conv(f"{name}.conv2", inner, inner, 3)
                keys |= _conv(f"{name}.conv3", cout, inner, 1)
            else:
                keys |= _conv(f"{name}.conv1", cout, cin, 3)
                keys |= _conv(f"{name}.conv2", cout, cout, 3)
            cin = cout
    return keys


def faster_rcnn_fpn_keys(depth: int) -> Shapes:
    """A Faster R-CNN FPN model's keys: the trunk under backbone.bottom_up, plus heads."""
    trunk = {f"backbone.bottom_up.{k}": s for k, s in d2_resnet_keys(depth).items()}
    return trunk | FPN_HEAD_KEYS


def faster_rcnn_c4_keys(depth: int) -> Shapes:
    """A C4 model's keys: stem..res4 under backbone., res5 inside the ROI heads."""
    keys: Shapes = {}
    for key, shape in d2_resnet_keys(depth).items():
        keys[f"roi_heads.{key}" if key.startswith("res5.") else f"backbone.{key}"] = shape
    return keys


# ---------------------------------------------------------------- the rule, restated
def d2_read(path: Path) -> dict:
    """What DetectionCheckpointer's file reader returns for a `.pkl` we could have written."""
    assert path.suffix == ".pkl"
    with open(path, "rb") as handle:
        data = pickle.load(handle, encoding="latin1")
    assert "model" in data and "__author__" in data, "would be read as a Caffe2 blob file"
    return data


def align_by_suffix(model: Shapes, weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename checkpoint keys to the model keys they are the longest dotted suffix of."""
    renamed: dict[str, np.ndarray] = {}
    used: dict[str, str] = {}
    for model_key in sorted(model):
        matches = [k for k in weights if model_key == k or model_key.endswith("." + k)]
        if not matches:
            continue
        best = max(matches, key=len)
        if tuple(weights[best].shape) != model[model_key]:
            continue  # Detectron2 warns and skips this weight
        if best in used:
            raise ValueError(f"{best} matches both {used[best]} and {model_key}")
        used[best] = model_key
        renamed[model_key] = weights[best]
    renamed |= {k: v for k, v in weights.items() if k not in used}  # kept, reported unexpected
    return renamed


def d2_load(model: Shapes, checkpoint: dict) -> tuple[dict[str, np.ndarray], set[str]]:
    """(model key -> the array it receives, the model keys left without weights)."""
    weights = checkpoint["model"]
    if checkpoint.get("matching_heuristics", False):
        weights = align_by_suffix(model, weights)
    weights = {k.removeprefix("module."): v for k, v in weights.items()}
    loaded = {
        k: np.asarray(weights[k])
        for k in model
        if k in weights and tuple(np.shape(weights[k])) == model[k]
    }
    return loaded, set(model) - set(loaded)


# ---------------------------------------------------------------- checkpoints and exports
def _checkpoint(tmp_path: Path, depth: int) -> tuple[Path, dict[str, torch.Tensor]]:
    """A checkpoint whose backbone is a torchvision-named ResNet with random statistics."""
    torch.manual_seed(depth)
    backbone = build_backbone(f"resnet{depth}", image_size=224)
    state = backbone.state_dict()
    for key, value in state.items():
        if key.endswith(("running_mean", "running_var")):
            value.copy_(torch.rand_like(value) + 0.5)  # not the init values: copies must show
    path = tmp_path / f"r{depth}.ckpt"
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in state.items()}}, path)
    return path, state


@pytest.fixture(scope="module", params=[18, 50], ids=["resnet18", "resnet50"])
def exported(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"d2-{request.param}")
    ckpt, state = _checkpoint(tmp, request.param)
    out = export_backbone(ckpt, tmp / "backbone-d2.pkl", fmt="detectron2").path
    return request.param, out, state


def _source_name(d2_key: str) -> str:
    """The torchvision name a Detectron2 trunk key must hold the value of (test oracle)."""
    key = d2_key.replace("stem.conv1.norm.", "bn1.").replace("stem.conv1.", "conv1.")
    for stage in range(2, 6):
        key = key.replace(f"res{stage}.", f"layer{stage - 1}.")
    key = key.replace(".shortcut.norm.", ".downsample.1.").replace(".shortcut.", ".downsample.0.")
    for conv in range(1, 4):
        key = key.replace(f".conv{conv}.norm.", f".bn{conv}.")
    return key


# ---------------------------------------------------------------- the tests
def test_file_is_the_format_detectron2_reads(exported):
    _, out, _ = exported
    data = d2_read(out)
    assert data["__author__"] == "infomin" and data["matching_heuristics"] is True
    assert all(isinstance(v, np.ndarray) for v in data["model"].values())


@pytest.mark.parametrize("layout", [faster_rcnn_fpn_keys, faster_rcnn_c4_keys])
def test_every_backbone_key_is_filled_with_its_weights(exported, layout):
    depth, out, state = exported
    model = layout(depth)
    loaded, missing = d2_load(model, d2_read(out))
    trunk = {k for k in model if k not in FPN_HEAD_KEYS}
    assert missing == set(FPN_HEAD_KEYS) & set(model), "trunk keys left unfilled"
    assert set(loaded) == trunk
    for key in trunk:
        plain = key.removeprefix("backbone.bottom_up.").removeprefix("backbone.")
        source = state[_source_name(plain.removeprefix("roi_heads."))]
        np.testing.assert_array_equal(loaded[key], source.numpy(), err_msg=key)


def test_every_exported_weight_is_used(exported):
    """Nothing in the file is left over (a leftover would be a misnamed weight)."""
    depth, out, _ = exported
    weights = d2_read(out)["model"]
    aligned = align_by_suffix(faster_rcnn_fpn_keys(depth), weights)
    assert set(aligned) <= set(faster_rcnn_fpn_keys(depth))


def test_without_the_flag_nothing_loads(exported):
    """The same arrays without "matching_heuristics": names are exact, none match."""
    depth, out, _ = exported
    data = d2_read(out)
    del data["matching_heuristics"]
    loaded, missing = d2_load(faster_rcnn_fpn_keys(depth), data)
    assert loaded == {}
    assert missing == set(faster_rcnn_fpn_keys(depth))


def test_the_old_torch_save_format_does_not_load(exported, tmp_path):
    """What `export --format detectron2` wrote before: torch.save, tensors, no flag."""
    depth, out, _ = exported
    tensors = {k: torch.from_numpy(v) for k, v in d2_read(out)["model"].items()}
    old = tmp_path / "old.pkl"
    torch.save({"model": tensors, "__author__": "infomin"}, old)
    with pytest.raises(pickle.UnpicklingError):
        d2_read(old)  # a zip archive is no pickle
    # Renamed .pth, Detectron2 releases that add no flag to .pth files match names exactly
    # (newer ones set it for every .pth; the .pkl rule above has no such fallback).
    loaded, _ = d2_load(faster_rcnn_fpn_keys(depth), torch.load(old, weights_only=True))
    assert loaded == {}


def test_rule_model_is_strict_about_shapes():
    """The rule model itself: a wrong-shaped weight is skipped, not loaded."""
    model = {"backbone.bottom_up.stem.conv1.weight": (64, 3, 7, 7)}
    ckpt = {"model": {"stem.conv1.weight": np.zeros((64, 3, 3, 3))}, "matching_heuristics": True}
    loaded, missing = d2_load(model, ckpt)
    assert loaded == {} and missing == set(model)
