"""InsDis, PIRL, CMC: negatives drawn from a memory bank of past embeddings.

The positive is the bank entry of the same sample (not the live feature); K negatives
are drawn uniformly with replacement; after the loss, each sample's entry moves halfway
to its new embedding and is renormalised. CMC keeps one bank per tower and sums both
cross-view directions; PIRL adds the jigsaw query against the same bank.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from infomin.methods.base import ContrastiveMethod, TrainSettings
from infomin.methods.presets import Preset
from infomin.objectives import MemoryBank, bank_loss, combine_jigsaw


class BankMethod(ContrastiveMethod):
    def __init__(self, preset: Preset, settings: TrainSettings) -> None:
        super().__init__(preset, settings)
        if settings.dataset_size < 1:
            raise ValueError("memory-bank methods need the dataset size (one row per sample)")
        self.banks = nn.ModuleList(
            MemoryBank(settings.dataset_size, preset.embed_dim, preset.bank_momentum)
            for _ in self.towers
        )
        self.num_candidates = preset.num_negatives + 1

    def against_bank(self, query: Tensor, bank: int, index: Tensor, negatives: Tensor) -> Tensor:
        """Query vs the bank entry of its own sample and the drawn negative rows."""
        criterion = self.criteria[bank]
        return bank_loss(query, self.banks[bank], index, criterion, negative_indices=negatives)

    def contrastive_loss(self, views: tuple[Tensor, ...], index: Tensor) -> Tensor:
        x1, x2 = self.channel_groups(views)
        # One draw of negative rows per step, shared by every query (jigsaw, CMC's 2 ways).
        negatives = self.banks[0].sample(len(index), self.preset.num_negatives)
        if len(self.towers) == 1:
            z = self.embed(0, x1)
            loss = self.against_bank(z, 0, index, negatives)
            if self.jigsaw_head is not None:
                jigsaw = self.against_bank(self.embed_jigsaw(views[2]), 0, index, negatives)
                loss = combine_jigsaw(loss, jigsaw, self.preset.jigsaw_weight)
            updates = [z]
        else:
            z1, z2 = self.embed(0, x1), self.embed(1, x2)
            loss = self.against_bank(z1, 1, index, negatives)
            loss = loss + self.against_bank(z2, 0, index, negatives)
            updates = [z1, z2]
        with torch.no_grad():
            for bank, z in zip(self.banks, updates, strict=True):
                bank.update(index, z)
        return loss
