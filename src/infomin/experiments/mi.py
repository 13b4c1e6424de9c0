"""I_NCE of a pair of views, over seeds: what `infomin mi` runs and every sweep point uses.

Why a separate layer over the critic engine (`experiments.pairs`): one training run gives
one noisy number, and an I_NCE without its ceiling is easy to misread (a value near
log K means "as much as this K can show", not "all the information"). So every estimate
here is repeated over seeds and reported as each seed's value plus the mean and the
sample standard deviation, always next to K and log K.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

from infomin.experiments.pairs import CriticConfig, Sizes, run_pair_experiment
from infomin.experiments.statistics import pm, summarize
from infomin.reports import markdown_table
from infomin.views.pairs import PairSource

ProgressFactory = Callable[[str], Callable[[int, int], None]]

PROTOCOL = (
    "f1 and f2 (one encoder per view, each a backbone + linear head to a unit-norm "
    "embedding) are trained to maximise symmetric in-batch InfoNCE on the training pairs; "
    "I_NCE = log K - L_NCE is measured on held-out pairs of the test split with K "
    "candidates per query (1 positive + K-1 negatives), so it can never exceed log K; "
    "the trained critics are the pretrained encoders whose frozen features are probed "
    "(linear L-BFGS probe and kNN) on the downstream task's test split; std is the "
    "sample standard deviation over seeds (a seed changes the data draw and the "
    "initialisation)."
)


def primary_metric(source: PairSource, metrics: Mapping[str, float]) -> str:
    """The headline accuracy of a source: its `primary_metric`, else the first linear top-1."""
    named = getattr(source, "primary_metric", None)
    if named and named in metrics:
        return str(named)
    for key in metrics:
        if key.endswith(".linear_top1"):
            return key
    raise ValueError(f"{source.name}: the probe returned no classification accuracy")


def random_init_baseline(
    source: PairSource, config: CriticConfig, sizes: Sizes, seed: int, metric: str
) -> dict[str, float]:
    """The same probe on untrained critics (0 epochs): what the input alone gives.

    Why: views change the *input* of the encoders too (a colour space, a patch size), so
    a difference in probe accuracy is only the views' doing once it beats this control.
    """
    metrics = run_pair_experiment(source, replace(config, seed=seed, epochs=0), sizes)
    return {"seed": seed, "accuracy": metrics[metric], "i_nce": metrics["i_nce"]}


def estimate_mi(
    source: PairSource,
    config: CriticConfig,
    sizes: Sizes,
    seeds: Sequence[int],
    progress_factory: ProgressFactory | None = None,
    baseline: bool = False,
) -> dict[str, Any]:
    """Train and probe the critics once per seed; each run and the summary over seeds.

    Each run holds `i_nce`, `log_k`, `num_candidates`, the probe keys, `accuracy` (the
    source's headline metric, named in `metric`) and `seconds`. ``baseline`` adds
    ``random_init``: the headline probe of untrained critics (first seed only, to keep
    sweeps cheap).
    """
    if not seeds:
        raise ValueError("need at least one seed")
    runs: list[dict[str, Any]] = []
    metric = ""
    for seed in seeds:
        progress = progress_factory(f"{source.name} seed {seed}") if progress_factory else None
        start = time.perf_counter()
        metrics = run_pair_experiment(source, replace(config, seed=seed), sizes, progress)
        metric = metric or primary_metric(source, metrics)
        seconds = time.perf_counter() - start
        runs.append({"seed": seed, **metrics, "accuracy": metrics[metric], "seconds": seconds})
    k = int(runs[0]["num_candidates"])
    result = {
        "views": source.name,
        "metric": metric,
        "num_candidates": k,
        "log_k": math.log(k),
        "runs": runs,
        "summary": summarize(runs),
        "seconds": sum(run["seconds"] for run in runs),
    }
    if baseline:
        result["random_init"] = random_init_baseline(source, config, sizes, seeds[0], metric)
    return result


def run_mi(
    source: PairSource,
    config: CriticConfig,
    sizes: Sizes,
    seeds: Sequence[int],
    progress_factory: ProgressFactory | None = None,
    data: str | None = None,
    baseline: bool = True,
) -> dict[str, Any]:
    """`estimate_mi` plus what was run (`infomin mi`'s results.json)."""
    result = estimate_mi(source, config, sizes, seeds, progress_factory, baseline)
    return {
        **result,
        "data": data,
        "seeds": list(seeds),
        "critic_config": asdict(config),
        "sizes": asdict(sizes),
        "protocol": PROTOCOL,
    }


def _probe_keys(result: Mapping[str, Any]) -> list[str]:
    skip = {"i_nce", "log_k", "num_candidates", "accuracy", "seconds", "seed"}
    return [k for k in result["summary"] if k not in skip]


def mi_table(result: Mapping[str, Any]) -> str:
    """One row per seed and a mean ± std row: I_NCE, K, log K, probe metrics, seconds."""
    probes = _probe_keys(result)
    header = ["seed", "I_NCE (nats)", "K", "log K", *probes, "seconds"]
    rows: list[list[object]] = [
        [run["seed"], run["i_nce"], int(run["num_candidates"]), run["log_k"],
         *(run[k] for k in probes), run["seconds"]]
        for run in result["runs"]
    ]  # fmt: skip
    summary = result["summary"]
    rows.append(
        ["mean ± std", pm(summary["i_nce"]), result["num_candidates"], result["log_k"],
         *(pm(summary[k]) for k in probes), pm(summary["seconds"], 0)]
    )  # fmt: skip
    if "random_init" in result:
        base = result["random_init"]
        cells = [base["accuracy"] if k == result["metric"] else "" for k in probes]
        rows.append([f"random init (seed {base['seed']})", base["i_nce"], "", "", *cells, ""])
    return markdown_table(header, rows)
