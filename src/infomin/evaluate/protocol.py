"""The frozen-feature protocol: one flat `TASK.METRIC -> float` dict per representation.

Classification tasks get `TASK.linear_top1`, `TASK.knn_top1` (and `_top5` with more than
five classes), in percent. Regression tasks get `TASK.linear_mae_px` when the task's unit
is pixels, else `TASK.linear_mae`: the mean Euclidean error of a ridge probe, in the
task's unit. Flat keys make results trivially comparable across runs and easy to
tabulate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import Dataset

from infomin.data.transforms import to_model_input
from infomin.evaluate.features import Progress, Targets, extract_features
from infomin.evaluate.knn import DEFAULT_K, DEFAULT_TEMPERATURE, knn_accuracy
from infomin.evaluate.linear import (
    DEFAULT_WEIGHT_DECAY,
    fit_position_probe,
    linear_probe_accuracy,
    reported_ks,
)

if TYPE_CHECKING:
    from infomin.data.base import Task


def regression_key(task: Task) -> str:
    """`linear_mae_px` for pixel targets (the localisation probe), else `linear_mae`."""
    return "linear_mae_px" if getattr(task, "unit", "") == "px" else "linear_mae"


def _num_classes(task: Task, *labels: torch.Tensor) -> int:
    if task.num_classes is not None:
        return int(task.num_classes)
    return int(max(int(y.max()) for y in labels)) + 1


def _targets_for(name: str, train: Targets, test: Targets) -> tuple[torch.Tensor, torch.Tensor]:
    missing = [split for split, t in (("train", train), ("test", test)) if name not in t]
    if missing:
        raise ValueError(f"task {name!r} has no targets in the {' and '.join(missing)} set")
    return train[name], test[name]


def evaluate_features(
    train_feats: torch.Tensor,
    train_targets: Targets,
    test_feats: torch.Tensor,
    test_targets: Targets,
    tasks: Mapping[str, Task],
    knn_k: int = DEFAULT_K,
    knn_temperature: float = DEFAULT_TEMPERATURE,
    weight_decay: float | tuple[float, ...] = DEFAULT_WEIGHT_DECAY,
    ridge_alpha: float = 1.0,
    use_knn: bool = True,
) -> dict[str, float]:
    """Fit every task's probes on the train features, score them on the test features."""
    results: dict[str, float] = {}
    for name, task in tasks.items():
        y_train, y_test = _targets_for(name, train_targets, test_targets)
        if task.kind == "classification":
            classes = _num_classes(task, y_train, y_test)
            linear = linear_probe_accuracy(
                train_feats, y_train, test_feats, y_test, classes, weight_decay
            )
            results.update({f"{name}.linear_{m}": v for m, v in linear.items()})
            if use_knn:
                knn = knn_accuracy(
                    train_feats, y_train, test_feats, y_test, classes, knn_k, knn_temperature
                )
                results.update({f"{name}.knn_{m}": v for m, v in knn.items()})
        elif task.kind == "regression":
            error = fit_position_probe(train_feats, y_train, test_feats, y_test, ridge_alpha)
            results[f"{name}.{regression_key(task)}"] = error
        else:
            raise ValueError(f"task {name!r} has unknown kind {task.kind!r}")
    return results


def chance_levels(
    tasks: Mapping[str, Task], train_targets: Targets, test_targets: Targets
) -> dict[str, float]:
    """What a representation-free guess scores, under the keys `evaluate_features` uses.

    Classification: uniform guessing (100 / C, 100 * 5 / C). Regression: predicting the
    training mean for every test sample. Reports should print both side by side.
    """
    results: dict[str, float] = {}
    for name, task in tasks.items():
        y_train, y_test = _targets_for(name, train_targets, test_targets)
        if task.kind == "classification":
            classes = _num_classes(task, y_train, y_test)
            for k in reported_ks(classes):
                chance = 100.0 * min(k, classes) / classes
                results[f"{name}.linear_top{k}"] = results[f"{name}.knn_top{k}"] = chance
        else:
            mean = y_train.double().reshape(len(y_train), -1).mean(dim=0)
            error = (y_test.double().reshape(len(y_test), -1) - mean).norm(dim=1).mean()
            results[f"{name}.{regression_key(task)}"] = error.item()
    return results


def evaluate_backbone(
    model: nn.Module,
    train_set: Dataset,
    test_set: Dataset,
    tasks: Mapping[str, Task] | None = None,
    batch_size: int = 256,
    num_workers: int = 0,
    device: str | torch.device | None = None,
    preprocess: Callable[[torch.Tensor], torch.Tensor] | None = to_model_input,
    progress: Progress | None = None,
    **probe_options: Any,
) -> dict[str, float]:
    """Extract frozen features of both splits, then run `evaluate_features`.

    `tasks=None` uses `train_set.tasks`; `probe_options` go to `evaluate_features`.
    """
    tasks = train_set.tasks if tasks is None else tasks  # type: ignore[attr-defined]
    extract = {"batch_size": batch_size, "num_workers": num_workers, "device": device}
    train_feats, train_targets = extract_features(
        model, train_set, preprocess=preprocess, progress=progress, **extract
    )
    test_feats, test_targets = extract_features(
        model, test_set, preprocess=preprocess, progress=progress, **extract
    )
    return evaluate_features(
        train_feats, train_targets, test_feats, test_targets, tasks, **probe_options
    )
