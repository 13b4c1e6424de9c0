"""Memory: peak resident memory (RSS) of a training step against the batch size, on CPU.

Each (method, variant) runs in a fresh process, so no variant inherits another's peak:
the process builds the step (``bench.step``'s builders: ours, lightly's equivalent, the
bare backbone) and measures its RSS, then runs two steps at each batch size in
increasing order and reads the peak RSS after each size (the peak of a larger batch is
never below a smaller one's, so the running peak is that batch's peak). ``step_mb`` =
peak - RSS before the first step: what the batches cost, without the interpreter, the
libraries and the model. Ratios: ours / lightly and ours / bare of ``step_mb``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

from bench.common import make_parser, start, write_result

VARIANTS = ("ours", "lightly", "bare")
METHODS = ("simclr", "mocov2", "infomin")
MB = 1024 * 1024


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB (Linux /proc, else rusage)."""
    status = Path("/proc/self/status")
    if status.is_file():
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / MB if sys.platform == "darwin" else peak / 1024
    return peak_mb, peak_mb


def child(
    variant: str, method: str, batches: list[int], image_size: int, backbone: str
) -> dict[str, dict]:
    """Peak RSS per batch size of one variant's step (runs in a fresh subprocess)."""
    from bench import step as steps
    from infomin.methods import TrainSettings, for_image_size, get_preset

    preset = for_image_size(get_preset(method), image_size)
    settings = TrainSettings(backbone=backbone, image_size=image_size, batch_size=batches[0])
    builders = {"ours": steps.ours, "lightly": steps.lightly, "bare": steps.bare}
    before = None
    rows = {}
    for batch in sorted(batches):
        data = steps.Batch.make(batch, image_size, preset.jigsaw, seed=0)
        extra = () if variant == "ours" else (preset.lr * batch / 256,)
        run = builders[variant](preset, settings, data, *extra)
        if before is None:
            before = rss_mb()[0]
        run()
        run()
        peak = rss_mb()[1]
        rows[str(batch)] = {"before_mb": before, "peak_mb": peak, "step_mb": peak - before}
    return rows


def measure(variant: str, method: str, args) -> dict[str, dict]:
    code = (
        "import json, sys, torch; torch.set_num_threads(1); from bench.memory import child; "
        f"print(json.dumps(child({variant!r}, {method!r}, {args.batch_sizes}, "
        f"{args.image_size}, {args.backbone!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--backbone", default="convnet")
    parser.add_argument("--image-size", type=int, default=32)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_sizes, args.methods = [8, 16], ["infomin"]
    started = start(args)
    table: dict[str, dict[str, dict]] = {}
    for method in args.methods:
        table[method] = {}
        by_variant = {v: measure(v, method, args) for v in VARIANTS}
        for batch in sorted(args.batch_sizes):
            row: dict = {v: by_variant[v][str(batch)] for v in VARIANTS}
            row["ours_vs_lightly"] = row["ours"]["step_mb"] / row["lightly"]["step_mb"]
            row["ours_vs_bare"] = row["ours"]["step_mb"] / row["bare"]["step_mb"]
            table[method][str(batch)] = row
            print(
                f"{method:8s} batch {batch:4d}: peak {row['ours']['peak_mb']:.0f} MiB, "
                f"step {row['ours']['step_mb']:.0f} MiB; ours/lightly "
                f"{row['ours_vs_lightly']:.2f}x, ours/bare {row['ours_vs_bare']:.2f}x",
                flush=True,
            )
    payload = {
        "settings": {"backbone": args.backbone, "image_size": args.image_size},
        "methods": table,
    }
    print(f"wrote {write_result('memory', args.out, payload, started)}")


if __name__ == "__main__":
    main()
