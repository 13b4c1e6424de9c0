"""Sweeps over views: I_NCE and downstream accuracy per setting, the reverse-U, its shape.

Why: InfoMin's central claim is about a *curve*: plotted against the I_NCE of the views,
downstream accuracy rises while nuisance information is removed and falls once task
information goes too (a reverse-U). A sweep varies one parameter of a view spec
(`infomin.views.specs.with_param`), runs `estimate_mi` at each setting (train the
critics on the pairs, held-out I_NCE, probe the task), and writes:

- ``results.csv``: one row per (setting, seed). Columns: ``setting`` (the parameter's
  value as written in the spec, or the label given), ``value`` (numeric when it is),
  ``seed``, ``i_nce`` (nats), ``K`` (candidates per held-out query), ``log_K`` (the
  ceiling of ``i_nce``), ``accuracy`` (the headline probe metric, named in
  results.json's ``metric``, in %), ``views`` (the full spec), every probe key
  (``photo.linear_top1``, ``photo.knn_top1``, ...) and ``seconds``.
- ``results.json``: the same runs, the mean and std per setting, what was run, the
  protocol, and ``shape``: whether I_NCE falls monotonically along the given order and
  where accuracy peaks (along the given order and along I_NCE).
- ``reverse_u.png`` (accuracy vs I_NCE, error bars over seeds on both axes, log K as a
  vertical line) and ``vs_parameter.png`` (accuracy and I_NCE against the parameter).

With the pair engine the critics *are* the pretrained encoders: "estimate I_NCE" and
"pretrain" are one training run per seed, and the probe reads the same encoders.

Named experiments (`EXPERIMENTS`) fix views, parameter, values, sizes and the critic so
that each finishes in a few minutes on 2 CPU cores (patch-distance-hires: about 25; it
reads the high-resolution photos of its `data_dir` unless `--data-dir` names others).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infomin.data.photos import HIRES_DIR
from infomin.experiments.mi import PROTOCOL, ProgressFactory, estimate_mi
from infomin.experiments.pairs import QUICK_CONFIG, QUICK_SIZES, CriticConfig, Sizes
from infomin.experiments.statistics import pm
from infomin.outputs import write_json, write_text
from infomin.reports import markdown_table
from infomin.views.pairs import PairSource
from infomin.views.specs import parse_spec, parse_view_spec, with_param

CSV_COLUMNS = ("setting", "value", "seed", "i_nce", "K", "log_K", "accuracy", "views")


def run_sweep(
    sources_by_label: Mapping[str, PairSource],
    critic_config: CriticConfig,
    sizes: Sizes,
    seeds: Sequence[int],
    progress_factory: ProgressFactory | None = None,
    *,
    parameter: str | None = None,
    baseline: bool = True,
) -> dict[str, Any]:
    """`estimate_mi` at every setting, in the given order (weakest to strongest views).

    Returns the dict written to results.json (see the module docstring); ``parameter``
    names what the labels are values of (None for a free list of views); ``baseline``
    also probes untrained critics at each setting (`random_init`, first seed).
    """
    if not sources_by_label:
        raise ValueError("a sweep needs at least one setting")
    start = time.perf_counter()
    settings = []
    for label, source in sources_by_label.items():
        result = estimate_mi(source, critic_config, sizes, seeds, progress_factory, baseline)
        settings.append({"setting": label, "value": _numeric(label), **result})
    metrics = {s["metric"] for s in settings}
    results = {
        "parameter": parameter,
        "metric": settings[0]["metric"] if len(metrics) == 1 else "accuracy",
        "num_candidates": settings[0]["num_candidates"],
        "log_k": settings[0]["log_k"],
        "settings": settings,
        "seeds": list(seeds),
        "critic_config": asdict(critic_config),
        "sizes": asdict(sizes),
        "protocol": PROTOCOL,
        "elapsed_s": time.perf_counter() - start,
    }
    results["shape"] = describe_shape(results)
    return results


def _numeric(label: str) -> float | str:
    try:
        return float(label)
    except ValueError:
        return label


# ---------------------------------------------------------------------------------
# Shape of the curve
# ---------------------------------------------------------------------------------


def _profile(
    means: Sequence[float], stds: Sequence[float], labels: Sequence[str], seeds: int
) -> str:
    """Words for a sequence of means: rising, falling, interior maximum at X, or mixed.

    An interior maximum also says whether it beats both ends by more than the combined
    spread (sqrt(s_peak^2 + s_end^2)): the reverse-U is "clear" only then, and never
    with a single seed (no spread to compare with).
    """
    if len(means) < 3:
        return "rising" if means[-1] > means[0] else "falling"
    steps = [b - a for a, b in itertools.pairwise(means)]
    if all(d >= 0 for d in steps):
        return "rising (monotone)"
    if all(d <= 0 for d in steps):
        return "falling (monotone)"
    peak = max(range(len(means)), key=lambda i: means[i])
    if not 0 < peak < len(means) - 1:
        return f"mixed (maximum at the end {labels[peak]})"
    ends = (0, len(means) - 1)
    margins = [means[peak] - means[e] for e in ends]
    if seeds < 2:
        verdict = "spread unknown with 1 seed"
    else:
        noise = [math.hypot(stds[peak], stds[e]) for e in ends]
        clear = all(m > n for m, n in zip(margins, noise, strict=True))
        verdict = "clear" if clear else "within the spread"
    return (
        f"interior maximum at {labels[peak]} (reverse-U, {verdict}: "
        f"+{margins[0]:.1f} / +{margins[1]:.1f} over the ends)"
    )


def describe_shape(results: Mapping[str, Any]) -> dict[str, Any]:
    """Is I_NCE monotone along the given order, and how does accuracy move?"""
    settings = results["settings"]
    labels = [s["setting"] for s in settings]
    i_nce = [s["summary"]["i_nce"]["mean"] for s in settings]
    acc = [s["summary"]["accuracy"]["mean"] for s in settings]
    acc_std = [s["summary"]["accuracy"]["std"] for s in settings]
    seeds = len(results["seeds"])
    by_i_nce = sorted(range(len(settings)), key=lambda i: -i_nce[i])  # high I_NCE first
    return {
        "ladder": all(isinstance(s["value"], int | float) for s in settings),
        "i_nce_falls_monotonically": all(b < a for a, b in itertools.pairwise(i_nce)),
        "accuracy_along_order": _profile(acc, acc_std, labels, seeds),
        "accuracy_along_falling_i_nce": _profile(
            [acc[i] for i in by_i_nce],
            [acc_std[i] for i in by_i_nce],
            [labels[i] for i in by_i_nce],
            seeds,
        ),
        "best_setting": labels[max(range(len(acc)), key=lambda i: acc[i])],
    }


# ---------------------------------------------------------------------------------
# Tables and files
# ---------------------------------------------------------------------------------


def sweep_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One flat row per (setting, seed): the CSV's rows."""
    rows = []
    for setting in results["settings"]:
        for run in setting["runs"]:
            probes = {k: v for k, v in run.items() if "." in k}
            rows.append(
                {
                    "setting": setting["setting"],
                    "value": setting["value"],
                    "seed": run["seed"],
                    "i_nce": run["i_nce"],
                    "K": int(run["num_candidates"]),
                    "log_K": run["log_k"],
                    "accuracy": run["accuracy"],
                    "views": setting["views"],
                    **probes,
                    "seconds": run["seconds"],
                }
            )
    return rows


def rows_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    columns = list(CSV_COLUMNS)
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def sweep_table(results: Mapping[str, Any]) -> str:
    """Markdown: one row per setting, mean ± std over seeds."""
    k, log_k = results["num_candidates"], results["log_k"]
    first = results["settings"][0]["summary"]
    probes = [key for key in first if "." in key and key != results["metric"]]
    header = [
        results["parameter"] or "views",
        f"I_NCE (K={k}, log K={log_k:.2f})",
        f"{results['metric']} %",
        *probes,
        "seconds",
    ]
    rows = [
        [s["setting"], pm(s["summary"]["i_nce"]), pm(s["summary"]["accuracy"], 1),
         *(pm(s["summary"][p], 1) for p in probes), f"{s['seconds']:.0f}"]
        for s in results["settings"]
    ]  # fmt: skip
    if all("random_init" in s for s in results["settings"]):
        header.insert(3, "random-init %")
        for row, s in zip(rows, results["settings"], strict=True):
            row.insert(3, f"{s['random_init']['accuracy']:.1f}")
    return markdown_table(header, rows)


def shape_lines(results: Mapping[str, Any]) -> list[str]:
    """The shape in words; the order-based lines only for a numeric ladder."""
    shape = results["shape"]
    lines = [f"accuracy as I_NCE falls: {shape['accuracy_along_falling_i_nce']}"]
    if shape["ladder"]:
        falls = "yes" if shape["i_nce_falls_monotonically"] else "no"
        lines = [
            f"I_NCE falls monotonically along the ladder: {falls}",
            f"accuracy along the ladder: {shape['accuracy_along_order']}",
            *lines,
        ]
    return lines


def write_sweep(results: Mapping[str, Any], out: Path) -> list[Path]:
    """results.json, results.csv, reverse_u.png, vs_parameter.png and table.md in ``out``."""
    from infomin.experiments.plots import save_reverse_u, save_vs_parameter

    table = "\n".join([sweep_table(results), "", *shape_lines(results), ""])
    return [
        write_json(out / "results.json", results),
        write_text(out / "results.csv", rows_to_csv(sweep_rows(results))),
        write_text(out / "table.md", table),
        save_reverse_u(results, out / "reverse_u.png"),
        save_vs_parameter(results, out / "vs_parameter.png"),
    ]


# ---------------------------------------------------------------------------------
# Named experiments
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NamedExperiment:
    """A sweep runnable by name: views, the parameter varied, its values, the sizes."""

    name: str
    views: str
    vary: str
    values: tuple[str, ...]
    description: str
    data: str | None = None
    config: CriticConfig = QUICK_CONFIG
    sizes: Sizes = QUICK_SIZES
    seeds: int = 3
    notes: tuple[str, ...] = field(default=())
    data_dir: str | None = None  # the folder read when --data-dir is not given


ELEVEN_SPACES = ("lab", "ycbcr", "ydbdr", "yuv", "yiq", "ypbpr", "xyz", "hsv", "hed", "luv",
                 "rgbcie")  # fmt: skip

EXPERIMENTS: dict[str, NamedExperiment] = {
    "colorspaces": NamedExperiment(
        "colorspaces",
        "colorspace:lab,size=16,photo_size=96",
        "space",
        ELEVEN_SPACES,
        "first channel vs the other two in the 11 colour spaces of the CMC code, on "
        "photo-patches (label: the photo); probe on both encoders' features",
    ),
    "patch-distance": NamedExperiment(
        "patch-distance",
        "patches:distance=0,size=16,photo_size=96",
        "distance",
        ("0", "2", "4", "8", "16", "32", "64"),
        "two 16 px patches of one photo (short side 96 px) at growing centre distance; "
        "probe f1 on single patches (label: the photo)",
    ),
    "patch-distance-hires": NamedExperiment(
        "patch-distance-hires",
        "patches:distance=0,size=32,photo_size=1024",
        "distance",
        ("0", "4", "16", "32", "64", "128", "256", "512"),
        "two 32 px patches of one high-resolution photo (short side 1024 px; by default the "
        f"12 nature photos of Debian's mate-backgrounds in {HIRES_DIR}) at centre distance "
        "0..512 px; probe f1 on single patches (label: the photo); about 25 min",
        data_dir=str(HIRES_DIR),
    ),
    "jitter": NamedExperiment(
        "jitter",
        "recipe:B,size=16,photo_size=96",
        "jitter_strength",
        ("0", "0.5", "1", "2", "3", "4"),
        "recipe B (MoCo v2) with colour-jitter strength 0..4 (x (0.4, 0.4, 0.4, 0.1)) on "
        "16 px photo-patches; probe f1 on un-augmented patches",
    ),
    "crop": NamedExperiment(
        "crop",
        "recipe:B,size=16,photo_size=96",
        "crop_scale",
        ("1", "0.6", "0.4", "0.2", "0.1", "0.05"),
        "recipe B (MoCo v2) with crop lower bound 1..0.05 on 16 px photo-patches; probe "
        "f1 on un-augmented patches",
    ),
    "blur": NamedExperiment(
        "blur",
        "recipe:B,blur_p=1,blur_kernel_fraction=0.5,size=16,photo_size=96",
        "blur_sigma",
        ("0.1", "0.5", "1", "2", "4"),
        "recipe B with Gaussian blur always on (9x9 kernel) and its sigma's upper bound "
        "0.1..4 px on 16 px photo-patches; probe f1 on un-augmented patches",
    ),
    "randaugment": NamedExperiment(
        "randaugment",
        "recipe:D,size=16,photo_size=96",
        "randaugment_magnitude",
        ("0", "2.5", "5", "7.5"),
        "recipe D (InfoMin Aug) with RandAugment magnitude 0..7.5 (timm's increasing ops) "
        "on 16 px photo-patches; probe f1 on un-augmented patches",
    ),
    "toy-ladder": NamedExperiment(
        "toy-ladder",
        "toy:ladder=0",
        "ladder",
        ("0", "0.5", "1", "1.5", "2"),
        "the toy ladder on colorful-moving-digits: s=0 digit and background shared, up to "
        "1 the background stops being shared, past 1 the shared digit is replaced (colour "
        "kept); probe f2 on single frames (digit accuracy)",
        config=CriticConfig(width=0.25, pool_size=2, epochs=6, batch_size=128, lr=3e-3),
        sizes=Sizes(train_pairs=3072, test_pairs=1024, probe_train=2000, probe_test=1000),
    ),
}


def experiment_names() -> str:
    return ", ".join(EXPERIMENTS)


def get_experiment(name: str) -> NamedExperiment:
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of: {experiment_names()}")
    return EXPERIMENTS[name]


def ladder_sources(
    views: str, vary: str, values: Sequence[object], data: str | None = None,
    data_dir: str | None = None,
) -> dict[str, PairSource]:  # fmt: skip
    """Label (the value as the canonical spec writes it) -> source, in the given order."""
    sources: dict[str, PairSource] = {}
    for value in values:
        spec = with_param(views, vary, value)
        label = dict(parse_spec(spec).params)[vary]
        if label in sources:
            raise ValueError(f"value {value!r} of {vary} is given twice")
        sources[label] = parse_view_spec(spec, data, data_dir)
    return sources
