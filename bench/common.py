"""What every benchmark shares: the command line, paired timing, the machine, the JSON.

Why paired timing: the benchmark machines are shared and their speed drifts by tens of
percent within a minute. Absolute times are therefore meaningless across runs; what is
reported is the ratio of two variants timed in the *same* round, rounds alternating the
variants (in a rotating order, so none always runs first), and the median over rounds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from infomin.outputs import write_json

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def make_parser(description: str) -> argparse.ArgumentParser:
    """The options every bench script has: `--quick` (a smoke run) and `--out`."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and few rounds: checks it runs"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for NAME.json")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (0: torch's default). One by default: on a shared "
        "machine a second thread waits on a busy core and small ops slow down 10x+",
    )
    return parser


def start(args: argparse.Namespace) -> float:
    """Apply `--threads` and `--seed`; the wall-clock start of the run."""
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    return time.perf_counter()


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """Where a number was measured: without this, a ratio cannot be reproduced."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(terse=True),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def package_version(name: str) -> str | None:
    """Installed version of `name`, or None (lightly is a dev dependency only)."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _no_sync() -> None:
    return None


def timed(fn: Callable[[], Any], repeats: int, sync: Callable[[], Any] = _no_sync) -> float:
    """Seconds per call of `fn`, over `repeats` back-to-back calls.

    `sync` waits for queued device work (``torch.cuda.synchronize`` on a GPU), before the
    clock starts and before it stops, so asynchronous kernels are counted where they run.
    """
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return (time.perf_counter() - start) / repeats


def alternate(
    variants: Mapping[str, Callable[[], Any]],
    rounds: int,
    repeats: int,
    warmup: int = 1,
    sync: Callable[[], Any] = _no_sync,
    deadline: float | None = None,
) -> dict[str, list[float]]:
    """Per-round seconds per call of each variant; the order rotates every round.

    No new round starts after `deadline` (a `time.perf_counter()` value) once one round
    is done, so a slow machine shortens the run instead of overrunning its budget.
    """
    names = list(variants)
    for name in names:
        for _ in range(warmup):
            variants[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        if r and deadline is not None and time.perf_counter() > deadline:
            break
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(timed(variants[name], repeats, sync))
    return times


def paired_ratio(times: Mapping[str, Sequence[float]], numerator: str, denominator: str) -> float:
    """Median over rounds of numerator / denominator, each pair timed in the same round."""
    pairs = zip(times[numerator], times[denominator], strict=True)
    return statistics.median(a / b for a, b in pairs)


def paired_spread(
    times: Mapping[str, Sequence[float]], numerator: str, denominator: str
) -> tuple[float, float]:
    """Lower and upper quartile of the per-round ratios: how far one round's ratio strays."""
    ratios = [a / b for a, b in zip(times[numerator], times[denominator], strict=True)]
    if len(ratios) < 2:
        return ratios[0], ratios[0]
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return q1, q3


def summary(times: Mapping[str, Sequence[float]]) -> dict[str, dict[str, float]]:
    """Median and spread of each variant's per-round times, in milliseconds."""
    return {
        name: {
            "median_ms": 1000 * statistics.median(values),
            "min_ms": 1000 * min(values),
            "max_ms": 1000 * max(values),
        }
        for name, values in times.items()
    }


def command() -> str:
    """The command that produced a result, as a user would type it from the repo root."""
    module = Path(sys.argv[0]).stem
    return " ".join(["python -m", f"bench.{module}", *sys.argv[1:]])


def write_result(name: str, out: Path, payload: dict[str, Any], started: float) -> Path:
    """`out/NAME.json` with the payload, the machine, the command and the wall time."""
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "name": name,
        "command": command(),
        "machine": machine(),
        "wall_s": round(time.perf_counter() - started, 1),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        **payload,
    }
    return write_json(out / f"{name}.json", record)


def fmt_ratio(value: float) -> str:
    return f"{value:.2f}x"
