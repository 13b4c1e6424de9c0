"""Datasets of infomin: every item is `(uint8 image [C, H, W], targets dict)`.

See docs/design.md for the contract; `load_dataset` is the entry point.
"""

from infomin.data.base import DatasetError, ImageDataset, Task
from infomin.data.fashion_mnist import FashionMNIST
from infomin.data.moving_digits import (
    ClipFactors,
    ColorfulMovingDigits,
    RenderConfig,
    render,
    render_factors,
    sample_factors,
)
from infomin.data.photo_patches import PatchPairs, PhotoPatches, patch_pairs
from infomin.data.photos import PHOTO_NAMES
from infomin.data.real import CIFAR10, CIFAR100, STL10, ImageFolder
from infomin.data.registry import (
    DATASETS,
    check_data_options,
    check_location,
    data_location,
    dataset_options,
    default_data_dir,
    has_labels,
    image_channels,
    is_embedded,
    load_dataset,
)
from infomin.data.show import save_clip_strip, save_grid

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "DATASETS",
    "PHOTO_NAMES",
    "STL10",
    "ClipFactors",
    "ColorfulMovingDigits",
    "DatasetError",
    "FashionMNIST",
    "ImageDataset",
    "ImageFolder",
    "PatchPairs",
    "PhotoPatches",
    "RenderConfig",
    "Task",
    "check_data_options",
    "check_location",
    "data_location",
    "dataset_options",
    "default_data_dir",
    "has_labels",
    "image_channels",
    "is_embedded",
    "load_dataset",
    "patch_pairs",
    "render",
    "render_factors",
    "sample_factors",
    "save_clip_strip",
    "save_grid",
]
