"""Datasets held as one uint8 tensor, and whole batches by indexing."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from infomin.data import load_dataset
from infomin.data.base import InMemoryBatches, as_batch, in_memory
from infomin.data.real import TensorDataset


def test_embedded_items_stack_into_one_tensor_with_their_targets() -> None:
    data = load_dataset("colorful-moving-digits", split="train", num_clips=16, seed=0)
    stacked = in_memory(data)
    assert stacked is not None and stacked.images.shape == (16, 3, 32, 32)
    image, targets = data.raw_item(5)
    assert torch.equal(stacked.images[5], image)
    assert all(torch.equal(stacked.targets[k][5], v) for k, v in targets.items())


def test_tensor_datasets_are_used_as_they_are() -> None:
    images = torch.zeros(10, 1, 28, 28, dtype=torch.uint8)
    data = TensorDataset(images, torch.arange(10), [str(i) for i in range(10)])
    stacked = in_memory(data)
    assert stacked is not None and stacked.images is images
    assert torch.equal(stacked.targets["class"], torch.arange(10))


def test_too_large_or_float_data_is_left_per_item() -> None:
    data = TensorDataset(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), None, None)
    assert in_memory(data, max_bytes=100) is None
    floats = TensorDataset(torch.zeros(4, 3, 8, 8), None, None)
    assert in_memory(floats) is None


def test_loader_gives_whole_batches_in_the_sampler_order() -> None:
    images = torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1).expand(6, 1, 2, 2).clone()
    data = in_memory(TensorDataset(images, torch.arange(6), [str(i) for i in range(6)]))
    assert data is not None
    loader = DataLoader(InMemoryBatches(data), batch_size=3, sampler=[5, 0, 2, 1, 4, 3],
                        collate_fn=as_batch)  # fmt: skip
    batches = list(loader)
    images0, targets0, index0 = batches[0]
    assert index0.tolist() == [5, 0, 2] and targets0["class"].tolist() == [5, 0, 2]
    assert images0[:, 0, 0, 0].tolist() == [5, 0, 2] and images0.dtype == torch.uint8
