"""SimCLR: the rest of the (global) batch are the negatives; symmetric NT-Xent."""

from __future__ import annotations

from torch import Tensor

from infomin.methods.base import ContrastiveMethod, TrainSettings
from infomin.methods.presets import Preset
from infomin.objectives import NTXentLoss, combine_jigsaw


class InBatchMethod(ContrastiveMethod):
    """Both views through the online encoder(s); NT-Xent over the gathered batch."""

    def __init__(self, preset: Preset, settings: TrainSettings) -> None:
        super().__init__(preset, settings)
        self.criterion = NTXentLoss(preset.temperature, gather=True)
        self.num_candidates = NTXentLoss.num_candidates(settings.batch_size)

    def contrastive_loss(self, views: tuple[Tensor, ...], index: Tensor) -> Tensor:
        x1, x2 = self.channel_groups(views)
        z1 = self.embed(0, x1)
        z2 = self.embed(len(self.towers) - 1, x2)
        loss = self.criterion(z1, z2)
        if self.jigsaw_head is None:
            return loss
        jigsaw = self.criterion(self.embed_jigsaw(views[2]), z2)
        return combine_jigsaw(loss, jigsaw, self.preset.jigsaw_weight)
