"""MoCo, MoCo v2, CMCv2, InfoMin: a momentum key encoder and a queue of past keys.

The whole idea in one screen: queries come from the online encoder on crop 1, keys
from its EMA copy on crop 2 (parameters averaged, BN on batch statistics, batch
shuffled so BN cannot leak the positive); logits use the queue as it was before this
step; then the global batch of keys is enqueued. With two towers (CMCv2) each tower's
queries meet the other tower's keys and queue, both directions summed: (Y of crop 1,
DbDr of crop 2) and (DbDr of crop 1, Y of crop 2), as in the reference code, which cuts
the query and key encoders' outputs of crops 1 and 2 into their two towers' halves.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from infomin.methods.base import ContrastiveMethod, TrainSettings
from infomin.methods.presets import Preset
from infomin.methods.shuffle_bn import convert_split_bn, shuffled_forward
from infomin.objectives import (
    MomentumQueue,
    combine_jigsaw,
    make_target_encoder,
    momentum_update,
)


class QueueMethod(ContrastiveMethod):
    def __init__(self, preset: Preset, settings: TrainSettings) -> None:
        super().__init__(preset, settings)
        # Plain list: the towers and heads are registered already; these are views on them.
        self.online = [nn.Sequential(t, h) for t, h in zip(self.towers, self.heads, strict=True)]
        self.key_towers = nn.ModuleList(
            convert_split_bn(make_target_encoder(o)) for o in self.online
        ).requires_grad_(False)  # the EMA moves them, never the optimiser
        self.queues = nn.ModuleList(
            MomentumQueue(preset.num_negatives, preset.embed_dim) for _ in self.towers
        )
        self.num_candidates = preset.num_negatives + 1

    @torch.no_grad()
    def keys(self, tower: int, x: Tensor) -> Tensor:
        """Keys of the EMA encoder, computed on a shuffled batch (no BN shortcut).

        Args:
            tower: Which key tower.
            x: ``[B, C, H, W]`` key inputs (crop 2, or the tower's channel group).

        Returns:
            ``[B, E]`` unit-norm keys, no gradient.
        """
        return shuffled_forward(self.key_towers[tower], x)  # [B, E]

    def pairs(self, views: tuple[Tensor, ...]) -> list[tuple[int, Tensor, int, Tensor]]:
        """(query tower, query input, key tower, key input) for each loss direction.

        Queries always come from crop 1 and keys from crop 2. Views that arrive as the
        towers' channel groups (`--views`: one pair, group 1 and group 2) have no second
        crop: each group is the query once and the key once.
        """
        v1, v2 = views[0], views[1]  # [B, C, H, W] each
        if len(self.towers) == 1:
            return [(0, v1, 0, v2)]
        if self.is_whole_crop(v1):
            y1, dbdr1 = self.backbone.split(v1)  # [B, 1, H, W], [B, 2, H, W]
            y2, dbdr2 = self.backbone.split(v2)
            return [(0, y1, 1, dbdr2), (1, dbdr1, 0, y2)]
        return [(0, v1, 1, v2), (1, v2, 0, v1)]

    def contrastive_loss(self, views: tuple[Tensor, ...], index: Tensor) -> Tensor:
        # EMA before the keys: key encoder <- m * key encoder + (1 - m) * online, per tower.
        for online, target in zip(self.online, self.key_towers, strict=True):
            momentum_update(online, target, self.preset.ema)
        loss = torch.zeros((), device=views[0].device)
        new_keys: dict[int, Tensor] = {}
        for q_tower, q_input, k_tower, k_input in self.pairs(views):
            key = self.keys(k_tower, k_input)  # [B, E]
            negatives = self.queues[k_tower].negatives()  # [K, E], before this step's keys
            criterion = self.criteria[k_tower]
            query = self.embed(q_tower, q_input)  # [B, E], with gradient
            query_loss = criterion(query, key, negatives)  # logits [B, 1 + K], positive first
            if self.jigsaw_head is not None:
                z_jigsaw = self.embed_jigsaw(self.jigsaw_view(views))  # [B, E]
                jigsaw = criterion(z_jigsaw, key, negatives)
                query_loss = combine_jigsaw(query_loss, jigsaw, self.preset.jigsaw_weight)
            loss = loss + query_loss
            new_keys[k_tower] = key
        for tower, key in new_keys.items():
            self.queues[tower].enqueue(key)  # the global batch [B * world, E] replaces the oldest
        return loss
