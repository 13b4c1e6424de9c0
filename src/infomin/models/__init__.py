"""Backbones: images in, feature vectors out (see `build_backbone`)."""

from infomin.models.backbones import (
    Backbone,
    ConvNet,
    FeaturePool,
    ResNetBackbone,
    SplitEncoder,
    TorchvisionBackbone,
    build_backbone,
    default_channel_groups,
    resolve_cifar_stem,
)

__all__ = [
    "Backbone",
    "ConvNet",
    "FeaturePool",
    "ResNetBackbone",
    "SplitEncoder",
    "TorchvisionBackbone",
    "build_backbone",
    "default_channel_groups",
    "resolve_cifar_stem",
]
