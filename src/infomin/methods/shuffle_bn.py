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

    The batch is already shuffled, so any fixed partition will do; each memory format
    gets the one it can normalise without copying the batch:
    - contiguous (NCHW): sub-batch k is rows k, k + s, k + 2s, ...: the batch viewed as
      `B / s` samples of `s C` channels, one native batch norm (the reference code's
      split); cutting it into chunks and concatenating the outputs cost 5% of the key
      encoder's forward at 1 thread, batch 64 (ad hoc);
    - `channels_last`: sub-batch k is rows `[k B/s, (k+1) B/s)`, each chunk through the
      native batch norm, so the batch stays `channels_last` (the reshape into extra
      channels copied it to the other format and made the key encoder's pooling 3x
      slower; `bench/step.py`).
    The running statistics take the usual update with the average of the sub-batches'.
    """

    def __init__(self, num_features: int, num_splits: int = DEFAULT_SPLITS, **kwargs) -> None:
        super().__init__(num_features, **kwargs)
        self.num_splits = num_splits

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or len(x) % self.num_splits or len(x) == self.num_splits:
            return super().forward(x)
        if x.is_contiguous():
            return self._interleaved(x)
        return self._chunked(x)

    def _interleaved(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        s = self.num_splits
        mean, var = self.running_mean.repeat(s), self.running_var.repeat(s)
        weight = None if self.weight is None else self.weight.repeat(s)
        bias = None if self.bias is None else self.bias.repeat(s)
        out = nn.functional.batch_norm(
            x.view(b // s, s * c, h, w), mean, var, weight, bias, True, self._momentum(), self.eps
        )
        self._keep_average(mean.view(s, c), var.view(s, c))
        return out.view(b, c, h, w)

    def _chunked(self, x: Tensor) -> Tensor:
        outs, means, variances = [], [], []
        for chunk in x.chunk(self.num_splits):  # [B / s, C, H, W] views, format kept
            mean, var = self.running_mean.clone(), self.running_var.clone()
            outs.append(
                nn.functional.batch_norm(
                    chunk, mean, var, self.weight, self.bias, True, self._momentum(), self.eps
                )
            )
            means.append(mean)
            variances.append(var)
        self._keep_average(torch.stack(means), torch.stack(variances))
        return torch.cat(outs)

    def _momentum(self) -> float:
        return self.momentum if self.momentum is not None else 0.1

    @torch.no_grad()
    def _keep_average(self, means: Tensor, variances: Tensor) -> None:
        """The running statistics: the average of the sub-batches' updated copies."""
        self.running_mean.copy_(means.mean(0))
        self.running_var.copy_(variances.mean(0))


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
