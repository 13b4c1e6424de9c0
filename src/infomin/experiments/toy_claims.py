"""The toy table's claims: the paper's findings as paired, per-seed comparisons of rows.

Why apart from `infomin.experiments.toy`: the claims are the table's acceptance test and
change with what the paper says, not with how the rows are run; they only read the rows'
per-seed numbers (`run_toy_table`'s `rows`).
"""

from __future__ import annotations

from typing import Any

from infomin.experiments.statistics import claim_holds, paired_difference

BASELINE = "random-init"

# (claim, row, reference row(s), metric, direction): +1 means "row above the reference",
# -1 "below", AT_LEAST "not below it by more than the spread". Several references: the
# claim must hold against each; the closest one is reported.
AT_LEAST = 0
SINGLE_FACTORS = ("digit", "position", "background")
CLAIMS: tuple[tuple[str, str, str | tuple[str, ...], str, int], ...] = (
    ("digit only raises digit accuracy", "digit", BASELINE, "digit.linear_top1", +1),
    ("digit only lowers background accuracy", "digit", BASELINE, "background.linear_top1", -1),
    ("background only lowers digit accuracy", "background", BASELINE, "digit.linear_top1", -1),
    ("background only raises background accuracy", "background", BASELINE,
     "background.linear_top1", +1),
    ("digit+background: lower digit accuracy than digit alone (the shortcut)",
     "digit+background", "digit", "digit.linear_top1", -1),
    ("digit-only gives the best digit accuracy among single factors", "digit",
     ("position", "background"), "digit.linear_top1", +1),
    ("digit+position: digit accuracy at least digit-only's", "digit+position", "digit",
     "digit.linear_top1", AT_LEAST),
)  # fmt: skip


def _holds(difference: float, spread: float | None, direction: int) -> bool:
    """`claim_holds`, or for AT_LEAST: not below by more than the spread (sign with one seed)."""
    if direction == AT_LEAST:
        return difference >= 0 or (spread is not None and -difference < spread)
    return claim_holds(difference, spread, direction)


def _compare(
    by_name: dict[str, Any], name: str, reference: str, metric: str, direction: int
) -> dict[str, Any]:
    """One row against one reference on `metric`, paired by seed."""
    ours = [run[metric] for run in by_name[name]["per_seed"]]
    theirs = [run[metric] for run in by_name[reference]["per_seed"]]
    paired = paired_difference(ours, theirs)
    holds = _holds(paired["difference"], paired["spread"], direction)
    return {"reference": reference, "difference": paired["difference"],
            "spread": paired["spread"], "per_seed": paired["per_seed"], "holds": holds}  # fmt: skip


def check_claims(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each claim as `row - reference` on a metric, paired by seed (same data, same init).

    `holds` needs the mean difference in the claimed direction and larger than its spread,
    the sample std of the per-seed differences ("at least" claims: not below by more than
    the spread). With one seed the spread is unknown (`None`) and only the sign is
    checked. Against several references the claim must hold against each, and the
    reference with the smallest margin is the one reported. Claims whose rows were not
    run are left out.
    """
    by_name = {row["name"]: row for row in rows}
    checks = []
    for text, name, references, metric, direction in CLAIMS:
        names = (references,) if isinstance(references, str) else references
        if name not in by_name or not all(ref in by_name for ref in names):
            continue
        compared = [_compare(by_name, name, ref, metric, direction) for ref in names]
        closest = min(compared, key=lambda c: (direction or 1) * c["difference"])
        checks.append({"claim": text, "row": name, "metric": metric, "direction": direction,
                       **closest, "references": list(names),
                       "holds": all(c["holds"] for c in compared)})  # fmt: skip
    return checks
