"""Contrastive objectives: InfoNCE, NT-Xent, memory bank, momentum queue, NCE, heads.

Conventions shared by every objective: embeddings are L2-normalised before they reach
a loss (the heads do it), and softmax InfoNCE is the default criterion.
"""

from infomin.objectives.distributed import gather, is_distributed, rank, world_size
from infomin.objectives.heads import LinearHead, MLPHead
from infomin.objectives.infonce import (
    INCEReport,
    InfoNCELoss,
    NTXentLoss,
    i_nce_bound,
    i_nce_report,
    info_nce,
    info_nce_logits,
    symmetric_info_nce,
)
from infomin.objectives.jigsaw import JigsawHead, combine_jigsaw, random_patch_permutation
from infomin.objectives.memory_bank import (
    CrossViewBankLoss,
    MemoryBank,
    MemoryBankLoss,
    bank_loss,
    cross_view_bank_loss,
)
from infomin.objectives.momentum_queue import (
    MoCoLoss,
    MomentumQueue,
    make_target_encoder,
    momentum_update,
    queue_loss,
)
from infomin.objectives.nce import NCELoss

__all__ = [
    "CrossViewBankLoss",
    "INCEReport",
    "InfoNCELoss",
    "JigsawHead",
    "LinearHead",
    "MLPHead",
    "MemoryBank",
    "MemoryBankLoss",
    "MoCoLoss",
    "MomentumQueue",
    "NCELoss",
    "NTXentLoss",
    "bank_loss",
    "combine_jigsaw",
    "cross_view_bank_loss",
    "gather",
    "i_nce_bound",
    "i_nce_report",
    "info_nce",
    "info_nce_logits",
    "is_distributed",
    "make_target_encoder",
    "momentum_update",
    "queue_loss",
    "random_patch_permutation",
    "rank",
    "symmetric_info_nce",
    "world_size",
]
