"""Frozen-feature extraction: run a backbone once over a dataset and cache the result.

Probes are then fitted on the cached features, which is far cheaper than pushing images
through the network for every probe epoch, and makes probes deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import chain

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from infomin.data.transforms import to_model_input

Targets = dict[str, torch.Tensor]
Progress = Callable[[int, int], None]  # (images done, images total)


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Put every submodule in eval mode, then restore each one's own mode.

    Eval mode makes BatchNorm use (and not update) its running statistics: a BN left in
    train mode during evaluation is a recurring bug that both corrupts the statistics
    and makes features depend on the batch. Modes are restored per module because a
    training model may hold deliberately frozen parts (e.g. a BN kept in eval).
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


@torch.no_grad()
def encode(encoder: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Frozen features of float network inputs held in memory (eval mode, no grad).

    Args:
        encoder: Maps ``[b, C, H, W]`` to ``[b, D]``; left in eval mode.
        images: ``[n, C, H, W]`` float network inputs.
        batch_size: Images per forward pass.

    Returns:
        ``[n, D]`` features.
    """
    encoder.eval()
    return torch.cat(
        [encoder(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    )


def _model_device(model: nn.Module) -> torch.device:
    for tensor in chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _loader(dataset: Dataset, batch_size: int, num_workers: int, device: torch.device):
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )


def _cat_targets(chunks: list[Targets]) -> Targets:
    if not chunks:
        return {}
    return {key: torch.cat([c[key] for c in chunks]) for key in chunks[0]}


@torch.no_grad()
def extract_features(
    model: nn.Module,
    dataset: Dataset,
    batch_size: int = 256,
    num_workers: int = 0,
    device: str | torch.device | None = None,
    preprocess: Callable[[torch.Tensor], torch.Tensor] | None = to_model_input,
    progress: Progress | None = None,
) -> tuple[torch.Tensor, Targets]:
    """Features `float32 [N, D]` (on CPU, dataset order) and the dataset's targets.

    `device=None` uses the model's device; the model is not moved. `preprocess` runs on
    the device after the `uint8` batch is transferred (4x less to copy than floats).
    `no_grad` rather than `inference_mode`, so the features can feed autograd probes.
    """
    device = _model_device(model) if device is None else torch.device(device)
    feats: list[torch.Tensor] = []
    targets: list[Targets] = []
    total, done = len(dataset), 0  # type: ignore[arg-type]
    with frozen(model):
        for images, batch_targets in _loader(dataset, batch_size, num_workers, device):
            x = images.to(device, non_blocking=True)
            if preprocess is not None:
                x = preprocess(x)
            feats.append(model(x).flatten(1).float().cpu())
            targets.append({k: v.cpu() for k, v in batch_targets.items()})
            done += len(images)
            if progress is not None:
                progress(done, total)
    if not feats:
        raise ValueError("cannot extract features from an empty dataset")
    return torch.cat(feats), _cat_targets(targets)


class PixelFeatures(nn.Module):
    """Raw pixels in [0, 1], optionally area-downsampled to `size x size`, flattened."""

    def __init__(self, size: int | None = None) -> None:
        super().__init__()
        self.size = size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        if self.size is not None and tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="area")
        return x.flatten(1)


def raw_pixel_features(
    dataset: Dataset, size: int | None = None, batch_size: int = 256, num_workers: int = 0
) -> tuple[torch.Tensor, Targets]:
    """The raw-pixel baseline: what a linear probe gets with no learned representation.

    Every learned representation should beat it; `size` keeps the dimension manageable
    for large images (area averaging, so small digits are blurred rather than aliased).
    """
    return extract_features(
        PixelFeatures(size), dataset, batch_size, num_workers, device="cpu", preprocess=None
    )
