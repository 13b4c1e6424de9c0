"""The toy table as markdown (`toy.md`) and as a picture (`toy.png`).

Why apart from `infomin.experiments.toy`: running the table and showing it change for
different reasons; this module only reads the plain data `run_toy_table` returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infomin.experiments.statistics import pm
from infomin.experiments.toy import BASELINE, CHANCE, COLUMNS, row_title
from infomin.experiments.toy_claims import AT_LEAST
from infomin.reports import markdown_table


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
    table = [[row_title(row["name"]), *(_cell(row, k) for k, _ in COLUMNS)]
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
    critic, sizes = c["critic"], c["sizes"]
    views = _views_text(c.get("v1_frames", 1))
    if c.get("colour", "digit") == "free":
        views += ", each view's digit in its own colour"
    else:
        views += ", the digit's colour shared with the digit"
    times = ", ".join(
        f"{row_title(name)} {seconds / len(results['seeds']):.0f}"
        for name, seconds in results["row_seconds"].items()
    )
    return (
        f"Setup: {c['canvas']} px canvas, {c['digit_size']} px digits, background dimmed to "
        f"{c['dim']:.0%}; {views}; convnet width x{critic['width']} with a "
        f"{critic['pool_size']}x{critic['pool_size']} pooled map, two encoders; "
        f"{sizes['train_pairs']} pairs x {critic['epochs']} epochs, training K = "
        f"{critic['batch_size']}; probes on {sizes['probe_train']} / {sizes['probe_test']} "
        f"frames. Wall time {results['elapsed_s']:.0f} s with {c['workers']} worker(s) x "
        f"{c['threads']} thread(s); seconds per seed: {times}."
    )


def _views_text(v1_frames: int) -> str:
    """What v1 and v2 were (results written before `v1_frames` existed had single frames)."""
    if v1_frames == 1:
        return "v1 and v2 single frames (same instant)"
    return f"v1 a clip of {v1_frames} frames stacked along channels, v2 its next frame"


def _claims_markdown(claims: list[dict[str, Any]]) -> list[str]:
    if not claims:
        return []
    lines = [
        "## Claims (row - reference, paired by seed; must exceed its spread; "
        '"at least": must not fall below by more than its spread)',
        "",
    ]
    for claim in claims:
        spread = "unknown with 1 seed" if claim["spread"] is None else f"{claim['spread']:.2f}"
        verdict = "holds" if claim["holds"] else "does NOT hold"
        if claim.get("direction") == AT_LEAST and claim["holds"] and claim["difference"] < 0:
            verdict = "holds (below, within the spread)"
        reference = row_title(claim["reference"])
        others = claim.get("references", [])
        if len(others) > 1:
            reference += f" (the closest of {', '.join(map(row_title, others))})"
        lines.append(
            f"- {claim['claim']}: {claim['metric']}, {row_title(claim['row'])} - "
            f"{reference} = {claim['difference']:+.2f} (spread {spread}): {verdict}"
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
    labels = [row_title(row["name"]) for row in trained]
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
