"""The Colorful-Moving-MNIST table: what a contrastive encoder learns from what views share.

Why: the paper's toy shows that only the shared factors are learned, and that a shared
background is a shortcut that suppresses the digit. Each row trains the two critics of
`infomin.experiments.pairs` on `ToyPairSource` pairs sharing one set of factors, then
probes f2's frozen features (linear digit and background accuracy, position error of a
ridge probe) on single frames of held-out digits and photo regions. A random-init
encoder of the same architecture, probed the same way, is the baseline the claims are
measured against; chance is the floor.

Speed (2 CPU cores): the prototype (width-32 convnet, 6,000 pairs, 8 epochs) took 80 s a
row. The default here is a half-width convnet (16 base channels) with a 2 x 2 pooled
map (global pooling throws position away) on the prototype's 32 px canvas, trained on
fewer pairs; the probe sets are rendered once per seed and shared by all rows, and the
probes are linear only (no kNN). See `ToyConfig` and `quick_config` for the sizes.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from infomin.evaluate.protocol import chance_levels, evaluate_features
from infomin.experiments.pairs import (
    CriticConfig,
    PairCritics,
    ProbeSet,
    held_out_i_nce,
    probe_features,
    train_critics,
)
from infomin.progress import ProgressCallback
from infomin.reports import markdown_table
from infomin.views.toy import ToyPairSource, parse_shared, shared_label, toy_probe_set

ROWS: tuple[str, ...] = (
    "digit",
    "position",
    "background",
    "digit+position",
    "digit+background",
    "position+background",
    "digit+position+background",
)
ROW_TITLES = {"digit+position+background": "all three"}
BASELINE = "random-init"
CHANCE = "chance"
# (result key, column title); accuracies are linear-probe top-1 in percent.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("digit.linear_top1", "digit acc %"),
    ("background.linear_top1", "background acc %"),
    ("position.linear_mae_px", "position error px"),
    ("i_nce", "I_NCE"),
)
ProgressFactory = Callable[[str], ProgressCallback]


@dataclass(frozen=True)
class ToyConfig:
    """Everything that decides the table; the defaults are the full 3-seed run."""

    rows: tuple[str, ...] = ROWS
    seeds: int = 3
    canvas: int = 32
    digit_size: int = 20
    dim: float = 0.6
    width: float = 0.5  # convnet width multiplier: 16 base channels
    pool_size: int = 2  # a 2 x 2 map keeps position for the localisation probe
    embed_dim: int = 64
    temperature: float = 0.1
    epochs: int = 8
    batch_size: int = 128  # training K
    lr: float = 3e-3
    train_pairs: int = 4096
    test_pairs: int = 1024
    test_batch: int = 256  # K of the held-out I_NCE
    probe_train: int = 3000
    probe_test: int = 1000
    first_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("seeds", "epochs", "batch_size", "train_pairs", "test_pairs", "test_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.train_pairs < self.batch_size or self.test_pairs < self.test_batch:
            raise ValueError("need train_pairs >= batch_size and test_pairs >= test_batch")
        for row in self.rows:
            parse_shared(row)

    def critic(self, seed: int) -> CriticConfig:
        return CriticConfig(
            backbone="convnet", width=self.width, pool_size=self.pool_size,
            embed_dim=self.embed_dim, temperature=self.temperature, epochs=self.epochs,
            batch_size=self.batch_size, lr=self.lr, seed=seed,
        )  # fmt: skip

    def source(self, row: str) -> ToyPairSource:
        return ToyPairSource(row, self.canvas, self.digit_size, self.dim)


def quick_config(**changes: Any) -> ToyConfig:
    """One seed and smaller sizes: the whole table in about two minutes on 2 cores."""
    quick = {"seeds": 1, "train_pairs": 3072, "epochs": 6, "probe_train": 2000}
    return replace(ToyConfig(), **{**quick, **changes})


def canonical_rows(rows: Sequence[str]) -> tuple[str, ...]:
    """Row names in canonical factor order (`background+digit` -> `digit+background`)."""
    return tuple(shared_label(parse_shared(row)) for row in rows)


@dataclass
class _ProbeData:
    train: ProbeSet
    test: ProbeSet


def _probe(critics: PairCritics, probes: _ProbeData) -> dict[str, float]:
    train, test = probes.train, probes.test
    return evaluate_features(
        probe_features(critics, train), train.targets, probe_features(critics, test),
        test.targets, train.tasks, use_knn=False,
    )  # fmt: skip


def _random_init(config: ToyConfig, seed: int, probes: _ProbeData) -> dict[str, float]:
    """The same architecture, untrained (seeded like the row's critics), probed the same way."""
    torch.manual_seed(seed)
    critics = PairCritics((3, 3), config.canvas, config.critic(seed)).eval()
    return _probe(critics, probes)


def _train_row(
    config: ToyConfig, row: str, seed: int, probes: _ProbeData, progress: ProgressCallback | None
) -> dict[str, float]:
    source = config.source(row)
    critics = train_critics(source.pairs("train", config.train_pairs, seed), config.critic(seed),
                            progress)  # fmt: skip
    estimate = held_out_i_nce(
        critics, source.pairs("test", config.test_pairs, seed), config.test_batch
    )
    return {"i_nce": estimate.i_nce, **_probe(critics, probes)}


def _summary(per_seed: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sample std (0 with one seed) of every numeric key over seeds."""
    keys = [k for k in per_seed[0] if k != "seed"]
    mean = {k: statistics.fmean(run[k] for run in per_seed) for k in keys}
    std = {
        k: statistics.stdev(run[k] for run in per_seed) if len(per_seed) > 1 else 0.0 for k in keys
    }
    return mean, std


def _row_result(name: str, kind: str, per_seed: list[dict[str, float]]) -> dict[str, Any]:
    mean, std = _summary(per_seed)
    return {"name": name, "kind": kind, "per_seed": per_seed, "mean": mean, "std": std}


def run_toy_table(
    config: ToyConfig | None = None, progress_factory: ProgressFactory | None = None
) -> dict[str, Any]:
    """Train and probe every row for every seed; return the table as plain data.

    Keys: `config`, `seeds`, `log_k`, `num_candidates`, `rows` (a list, table order: the
    shared-factor rows, then `random-init`, then `chance`; each with `name`, `kind`,
    `shared`, `per_seed` (every seed's metrics and seconds), `mean`, `std`), `claims`
    (the acceptance checks, see `check_claims`), `columns` and `elapsed_s`.
    """
    config = config or ToyConfig()
    start = time.perf_counter()
    seeds = list(range(config.first_seed, config.first_seed + config.seeds))
    probes = {seed: _probe_data(config, seed) for seed in seeds}
    rows = [_run_row(config, row, seeds, probes, progress_factory) for row in config.rows]
    rows.append(_baseline_row(config, seeds, probes))
    rows.append(_chance_row(probes[seeds[0]]))
    return {
        "config": asdict(config),
        "seeds": seeds,
        "num_candidates": config.test_batch,
        "log_k": math.log(config.test_batch),
        "columns": [list(column) for column in COLUMNS],
        "rows": rows,
        "claims": check_claims(rows),
        "elapsed_s": time.perf_counter() - start,
    }


def _probe_data(config: ToyConfig, seed: int) -> _ProbeData:
    render = config.source("none").config
    return _ProbeData(
        toy_probe_set(render, "train", config.probe_train, seed),
        toy_probe_set(render, "test", config.probe_test, seed),
    )


def _run_row(
    config: ToyConfig,
    row: str,
    seeds: list[int],
    probes: dict[int, _ProbeData],
    progress_factory: ProgressFactory | None,
) -> dict[str, Any]:
    per_seed = []
    steps = config.epochs * (config.train_pairs // config.batch_size)
    update = progress_factory(f"shared: {row}") if progress_factory else None
    for i, seed in enumerate(seeds):
        begin = time.perf_counter()

        def report(done: int, _total: int, offset: int = i * steps) -> None:
            if update is not None:
                update(offset + done, steps * len(seeds))

        metrics = _train_row(config, row, seed, probes[seed], report)
        per_seed.append({"seed": seed, **metrics, "seconds": time.perf_counter() - begin})
    result = _row_result(row, "shared", per_seed)
    result["shared"] = sorted(parse_shared(row))
    return result


def _baseline_row(
    config: ToyConfig, seeds: list[int], probes: dict[int, _ProbeData]
) -> dict[str, Any]:
    per_seed = []
    for seed in seeds:
        begin = time.perf_counter()
        metrics = _random_init(config, seed, probes[seed])
        per_seed.append({"seed": seed, **metrics, "seconds": time.perf_counter() - begin})
    return {**_row_result(BASELINE, "baseline", per_seed), "shared": []}


def _chance_row(probes: _ProbeData) -> dict[str, Any]:
    chance = chance_levels(probes.train.tasks, probes.train.targets, probes.test.targets)
    return {**_row_result(CHANCE, "chance", [chance]), "shared": []}


# --- the acceptance claims -------------------------------------------------------------

# (description, row, metric, direction): direction +1 means "row above the reference".
CLAIMS: tuple[tuple[str, str, str, str, int], ...] = (
    ("digit only raises digit accuracy", "digit", BASELINE, "digit.linear_top1", +1),
    ("digit only lowers background accuracy", "digit", BASELINE, "background.linear_top1", -1),
    ("background only lowers digit accuracy", "background", BASELINE, "digit.linear_top1", -1),
    ("background only raises background accuracy", "background", BASELINE,
     "background.linear_top1", +1),
    ("digit+background has lower digit accuracy than digit (shortcut)", "digit+background",
     "digit", "digit.linear_top1", -1),
)  # fmt: skip


def check_claims(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each claim as `row - reference` on a metric, paired by seed.

    `holds` needs the mean difference in the claimed direction and larger than its spread
    (the sample std of the per-seed differences; with one seed the spread is unknown and
    only the sign is checked, `spread` is None).
    """
    by_name = {row["name"]: row for row in rows}
    checks = []
    for text, name, reference, metric, direction in CLAIMS:
        if name not in by_name or reference not in by_name:
            continue
        ours = [run[metric] for run in by_name[name]["per_seed"]]
        theirs = [run[metric] for run in by_name[reference]["per_seed"]]
        diffs = [a - b for a, b in zip(ours, theirs, strict=True)]
        mean = statistics.fmean(diffs)
        spread = statistics.stdev(diffs) if len(diffs) > 1 else None
        holds = direction * mean > 0 and (spread is None or abs(mean) > spread)
        checks.append(
            {"claim": text, "row": name, "reference": reference, "metric": metric,
             "difference": mean, "spread": spread, "per_seed": diffs, "holds": holds}
        )  # fmt: skip
    return checks


# --- markdown --------------------------------------------------------------------------


def _cell(row: dict[str, Any], key: str) -> str:
    if key not in row["mean"]:
        return "—"
    mean, std = row["mean"][key], row["std"][key]
    if row["kind"] == "chance" or len(row["per_seed"]) == 1:
        return f"{mean:.2f}"
    return f"{mean:.2f} ± {std:.2f}"


def render_toy_markdown(results: dict[str, Any]) -> str:
    """The table (mean ± std over seeds), what was run, and the claims with their verdicts."""
    config = results["config"]
    header = ["shared"] + [
        f"{title} (log K = {results['log_k']:.2f})" if key == "i_nce" else title
        for key, title in COLUMNS
    ]
    table = [
        [ROW_TITLES.get(row["name"], row["name"]), *(_cell(row, k) for k, _ in COLUMNS)]
        for row in results["rows"]
    ]
    seeds = len(results["seeds"])
    lines = [
        "# Colorful-Moving-MNIST: what the views share is what is learned",
        "",
        f"{seeds} seed(s) ({', '.join(map(str, results['seeds']))}); cells are mean ± std "
        "over seeds. Linear probes on f2's frozen features (single frames of held-out "
        "digit images and photo regions); accuracies in %, position error = mean distance "
        "in px of a ridge probe. I_NCE on held-out pairs with K = "
        f"{results['num_candidates']} candidates.",
        "",
        markdown_table(header, table),
        "",
        f"Setup: {config['canvas']} px canvas, {config['digit_size']} px digits, background "
        f"dimmed to {config['dim']:.0%}; convnet width x{config['width']} with a "
        f"{config['pool_size']}x{config['pool_size']} pooled map; {config['train_pairs']} "
        f"pairs, {config['epochs']} epochs, training K = {config['batch_size']}; probe "
        f"{config['probe_train']} train / {config['probe_test']} test frames. "
        f"Elapsed {results['elapsed_s']:.0f} s.",
        "",
        *_claims_markdown(results["claims"]),
    ]
    return "\n".join(lines) + "\n"


def _claims_markdown(claims: list[dict[str, Any]]) -> list[str]:
    if not claims:
        return []
    lines = ["## Claims (paired by seed, difference vs its spread)", ""]
    for claim in claims:
        spread = "n/a (1 seed)" if claim["spread"] is None else f"{claim['spread']:.2f}"
        verdict = "holds" if claim["holds"] else "does NOT hold"
        lines.append(
            f"- {claim['claim']}: {claim['metric']} {claim['row']} - {claim['reference']} = "
            f"{claim['difference']:+.2f} (spread {spread}): {verdict}"
        )
    return lines
