"""InsDis, PIRL, CMC: negatives drawn from a memory bank of past embeddings.

The positive is the bank entry of the same sample (not the live feature); K negatives
are drawn uniformly with replacement; after the loss, each sample's entry moves halfway
to its new embedding and is renormalised. CMC keeps one bank per tower and sums both
cross-view directions; PIRL adds the jigsaw query against the same bank.

Since the positive comes from the bank, a step needs only ONE crop per sample (the
pipeline makes one: `pretrain.build_views`). CMC's two views are that crop's channel
groups, Y | DbDr, as in the reference code (CMC, PyContrast): one crop split in two.
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
        # query [B, E] vs positive bank[index] [B, E] and bank[negatives] [B, K, E].
        return bank_loss(query, self.banks[bank], index, criterion, negative_indices=negatives)

    def tower_inputs(self, views: tuple[Tensor, ...]) -> list[Tensor]:
        """One input per tower, all from the same crop (crop 1; any other is unused): the
        crop itself, or CMC's Y `[B, 1, H, W]` and DbDr `[B, 2, H, W]` of it. Views that
        arrive as the towers' channel groups (`--views`: one pair) pass as they are."""
        if len(self.towers) == 1:
            return [views[0]]
        if self.is_whole_crop(views[0]):
            return list(self.backbone.split(views[0]))
        return [views[0], views[1]]

    def contrastive_loss(self, views: tuple[Tensor, ...], index: Tensor) -> Tensor:
        inputs = self.tower_inputs(views)
        # One draw of negative rows per step, shared by every query (jigsaw, CMC's 2 ways).
        negatives = self.banks[0].sample(len(index), self.preset.num_negatives)  # [B, K]
        if len(self.towers) == 1:
            z = self.embed(0, inputs[0])  # [B, E]
            loss = self.against_bank(z, 0, index, negatives)
            if self.jigsaw_head is not None:
                z_jigsaw = self.embed_jigsaw(self.jigsaw_view(views))  # [B, E]
                jigsaw = self.against_bank(z_jigsaw, 0, index, negatives)
                loss = combine_jigsaw(loss, jigsaw, self.preset.jigsaw_weight)
            updates = [z]
        else:
            z1, z2 = self.embed(0, inputs[0]), self.embed(1, inputs[1])  # [B, E] each
            # Each tower's query against the other tower's bank (both directions summed).
            loss = self.against_bank(z1, 1, index, negatives)
            loss = loss + self.against_bank(z2, 0, index, negatives)
            updates = [z1, z2]
        with torch.no_grad():  # after the loss: bank[index] <- normalise(m bank[index] + (1-m) z)
            for bank, z in zip(self.banks, updates, strict=True):
                bank.update(index, z)
        return loss
