"""The engine of every view experiment: train two critics on view pairs, measure I_NCE.

The paper's experiments (toy table, colour spaces, patch distance, augmentation
ladders) share one procedure: two encoders f1, f2 (each a backbone + linear head) are
trained to maximise InfoNCE between the views v1, v2 of the same sample, with the other
samples of the batch as negatives; I_NCE = log K - L is then measured on held-out pairs
(K = the held-out batch size, reported with it); and the trained encoders' frozen
features are probed on the downstream task. A view experiment only has to provide
pairs; this module does the rest.

Pairs are tensors held in memory (`PairSet`): the embedded datasets are small, and
rendering views once keeps training fast on two CPU cores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from infomin.evaluate.features import encode
from infomin.evaluate.protocol import evaluate_features
from infomin.models import build_backbone
from infomin.objectives import INCEReport, LinearHead, i_nce_report, symmetric_info_nce
from infomin.views.pairs import PairSet, PairSource, ProbeSet


@dataclass(frozen=True)
class CriticConfig:
    """How the critics are built and trained (defaults: a few minutes on 2 CPU cores)."""

    backbone: str = "convnet"
    width: float = 0.5
    pool_size: int = 1
    embed_dim: int = 64
    temperature: float = 0.1
    epochs: int = 8
    batch_size: int = 256  # K for training: the positive and batch_size - 1 negatives
    lr: float = 2e-3
    weight_decay: float = 1e-5
    shared: bool = False  # one encoder for both views (same input channels required)
    seed: int = 0


class PairCritics(nn.Module):
    """f1 and f2: backbones with linear heads to unit-norm embeddings."""

    def __init__(self, channels: tuple[int, int], image_size: int, config: CriticConfig):
        super().__init__()

        def backbone(c: int) -> nn.Module:
            return build_backbone(config.backbone, in_channels=c, width=config.width,
                                  image_size=image_size, pool_size=config.pool_size)  # fmt: skip

        first = backbone(channels[0])
        second = first if config.shared else backbone(channels[1])
        self.encoders = nn.ModuleList([first, second])
        self.heads = nn.ModuleList(
            LinearHead(int(e.out_dim), config.embed_dim) for e in self.encoders
        )
        self.temperature = config.temperature

    def embed(self, which: int, x: Tensor) -> Tensor:
        return self.heads[which](self.encoders[which](x))

    def loss(self, v1: Tensor, v2: Tensor) -> Tensor:
        """Symmetric in-batch InfoNCE of the views' embeddings (`symmetric_info_nce`).

        Args:
            v1: ``[B, C1, H, W]`` first views.
            v2: ``[B, C2, H, W]`` second views (row ``i`` pairs with ``v1[i]``).
        """
        return symmetric_info_nce(self.embed(0, v1), self.embed(1, v2), self.temperature)


def _batches(n: int, size: int, generator: torch.Generator | None) -> list[Tensor]:
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return [order[i : i + size] for i in range(0, n - size + 1, size)]


def initial_critics(
    channels: tuple[int, int], image_size: int, config: CriticConfig
) -> PairCritics:
    """The critics before training, seeded by ``config.seed``.

    Why separate: an untrained copy, initialised exactly as `train_critics` starts, is
    the random-init control every trained row is compared with (the toy's baseline).

    Args:
        channels: Input channels of f1 and f2.
        image_size: Height (= width) of the inputs.
        config: Architecture and ``seed``.
    """
    torch.manual_seed(config.seed)
    return PairCritics(channels, image_size, config)


def train_critics(
    pairs: PairSet, config: CriticConfig, progress: Callable[[int, int], None] | None = None
) -> PairCritics:
    """Maximise InfoNCE between the views (Adam, full passes, drop the last partial batch).

    Args:
        pairs: Training pairs, ``v1 [n, C1, H, W]`` and ``v2 [n, C2, H, W]``.
        config: Architecture, optimiser and ``seed`` (initialisation and batch order).
        progress: Called with ``(steps done, steps in all)`` after every step.

    Returns:
        The trained critics, in eval mode.
    """
    if len(pairs) < config.batch_size:
        raise ValueError(f"need at least batch_size={config.batch_size} pairs, got {len(pairs)}")
    channels = (int(pairs.v1.shape[1]), int(pairs.v2.shape[1]))
    critics = initial_critics(channels, int(pairs.v1.shape[-1]), config)
    optimizer = torch.optim.Adam(
        critics.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    generator = torch.Generator().manual_seed(config.seed)
    steps = config.epochs * (len(pairs) // config.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, steps))
    critics.train()
    done = 0
    for _ in range(config.epochs):
        for index in _batches(len(pairs), config.batch_size, generator):
            loss = critics.loss(pairs.v1[index], pairs.v2[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            done += 1
            if progress is not None:
                progress(done, steps)
    return critics.eval()


@torch.no_grad()
def held_out_i_nce(critics: PairCritics, pairs: PairSet, batch_size: int = 256) -> INCEReport:
    """I_NCE = log K - L on held-out pairs, K = `batch_size` (the estimate's ceiling log K).

    The loss is averaged over consecutive held-out batches of exactly `batch_size`, so
    every query has the same K candidates.
    """
    if len(pairs) < batch_size:
        raise ValueError(f"need at least {batch_size} held-out pairs, got {len(pairs)}")
    critics.eval()
    losses = [
        float(critics.loss(pairs.v1[index], pairs.v2[index]))
        for index in _batches(len(pairs), batch_size, None)
    ]
    return i_nce_report(sum(losses) / len(losses), batch_size)


@dataclass(frozen=True)
class Sizes:
    """How many pairs and probe images each split gets."""

    train_pairs: int = 6000
    test_pairs: int = 2048
    probe_train: int = 4000
    probe_test: int = 1000
    test_batch: int = 256  # K of the held-out I_NCE estimate


# The defaults of every view experiment (`mi`, the named sweeps, the view-learning
# evaluation): 16 px inputs (photo-patches at photo_size 96, the same
# field of view as 32 px at 192) and a half-width convnet trained for 6 epochs on 3,072
# pairs: about 10 s per run on 2 busy cores.
QUICK_CONFIG = CriticConfig(width=0.5, epochs=6, batch_size=256, embed_dim=64)
QUICK_SIZES = Sizes(
    train_pairs=3072, test_pairs=1024, probe_train=2000, probe_test=1000, test_batch=256
)


def probe_features(critics: PairCritics, probe: ProbeSet) -> Tensor:
    """Frozen features ``[n, D1 + D2]``: f1(images_1) and f2(images_2), those given."""
    parts = [
        encode(critics.encoders[i], images)
        for i, images in enumerate((probe.images_1, probe.images_2))
        if images is not None
    ]
    return torch.cat(parts, dim=1)


def probe_critics(
    critics: PairCritics, source: PairSource, sizes: Sizes, seed: int, use_knn: bool = True
) -> dict[str, float]:
    """Fit the probes on the frozen features of `source`'s probe set; the flat probe keys.

    Args:
        critics: Trained (or untrained, for a random-init control) critics.
        source: Gives ``probe_set("train" | "test", n, seed)``.
        sizes: ``probe_train`` and ``probe_test`` images.
        seed: The data seed of the probe sets.
        use_knn: Also score a kNN probe (the toy skips it: linear probes only, for speed).
    """
    train = source.probe_set("train", sizes.probe_train, seed)
    test = source.probe_set("test", sizes.probe_test, seed)
    return evaluate_features(
        probe_features(critics, train), train.targets, probe_features(critics, test),
        test.targets, train.tasks, use_knn=use_knn,
    )  # fmt: skip


def run_pair_experiment(
    source: PairSource,
    config: CriticConfig,
    sizes: Sizes = Sizes(),
    progress: Callable[[int, int], None] | None = None,
    use_knn: bool = True,
) -> dict[str, float]:
    """Train critics on `source`'s pairs, then report held-out I_NCE and probe metrics.

    Keys: `i_nce`, `log_k`, `num_candidates` and the flat probe keys of
    `evaluate_features` (`digit.linear_top1`, `position.linear_mae_px`, ...). Data seeds
    are derived from `config.seed`, so seeds differ in data draw and in initialisation.

    Args:
        source: The views (`infomin.views.pairs.PairSource`).
        config: The critics and their training; ``seed`` also seeds the data.
        sizes: Pairs and probe images per split, and K of the held-out estimate.
        progress: ``(done, total)`` training steps.
        use_knn: Passed to `probe_critics`.
    """
    seed = config.seed
    critics = train_critics(source.pairs("train", sizes.train_pairs, seed), config, progress)
    estimate = held_out_i_nce(
        critics, source.pairs("test", sizes.test_pairs, seed), sizes.test_batch
    )
    return {
        "i_nce": estimate.i_nce,
        "log_k": estimate.log_k,
        "num_candidates": float(estimate.num_candidates),
        **probe_critics(critics, source, sizes, seed, use_knn),
    }
