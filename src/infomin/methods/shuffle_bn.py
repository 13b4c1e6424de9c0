"""Keeping BatchNorm from leaking the positive pair (MoCo's ShuffleBN).

If query i and key i are normalised with statistics of the same samples, the network
can match them through the batch statistics instead of the content. The key encoder
therefore sees a shuffled batch: across processes, the global batch is permuted and
each process encodes a different slice; on one process, the batch is permuted and BN
runs over sub-batches (split BatchNorm), so a key's statistics come from samples other
than its query's.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn

from infomin.objectives import distributed

DEFAULT_SPLITS = 4


class SplitBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm whose training statistics are computed per sub-batch of `B / splits`.

    Sub-batch k is rows `[k B/s, (k+1) B/s)` of the (already shuffled) batch. Each goes
    through the native batch norm, so a `channels_last` batch stays `channels_last`
    (reshaping it into extra channels, as the reference code does, copied it to the
    other format and made the key encoder's pooling 3x slower; `bench/step.py`).
    """

    def __init__(self, num_features: int, num_splits: int = DEFAULT_SPLITS, **kwargs) -> None:
        super().__init__(num_features, **kwargs)
        self.num_splits = num_splits

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or len(x) % self.num_splits or len(x) == self.num_splits:
            return super().forward(x)
        momentum = self.momentum if self.momentum is not None else 0.1
        outs, means, variances = [], [], []
        for chunk in x.chunk(self.num_splits):  # [B / s, C, H, W] views, format kept
            mean, var = self.running_mean.clone(), self.running_var.clone()
            outs.append(
                nn.functional.batch_norm(
                    chunk, mean, var, self.weight, self.bias, True, momentum, self.eps
                )
            )
            means.append(mean)
            variances.append(var)
        with torch.no_grad():  # the running statistics: the average over sub-batches
            self.running_mean.copy_(torch.stack(means).mean(0))
            self.running_var.copy_(torch.stack(variances).mean(0))
        return torch.cat(outs)


def convert_split_bn(module: nn.Module, num_splits: int = DEFAULT_SPLITS) -> nn.Module:
    """Replace every BatchNorm2d of `module` (in place) by a SplitBatchNorm2d copy."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d) and not isinstance(child, SplitBatchNorm2d):
            split = SplitBatchNorm2d(
                child.num_features,
                num_splits,
                eps=child.eps,
                momentum=child.momentum,
                affine=child.affine,
            )
            split.load_state_dict(child.state_dict())
            setattr(module, name, split)
        else:
            convert_split_bn(child, num_splits)
    return module


@torch.no_grad()
def shuffled_forward(encoder: nn.Module, x: Tensor) -> Tensor:
    """`encoder(x)` computed on a permuted batch, returned in the original order."""
    if distributed.world_size() > 1:
        return _shuffled_across_processes(encoder, x)
    order = torch.randperm(len(x), device=x.device)
    out = encoder(x[order])
    return out[torch.argsort(order)]


def _shuffled_across_processes(encoder: nn.Module, x: Tensor) -> Tensor:
    """ShuffleBN: permute the global batch, encode this process's slice, undo."""
    world, rank = distributed.world_size(), distributed.rank()
    everything = distributed.gather(x, differentiable=False)
    order = torch.randperm(len(everything), device=x.device)
    dist.broadcast(order, src=0)
    n = len(x)
    mine = order.view(world, n)[rank]
    keys = distributed.gather(encoder(everything[mine]), differentiable=False)
    # keys[j] belongs to sample order[j]; put them back and keep this process's rows.
    restored = torch.empty_like(keys)
    restored[order] = keys
    return restored[rank * n : (rank + 1) * n]
