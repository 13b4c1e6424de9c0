"""Render `BENCHMARKS.md` from `bench/results/*.json`: every number comes from a run.

Each section names the command that produced it and the machine it ran on (both read
from the JSON), so a reader can rerun any line; nothing here is typed by hand.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR
from infomin.outputs import write_text

ROOT = Path(__file__).resolve().parent.parent
GOALS = {
    "step_vs_lightly": 1.0,
    "step_vs_bare": 1.10,
    "probe_speedup": 10.0,
    "probe_gap_points": 0.5,
    # Whole epochs (bench/epoch.py): samples/s over the bare backbone's, per method.
    "epoch_vs_bare": {"simclr": 0.8, "mocov2": 0.7, "infomin": 0.7},
    "epoch_vs_lightly": 1.5,
    "epoch_peak_growth": 1.25,
}


METHOD_ORDER = ("simclr", "mocov2", "infomin")


def ordered(rows: dict[str, Any], order: tuple[str, ...]) -> list[tuple[str, Any]]:
    """JSON keys come back sorted; tables follow the methods' usual order instead."""
    rank = {name: i for i, name in enumerate(order)}
    return sorted(rows.items(), key=lambda kv: (rank.get(kv[0], len(order)), kv[0]))


def load(results: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(results.glob("*.json"))}


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def provenance(r: dict) -> list[str]:
    m = r["machine"]
    where = f"{m['cpu']}, {m['cores']} cores, torch {m['torch']}, python {m['python']}"
    if "gpu" in m:
        where += f", GPU {m['gpu']}"
    threads = m["torch_threads"]
    return [
        f"Command: `{r['command']}` ({r['wall_s']:.0f} s, {r['date_utc']} UTC)  ",
        f"Machine: {where}, {threads} torch thread{'s' if threads > 1 else ''}",
        "",
    ]


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def with_spread(ratio: float, quartiles: list[float] | None) -> str:
    if not quartiles:
        return f"{ratio:.2f}x"
    return f"{ratio:.2f}x ({quartiles[0]:.2f}-{quartiles[1]:.2f})"


def step_verdict(worst: tuple[str, dict], key: str, goal: float) -> str:
    """Met or not by the median; says so when the miss is inside the rounds' spread."""
    name, m = worst
    text = f"{verdict(m[key] <= goal)} (worst: {name} {m[key]:.2f}x"
    low = (m.get(f"{key}_quartiles") or [m[key]])[0]
    if m[key] > goal >= low:
        text += ", within the per-round spread of this machine"
    return text + ")"


def step_section(r: dict) -> list[str]:
    s = r["settings"]
    rows = [
        [
            name,
            with_spread(m["vs_lightly"], m.get("vs_lightly_quartiles")),
            with_spread(m["vs_bare"], m.get("vs_bare_quartiles")),
            f"{m['lightly_vs_bare']:.2f}x",
            f"{m['times']['ours']['median_ms']:.0f}",
        ]
        for name, m in ordered(r["methods"], METHOD_ORDER)
    ]
    worst_lightly = max(r["methods"].items(), key=lambda kv: kv[1]["vs_lightly"])
    worst_bare = max(r["methods"].items(), key=lambda kv: kv[1]["vs_bare"])
    return [
        "## 1. Training step",
        "",
        f"{s['backbone']} at {s['image_size']} px, batch {s['batch_size']}, "
        f"{s['threads']} thread(s), lightly {s['lightly']}; median of {s['rounds']} "
        f"alternating rounds of {s['steps_per_round']} steps. Time ratios (< 1: ours faster), "
        "median over rounds (quartiles of the per-round ratios).",
        "",
        *table(["method", "ours / lightly", "ours / bare", "lightly / bare", "ours ms/step"], rows),
        f"Goals: ours / lightly <= {GOALS['step_vs_lightly']:.2f}x: "
        f"{step_verdict(worst_lightly, 'vs_lightly', GOALS['step_vs_lightly'])}; "
        f"ours / bare <= {GOALS['step_vs_bare']:.2f}x: "
        f"{step_verdict(worst_bare, 'vs_bare', GOALS['step_vs_bare'])}.",
        "",
        *provenance(r),
    ]


def data_section(r: dict) -> list[str]:
    rows = []
    for size, d in sorted(r["sizes"].items(), key=lambda kv: int(kv[0])):
        rate = d["images_per_s"]
        shares = d["recipe_d_step_shares"]
        top = max(shares, key=shares.__getitem__)
        rows.append(
            [
                f"{size} px",
                f"{rate['ours-D']:.0f}",
                f"{rate['v2-D']:.0f}",
                with_spread(d["ours_vs_v2"], d.get("ours_vs_v2_quartiles")),
                f"{shares.get('PILRandAugment', 0):.0%}",
                f"{top} {shares[top]:.0%}",
                f"{rate['ours-D-torchvision-blur']:.0f} ({d['separable_blur_speedup']:.2f}x)",
                f"{rate['batched-B']:.0f} ({d['batched_B_speedup']:.1f}x)",
                f"{rate['ours-infomin-sample']:.0f}",
                d["workers_per_1000_samples_per_s"],
            ]
        )
    header = [
        "size",
        "ours D img/s",
        "v2 D img/s",
        "ours / v2 time",
        "RandAugment share of D",
        "slowest step",
        "D with torchvision's blur img/s (separable speedup)",
        "batched B img/s (vs per-image)",
        "infomin samples/s",
        "workers per 1000 samples/s",
    ]
    lines = [
        "## 2. Data pipeline",
        "",
        f"Per worker ({r['settings']['threads']} thread), median of {r['settings']['rounds']} "
        "alternating rounds. D = InfoMin Aug; an infomin sample = two D crops + jigsaw patches.",
        "",
        *table(header, rows),
    ]
    starve = r.get("starvation")
    if starve:
        lines += [
            f"Starvation at {starve['image_size']} px: the infomin step consumes "
            f"{starve['samples_per_s']:.0f} samples/s ({starve['threads']} thread), one worker "
            f"makes {starve['worker_samples_per_s']:.0f}: {starve['workers_needed']:.2f} "
            "workers needed.",
            "",
        ]
    return [*lines, *provenance(r)]


def probe_section(r: dict) -> list[str]:
    c, ref, s = r["cached"], r["reference"], r["settings"]
    ok = (
        r["speedup"] >= GOALS["probe_speedup"]
        and r["top1_gap_points"] >= -GOALS["probe_gap_points"]
    )
    reference = f"reference ({ref['epochs']} epochs, augmented)"
    rows = [
        ["cached features + L-BFGS (ours)", f"{c['seconds']:.1f}", f"{c['top1']:.1f}"],
        [reference, f"{ref['seconds']:.1f}", f"{ref['top1']:.1f}"],
    ]
    return [
        "## 3. Evaluation",
        "",
        f"{s['dataset']}, {s['train_size']} train / {s['test_size']} test images, "
        f"{s['backbone']}, {s['threads']} thread(s).",
        "",
        *table(["protocol", "seconds", "top-1 %"], rows),
        f"Cached probe {r['speedup']:.1f}x faster, {r['top1_gap_points']:+.1f} points (one "
        f"accuracy's standard error: {r['top1_standard_error_points']:.1f} points). Goal "
        f"(>= {GOALS['probe_speedup']:.0f}x, at most {GOALS['probe_gap_points']} points "
        f"below): {verdict(ok)}.",
        "",
        *provenance(r),
    ]


def memory_section(r: dict) -> list[str]:
    rows = [
        [
            method,
            batch,
            f"{row['ours']['peak_mb']:.0f}",
            f"{row['ours']['step_mb']:.0f}",
            f"{row['ours_vs_lightly']:.2f}x",
            f"{row['ours_vs_bare']:.2f}x",
        ]
        for method, by_batch in ordered(r["methods"], METHOD_ORDER)
        for batch, row in sorted(by_batch.items(), key=lambda kv: int(kv[0]))
    ]
    s = r["settings"]
    return [
        "## 4. Memory (CPU)",
        "",
        f"{s['backbone']} at {s['image_size']} px. Peak RSS of a fresh process; step = peak "
        "minus RSS before the first step; ratios of step memory.",
        "",
        *table(["method", "batch", "peak MiB", "step MiB", "ours / lightly", "ours / bare"], rows),
        *provenance(r),
    ]


GPU_EPOCH_NOTE = (
    "Read these with care: one epoch of a few thousand images is a handful of steps, so "
    "the first step's cuDNN autotuning and the end-of-epoch checkpoint weigh as much as "
    "the training (the checkpoint is also where the CPU first waits for the queued GPU "
    "work, so the breakdown's shares are not GPU times). Sustained rates over whole "
    "trainings are in section 8b's images/s column."
)


def gpu_section(r: dict) -> list[str]:
    if "skipped" in r:
        return [
            "## 5. GPU",
            "",
            f"Not measured: {r['skipped']} on the machine that ran `make bench`. Run "
            "`python -m bench.gpu` on a GPU, then `python -m bench.render`.",
            "",
            *provenance(r),
        ]
    rate, s = r["images_per_s"], r["settings"]
    line = (
        f"{r['gpu']}: {s['backbone']} InfoMin step at {s['image_size']} px, batch "
        f"{r['batch_size']}, {s['autocast']} autocast, channels_last: ours {rate['ours']:.0f} "
        f"img/s, bare backbone {rate['bare']:.0f} img/s, ours / bare time {r['vs_bare']:.2f}x"
    )
    if "vs_lightly" in r:
        line += f", ours / lightly {r['vs_lightly']:.2f}x"
    line += f"; peak {r['peak_gpu_memory_gib']:.1f} GiB."
    lines = ["## 5. GPU", "", line, ""]
    if r.get("end_to_end"):
        rows = [[e["method"], f"{e['backbone']} {e['image_size']} px", e["batch_size"],
                 e["workers"], f"{e['samples_per_s']:.0f}", f"{e['bare_samples_per_s']:.0f}",
                 f"{e['vs_bare']:.2f}x"] for e in r["end_to_end"]]  # fmt: skip
        lines += ["Whole epochs (bf16, channels_last, random uint8 images in memory):", ""]
        lines += table(["method", "backbone", "batch", "workers", "samples/s",
                        "bare samples/s", "epoch / bare"], rows)  # fmt: skip
        lines += ["", GPU_EPOCH_NOTE]
    return [*lines, *provenance(r)]


def shares(entry: dict) -> str:
    """Where an epoch's time went, largest first (shares of the timed epoch)."""
    parts = sorted(entry.get("breakdown_share", {}).items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v:.0%}" for k, v in parts if v >= 0.005)


def epoch_rows(r: dict) -> tuple[list[list[Any]], list[list[Any]]]:
    """The throughput table and the where-the-time-goes table."""
    rows, where = [], []
    for dataset, cells in r["cells"].items():
        for method, c in ordered(cells, METHOD_ORDER):
            v, q = c["variants"], c["ratios"]

            def rate(name: str, v=v) -> str:
                return f"{v[name]['samples_per_s']:.0f}" if name in v else "-"

            def ratio(key: str, q=q) -> str:
                return f"{q[key]:.2f}x" if key in q else "-"

            peak = " / ".join(f"{v[k]['peak_rss_mb']:.0f}" for k in ("before", "after") if k in v)
            load = " ".join(map(str, c["load"]))
            rows.append([dataset, method, rate("before"), rate("after"), ratio("after_vs_before"),
                         ratio("before_vs_bare"), ratio("after_vs_bare"), rate("lightly"),
                         ratio("after_vs_lightly"), peak, load])  # fmt: skip
            for k in ("before", "after"):
                if k in v:
                    where.append([dataset, method, k, shares(v[k])])
    return rows, where


def epoch_goals(r: dict) -> list[str]:
    """One line per goal, met or not, by the medians of the after runs."""
    lines = []
    cells = r["cells"].get("digits", {})
    for method, c in ordered(cells, METHOD_ORDER):
        goal = GOALS["epoch_vs_bare"][method]
        if "after_vs_bare" in c["ratios"]:
            got = c["ratios"]["after_vs_bare"]
            lines.append(f"{method} after / bare >= {goal:.1f}x: {verdict(got >= goal)} "
                         f"({got:.2f}x)")  # fmt: skip
        if "after_vs_lightly" in c["ratios"]:
            got, goal = c["ratios"]["after_vs_lightly"], GOALS["epoch_vs_lightly"]
            lines.append(f"{method} after / lightly >= {goal:.1f}x: {verdict(got >= goal)} "
                         f"({got:.2f}x)")  # fmt: skip
        if "peak_after_vs_before" in c:
            got, goal = c["peak_after_vs_before"], GOALS["epoch_peak_growth"]
            lines.append(f"{method} peak memory after / before <= {goal:.2f}x: "
                         f"{verdict(got <= goal)} ({got:.2f}x)")  # fmt: skip
    return lines


def fashion_note(s: dict) -> str:
    """How much of the 60,000-image epoch was timed."""
    steps = s.get("fashion_steps")
    if not steps:
        return ""
    return (f"fashion: the whole 60,000 x 1 x 28 x 28 tensor is loaded, the epoch stopped "
            f"after {steps} timed steps (`--fashion-steps`). ")  # fmt: skip


def epoch_section(r: dict, title: str = "## 6. Whole epochs") -> list[str]:
    s = r["settings"]
    rows, where = epoch_rows(r)
    header = ["data", "method", "before samples/s", "after samples/s", "after / before",
              "before / bare", "after / bare", "lightly samples/s", "after / lightly",
              "peak MiB (before / after)", "load avg"]  # fmt: skip
    goals = epoch_goals(r)
    lines = [
        title,
        "",
        f"One epoch of `infomin pretrain` (probe off), batch {s['batch_size']}, "
        f"{s['threads']} torch thread(s), timed after its first steps, checkpoint included. "
        f"before = commit {s['before']} (today's main when issue 12 began), after = this "
        "tree, each in a fresh process; bare = the backbone passes of the method on fixed "
        "tensors at the same precision, in its faster memory format; lightly = lightly "
        f"{s['lightly']}'s SimCLRTransform, a DataLoader ({s['lightly_workers']} worker) and "
        "a plain fp32 loop on the same backbone. Precision: "
        f"{', '.join(f'{k} {v}' for k, v in s.get('precision', {}).items())} (after: "
        "`--precision auto`, bf16 autocast on this CPU's AVX-512 BF16). "
        f"{fashion_note(s)}Ratios of samples/s (> 1: faster), median of "
        f"{s['rounds']} alternating round(s) ({s.get('fashion_rounds', 1)} on fashion); "
        "load avg = the machine's 1-minute load before each round and after the last (2 "
        "cores, shared: figures taken under load are noisy, ratios within a round less so).",
        "",
        *table(header, rows),
    ]
    if goals:
        lines += ["Goals (digits, 32 px): " + "; ".join(goals) + ".", ""]
    lines += ["Where the time goes (shares of the timed epoch; Lightning's SimpleProfiler):", ""]
    lines += table(["data", "method", "run", "shares"], where)
    return [*lines, *provenance(r)]


def epoch_two_threads_section(r: dict) -> list[str]:
    """The same table with torch's default threads on a 2-core machine (what a user gets):
    the views then share the cores with the step instead of a spare core."""
    return epoch_section(r, "## 6b. Whole epochs, 2 torch threads (the 2-core default)")


def changed_line(presets: dict) -> str:
    """How many comparisons found a change (an interval excluding 0), in one sentence."""
    rows = [row for cell in presets.values() for row in cell["compare"].values()]
    changed = [row for row in rows if row["verdict"] in ("positive", "negative")]
    widest = max((row["interval"][1] - row["interval"][0]) / 2 for row in rows if row["interval"])
    return (f"Intervals excluding 0 (a change): {len(changed)} of {len(rows)}. With these "
            f"seeds an interval is up to ±{widest:.1f} points wide, so smaller changes are "
            "not ruled out.")  # fmt: skip


def epoch_accuracy_section(
    r: dict, title: str = "## 7. Same accuracy after the speed-ups"
) -> list[str]:
    from bench.epoch_accuracy import markdown

    s = r["settings"]
    return [
        title,
        "",
        f"`infomin pretrain` for {s['epochs']} epochs on {s['train_size']} embedded "
        f"samples (batch {s['batch_size']}), frozen probe on, {s['seeds']} seeds, on the tree "
        f"of commit {s['before']} (before: per-image views, fp32) and on this tree (its "
        "defaults: batched views, bf16 autocast, channels_last). Top-1 in points, mean ± "
        "std over seeds; the difference is paired by seed, with its 95% Student-t interval; "
        f"verdict: positive/negative = the interval excludes 0, no effect > {s['margin']:g} "
        "= it lies inside that margin, undecided = neither.",
        "",
        markdown(r["presets"]),
        "",
        changed_line(r["presets"]),
        "",
        *provenance(r),
    ]


def goal_text(outcome: str) -> str:
    return outcome if outcome == "not measured" else verdict(outcome == "met")


def accuracy_section(
    r: dict, title: str = "## 8. Fashion-MNIST accuracy (`make bench-accuracy`)"
) -> list[str]:
    """Fashion-MNIST accuracy table (`bench.accuracy`, run by `make bench-accuracy`)."""
    plan = r["plan"]
    status = "" if r.get("finished", True) else " **Cut short: only the rows shown ran.**"
    lines = [
        title,
        "",
        f"Every row trained on the same {r['num_pretrain']:,} training images "
        f"({plan['backbone']} width {plan['width']:g}, {plan['epochs']} epoch(s), batch "
        f"{plan['batch']}, {r['precision']}), frozen linear probe and kNN fitted on "
        f"{r['num_probe_train']:,} training images and scored on {r['num_scored']:,} "
        f"{r['scored_on']} images; ± = std over seeds.{status}",
        "",
        r["markdown"],
        "",
        *(
            f"- {g['goal']}: {goal_text(g['verdict'])} ({g['detail']})"
            for g in r["goals"]
            if g["verdict"] != "not measured"
        ),  # a table of a few rows cannot judge them all
        "",
    ]
    return [*lines, *provenance(r)]


SECTIONS: dict[str, Callable[[dict], list[str]]] = {
    "step": step_section,
    "data": data_section,
    "probe": probe_section,
    "memory": memory_section,
    "gpu": gpu_section,
    "epoch": epoch_section,
    "epoch-threads2": epoch_two_threads_section,
    "epoch_accuracy": epoch_accuracy_section,
    "epoch_accuracy-mocov2-seeds6": lambda r: epoch_accuracy_section(
        r, "### 7.1 mocov2 at 6 seeds (run after the table above, for its one excluding interval)"
    ),
    "accuracy": accuracy_section,
    "accuracy-cropmin0.6-simclr": lambda r: accuracy_section(
        r, "### 8.1 simclr with the crop sweep's maximum (crop_min 0.6; the table's is 0.08)"
    ),
    "accuracy-epochs20-insdis": lambda r: accuracy_section(
        r, "### 8.2 insdis at 20 epochs (the table's 10 left it under raw pixels)"
    ),
    "accuracy-gpu": lambda r: accuracy_section(r, "## 8b. Fashion-MNIST accuracy on a GPU"),
    "accuracy-gpu-simclr30": lambda r: accuracy_section(
        r, "### 8c. simclr at 30 epochs on the GPU (one run after 8b; 8b's 10 were set before)"
    ),
}


def render(results: dict[str, dict]) -> str:
    total = sum(r.get("wall_s", 0.0) for r in results.values())
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m bench.render` from `bench/results/*.json`); "
        "do not edit by hand. Every ratio compares two variants timed in the same run, in "
        "alternating rounds, median over rounds: absolute times on a shared machine drift, "
        "ratios measured side by side do not. CPU benchmarks run one torch thread unless "
        "a section says otherwise: on a shared machine a second thread waits on a busy "
        "core, and small operations then slow down tenfold, drowning the ratios in noise.",
        "",
        f"Total benchmark time: {total / 60:.1f} min.",
        "",
    ]
    for name, section in SECTIONS.items():
        if name in results:
            lines += section(results[name])
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    results = load(args.results)
    write_text(args.out, render(results))
    total = sum(r.get("wall_s", 0.0) for r in results.values())
    print(f"wrote {args.out} from {len(results)} results ({total / 60:.1f} min of benchmarks)")


if __name__ == "__main__":
    main()
