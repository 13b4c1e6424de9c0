"""Turning stored `uint8` images into what a network eats.

Datasets store `uint8 [C, H, W]` images; models take float tensors normalised
per channel. One function does the conversion so evaluation, pretraining and the
baselines all feed the network the same way.
"""

from __future__ import annotations

import torch

# ImageNet statistics: the convention of torchvision models and of the reference code.
RGB_MEAN = (0.485, 0.456, 0.406)
RGB_STD = (0.229, 0.224, 0.225)
# One channel (grey datasets such as Fashion-MNIST): the ITU-R 601 luma of the RGB
# statistics (torchvision's grey weights 0.299, 0.587, 0.114), so a grey image is
# scaled as its RGB copy would be. A dataset-agnostic constant, not Fashion-MNIST's own
# (0.286, 0.353): the first BatchNorm absorbs the difference.
GRAY_MEAN = (0.459,)
GRAY_STD = (0.226,)


def to_model_input(images: torch.Tensor) -> torch.Tensor:
    """Scale `uint8` images `[..., C, H, W]` to float and normalise them per channel.

    RGB (3 channels) uses the ImageNet statistics, grey (1 channel) their luma
    (`GRAY_MEAN`, `GRAY_STD`). Float input is taken to be in [0, 1] already. Images with
    other channel counts are centred at 0.5 with unit-ish scale (they are neither RGB nor
    grey, so neither set of statistics applies).
    """
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    channels = x.shape[-3]
    if channels in (1, 3):
        mean, std = (RGB_MEAN, RGB_STD) if channels == 3 else (GRAY_MEAN, GRAY_STD)
    else:
        mean, std = (0.5,) * channels, (0.25,) * channels
    shape = (channels, 1, 1)
    return (x - x.new_tensor(mean).view(shape)) / x.new_tensor(std).view(shape)
