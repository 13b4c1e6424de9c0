"""GPU: the ResNet-50 InfoMin step at 224 px, bf16 autocast, channels_last, synthetic data.

Images per second of our InfoMin step (two crops + nine 64-px jigsaw patches per image,
65,536-key queue, EMA key encoder with split BN) against the bare backbone doing the
same network passes, and against lightly's equivalent when lightly is installed
(``bench.step`` defines all three). Rounds alternate the variants; each timing waits for
the GPU (``torch.cuda.synchronize``). A deadline (default 7 minutes of timing) ends the
run early on a slow card; if a batch does not fit, it is halved.

Then whole epochs (``bench.epoch``'s children, each a fresh process): ``infomin pretrain``
on random uint8 images held in memory, bf16, channels_last, against the bare backbone's
passes at the same settings in its faster memory format: ResNet-50 at 224 px and
ResNet-18 at 32 px. simclr's views are made on the GPU from uint8 batches; infomin's
recipe has RandAugment (per image, PIL), so its views come from DataLoader workers.

Without a CUDA device it says so, writes ``{"skipped": ...}`` unless the results folder
already holds a GPU measurement (kept: `make bench` on a CPU must not erase it), and exits 0.
"""

from __future__ import annotations

import contextlib
import json
import os

import torch

from bench.common import alternate, make_parser, paired_ratio, start, summary, write_result

BATCH_FALLBACKS = 3  # halve the batch at most this many times on out-of-memory


def build_variants(batch_size: int, args) -> dict:
    from bench import step as steps
    from infomin.methods import TrainSettings, for_image_size, get_preset

    preset = for_image_size(get_preset("infomin"), args.image_size)
    settings = TrainSettings(
        backbone=args.backbone, image_size=args.image_size, batch_size=batch_size
    )
    rt = steps.Runtime(torch.device("cuda"), torch.bfloat16, channels_last=True)
    data = steps.Batch.make(batch_size, args.image_size, preset.jigsaw, args.seed, rt)
    lr = preset.lr * batch_size / 256
    variants = {
        "ours": steps.ours(preset, settings, data, rt),
        "bare": steps.bare(preset, settings, data, lr, rt),
    }
    with contextlib.suppress(ImportError):  # lightly is a dev dependency only
        variants["lightly"] = steps.lightly(preset, settings, data, lr, rt)
    return variants


def run(batch_size: int, args, deadline: float) -> dict:
    torch.cuda.reset_peak_memory_stats()
    variants = build_variants(batch_size, args)
    times = alternate(
        variants, args.rounds, args.repeats, args.warmup, torch.cuda.synchronize, deadline
    )
    per_s = {k: batch_size / (summary(times)[k]["median_ms"] / 1000) for k in times}
    result = {
        "batch_size": batch_size,
        "images_per_s": {k: round(v, 1) for k, v in per_s.items()},
        "vs_bare": paired_ratio(times, "ours", "bare"),
        "times": summary(times),
        "rounds_done": len(times["ours"]),
        "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
    }
    if "lightly" in times:
        result["vs_lightly"] = paired_ratio(times, "ours", "lightly")
    return result


def fitting_run(args, deadline: float) -> dict:
    """`run` at the requested batch, halving it on out-of-memory."""
    batch = args.batch_size
    for attempt in range(BATCH_FALLBACKS + 1):
        try:
            return run(batch, args, deadline)
        except torch.cuda.OutOfMemoryError:
            if attempt == BATCH_FALLBACKS:
                raise
            torch.cuda.empty_cache()
            print(f"batch {batch} does not fit; trying {batch // 2}", flush=True)
            batch //= 2
    raise AssertionError("unreachable")


END_TO_END = (("resnet50", 224, 128), ("resnet18", 32, 512))  # backbone, px, batch
END_TO_END_METHODS = ("simclr", "infomin")


def end_to_end(args) -> list[dict]:
    """Samples/s of one epoch of pretrain vs the bare backbone, per backbone and method."""
    from bench.epoch import per_sample_rate, run_child

    rows = []
    for backbone, size, batch in END_TO_END:
        for method in END_TO_END_METHODS:
            workers = min(8, os.cpu_count() or 1) if method == "infomin" else 0
            options = {"backbone": backbone, "batch_size": batch, "accelerator": "gpu",
                       "precision": "bf16-mixed", "num_workers": workers}  # fmt: skip
            common = {"seed": args.seed, "threads": 0}
            epoch = {**common, "kind": "pretrain", "preset": method, "options": options,
                     "synthetic": [args.epoch_images, 3, size, size]}  # fmt: skip
            passes = {**common, "kind": "bare", "preset": method, "channels": 3,
                      "image_size": size, "batch_size": batch, "steps": 20, "device": "cuda",
                      "precision": "bf16-mixed", "backbone": backbone}  # fmt: skip
            try:
                after, bare = run_child(epoch, None), run_child(passes, None)
            except RuntimeError as err:  # one failed cell must not lose the others
                print(f"epoch {method} {backbone} {size}px failed: {err}", flush=True)
                rows.append({"backbone": backbone, "method": method, "error": str(err)[-500:]})
                continue
            rate, bare_rate = per_sample_rate(after, batch), per_sample_rate(bare, batch)
            rows.append({"backbone": backbone, "image_size": size, "batch_size": batch,
                         "method": method, "workers": workers, "samples_per_s": rate,
                         "bare_samples_per_s": bare_rate, "vs_bare": rate / bare_rate,
                         "breakdown_s": after["breakdown_s"]})  # fmt: skip
            print(f"epoch {method} {backbone} {size}px: {rate:.0f} samples/s, "
                  f"{rate / bare_rate:.2f}x bare", flush=True)  # fmt: skip
    return rows


def measured_before(path) -> bool:
    """Whether `path` holds a GPU measurement (which a run without a GPU must not erase)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or "skipped" in record:
        return False
    print(f"kept the GPU results in {path} ({record.get('gpu')}, {record.get('date_utc')} UTC)")
    return True


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10, help="steps timed per round")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per variant")
    parser.add_argument("--budget-s", type=float, default=420, help="no new round after this")
    parser.add_argument("--epoch-images", type=int, default=4096, help="images per epoch")
    parser.add_argument("--no-epoch", action="store_true", help="skip the whole-epoch part")
    parser.set_defaults(threads=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_size, args.rounds, args.repeats, args.warmup = 32, 2, 2, 1
        args.epoch_images = 512
    started = start(args)
    if not torch.cuda.is_available():
        print("no CUDA device: GPU benchmark skipped (run it on a machine with a GPU)")
        if not measured_before(args.out / "gpu.json"):  # `make bench` on a CPU keeps them
            write_result("gpu", args.out, {"skipped": "no CUDA device"}, started)
        return
    name = torch.cuda.get_device_name(0)
    print(f"GPU: {name}", flush=True)
    torch.backends.cudnn.benchmark = True
    torch.set_float32_matmul_precision("high")
    result = fitting_run(args, started + args.budget_s)
    payload = {
        "gpu": name,
        "settings": {
            "backbone": args.backbone,
            "image_size": args.image_size,
            "autocast": "bfloat16",
            "channels_last": True,
            "steps_per_round": args.repeats,
        },
        **result,
    }
    write_result("gpu", args.out, payload, started)  # kept if the epochs below fail
    if not args.no_epoch:
        payload["end_to_end"] = end_to_end(args)
    line = (
        f"infomin step on {name}: ours {result['images_per_s']['ours']:.0f} img/s, bare "
        f"{result['images_per_s']['bare']:.0f} img/s: ours/bare time {result['vs_bare']:.2f}x"
    )
    if "vs_lightly" in result:
        line += f", ours/lightly {result['vs_lightly']:.2f}x"
    print(line, flush=True)
    print(f"wrote {write_result('gpu', args.out, payload, started)}")


if __name__ == "__main__":
    main()
