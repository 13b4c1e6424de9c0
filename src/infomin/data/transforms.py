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


def to_model_input(images: torch.Tensor) -> torch.Tensor:
    """Scale `uint8` images `[..., 3, H, W]` to float and normalise with ImageNet statistics.

    Float input is taken to be in [0, 1] already. Images with other channel counts are
    centred at 0.5 with unit-ish scale (they are not RGB, so RGB statistics do not apply).
    """
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    channels = x.shape[-3]
    if channels == 3:
        mean = x.new_tensor(RGB_MEAN).view(3, 1, 1)
        std = x.new_tensor(RGB_STD).view(3, 1, 1)
    else:
        mean, std = x.new_tensor(0.5), x.new_tensor(0.25)
    return (x - mean) / std
