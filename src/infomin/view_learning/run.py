"""What `infomin learn-views` writes: results, tables, trajectory CSVs, g files, pictures."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from infomin.experiments.statistics import mean_std
from infomin.outputs import command_line, write_json, write_text
from infomin.reports import markdown_table
from infomin.view_learning.compare import (
    LearnViewsConfig,
    ProgressFactory,
    comparison_table,
    config_dict,
    label_task,
    paired_table,
    run_comparison,
    trajectory_rows,
)
from infomin.view_learning.plots import plot_channels, plot_trajectory
from infomin.views.colorspaces import to_normalized_color_space
from infomin.views.flows import load_flow
from infomin.views.images import PHOTO_PATCHES, ImagePool, primary_metric_for

PROTOCOL = (
    "g (a pixel-wise invertible flow from the input colour space) is trained in the "
    "given mode; at every checkpoint g is frozen, fresh encoders f1, f2 are trained on "
    "its views (channel 1 vs channels 2:3) to maximise InfoNCE, held-out I_NCE is "
    "measured with K=256 candidates, and a linear probe is fitted on both encoders' "
    "concatenated frozen features (the fixed colour-space splits go through exactly the "
    "same engine). c1/c2 are the game's view classifiers: accuracy on the labelled "
    "subset they were trained on, and on held-out test images. mean ± std over seeds."
)


PAIRED = (
    "Paired differences, learned minus fixed split, per seed (same images, same evaluation "
    "seed); interval: Student-t on the per-seed differences. Verdict: positive / negative "
    "when the interval excludes 0, `no effect > 1` when it lies within ±1 point, else "
    "undecided (more seeds needed)."
)


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _log_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"mode": mode, "seed": run["seed"], **point}
        for mode, runs in results["learned"].items()
        for run in runs
        for point in run["log"]
    ]


_CHECK_KEYS = ("i_nce", "accuracy", "game_i_nce_test", "c1_labelled", "c1_test",
               "c2_labelled", "c2_test")  # fmt: skip


def trajectory_table(results: dict[str, Any]) -> str:
    """Per mode and checkpoint, means over seeds: the evaluation and the game's checks."""
    header = ["mode", "step", "I_NCE", "accuracy %", "game critics' I_NCE (held-out)",
              "c1 labelled %", "c1 held-out %", "c2 labelled %", "c2 held-out %"]  # fmt: skip
    rows = []
    for mode, runs in results["learned"].items():
        steps = [int(p["step"]) for p in runs[0]["trajectory"]]
        for i, step in enumerate(steps):
            points = [run["trajectory"][i] for run in runs]
            cells = [_mean(points, k) for k in _CHECK_KEYS]
            rows.append([mode, step, *cells])
    return markdown_table(header, rows)


def _mean(points: Sequence[dict[str, Any]], key: str) -> str:
    values = [float(p[key]) for p in points if key in p]
    return f"{mean_std(values)['mean']:.2f}" if values else ""


def _channel_maps(config: LearnViewsConfig, out: Path) -> dict[str, Callable]:
    maps: dict[str, Callable] = {}
    for space in config.fixed_spaces:
        maps[f"{space} (fixed)"] = lambda x, s=space: to_normalized_color_space(x.float() / 255, s)
    for mode in config.modes:
        flow = load_flow(out / f"g-{mode}.pt")
        maps[f"learned {mode}"] = lambda x, g=flow: g(
            to_normalized_color_space(x.float() / 255, g.config.input_space)
        )
    return maps


def _picture_images(config: LearnViewsConfig, count: int = 2) -> torch.Tensor:
    """Test images of different classes with the most varied colours (spatial spread of
    chroma and brightness): a flat patch shows nothing of a colour space. Larger than
    the training images (g is pixel-wise: any size works)."""
    if config.data == PHOTO_PATCHES:
        pool = ImagePool(PHOTO_PATCHES, size=48, photo_size=192)
    else:
        pool = config.pool()
    drawn = pool.images("test", 128, 0)
    labels = drawn.targets[label_task(config.data, drawn.tasks)]
    rgb = drawn.images.float()
    chroma = rgb - rgb.mean(dim=1, keepdim=True)  # colour without brightness
    colourfulness = chroma.std(dim=(2, 3)).sum(dim=1) + rgb.mean(dim=1).std(dim=(1, 2))
    chosen: list[int] = []
    for index in colourfulness.argsort(descending=True).tolist():
        if all(labels[index] != labels[other] for other in chosen):
            chosen.append(index)
        if len(chosen) == count:
            break
    return drawn.images[torch.tensor(chosen)]


def learn_views(
    config: LearnViewsConfig, out: Path, progress_factory: ProgressFactory | None = None,
    announce: Callable[[str], None] = print, workers: int = 1,
) -> dict[str, Any]:  # fmt: skip
    """Run the comparison and write every output under ``out``."""
    # config.yaml (the command's options, rerunnable) is written by the CLI before this.
    results = run_comparison(config, out, progress_factory, announce, workers)
    first = next(iter(results["learned"].values()))[0]
    metric = primary_metric_for(config.data) or next(k for k in first if k.endswith(".linear_top1"))
    k = int(first["num_candidates"])
    results.update(metric=metric, num_candidates=k, log_k=math.log(k), protocol=PROTOCOL,
                   config=config_dict(config), command=command_line())  # fmt: skip
    write_json(out / "results.json", results)
    write_text(out / "trajectory.csv", _csv(trajectory_rows(results)))
    write_text(out / "game_log.csv", _csv(_log_rows(results)))
    plot_trajectory(results, metric, math.log(k), out / "trajectory.png")
    plot_channels(_picture_images(config), _channel_maps(config, out), out / "channels.png")
    table = comparison_table(results, metric, math.log(k))
    paired = paired_table(results, metric)
    if paired:
        table += "\n\n" + PAIRED + "\n\n" + paired
    report = "\n\n".join([
        "# Learned views", f"`{command_line()}`", table,
        "## Along training (means over seeds)", trajectory_table(results),
        "![trajectory](trajectory.png)", "![channels](channels.png)", PROTOCOL,
    ])  # fmt: skip
    write_text(out / "report.md", report + "\n")
    results["table"] = table
    return results
