"""Peeking at representation quality during pretraining, as Lightning callbacks.

Two separate components (not branches of the training module), each optional:
- `KNNMonitor`: every few epochs, frozen features of a labelled train/test pair and the
  weighted kNN (cheap, no training, the usual peer monitor);
- `OnlineLinearProbe`: a linear classifier per task trained on detached backbone
  features of each training batch; it never sends gradients into the backbone. It
  costs one extra no-grad forward of the first view per step.
"""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from infomin.evaluate.features import extract_features, frozen
from infomin.evaluate.knn import knn_accuracy


def classification_tasks(dataset: Dataset) -> dict[str, int]:
    """Task name -> number of classes, for the dataset's classification tasks."""
    tasks = getattr(dataset, "tasks", {})
    return {n: int(t.num_classes) for n, t in tasks.items() if t.kind == "classification"}


class KNNMonitor(L.Callback):
    """Logs `monitor/TASK.knn_top1` every `every_n_epochs` epochs."""

    def __init__(
        self,
        train_set: Dataset,
        test_set: Dataset,
        preprocess: Callable[[Tensor], Tensor],
        every_n_epochs: int = 1,
        k: int = 200,
    ) -> None:
        self.train_set, self.test_set = train_set, test_set
        self.preprocess, self.every_n_epochs, self.k = preprocess, every_n_epochs, k
        self.tasks = classification_tasks(train_set)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs or not self.tasks:
            return
        backbone = pl_module.backbone
        train_x, train_y = extract_features(backbone, self.train_set, preprocess=self.preprocess)
        test_x, test_y = extract_features(backbone, self.test_set, preprocess=self.preprocess)
        for name, classes in self.tasks.items():
            acc = knn_accuracy(train_x, train_y[name], test_x, test_y[name], classes, k=self.k)
            pl_module.log(f"monitor/{name}.knn_top1", acc["top1"], rank_zero_only=True)


class OnlineLinearProbe(L.Callback):
    """Linear classifiers on detached features of view 1, trained alongside pretraining."""

    def __init__(self, tasks: dict[str, int], lr: float = 0.1) -> None:
        self.tasks, self.lr = tasks, lr
        self.probes: nn.ModuleDict | None = None
        self.optimizer: torch.optim.Optimizer | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        dim = int(pl_module.backbone.out_dim)
        self.probes = nn.ModuleDict({n: nn.Linear(dim, c) for n, c in self.tasks.items()})
        self.probes.to(pl_module.device)
        self.optimizer = torch.optim.SGD(self.probes.parameters(), lr=self.lr, momentum=0.9)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        assert self.probes is not None and self.optimizer is not None
        views, targets, _ = batch
        with torch.no_grad(), frozen(pl_module.backbone):
            features = pl_module.backbone(views[0]).detach()
        self.optimizer.zero_grad()
        losses = []
        for name, probe in self.probes.items():
            logits = probe(features)
            losses.append(F.cross_entropy(logits, targets[name]))
            accuracy = (logits.argmax(1) == targets[name]).float().mean() * 100
            pl_module.log(f"online/{name}.top1", accuracy, prog_bar=False)
        torch.stack(losses).sum().backward()
        self.optimizer.step()

    def state_dict(self) -> dict:
        return {"probes": self.probes.state_dict() if self.probes is not None else None}

    def load_state_dict(self, state_dict: dict) -> None:
        if self.probes is not None and state_dict.get("probes") is not None:
            self.probes.load_state_dict(state_dict["probes"])
