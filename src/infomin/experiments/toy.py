"""The Colorful-Moving-MNIST table: what a contrastive encoder learns from what views share.

Why: the paper's toy shows that only the shared factors are learned, and that a shared
background is a shortcut that suppresses the digit. The toy is a pair source plus its
claims: each row is `infomin.experiments.pairs.run_pair_experiment` (the engine of every
view experiment) on `ToyPairSource` pairs sharing one set of factors, which trains the
two critics, measures held-out I_NCE and probes f2's frozen features (linear digit and
background accuracy, position error of a ridge probe) on single frames of held-out digit
images and photo regions. A random-init encoder of the same architecture, probed the
same way, is the baseline the claims are measured against; chance is the floor. Rows may
also be points of the toy ladder (`ladder=S`, see `infomin.views.toy`).

The table's markdown and plot are `infomin.experiments.toy_report`, its claims
`infomin.experiments.toy_claims`.

Speed: the prototype (width-32 convnet, 6,000 pairs, 8 epochs) took 80 s a row on 2
cores. Here (measured, see `TOY_CRITIC`, `TOY_SIZES`): a quarter-width convnet (8 base
channels), 4,096 pairs, 16 epochs (8 for `quick_config`), linear probes only (no kNN),
probe sets rendered once per seed and shared by all rows. The (row, seed) jobs are
independent, so they run in `workers` processes of `threads` torch threads each
(default 2 x 1): small convolutions
parallelise badly inside one op, and on a busy 2-core machine two intra-op threads cost
up to 8x the time of one per step (measured), while two single-threaded processes
keep both cores busy. Measured on 2 cores shared with other jobs: the single-frame table
cost 485 CPU-s (12.7 min wall), the sequence table with free colour (the defaults) 596
CPU-s (11.5 min wall); `quick_config` is one seed of the same training budget.

Pooling: the backbone keeps a 2 x 2 map (`pool_size=2`). Global pooling (1 x 1) threw
position away: random-init position error 3.1 px vs 2.5 px, position-sharing row
0.94 px vs 0.70 px; a 4 x 4 map was no better than 2 x 2 (one seed, full sizes). Views,
colour, width, pooling and epochs were measured against each other in
`docs/toy-investigation.md`.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from infomin.data.moving_digits import RenderConfig
from infomin.evaluate.protocol import chance_levels
from infomin.experiments.pairs import (
    CriticConfig,
    Sizes,
    initial_critics,
    probe_critics,
    run_pair_experiment,
)
from infomin.experiments.pool import report_progress, run_jobs
from infomin.experiments.statistics import summarize
from infomin.experiments.toy_claims import BASELINE, check_claims
from infomin.progress import ProgressCallback
from infomin.views.pairs import ProbeSet
from infomin.views.toy import (
    COLOURS,
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


# The critics of the toy: a quarter-width convnet (8 base channels) keeping a 2 x 2 map.
# 16 epochs: at 8, digit-only critics stalled on one seed of three (held-out I_NCE 1.5 vs
# 2.6) and the digit-only claim did not clear the seed spread; at 16 they led position-only
# on every seed (docs/toy-investigation.md). `quick_config` (the demo) keeps 8.
TOY_CRITIC = CriticConfig(
    backbone="convnet", width=0.25, pool_size=2, embed_dim=64, temperature=0.1, epochs=16,
    batch_size=128, lr=3e-3,
)  # fmt: skip
QUICK_EPOCHS = 8
TOY_SIZES = Sizes(train_pairs=4096, test_pairs=1024, probe_train=3000, probe_test=1000,
                  test_batch=256)  # fmt: skip
# Frames of v1's clip by default (the paper: "a few frames"; v2 is the next frame).
V1_FRAMES = 3
# Keys of one (row, seed) run besides `seed` and `seconds` (log K is the table's).
NOT_PER_ROW = ("log_k", "num_candidates")


@dataclass(frozen=True)
class ToyConfig:
    """Everything that decides the table; the defaults are the full 3-seed run.

    Attributes:
        rows: Row names (`canonical_row`), in table order.
        seeds: Seeds per row, from ``first_seed`` on.
        canvas, digit_size, dim: The frames (`infomin.data.moving_digits.RenderConfig`).
        v1_frames: Frames of v1's clip, stacked along channels for f1 (the paper's
            sequence view); v2 is the clip's next frame. 1 = the single-frame variant
            (v2 at v1's instant), which the demo uses.
        colour: "free" (each view draws its digit's colour; the default, see
            `docs/toy-investigation.md`) or "digit" (the colour goes with the digit).
        critic: The critics and their training (its ``seed`` is each run's seed).
        sizes: Pairs and probe frames per split, K of the held-out I_NCE.
        workers: Processes for the (row, seed) jobs; 1 = in this process.
        threads: Torch threads per worker.
    """

    rows: tuple[str, ...] = ROWS
    seeds: int = 3
    first_seed: int = 0
    canvas: int = 32
    digit_size: int = 20
    dim: float = 0.6
    v1_frames: int = V1_FRAMES
    colour: str = "free"
    critic: CriticConfig = TOY_CRITIC
    sizes: Sizes = TOY_SIZES
    workers: int = 2
    threads: int = 1

    def __post_init__(self) -> None:
        counts = {"seeds": self.seeds, "workers": self.workers, "threads": self.threads,
                  "v1_frames": self.v1_frames,
                  "epochs": self.critic.epochs, "batch_size": self.critic.batch_size,
                  "pool_size": self.critic.pool_size, **asdict(self.sizes)}  # fmt: skip
        for name, value in counts.items():
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if self.sizes.train_pairs < self.critic.batch_size:
            raise ValueError(f"train_pairs ({self.sizes.train_pairs}) must be >= batch_size")
        if self.sizes.test_pairs < self.sizes.test_batch:
            raise ValueError(f"test_pairs ({self.sizes.test_pairs}) must be >= test_batch")
        if not self.rows:
            raise ValueError("need at least one row")
        if self.colour not in COLOURS:
            raise ValueError(f"colour must be one of {', '.join(COLOURS)}, got {self.colour!r}")
        object.__setattr__(self, "rows", tuple(canonical_row(row) for row in self.rows))
        if len(set(self.rows)) != len(self.rows):
            raise ValueError(f"rows repeat: {', '.join(self.rows)}")
        RenderConfig(self.canvas, self.digit_size, self.dim)  # validates the sizes

    @property
    def render(self) -> RenderConfig:
        return RenderConfig(self.canvas, self.digit_size, self.dim)

    def source(self, row: str) -> ToyPairSource:
        """The pair source of a (canonical) row name."""
        frames = {"v1_frames": self.v1_frames, "colour": self.colour}
        if row.startswith(LADDER_PREFIX):
            step = float(row.removeprefix(LADDER_PREFIX))
            return _ToyRow("digit+background", self.canvas, self.digit_size, self.dim, step,
                           **frames)  # fmt: skip
        return _ToyRow(row, self.canvas, self.digit_size, self.dim, **frames)

    @property
    def channels(self) -> tuple[int, int]:
        """Input channels of f1 (v1's stacked frames) and f2 (one frame)."""
        return (3 * self.v1_frames, 3)


def quick_config(**changes: Any) -> ToyConfig:
    """One seed, 8 epochs (half the table's), smaller probe sets: a few minutes on 2 cores.

    Why not fewer epochs (6 on 3,072 pairs, before the views drew their own colours): with
    free colour only the shape links digit-only views, and at that budget their critics
    had barely started (held-out I_NCE 0.64 on seed 0), so the claims failed (measured).
    """
    quick = {"seeds": 1, "sizes": replace(TOY_SIZES, probe_train=2000),
             "critic": replace(TOY_CRITIC, epochs=QUICK_EPOCHS)}  # fmt: skip
    return replace(ToyConfig(), **{**quick, **changes})


# --- one (row, seed) job: the engine of `infomin.experiments.pairs` ----------------------


@functools.lru_cache(maxsize=6)
def _shared_probe_set(render: RenderConfig, split: str, n: int, seed: int) -> ProbeSet:
    return toy_probe_set(render, split, n, seed)


class _ToyRow(ToyPairSource):
    """A row's pairs; its probe frames are rendered once per process and shared by every
    row and the baseline (they do not depend on what the views share)."""

    def probe_set(self, split: str, n: int, seed: int) -> ProbeSet:
        return _shared_probe_set(self.config, split, n, seed)


def run_job(
    config: ToyConfig, row: str, seed: int, progress: ProgressCallback | None = None
) -> dict[str, float]:
    """Metrics of one row (or the random-init baseline) for one seed, with its seconds.

    A row is `run_pair_experiment` on its source (linear probes only); the baseline probes
    the same architecture untrained, initialised as that row's critics start.
    """
    begin = time.perf_counter()
    critic = replace(config.critic, seed=seed)
    if row == BASELINE:
        # Initialised exactly as every row's critics start (f1's channels included).
        untrained = initial_critics(config.channels, config.canvas, critic).eval()
        # Any row's probe frames: they do not depend on what the views share.
        probes = _ToyRow(frozenset(), config.canvas, config.digit_size, config.dim)
        metrics = probe_critics(untrained, probes, config.sizes, seed, use_knn=False)
        if progress is not None:
            progress(1, 1)
    else:
        found = run_pair_experiment(config.source(row), critic, config.sizes, progress,
                                    use_knn=False)  # fmt: skip
        metrics = {k: v for k, v in found.items() if k not in NOT_PER_ROW}
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
        self.bars = {row: factory(f"{row_title(row)}") for row in rows} if factory else {}
        self.done: dict[Job, int] = {}
        self.seeds = config.seeds

    def __call__(self, row: str, seed: int, done: int, total: int) -> None:
        self.done[(row, seed)] = done
        if row in self.bars:
            finished = sum(v for (r, _), v in self.done.items() if r == row)
            self.bars[row](finished, total * self.seeds)


def row_title(row: str) -> str:
    """A row's name as the table shows it (`all three` for the three factors)."""
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
        _shared_probe_set.cache_clear()  # the in-process runner's probe frames: free them
    rows = [_row(config, name, [done[(name, seed)] for seed in seeds]) for name in names]
    rows.append(_chance_row(config, seeds[0]))
    return {
        "config": asdict(config),
        "seeds": seeds,
        "num_candidates": config.sizes.test_batch,
        "log_k": math.log(config.sizes.test_batch),
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
    _, train = toy_probe_targets(config.render, "train", config.sizes.probe_train, seed)
    _, test = toy_probe_targets(config.render, "test", config.sizes.probe_test, seed)
    chance = chance_levels(TOY_TASKS, train, test)
    return {"name": CHANCE, "kind": "chance", "shared": [], "per_seed": [chance],
            "mean": dict(chance), "std": dict.fromkeys(chance, 0.0)}  # fmt: skip
