"""The Colorful-Moving-MNIST table: what a contrastive encoder learns from what views share.

Why: the paper's toy shows that only the shared factors are learned, and that a shared
background is a shortcut that suppresses the digit. Each row trains the two critics of
`infomin.experiments.pairs` on `ToyPairSource` pairs sharing one set of factors, then
probes f2's frozen features (linear digit and background accuracy, position error of a
ridge probe) on single frames of held-out digit images and photo regions. A random-init
encoder of the same architecture, probed the same way, is the baseline the claims are
measured against; chance is the floor. Rows may also be points of the toy ladder
(`ladder=S`, see `infomin.views.toy`).

Speed: the prototype (width-32 convnet, 6,000 pairs, 8 epochs) took 80 s a row on 2
cores. Here (measured, see `ToyConfig`): a quarter-width convnet (8 base channels),
4,096 pairs, 8 epochs, linear probes only (no kNN), probe sets rendered once per seed
and shared by all rows. The (row, seed) jobs are independent, so they run in
`workers` processes of `threads` torch threads each (default 2 x 1): small convolutions
parallelise badly inside one op, and on a busy 2-core machine two intra-op threads cost
up to 8x the time of one per step (measured), while two single-threaded processes
keep both cores busy. Measured on 2 cores shared with other jobs: the full table cost
485 CPU-s (12.7 min wall: it got 0.63 of a core on average), the quick one 114 CPU-s
(118 s wall); with both cores free that is about 4-5 min and 1 min.

Pooling: the backbone keeps a 2 x 2 map (`pool_size=2`). Global pooling (1 x 1) threw
position away: random-init position error 3.1 px vs 2.5 px, position-sharing row
0.94 px vs 0.70 px; a 4 x 4 map was no better than 2 x 2 (one seed, full sizes).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from infomin.data.moving_digits import RenderConfig
from infomin.evaluate.protocol import chance_levels, evaluate_features
from infomin.experiments.pairs import (
    CriticConfig,
    PairCritics,
    held_out_i_nce,
    probe_features,
    train_critics,
)
from infomin.experiments.pool import report_progress, run_jobs
from infomin.experiments.statistics import claim_holds, paired_difference, pm, summarize
from infomin.progress import ProgressCallback
from infomin.reports import markdown_table
from infomin.views.pairs import ProbeSet
from infomin.views.toy import (
    LADDER_RANGE,
    TOY_TASKS,
    ToyPairSource,
    parse_shared,
    shared_label,
    toy_probe_set,
    toy_probe_targets,
)

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
LADDER_PREFIX = "ladder="
# (result key, column title); accuracies are linear-probe top-1 in percent.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("digit.linear_top1", "digit acc %"),
    ("background.linear_top1", "background acc %"),
    ("position.linear_mae_px", "position error px"),
    ("i_nce", "I_NCE"),
)
ProgressFactory = Callable[[str], ProgressCallback]


def canonical_row(row: str) -> str:
    """`background+digit` -> `digit+background`, `all` -> the three, `ladder=0.50` ->
    `ladder=0.5`; raises `ValueError` naming the valid choices."""
    text = row.strip().lower()
    if not text.startswith(LADDER_PREFIX):
        try:
            return shared_label(parse_shared(text))
        except ValueError as err:
            raise ValueError(f"bad row {row!r}: {err}; or a ladder point ladder=S") from None
    try:
        step = float(text.removeprefix(LADDER_PREFIX))
    except ValueError:
        raise ValueError(f"ladder row must be ladder=S with a number S, got {row!r}") from None
    low, high = LADDER_RANGE
    if not low <= step <= high:
        raise ValueError(f"ladder row {row!r}: S must be in [{low:g}, {high:g}]")
    return f"{LADDER_PREFIX}{step:g}"


@dataclass(frozen=True)
class ToyConfig:
    """Everything that decides the table; the defaults are the full 3-seed run."""

    rows: tuple[str, ...] = ROWS
    seeds: int = 3
    first_seed: int = 0
    canvas: int = 32
    digit_size: int = 20
    dim: float = 0.6
    width: float = 0.25  # convnet width multiplier: 8 base channels (prototype: 32)
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
    workers: int = 2  # processes for the (row, seed) jobs; 1 = in this process
    threads: int = 1  # torch threads per worker

    def __post_init__(self) -> None:
        counts = ("seeds", "epochs", "batch_size", "train_pairs", "test_pairs", "test_batch",
                  "probe_train", "probe_test", "workers", "threads", "pool_size")  # fmt: skip
        for name in counts:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.train_pairs < self.batch_size:
            raise ValueError(f"train_pairs ({self.train_pairs}) must be >= batch_size")
        if self.test_pairs < self.test_batch:
            raise ValueError(f"test_pairs ({self.test_pairs}) must be >= test_batch")
        if not self.rows:
            raise ValueError("need at least one row")
        object.__setattr__(self, "rows", tuple(canonical_row(row) for row in self.rows))
        if len(set(self.rows)) != len(self.rows):
            raise ValueError(f"rows repeat: {', '.join(self.rows)}")
        RenderConfig(self.canvas, self.digit_size, self.dim)  # validates the sizes

    @property
    def render(self) -> RenderConfig:
        return RenderConfig(self.canvas, self.digit_size, self.dim)

    @property
    def steps(self) -> int:
        """Optimiser steps of one row and seed."""
        return self.epochs * (self.train_pairs // self.batch_size)

    def critic(self, seed: int) -> CriticConfig:
        return CriticConfig(
            backbone="convnet", width=self.width, pool_size=self.pool_size,
            embed_dim=self.embed_dim, temperature=self.temperature, epochs=self.epochs,
            batch_size=self.batch_size, lr=self.lr, seed=seed,
        )  # fmt: skip

    def source(self, row: str) -> ToyPairSource:
        """The pair source of a (canonical) row name."""
        if row.startswith(LADDER_PREFIX):
            step = float(row.removeprefix(LADDER_PREFIX))
            return ToyPairSource("digit+background", self.canvas, self.digit_size, self.dim, step)
        return ToyPairSource(row, self.canvas, self.digit_size, self.dim)


def quick_config(**changes: Any) -> ToyConfig:
    """One seed and smaller sizes: the whole table in about a minute or two on 2 cores."""
    quick = {"seeds": 1, "train_pairs": 3072, "epochs": 6, "probe_train": 2000}
    return replace(ToyConfig(), **{**quick, **changes})


# --- one (row, seed) job -----------------------------------------------------------------


@dataclass(frozen=True)
class _ProbeData:
    train: ProbeSet
    test: ProbeSet


@functools.lru_cache(maxsize=3)
def _probe_data(render: RenderConfig, n_train: int, n_test: int, seed: int) -> _ProbeData:
    """The probe frames of one seed, shared by every row run in this process."""
    return _ProbeData(
        toy_probe_set(render, "train", n_train, seed),
        toy_probe_set(render, "test", n_test, seed),
    )


def _probe(critics: PairCritics, probes: _ProbeData) -> dict[str, float]:
    train, test = probes.train, probes.test
    return evaluate_features(
        probe_features(critics, train), train.targets, probe_features(critics, test),
        test.targets, train.tasks, use_knn=False,
    )  # fmt: skip


def run_job(
    config: ToyConfig, row: str, seed: int, progress: ProgressCallback | None = None
) -> dict[str, float]:
    """Metrics of one row (or the random-init baseline) for one seed, with its seconds."""
    begin = time.perf_counter()
    probes = _probe_data(config.render, config.probe_train, config.probe_test, seed)
    if row == BASELINE:
        # The same architecture, untrained, seeded like the row's critics.
        torch.manual_seed(seed)
        critics = PairCritics((3, 3), config.canvas, config.critic(seed)).eval()
        metrics = _probe(critics, probes)
    else:
        source = config.source(row)
        pairs = source.pairs("train", config.train_pairs, seed)
        critics = train_critics(pairs, config.critic(seed), progress)
        held_out = source.pairs("test", config.test_pairs, seed)
        estimate = held_out_i_nce(critics, held_out, config.test_batch)
        metrics = {"i_nce": estimate.i_nce, **_probe(critics, probes)}
    if progress is not None and row == BASELINE:
        progress(1, 1)
    return {"seed": seed, **metrics, "seconds": time.perf_counter() - begin}


# --- running the jobs --------------------------------------------------------------------

Job = tuple[str, int]  # (row, seed)


def _toy_job(config: ToyConfig, row: str, seed: int) -> dict[str, float]:
    """One (row, seed) job of the pool; progress goes back as (row, seed, done, total)."""

    def report(done: int, total: int) -> None:
        if done % 8 == 0 or done == total:
            report_progress(row, seed, done, total)

    return run_job(config, row, seed, report)


class _RowBars:
    """One progress bar per row, summing its seeds' steps."""

    def __init__(self, factory: ProgressFactory | None, config: ToyConfig, rows: list[str]):
        self.bars = {row: factory(f"{_title(row)}") for row in rows} if factory else {}
        self.done: dict[Job, int] = {}
        self.seeds = config.seeds

    def __call__(self, row: str, seed: int, done: int, total: int) -> None:
        self.done[(row, seed)] = done
        if row in self.bars:
            finished = sum(v for (r, _), v in self.done.items() if r == row)
            self.bars[row](finished, total * self.seeds)


def _title(row: str) -> str:
    return ROW_TITLES.get(row, row)


# --- the table ---------------------------------------------------------------------------


def run_toy_table(
    config: ToyConfig | None = None, progress_factory: ProgressFactory | None = None
) -> dict[str, Any]:
    """Train and probe every row for every seed; return the table as plain data.

    `progress_factory(description)` returns a `(done, total)` callback per row (e.g.
    `infomin.progress.progress_bars()`'s task factory). Keys of the result: `config`,
    `seeds`, `num_candidates` and `log_k` (of the held-out I_NCE), `columns`, `rows` (a
    list in table order: the configured rows, then `random-init`, then `chance`; each has
    `name`, `kind` ("shared", "ladder", "baseline", "chance"), `shared`, `per_seed`
    (every seed's metrics and `seconds`), `mean` and `std`), `claims` (`check_claims`),
    `row_seconds` (summed over seeds) and `elapsed_s` (wall).
    """
    config = config or ToyConfig()
    start = time.perf_counter()
    seeds = list(range(config.first_seed, config.first_seed + config.seeds))
    names = [*config.rows, BASELINE]
    jobs = [(row, seed) for row in names for seed in seeds]
    bars = _RowBars(progress_factory, config, names)
    try:
        results = run_jobs(_toy_job, [(config, row, seed) for row, seed in jobs],
                           config.workers, config.threads, on_message=bars)  # fmt: skip
        done = dict(zip(jobs, results, strict=True))
    finally:
        _probe_data.cache_clear()  # the in-process runner's probe frames: free them
    rows = [_row(config, name, [done[(name, seed)] for seed in seeds]) for name in names]
    rows.append(_chance_row(config, seeds[0]))
    return {
        "config": asdict(config),
        "seeds": seeds,
        "num_candidates": config.test_batch,
        "log_k": math.log(config.test_batch),
        "columns": [list(column) for column in COLUMNS],
        "rows": rows,
        "claims": check_claims(rows),
        "row_seconds": _row_seconds(rows),
        "elapsed_s": time.perf_counter() - start,
    }


def _row_seconds(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds each row took, summed over its seeds (chance costs nothing)."""
    return {
        row["name"]: sum(run["seconds"] for run in row["per_seed"])
        for row in rows
        if row["kind"] != "chance"
    }


def _summary(per_seed: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sample std (0 with one seed) of every numeric key over seeds."""
    stats = summarize(per_seed)
    return {k: v["mean"] for k, v in stats.items()}, {k: v["std"] for k, v in stats.items()}


def _row(config: ToyConfig, name: str, per_seed: list[dict[str, float]]) -> dict[str, Any]:
    mean, std = _summary(per_seed)
    if name == BASELINE:
        kind, shared = "baseline", []
    elif name.startswith(LADDER_PREFIX):
        kind, shared = "ladder", sorted(config.source(name).shared)
    else:
        kind, shared = "shared", sorted(parse_shared(name))
    return {"name": name, "kind": kind, "shared": shared, "per_seed": per_seed,
            "mean": mean, "std": std}  # fmt: skip


def _chance_row(config: ToyConfig, seed: int) -> dict[str, Any]:
    """What a representation-free guess scores on the probe sets of the first seed."""
    _, train = toy_probe_targets(config.render, "train", config.probe_train, seed)
    _, test = toy_probe_targets(config.render, "test", config.probe_test, seed)
    chance = chance_levels(TOY_TASKS, train, test)
    return {"name": CHANCE, "kind": "chance", "shared": [], "per_seed": [chance],
            "mean": dict(chance), "std": dict.fromkeys(chance, 0.0)}  # fmt: skip


# --- the acceptance claims ---------------------------------------------------------------

# (claim, row, reference row, metric, direction): +1 means "row above the reference".
CLAIMS: tuple[tuple[str, str, str, str, int], ...] = (
    ("digit only raises digit accuracy", "digit", BASELINE, "digit.linear_top1", +1),
    ("digit only lowers background accuracy", "digit", BASELINE, "background.linear_top1", -1),
    ("background only lowers digit accuracy", "background", BASELINE, "digit.linear_top1", -1),
    ("background only raises background accuracy", "background", BASELINE,
     "background.linear_top1", +1),
    ("digit+background: lower digit accuracy than digit alone (the shortcut)",
     "digit+background", "digit", "digit.linear_top1", -1),
)  # fmt: skip


def check_claims(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each claim as `row - reference` on a metric, paired by seed (same data, same init).

    `holds` needs the mean difference in the claimed direction and larger than its spread,
    the sample std of the per-seed differences. With one seed the spread is unknown
    (`None`) and only the sign is checked. Claims whose rows were not run are left out.
    """
    by_name = {row["name"]: row for row in rows}
    checks = []
    for text, name, reference, metric, direction in CLAIMS:
        if name not in by_name or reference not in by_name:
            continue
        ours = [run[metric] for run in by_name[name]["per_seed"]]
        theirs = [run[metric] for run in by_name[reference]["per_seed"]]
        paired = paired_difference(ours, theirs)
        holds = claim_holds(paired["difference"], paired["spread"], direction)
        checks.append(
            {"claim": text, "row": name, "reference": reference, "metric": metric,
             "difference": paired["difference"], "spread": paired["spread"],
             "per_seed": paired["per_seed"], "holds": holds}
        )  # fmt: skip
    return checks


# --- markdown and plot -------------------------------------------------------------------


def _cell(row: dict[str, Any], key: str) -> str:
    if key not in row["mean"]:
        return "—"
    if row["kind"] == "chance" or len(row["per_seed"]) == 1:
        return f"{row['mean'][key]:.2f}"
    return pm({"mean": row["mean"][key], "std": row["std"][key]})


def render_toy_markdown(results: dict[str, Any]) -> str:
    """The table (mean ± std over seeds), what was run, timings and the claims' verdicts."""
    header = ["shared"] + [
        f"{title} (log K = {results['log_k']:.2f})" if key == "i_nce" else title
        for key, title in COLUMNS
    ]
    table = [[_title(row["name"]), *(_cell(row, k) for k, _ in COLUMNS)]
             for row in results["rows"]]  # fmt: skip
    seeds = results["seeds"]
    lines = [
        "# Colorful-Moving-MNIST: what the views share is what is learned",
        "",
        f"{len(seeds)} seed(s) ({', '.join(map(str, seeds))}); cells are mean ± std over "
        "seeds. Linear probes on f2's frozen features, fitted on single frames of training "
        "digit images and photo regions, scored on held-out ones; accuracies in %, position "
        "error = mean distance (px) of a ridge probe's prediction. I_NCE on held-out pairs "
        f"with K = {results['num_candidates']} candidates (ceiling log K).",
        "",
        markdown_table(header, table),
        "",
        _setup_line(results),
        "",
        *_claims_markdown(results["claims"]),
    ]
    return "\n".join(lines) + "\n"


def _setup_line(results: dict[str, Any]) -> str:
    c = results["config"]
    times = ", ".join(
        f"{_title(name)} {seconds / len(results['seeds']):.0f}"
        for name, seconds in results["row_seconds"].items()
    )
    return (
        f"Setup: {c['canvas']} px canvas, {c['digit_size']} px digits, background dimmed to "
        f"{c['dim']:.0%}; v1 and v2 single frames; convnet width x{c['width']} with a "
        f"{c['pool_size']}x{c['pool_size']} pooled map, two encoders; {c['train_pairs']} "
        f"pairs x {c['epochs']} epochs, training K = {c['batch_size']}; probes on "
        f"{c['probe_train']} / {c['probe_test']} frames. Wall time "
        f"{results['elapsed_s']:.0f} s with {c['workers']} worker(s) x {c['threads']} "
        f"thread(s); seconds per seed: {times}."
    )


def _claims_markdown(claims: list[dict[str, Any]]) -> list[str]:
    if not claims:
        return []
    lines = ["## Claims (row - reference, paired by seed; must exceed its spread)", ""]
    for claim in claims:
        spread = "unknown with 1 seed" if claim["spread"] is None else f"{claim['spread']:.2f}"
        verdict = "holds" if claim["holds"] else "does NOT hold"
        lines.append(
            f"- {claim['claim']}: {claim['metric']}, {_title(claim['row'])} - "
            f"{claim['reference']} = {claim['difference']:+.2f} (spread {spread}): {verdict}"
        )
    return lines


def save_toy_plot(results: dict[str, Any], path: str | Path) -> Path:
    """`toy.png`: accuracies, position error and I_NCE per row (error bars = std over
    seeds; dashed = random-init, dotted = chance, grey line = log K)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from infomin.outputs import atomic_write

    rows = {row["name"]: row for row in results["rows"]}
    trained = [row for row in results["rows"] if row["kind"] in ("shared", "ladder")]
    labels = [_title(row["name"]) for row in trained]
    x = range(len(trained))
    figure = Figure(figsize=(15, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    accuracy, position, mi = figure.subplots(1, 3)
    metrics = (("digit.linear_top1", "digit", "tab:blue", -0.2),
               ("background.linear_top1", "background", "tab:orange", 0.2))  # fmt: skip
    for key, label, colour, shift in metrics:
        accuracy.bar([i + shift for i in x], [r["mean"][key] for r in trained], 0.4,
                     yerr=[r["std"][key] for r in trained], color=colour, label=label,
                     capsize=3)  # fmt: skip
        _reference_lines(accuracy, rows, key, colour)
    accuracy.plot([], [], "k--", linewidth=1, label=BASELINE)
    accuracy.plot([], [], "k:", linewidth=1, label=CHANCE)
    accuracy.set(ylabel="linear probe top-1 %", title="what is learned")
    accuracy.legend(fontsize=8)
    key = "position.linear_mae_px"
    position.bar(x, [r["mean"][key] for r in trained], 0.6, yerr=[r["std"][key] for r in trained],
                 color="tab:green", capsize=3)  # fmt: skip
    _reference_lines(position, rows, key, "tab:green")
    position.set(ylabel="position error px (lower is better)", title="localisation")
    mi.bar(x, [r["mean"]["i_nce"] for r in trained], 0.6,
           yerr=[r["std"]["i_nce"] for r in trained], color="tab:purple", capsize=3)  # fmt: skip
    mi.axhline(results["log_k"], color="grey", linewidth=1)
    mi.set(ylabel=f"I_NCE (nats; log K = {results['log_k']:.2f})", title="what the views share")
    for axis in (accuracy, position, mi):
        axis.set_xticks(list(x), labels, rotation=30, ha="right", fontsize=8)
    return atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100))


def _reference_lines(axis: Any, rows: dict[str, Any], key: str, colour: str) -> None:
    for name, style in ((BASELINE, "--"), (CHANCE, ":")):
        if name in rows and key in rows[name]["mean"]:
            axis.axhline(rows[name]["mean"][key], color=colour, linestyle=style, linewidth=1)
