"""Feature extractors ("backbones") for contrastive pretraining and frozen evaluation.

Every backbone is an `nn.Module` with an integer `out_dim` whose `forward` maps a
normalised float image batch `[B, C, H, W]` to features `[B, out_dim]`.

Pooling. `pool_size=1` is global average pooling (the paper's protocol). With
`pool_size=s > 1` the last feature map is adaptive-average-pooled to `s x s` and
flattened (`out_dim = C * s * s`): global pooling throws position away, and the
localisation probe of the Moving-MNIST experiment needs it.

Width. In `build_backbone`, `width` is always a *multiplier* on the family's standard
channel counts (1.0 = standard), so one config key means the same for every family:
`convnet` has 32 base channels at width 1.0, a ResNet has a 64-channel stem. The
`ConvNet` class itself takes the absolute base channel count (`width: int = 32`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

CONVNET_BASE_WIDTH = 32
RESNET_SPECS: dict[str, tuple[type[BasicBlock | Bottleneck], list[int]]] = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
    "resnet101": (Bottleneck, [3, 4, 23, 3]),
    "resnet152": (Bottleneck, [3, 8, 36, 3]),
}
# Inputs at or below this side get the CIFAR stem when `cifar_stem=None`: an ImageNet
# stem divides the side by 4 before the first residual stage, leaving 1x1 maps at 32 px.
SMALL_IMAGE_MAX = 64
MAIN_CHOICES = "convnet, resnet18, resnet50 (or resnet34/101/152), cmc-convnet, cmc-resnet50"


class Backbone(nn.Module):
    """Base class: a module mapping `[B, C, H, W]` images to `[B, out_dim]` features."""

    out_dim: int


class FeaturePool(nn.Module):
    """Average-pool a feature map to `size x size` and flatten it.

    Parameter-free, so swapping it in for torchvision's `avgpool` keeps state dicts intact.
    """

    def __init__(self, size: int = 1) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"pool_size must be >= 1, got {size}")
        self.size = size
        self.pool = nn.AdaptiveAvgPool2d(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(x), 1)


def _scale(channels: int, width: float) -> int:
    """Scale a channel count by `width`, never below one channel."""
    return max(1, round(channels * width))


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ConvNet(Backbone):
    """Four 3x3 conv-BN-ReLU blocks (widths w, 2w, 4w, 8w), 2x2 max-pool after the first three.

    Small on purpose: it trains in minutes on two CPU cores at 32-64 px, which is what
    the toy experiments (Moving-MNIST, colour-space sweeps) need. The input side is
    divided by 8, so a 32 px image leaves a 4x4 map for `pool_size` up to 4.
    """

    def __init__(self, in_channels: int = 3, width: int = CONVNET_BASE_WIDTH, pool_size: int = 1):
        super().__init__()
        if in_channels < 1 or width < 1:
            raise ValueError(f"in_channels and width must be >= 1, got {in_channels}, {width}")
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.features = nn.Sequential(
            _conv_block(in_channels, widths[0]),
            nn.MaxPool2d(2),
            _conv_block(widths[0], widths[1]),
            nn.MaxPool2d(2),
            _conv_block(widths[1], widths[2]),
            nn.MaxPool2d(2),
            _conv_block(widths[2], widths[3]),
        )
        self.pool = FeaturePool(pool_size)
        self.out_dim = widths[3] * pool_size * pool_size

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map, before pooling."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x))


class ResNetBackbone(ResNet, Backbone):
    """A torchvision ResNet without its classifier, with CIFAR stem, width and channel options.

    It *is* a `torchvision.models.ResNet` (same module names: conv1, bn1, layer1..4), so
    with width 1, 3 input channels and the standard stem its `state_dict()` is exactly
    torchvision's minus `fc.weight`/`fc.bias`: exported trunks load into
    `torchvision.models.resnet50()` (strict once an fc is added back) with no renaming.

    Width multiplier: torchvision's `width_per_group` only widens the inner 3x3 of
    bottleneck blocks and leaves block outputs at 64..2048, so it is not a width
    multiplier. Instead `_make_layer`, the one place torchvision builds residual stages,
    is overridden to scale `planes`, and the stem is rebuilt with the scaled width. This
    scales every channel count (width 0.5 on ResNet-50 gives CMC's "ResNet-50*",
    1024-d; width 2 gives SimCLR's ResNet-50 (2x)) without copying torchvision's code.
    """

    def __init__(
        self,
        depth_name: str = "resnet50",
        in_channels: int = 3,
        width: float = 1.0,
        cifar_stem: bool = False,
        pool_size: int = 1,
    ) -> None:
        if depth_name not in RESNET_SPECS:
            raise ValueError(f"unknown ResNet {depth_name!r}; choose from {sorted(RESNET_SPECS)}")
        if width <= 0:
            raise ValueError(f"width must be > 0, got {width}")
        block, layers = RESNET_SPECS[depth_name]
        self._width = width  # read by _make_layer during ResNet.__init__
        super().__init__(block, layers)
        stem = _scale(64, width)
        if cifar_stem:
            self.conv1 = nn.Conv2d(
                in_channels, stem, kernel_size=3, stride=1, padding=1, bias=False
            )
            self.maxpool = nn.Identity()
        elif in_channels != 3 or stem != 64:
            self.conv1 = nn.Conv2d(
                in_channels, stem, kernel_size=7, stride=2, padding=3, bias=False
            )
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        if stem != 64:
            self.bn1 = nn.BatchNorm2d(stem)
        self.avgpool = FeaturePool(pool_size)
        self.fc = nn.Identity()
        self.depth_name = depth_name
        self.cifar_stem = cifar_stem
        self.out_dim = _scale(512, width) * block.expansion * pool_size * pool_size

    def _make_layer(
        self,
        block: type[BasicBlock | Bottleneck],
        planes: int,
        blocks: int,
        stride: int = 1,
        dilate: bool = False,
    ) -> nn.Sequential:
        if planes == 64:  # layer1 is built right after the (64-channel) stem
            self.inplanes = _scale(64, self._width)
        return super()._make_layer(block, _scale(planes, self._width), blocks, stride, dilate)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The layer4 feature map, before pooling."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.avgpool(self.feature_map(x))


_HEAD_ATTRIBUTES = ("fc", "classifier", "heads", "head")


def _strip_classifier(model: nn.Module, name: str) -> int:
    """Replace the last `nn.Linear` of the model's head with `Identity`; return its input size.

    Removing only the final Linear keeps the penultimate representation of models whose
    head is an MLP (VGG, AlexNet, MobileNetV3: the usual "fc7"-style features) and the
    norm/flatten of ConvNeXt-style heads.
    """
    for attr in _HEAD_ATTRIBUTES:
        head = getattr(model, attr, None)
        if isinstance(head, nn.Linear):
            setattr(model, attr, nn.Identity())
            return head.in_features
        if isinstance(head, nn.Sequential):
            linear_keys = [k for k, m in head.named_children() if isinstance(m, nn.Linear)]
            if linear_keys:
                last = linear_keys[-1]
                in_features = getattr(head, last).in_features
                setattr(head, last, nn.Identity())
                return in_features
    raise ValueError(
        f"cannot find a linear classifier in torchvision model {name!r} "
        f"(looked for a Linear in {', '.join(_HEAD_ATTRIBUTES)}); wrap it yourself"
    )


def _replace_first_conv(model: nn.Module, in_channels: int, name: str) -> None:
    """Swap the first `Conv2d` for one with `in_channels` inputs and otherwise equal settings."""
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                new = nn.Conv2d(  # groups=1: a stem conv mixes all input channels
                    in_channels,
                    child.out_channels,
                    kernel_size=child.kernel_size,
                    stride=child.stride,
                    padding=child.padding,
                    dilation=child.dilation,
                    bias=child.bias is not None,
                )
                setattr(parent, child_name, new)
                return
    raise ValueError(f"torchvision model {name!r} has no Conv2d to adapt to {in_channels} channels")


def _drop_aux_heads(model: nn.Module) -> None:
    """GoogLeNet/Inception return a tuple of (logits, aux) in train mode; keep one output."""
    if hasattr(model, "aux_logits"):
        model.aux_logits = False
        for attr in ("AuxLogits", "aux1", "aux2"):
            if hasattr(model, attr):
                setattr(model, attr, None)


class TorchvisionBackbone(Backbone):
    """Any torchvision classification model with its final linear classifier removed.

    The wrapped model is `self.model`, so `backbone.model.state_dict()` has torchvision's
    key names minus the removed classifier layer.
    """

    def __init__(self, name: str, in_channels: int = 3, pool_size: int = 1) -> None:
        super().__init__()
        model = torchvision.models.get_model(name, weights=None)
        _drop_aux_heads(model)
        if pool_size != 1:
            pool = getattr(model, "avgpool", None)
            if not (
                isinstance(pool, nn.AdaptiveAvgPool2d)
                and isinstance(getattr(model, "fc", None), nn.Linear)
            ):
                raise ValueError(
                    f"pool_size > 1 needs a model with `avgpool` + `fc` (ResNet-like); {name!r} "
                    "is not one"
                )
            model.avgpool = nn.AdaptiveAvgPool2d(pool_size)
        self.out_dim = _strip_classifier(model, name) * pool_size * pool_size
        if in_channels != 3:
            _replace_first_conv(model, in_channels, name)
        self.model = model
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.model(x), 1)


def default_channel_groups(in_channels: int) -> tuple[int, int]:
    """CMC's split: the first channel (e.g. luminance) against all the others."""
    if in_channels < 2:
        raise ValueError(f"a split encoder needs >= 2 input channels, got {in_channels}")
    return (1, in_channels - 1)


class SplitEncoder(Backbone):
    """One encoder per channel group of the input (CMC: L | ab, Y | DbDr).

    `forward` concatenates the groups' features (what linear evaluation uses);
    `forward_groups` returns them separately (what the contrastive loss uses). Each
    encoder sees only its own channels, so no information crosses between views.
    """

    def __init__(self, make_encoder: Callable[[int], Backbone], groups: Sequence[int] = (1, 2)):
        super().__init__()
        if len(groups) < 2 or any(g < 1 for g in groups):
            raise ValueError(f"groups must be >= 2 positive channel counts, got {tuple(groups)}")
        self.groups = tuple(int(g) for g in groups)
        self.in_channels = sum(self.groups)
        self.encoders = nn.ModuleList(make_encoder(g) for g in self.groups)
        self.group_dims = tuple(int(e.out_dim) for e in self.encoders)
        self.out_dim = sum(self.group_dims)

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Cut `[B, C, H, W]` into the channel groups."""
        if x.shape[1] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} input channels, got {x.shape[1]}")
        return torch.split(x, list(self.groups), dim=1)

    def forward_groups(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Features of each channel group, `[B, group_dims[i]]` each."""
        return tuple(enc(part) for enc, part in zip(self.encoders, self.split(x), strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.forward_groups(x), dim=1)


def resolve_cifar_stem(cifar_stem: bool | None, image_size: int | None) -> bool:
    """Explicit choice wins; otherwise small images (<= 64 px) get the CIFAR stem."""
    if cifar_stem is not None:
        return cifar_stem
    return image_size is not None and image_size <= SMALL_IMAGE_MAX


def _build_single(
    name: str,
    in_channels: int,
    width: float,
    cifar_stem: bool | None,
    image_size: int | None,
    pool_size: int,
) -> Backbone:
    if name == "convnet":
        return ConvNet(in_channels, _scale(CONVNET_BASE_WIDTH, width), pool_size)
    if name in RESNET_SPECS:
        stem = resolve_cifar_stem(cifar_stem, image_size)
        return ResNetBackbone(name, in_channels, width, stem, pool_size)
    if name in torchvision.models.list_models(module=torchvision.models):
        if width != 1.0:
            raise ValueError(
                f"width multipliers are only supported for convnet and resnets: {name}"
            )
        if cifar_stem:
            raise ValueError(f"cifar_stem is only supported for convnet and resnets: {name}")
        return TorchvisionBackbone(name, in_channels, pool_size)
    raise ValueError(
        f"unknown backbone {name!r}; choose {MAIN_CHOICES}, or any torchvision "
        "classification model name (torchvision.models.list_models())"
    )


def build_backbone(
    name: str,
    in_channels: int = 3,
    width: float = 1.0,
    cifar_stem: bool | None = None,
    image_size: int | None = None,
    pool_size: int = 1,
) -> Backbone:
    """Build a backbone by name; the result has `out_dim` and maps images to features.

    `width` multiplies the family's standard channel counts (1.0 = standard; convnet's
    standard is 32 base channels). `cifar_stem=None` picks the 3x3 stride-1 stem without
    max-pool when `image_size <= 64`. `cmc-<name>` (convnet or a resnet) builds CMC's
    pair of half-width encoders on channels 1 | rest; its `out_dim` is the sum of both.
    """
    if name.startswith("cmc-"):
        base = name.removeprefix("cmc-")
        if base != "convnet" and base not in RESNET_SPECS:
            raise ValueError(f"unknown backbone {name!r}; cmc- works with convnet and resnets")
        groups = default_channel_groups(in_channels)
        return SplitEncoder(
            lambda c: _build_single(base, c, width / 2, cifar_stem, image_size, pool_size), groups
        )
    return _build_single(name, in_channels, width, cifar_stem, image_size, pool_size)
