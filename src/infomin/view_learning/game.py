"""Training the view generator g: the adversarial game and its supervised variants.

Modes (the paper's section on learning views):

- ``unsupervised``: min_g max_{f1,f2} I_NCE(g(X)_1; g(X)_2:3). The critics f1, f2 (the
  pair engine's `PairCritics`) ascend InfoNCE on views of g, which is held fixed; then g
  descends the same bound with the critics held fixed. Alternating, ``critic_steps``
  critic updates per g update.
- ``semi-supervised``: the same, plus view classifiers c1, c2 (one per view) trained with
  cross-entropy on a labelled subset (``label_fraction`` of the training images) and
  minimised *together with g*: g must keep the label in both views while it removes the
  rest of what they share.
- ``supervised``: the classifiers only, no MI term (the paper's supervised-only
  baseline).

Why held-out checks at every checkpoint: the game is unstable (the paper says so, and a
first prototype saw the unsupervised game drive I_NCE to nothing), and with 10% labels
small classifiers can memorise the labelled subset, after which the label terms stop
holding g to the label. So at each checkpoint we record the game critics' I_NCE on
held-out pairs and the classifiers' accuracy on the labelled subset *and* on held-out
test images; the gap between the two is the memorisation the label terms suffer from.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomin.experiments.pairs import CriticConfig, PairCritics, held_out_i_nce
from infomin.models import build_backbone
from infomin.views.colorspaces import to_normalized_color_space
from infomin.views.flows import FlowConfig, PixelFlow
from infomin.views.pairs import PairSet

MODES = ("unsupervised", "semi-supervised", "supervised")
GAME_CRITICS = CriticConfig(width=0.5, embed_dim=64, lr=2e-3)  # as the evaluation's encoders

# Named variants of a mode (a row of the comparison): name -> (mode, GameConfig changes).
VARIANTS: dict[str, tuple[str, dict[str, object]]] = {
    **{mode: (mode, {}) for mode in MODES},
    "semi-supervised-plain": (
        "semi-supervised",
        {"classifier_augment": False, "classifier_weight_decay": 5e-4},
    ),
}


@dataclass(frozen=True)
class GameConfig:
    """How g is trained (defaults: about a minute per mode on one CPU thread at 16 px)."""

    mode: str = "semi-supervised"
    steps: int = 200  # g updates
    batch_size: int = 128  # K of the game's InfoNCE (128: half the cost of 256, same trends)
    label_batch: int = 64  # labelled images per g update (of ~300 at 10% labels)
    critic_steps: int = 1  # critic updates per g update
    critic: CriticConfig = GAME_CRITICS  # f1, f2: architecture, lr, weight decay (only)
    flow_lr: float = 1e-3
    classifier_width: float = 0.25
    classifier_lr: float = 2e-3
    # Regularised view classifiers (flips, 2 px shifts, weight decay 5e-3): with plain
    # ones (no augmentation, 5e-4) they memorised the ~300 labelled images and the label
    # terms stopped holding g to the label; the `semi-supervised-plain` variant keeps that.
    classifier_weight_decay: float = 5e-3
    classifier_augment: bool = True
    mi_weight: float = 1.0
    ce_weight: float = 1.0
    label_fraction: float = 0.1
    checkpoints: int = 3  # g kept at this many evenly spaced steps (plus step 0)
    log_every: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not 0 < self.label_fraction <= 1:
            raise ValueError(f"label_fraction must be in (0, 1], got {self.label_fraction}")
        if self.steps < 1 or self.checkpoints < 1 or self.critic_steps < 1:
            raise ValueError("steps, checkpoints and critic_steps must be >= 1")

    @property
    def uses_mi(self) -> bool:
        return self.mode != "supervised"

    @property
    def uses_labels(self) -> bool:
        return self.mode != "unsupervised"

    def checkpoint_steps(self) -> list[int]:
        """Step 0 (g = the input colour space) and `checkpoints` evenly spaced steps."""
        return sorted({0, *(round(self.steps * (i + 1) / self.checkpoints)
                            for i in range(self.checkpoints))})  # fmt: skip


DEFAULT_GAME = GameConfig()


@dataclass(frozen=True)
class GameData:
    """Float images in g's input space, with labels; ``labelled`` indexes the train split."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    labelled: Tensor
    num_classes: int


def game_data(
    train: Tensor, y_train: Tensor, test: Tensor, y_test: Tensor, num_classes: int,
    input_space: str, label_fraction: float, seed: int,
) -> GameData:  # fmt: skip
    """Convert `uint8` images once; draw the labelled subset (at least one image) by seed."""
    count = max(1, round(label_fraction * len(train)))
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed + 7))
    return GameData(
        to_normalized_color_space(train.float() / 255.0, input_space), y_train.long(),
        to_normalized_color_space(test.float() / 255.0, input_space), y_test.long(),
        order[:count].sort().values, num_classes,
    )  # fmt: skip


def augment(x: Tensor, generator: torch.Generator, shift: int = 2) -> Tensor:
    """Random horizontal flips and shifts of up to ``shift`` px (reflect-padded), per image.

    Why: with ~300 labelled images the view classifiers memorise them within a hundred
    steps; spatial jitter makes memorising harder and leaves colour, which is all that g
    acts on, untouched (g is pixel-wise, so it commutes with flips and shifts).
    """
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    padded = F.pad(x, (shift,) * 4, mode="reflect")
    offsets = torch.randint(0, 2 * shift + 1, (n, 2), generator=generator).tolist()
    crops = [padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets)]
    return torch.stack(crops)


class ViewClassifiers(nn.Module):
    """c1 on view 1 (one channel), c2 on view 2 (two channels): small convnets + linear."""

    def __init__(self, num_classes: int, image_size: int, width: float) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(
            build_backbone("convnet", in_channels=c, width=width, image_size=image_size)
            for c in (1, 2)
        )
        self.heads = nn.ModuleList(nn.Linear(int(e.out_dim), num_classes) for e in self.encoders)

    def logits(self, which: int, x: Tensor) -> Tensor:
        return self.heads[which](self.encoders[which](x))

    def losses(self, views: tuple[Tensor, Tensor], y: Tensor) -> tuple[Tensor, ...]:
        return tuple(F.cross_entropy(self.logits(i, v), y) for i, v in enumerate(views))

    @torch.no_grad()
    def accuracy(self, views: tuple[Tensor, Tensor], y: Tensor) -> tuple[float, float]:
        """Top-1 % of c1 and c2 (eval mode, restored to train mode after)."""
        self.eval()
        hits = [(self.logits(i, v).argmax(1) == y).float().mean().item() * 100
                for i, v in enumerate(views)]  # fmt: skip
        self.train()
        return hits[0], hits[1]


def split_views(y: Tensor) -> tuple[Tensor, Tensor]:
    """g(X) -> (channel 1, channels 2:3)."""
    return y[:, :1], y[:, 1:]


@dataclass
class GameResult:
    """The final g, its kept checkpoints, the per-step log and the held-out checks."""

    flow: PixelFlow
    checkpoints: dict[int, dict[str, Tensor]] = field(default_factory=dict)
    log: list[dict[str, float]] = field(default_factory=list)
    checks: list[dict[str, float]] = field(default_factory=list)


class _Game:
    """One run of the game: the players, their optimisers and the batch sampler."""

    def __init__(self, data: GameData, flow_config: FlowConfig, config: GameConfig) -> None:
        torch.manual_seed(config.seed)
        self.data, self.config = data, config
        side = int(data.x_train.shape[-1])
        self.flow = PixelFlow(flow_config)
        self.critics = PairCritics((1, 2), side, config.critic) if config.uses_mi else None
        self.classifiers = (
            ViewClassifiers(data.num_classes, side, config.classifier_width)
            if config.uses_labels else None
        )  # fmt: skip
        groups: list[dict[str, Any]] = [{"params": self.flow.parameters(), "lr": config.flow_lr}]
        if self.classifiers is not None:
            groups.append({"params": self.classifiers.parameters(), "lr": config.classifier_lr,
                           "weight_decay": config.classifier_weight_decay})  # fmt: skip
        self.g_optimizer = torch.optim.Adam(groups)
        self.f_optimizer = (
            torch.optim.Adam(self.critics.parameters(), lr=config.critic.lr,
                             weight_decay=config.critic.weight_decay)
            if self.critics is not None else None
        )  # fmt: skip
        self.generator = torch.Generator().manual_seed(config.seed + 1)

    def batch(self, size: int, pool: Tensor | None = None) -> Tensor:
        n = len(self.data.x_train) if pool is None else len(pool)
        index = torch.randperm(n, generator=self.generator)[:size]
        return index if pool is None else pool[index]

    def critic_step(self, views: tuple[Tensor, Tensor]) -> None:
        """max over f1, f2 of InfoNCE on views of the current g (g held fixed)."""
        assert self.critics is not None and self.f_optimizer is not None
        loss = self.critics.loss(views[0].detach(), views[1].detach())
        self.f_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.f_optimizer.step()

    def step(self) -> dict[str, float]:
        """One round: the critics ascend, then g (and c1, c2) descend.

        g minimises mi_weight * I_NCE + ce_weight * (CE1 + CE2). The critics and g see the
        same batch, so g's forward pass is computed once per round (it is the dearest
        part of a round at 16 px).
        """
        config, terms, record = self.config, [], {}
        if self.critics is not None:
            index = self.batch(config.batch_size)
            views = split_views(self.flow(self.data.x_train[index]))
            for _ in range(config.critic_steps):
                self.critic_step(views)
            loss = self.critics.loss(*views)
            record["i_nce_batch"] = math.log(len(index)) - loss.item()
            terms.append(-config.mi_weight * loss)  # I_NCE = log K - L: minimising it = raising L
        if self.classifiers is not None:
            index = self.batch(config.label_batch, self.data.labelled)
            x = self.data.x_train[index]
            if config.classifier_augment:
                x = augment(x, self.generator)
            views = split_views(self.flow(x))
            ce1, ce2 = self.classifiers.losses(views, self.data.y_train[index])
            record.update(ce_1=ce1.item(), ce_2=ce2.item())
            terms.append(config.ce_weight * (ce1 + ce2))
        total = torch.stack(terms).sum()
        self.g_optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.g_optimizer.step()
        return record

    @torch.no_grad()
    def check(self, step: int) -> dict[str, float]:
        """Held-out checks: the game critics' I_NCE and the classifiers' train/test accuracy."""
        row: dict[str, float] = {"step": step}
        self.flow.eval()
        if self.critics is not None and len(self.data.x_test) >= self.config.batch_size:
            pairs = PairSet(*split_views(self.flow(self.data.x_test)))
            estimate = held_out_i_nce(self.critics, pairs, self.config.batch_size)
            row["game_i_nce_test"] = estimate.i_nce
            self.critics.train()
        if self.classifiers is not None:
            labelled = self.data.labelled
            train_views = split_views(self.flow(self.data.x_train[labelled]))
            acc = self.classifiers.accuracy(train_views, self.data.y_train[labelled])
            test_views = split_views(self.flow(self.data.x_test))
            test = self.classifiers.accuracy(test_views, self.data.y_test)
            row.update(c1_labelled=acc[0], c2_labelled=acc[1], c1_test=test[0], c2_test=test[1])
        self.flow.train()
        return row


def learn_view(
    data: GameData, flow_config: FlowConfig, config: GameConfig,
    progress: Callable[[int, int], None] | None = None,
) -> GameResult:  # fmt: skip
    """Play the game for `config.steps` g updates; keep g at the checkpoint steps."""
    game = _Game(data, flow_config, config)
    result = GameResult(game.flow)
    keep = set(config.checkpoint_steps())
    for step in range(config.steps + 1):
        if step in keep:
            result.checkpoints[step] = copy.deepcopy(game.flow.state_dict())
            result.checks.append(game.check(step))
        if step == config.steps:
            break
        record = game.step()
        if (step + 1) % config.log_every == 0 or step == 0:
            result.log.append({"step": step + 1, **record})
        if progress is not None:
            progress(step + 1, config.steps)
    game.flow.eval()
    return result
