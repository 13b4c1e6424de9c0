"""Frozen-feature evaluation: extract once, then linear, ridge and kNN probes.

Takes an encoder; knows no training recipe. May import: data, views, models and the
shared helpers.
"""

from infomin.evaluate.features import extract_features, frozen, raw_pixel_features
from infomin.evaluate.knn import knn_accuracy, knn_votes
from infomin.evaluate.linear import (
    LinearProbe,
    RidgeProbe,
    Standardiser,
    fit_linear_probe,
    fit_position_probe,
    fit_ridge,
    linear_probe_accuracy,
    select_weight_decay,
    topk_accuracy,
)
from infomin.evaluate.protocol import (
    chance_levels,
    evaluate_backbone,
    evaluate_features,
    regression_key,
)

__all__ = [
    "LinearProbe",
    "RidgeProbe",
    "Standardiser",
    "chance_levels",
    "evaluate_backbone",
    "evaluate_features",
    "extract_features",
    "fit_linear_probe",
    "fit_position_probe",
    "fit_ridge",
    "frozen",
    "knn_accuracy",
    "knn_votes",
    "linear_probe_accuracy",
    "raw_pixel_features",
    "regression_key",
    "select_weight_decay",
    "topk_accuracy",
]
