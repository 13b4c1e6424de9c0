"""Learned views against fixed colour spaces, measured the same way, over seeds.

Per seed and mode: play the game (`game.learn_view`), keep g at its checkpoints, and
evaluate each kept g as the paper does (step 4): freeze g, train *fresh* encoders on its
views with the pair engine (`run_pair_experiment`), report held-out I_NCE and the frozen
probe. The same engine with the same settings measures the fixed splits (RGB, YDbDr,
Lab), so every row of the table and every point of the trajectory is comparable.

Default data: photo-patches at 16 px (label = the photo), the setting of the README's
colour-space sweep, where the fixed spaces already trace a reverse-U (XYZ/RGB-like
splits share ~3 nats, the luminance/chroma splits ~1 nat, HED ~0.6): the learned views
can be placed on that curve. It is also the natural-image setting closest to the
paper's STL-10, and fast enough for three seeds in minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from infomin.experiments.mi import ProgressFactory, primary_metric
from infomin.experiments.pairs import (
    QUICK_CONFIG,
    QUICK_SIZES,
    CriticConfig,
    Sizes,
    run_pair_experiment,
)
from infomin.experiments.pool import report_progress, run_jobs
from infomin.experiments.statistics import interval_verdict, mean_std, paired_difference, pm
from infomin.reports import markdown_table
from infomin.view_learning.game import (
    DEFAULT_GAME,
    MODES,
    VARIANTS,
    GameConfig,
    GameData,
    game_data,
    learn_view,
)
from infomin.views.flows import DEFAULT_FLOW, FlowConfig, PixelFlow, save_flow
from infomin.views.images import DIGITS, PHOTO_PATCHES, ImagePool
from infomin.views.sources import LearnedViewSource
from infomin.views.specs import parse_view_spec


@dataclass(frozen=True)
class LearnViewsConfig:
    """Everything a `learn-views` run depends on (written to config.yaml)."""

    data: str = PHOTO_PATCHES
    data_dir: str | None = None
    size: int | None = 16
    photo_size: int | None = 96  # photo-patches only
    seeds: tuple[int, ...] = (0,)
    modes: tuple[str, ...] = ("semi-supervised",)
    fixed_spaces: tuple[str, ...] = ()  # colour spaces measured beside the learned views
    flow: FlowConfig = DEFAULT_FLOW
    game: GameConfig = DEFAULT_GAME  # its mode and seed are set per row and seed
    critic: CriticConfig = QUICK_CONFIG  # the fresh encoders of the evaluation (step 4)
    sizes: Sizes = QUICK_SIZES
    game_images: int | None = None  # training images of the game (None: sizes.train_pairs)
    notes: tuple[str, ...] = field(default=())

    def pool(self) -> ImagePool:
        photo = self.photo_size if self.data == PHOTO_PATCHES else None
        return ImagePool(self.data, self.data_dir, self.size, photo)

    def spec_suffix(self) -> str:
        """The size items a view spec needs to see the same images (``,size=16,...``)."""
        items = [f"size={self.size}"] if self.size else []
        if self.data == PHOTO_PATCHES and self.photo_size:
            items.append(f"photo_size={self.photo_size}")
        return "".join(f",{item}" for item in items)


def label_task(data: str, tasks: dict[str, Any]) -> str:
    """The label the view classifiers learn: the digit, the photo, else the first class task."""
    preferred = {DIGITS: "digit", PHOTO_PATCHES: "photo"}.get(data)
    if preferred in tasks:
        return str(preferred)
    for name, task in tasks.items():
        if task.kind == "classification":
            return str(name)
    raise ValueError(f"dataset {data!r} has no classification label for the view classifiers")


def load_game_data(config: LearnViewsConfig, seed: int) -> GameData:
    """The evaluation's own training and held-out images (same draw), with labels."""
    pool = config.pool()
    train = pool.images("train", config.game_images or config.sizes.train_pairs, seed)
    test = pool.images("test", config.sizes.test_pairs, seed)
    task = label_task(config.data, train.tasks)
    return game_data(
        train.images, train.targets[task], test.images, test.targets[task],
        int(train.tasks[task].num_classes or 0), config.flow.input_space,
        config.game.label_fraction, seed,
    )  # fmt: skip


def evaluate_views(source: Any, config: LearnViewsConfig, seed: int) -> dict[str, float]:
    """Step 4: fresh encoders trained on the (frozen) views, held-out I_NCE, probe."""
    metrics = run_pair_experiment(source, replace(config.critic, seed=seed), config.sizes)
    return {**metrics, "accuracy": metrics[primary_metric(source, metrics)]}


def run_fixed(config: LearnViewsConfig, space: str, seed: int) -> dict[str, Any]:
    """A fixed colour space split (channel 1 vs 2:3), measured like the learned views."""
    start = time.perf_counter()
    spec = f"colorspace:{space}{config.spec_suffix()}"
    source = parse_view_spec(spec, config.data, config.data_dir)
    metrics = evaluate_views(source, config, seed)
    return {"views": spec, "seed": seed, **metrics, "seconds": time.perf_counter() - start}


def run_learned(
    config: LearnViewsConfig, mode: str, seed: int, checkpoint_dir: Path | None,
    progress: Callable[[int, int], None] | None = None, evaluate_start: bool = True,
    final_path: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Learn g in ``mode``, evaluate it at every checkpoint; the final g is the row.

    ``evaluate_start=False`` leaves step 0 unevaluated: g starts as the identity, i.e.
    the input colour space split, which the comparison measures anyway (the caller
    fills it in). ``final_path``: where to save the final g as well.
    """
    began = time.perf_counter()
    if mode not in VARIANTS:
        raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(VARIANTS)}")
    game_mode, changes = VARIANTS[mode]
    game_config = replace(config.game, mode=game_mode, seed=seed, **changes)
    result = learn_view(load_game_data(config, seed), config.flow, game_config, progress)
    game_seconds = time.perf_counter() - began
    trajectory = []
    checks = {int(c["step"]): c for c in result.checks}
    meta = {"mode": mode, "seed": seed, "data": config.data, "size": config.size,
            "photo_size": config.photo_size, "input_space": config.flow.input_space}  # fmt: skip
    for step, state in result.checkpoints.items():
        flow = PixelFlow(config.flow)
        flow.load_state_dict(state)
        if checkpoint_dir is not None:
            path = checkpoint_dir / f"{mode}-seed{seed}-step{step:04d}.pt"
            save_flow(flow, path, {**meta, "step": step})
        metrics: dict[str, Any] = {}
        if step > 0 or evaluate_start:
            metrics = evaluate_views(LearnedViewSource(flow, config.pool()), config, seed)
        trajectory.append({"step": step, **_numbers(metrics), **checks.get(step, {})})
    if final_path is not None:
        save_flow(result.flow, final_path, {**meta, "step": game_config.steps})
    return {
        "views": f"learned ({mode})", "mode": mode, "seed": seed,
        **{k: v for k, v in trajectory[-1].items() if k != "step"},
        "trajectory": trajectory, "log": result.log,
        "game_seconds": game_seconds, "seconds": time.perf_counter() - began,
    }  # fmt: skip


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}


def _job(
    config: LearnViewsConfig, kind: str, name: str, seed: int, out: Path | None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[str, str, dict[str, Any]]:  # fmt: skip
    """One row of one seed: a fixed space, or a learned mode (in a worker or in-process)."""
    if kind == "fixed":
        return kind, name, run_fixed(config, name, seed)
    checkpoint_dir = out / "checkpoints" if out is not None else None
    first = out is not None and seed == config.seeds[0]
    final_path = out / f"g-{name}.pt" if first and out is not None else None
    evaluate_start = config.flow.input_space not in config.fixed_spaces
    run = run_learned(config, name, seed, checkpoint_dir, progress, evaluate_start, final_path)
    return kind, name, run


Done = list[tuple[str, str, dict[str, Any]]]  # (kind, name, run) of finished jobs


def _pool_job(
    config: LearnViewsConfig, kind: str, name: str, seed: int, out: Path | None
) -> tuple[str, str, dict[str, Any]]:
    """`_job` in the process pool: the game's progress goes back as (label, done, total)."""

    def report(done: int, total: int) -> None:
        report_progress(f"{name} seed {seed}", done, total)

    return _job(config, kind, name, seed, out, report if kind == "learned" else None)


class _Bars:
    """One progress bar per learned job, made when its first message arrives."""

    def __init__(self, factory: ProgressFactory | None) -> None:
        self.factory = factory
        self.bars: dict[str, Callable[[int, int], None]] = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.factory is None:
            return
        if label not in self.bars:
            self.bars[label] = self.factory(label)
        self.bars[label](done, total)


def run_comparison(
    config: LearnViewsConfig, out: Path | None = None,
    progress_factory: ProgressFactory | None = None,
    announce: Callable[[str], None] = lambda _: None, workers: int = 1,
) -> dict[str, Any]:  # fmt: skip
    """Every fixed space and learned mode for every seed; runs and the mean ± std rows.

    ``workers`` > 1 runs the (seed, row) jobs in that many spawned processes of one torch
    thread each (`infomin.experiments.pool`); in-process, each seed's fixed rows run
    before its learned ones. Every finished job is announced in one line.
    """
    if out is not None:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    jobs = [("learned", mode, seed) for seed in config.seeds for mode in config.modes]
    jobs += [("fixed", space, seed) for seed in config.seeds for space in config.fixed_spaces]
    if workers <= 1:
        jobs.sort(key=lambda job: (job[2], job[0] == "learned"))
    done: Done = run_jobs(
        _pool_job, [(config, *job, out) for job in jobs], workers, threads=None,
        on_message=_Bars(progress_factory), on_result=lambda _, result: announce(_line(result[2])),
    )  # fmt: skip
    return _collect(config, done)


def _collect(config: LearnViewsConfig, done: Done) -> dict[str, Any]:
    """Order the finished jobs by row and seed, fill in step 0, and summarise each row."""
    fixed = {space: _by_seed(done, "fixed", space) for space in config.fixed_spaces}
    learned = {mode: _by_seed(done, "learned", mode) for mode in config.modes}
    start = fixed.get(config.flow.input_space)
    for runs in learned.values():
        for i, run in enumerate(runs):
            if start is not None and "i_nce" not in run["trajectory"][0]:
                run["trajectory"][0].update(_numbers(start[i]))
                run["trajectory"][0].pop("seed", None)
                run["trajectory"][0].pop("seconds", None)
    rows = [_summary(f"{space} split", runs) for space, runs in fixed.items()]
    rows += [_summary(f"learned: {mode}", runs) for mode, runs in learned.items()]
    results = {"fixed": fixed, "learned": learned, "rows": rows}
    return {**results, "paired": paired_differences(results)}


# The paper's claims the comparison settles (issue 13): learned views beat the fixed
# split g starts from (unsupervised vs RGB) and the best fixed split (semi-supervised vs
# YDbDr). Each is a per-seed difference, learned minus fixed, on these metrics; the margin
# is the size of effect below which the interval may show "no effect" (accuracy: 1 point).
PAIRED_CLAIMS = (("semi-supervised", "ydbdr"), ("unsupervised", "rgb"))
PAIRED_METRICS: tuple[tuple[str, float | None], ...] = (("accuracy", 1.0), ("i_nce", None))


def paired_differences(results: dict[str, Any], confidence: float = 0.95) -> list[dict[str, Any]]:
    """Learned minus fixed, paired by seed, with its Student-t interval and verdict.

    Why paired: both rows of a seed see the same images and the same evaluation seed, so
    the per-seed difference cancels the draw's own luck, which the rows' std does not.
    Pairs whose rows were not run are left out.
    """
    out = []
    for mode, space in PAIRED_CLAIMS:
        learned, fixed = results["learned"].get(mode), results["fixed"].get(space)
        if not learned or not fixed:
            continue
        if [r["seed"] for r in learned] != [r["seed"] for r in fixed]:
            raise ValueError(f"{mode} and {space} were run on different seeds")
        for metric, margin in PAIRED_METRICS:
            paired = paired_difference([float(r[metric]) for r in learned],
                                       [float(r[metric]) for r in fixed], confidence)  # fmt: skip
            out.append({
                "row": f"learned: {mode}", "reference": f"{space} split", "metric": metric,
                "margin": margin, **paired, "seeds": [r["seed"] for r in learned],
                "verdict": interval_verdict(paired["interval"], margin),
            })  # fmt: skip
    return out


def paired_table(results: dict[str, Any], metric_name: str) -> str:
    """One row per claim and metric: mean difference, its interval, seeds above 0, verdict
    ("" when no pair of rows was run)."""
    if not results["paired"]:
        return ""
    level = f"{100 * results['paired'][0]['confidence']:g}% CI"
    header = ["learned minus fixed", "metric", "mean difference", level, "seeds > 0", "verdict"]
    rows = []
    for pair in results["paired"]:
        name = metric_name + " (points)" if pair["metric"] == "accuracy" else "I_NCE (nats)"
        digits = 1 if pair["metric"] == "accuracy" else 2
        interval = pair["interval"]
        ci = f"[{interval[0]:+.{digits}f}, {interval[1]:+.{digits}f}]" if interval else ""
        above = sum(d > 0 for d in pair["per_seed"])
        rows.append([f"{pair['row']} - {pair['reference']}", name,
                     f"{pair['difference']:+.{digits}f}", ci,
                     f"{above} / {len(pair['per_seed'])}", pair["verdict"]])  # fmt: skip
    return markdown_table(header, rows)


def _by_seed(done: Done, kind: str, name: str) -> list[dict[str, Any]]:
    runs = [run for k, n, run in done if k == kind and n == name]
    return sorted(runs, key=lambda run: run["seed"])


def _line(run: dict[str, Any]) -> str:
    return (f"{run['views']} seed {run['seed']}: I_NCE {run['i_nce']:.2f}, "
            f"accuracy {run['accuracy']:.1f}%, {run['seconds']:.0f} s")  # fmt: skip


_SUMMARY_KEYS = ("i_nce", "accuracy", "game_i_nce_test", "c1_test", "c2_test",
                 "c1_labelled", "c2_labelled", "seconds")  # fmt: skip


def _summary(label: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    stats = {k: mean_std([float(r[k]) for r in runs]) for k in _SUMMARY_KEYS if k in runs[0]}
    return {"views": label, "seeds": len(runs), **stats}


def comparison_table(results: dict[str, Any], metric: str, log_k: float) -> str:
    """One row per views: I_NCE, headline accuracy, the view classifiers' held-out checks."""
    header = ["views", f"I_NCE (K=256, log K={log_k:.2f})", f"{metric} %",
              "c1 / c2 held-out %", "c1 / c2 on labelled %", "seconds"]  # fmt: skip
    rows = []
    for row in results["rows"]:
        held = " / ".join(pm(row[k], 1) for k in ("c1_test", "c2_test") if k in row)
        labelled = " / ".join(pm(row[k], 1) for k in ("c1_labelled", "c2_labelled") if k in row)
        rows.append([row["views"], pm(row["i_nce"]), pm(row["accuracy"], 1), held, labelled,
                     pm(row["seconds"], 0)])  # fmt: skip
    return markdown_table(header, rows)


def trajectory_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows (mode, seed, step, metrics...) of every learned run's trajectory (the CSV)."""
    rows = []
    for mode, runs in results["learned"].items():
        for run in runs:
            rows += [{"mode": mode, "seed": run["seed"], **point} for point in run["trajectory"]]
    return rows


def config_dict(config: LearnViewsConfig) -> dict[str, Any]:
    return asdict(config)


__all__ = [
    "MODES",
    "LearnViewsConfig",
    "comparison_table",
    "paired_table",
    "run_comparison",
    "trajectory_rows",
]
