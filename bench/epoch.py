"""Whole epochs of `infomin pretrain` against the bare backbone and lightly's SimCLR loop.

The step benchmark (`bench.step`) times one step on fixed tensors; a user waits for
whole epochs, data loading, augmentation, logging and checkpoints included. Here:

- ours: `infomin.methods.pretrain.pretrain` for one epoch (probe off), timed from the
  end of its second step to `on_train_end` (so the end-of-epoch checkpoint is in, and
  start-up and the first steps' warm-up are out; samples counted accordingly). Lightning's
  `SimpleProfiler` splits that epoch into data (loading and augmentation in the
  loader), copy (host to device, and augmentation on the device after it), step
  (forward, loss, backward, optimiser), logging and callbacks, and checkpointing.
- before: the same, run on the source tree of `--before` (git archive of that commit),
  so before and after are measured side by side in one run.
- bare: the backbone alone doing the network passes of the method (`bench.step.bare`:
  both crops for simclr; crop 1 (+ jigsaw patches) with gradients and crop 2 through a
  key copy for queue methods) on fixed tensors, at the run's precision, in both memory
  formats; the faster one is the reference. It is timed over `--bare-steps` steps (the
  per-step time is steady), and reported per sample.
- lightly: lightly's SimCLRTransform, a DataLoader over the same in-memory images, a
  plain PyTorch loop (SimCLRProjectionHead, NTXentLoss, SGD) on our backbone: what a
  lightly user writes. Timed like ours, after its first steps.

Every measurement runs in a fresh process (`--child`), so peak memory is that run's own
(main process plus its largest DataLoader worker). Rounds rotate the order of the
variants; ratios are medians of per-round ratios. The machine's load average is
recorded before and after each round: the machine is shared.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

from bench.common import make_parser, package_version, start, write_result

ROOT = Path(__file__).resolve().parent.parent
BEFORE_REV = "aa72534"  # main before issue 12 (whole-epoch throughput)
METHODS = ("simclr", "mocov2", "infomin")
DATASETS: dict[str, dict[str, Any]] = {
    # The embedded 32-px RGB toy, 4,096 samples (32 steps of 128).
    "digits": {"data": "colorful-moving-digits", "train_size": 4096},
    # Fashion-MNIST's training set: 60,000 x 1 x 28 x 28 uint8 (held in memory).
    "fashion": {"data": "fashion-mnist"},
}
RESULT_TAG = "EPOCH-RESULT "
WARMUP_STEPS = 2  # first steps of an epoch left untimed (allocator and thread-pool warm-up)


# --------------------------------------------------------------------------- child side


def peak_rss_mb() -> float:
    """Peak resident memory of this process plus its largest child (DataLoader worker)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


CATEGORIES = {
    "data": ("train_dataloader_next",),
    "copy+device aug": ("batch_to_device", "on_before_batch_transfer", "on_after_batch_transfer"),
    "step": ("optimizer_step",),
    "checkpoint": ("ModelCheckpoint", "save_checkpoint"),
}


def is_callback(action: str) -> bool:
    """A callback hook or the module's batch hooks (logging runs in them)."""
    if action.startswith("[Callback]"):
        return "on_save_checkpoint" not in action
    batch_hooks = ("on_train_batch_start", "on_train_batch_end")
    return action.startswith("[LightningModule]") and action.endswith(batch_hooks)


def categorise(durations: dict[str, list[float]]) -> dict[str, float]:
    """Seconds per category from SimpleProfiler's actions (nested actions counted once:
    `optimizer_step` holds training_step and backward; `batch_to_device` holds the
    transfer hooks, which are not added again)."""
    out = dict.fromkeys([*CATEGORIES, "logging+callbacks"], 0.0)
    for action, values in durations.items():
        total = sum(values)
        if "batch_to_device" in action:
            out["copy+device aug"] += total
        elif "_batch_transfer" in action or "transfer_batch_to_device" in action:
            continue  # inside batch_to_device
        elif "train_dataloader_next" in action:
            out["data"] += total
        elif "optimizer_step" in action:
            out["step"] += total
        elif "ModelCheckpoint" in action and "on_save_checkpoint" not in action:
            out["checkpoint"] += total
        elif is_callback(action):
            out["logging+callbacks"] += total
    return out


def timed_pretrain(spec: dict[str, Any]) -> dict[str, Any]:
    """One epoch of `pretrain`, timed and profiled after its first `WARMUP_STEPS` steps."""
    import lightning as L
    from lightning.pytorch.profilers import SimpleProfiler

    from infomin.methods.pretrain import pretrain
    from infomin.methods.pretrain_config import PretrainConfig

    marks: dict[str, float] = {}

    class EpochClock(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if batch_idx == WARMUP_STEPS - 1:
                trainer.profiler.recorded_durations.clear()
                marks["start"] = time.perf_counter()

        def on_train_end(self, trainer, pl_module) -> None:
            marks["end"] = time.perf_counter()
            marks["durations"] = dict(trainer.profiler.recorded_durations)  # type: ignore[assignment]

    original = L.Trainer

    class ProfiledTrainer(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), EpochClock()]
            super().__init__(*args, profiler=SimpleProfiler(), **kwargs)

    L.Trainer = ProfiledTrainer  # type: ignore[misc]
    if spec.get("synthetic"):
        use_synthetic_data(spec["synthetic"], spec["seed"])
    options = {"epochs": 1, "evaluate": False, **spec["options"]}
    config = PretrainConfig(preset=spec["preset"], seed=spec["seed"], **options)
    with tempfile.TemporaryDirectory() as out:
        pretrain(config, Path(out))
    seconds = marks["end"] - marks["start"]
    breakdown = categorise(marks["durations"])  # type: ignore[arg-type]
    breakdown["other"] = max(0.0, seconds - sum(breakdown.values()))
    steps = len(marks["durations"].get("run_training_batch", []))  # type: ignore[union-attr]
    samples = steps * config.batch_size
    return {"seconds": seconds, "samples": samples, "breakdown_s": breakdown}


def use_synthetic_data(shape: list[int], seed: int) -> None:
    """Make `pretrain` train on random uint8 images of `shape` `[N, C, H, W]` (the GPU
    bench's 224-px data: no embedded dataset has that size)."""
    import torch

    from infomin.data.real import TensorDataset
    from infomin.methods import pretrain as module

    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, tuple(shape), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (shape[0],), generator=g)
    data = TensorDataset(images, labels, [str(i) for i in range(10)])
    module.load_split = lambda *args, **kwargs: data  # type: ignore[assignment]


def images_of(dataset: dict[str, Any], seed: int):
    """The dataset's training images as one uint8 tensor (what both loops read)."""
    from infomin.data import load_dataset

    options = {"seed": seed}
    if "train_size" in dataset:
        options["num_clips"] = dataset["train_size"]
    if dataset["data"] != "colorful-moving-digits":
        options = {}
    data = load_dataset(dataset["data"], split="train", **options)
    if hasattr(data, "images"):
        return data.images
    import torch

    return torch.stack([data.raw_item(i)[0] for i in range(len(data))])


def timed_lightly(spec: dict[str, Any]) -> dict[str, Any]:
    """lightly's SimCLR as its examples write it: transform, DataLoader, a plain loop."""
    import torch
    from lightly.loss import NTXentLoss
    from lightly.models.modules import SimCLRProjectionHead
    from lightly.transforms import SimCLRTransform
    from torch.utils.data import DataLoader, Dataset
    from torchvision.transforms.v2 import functional as tvf

    from infomin.methods import TrainSettings, get_preset
    from infomin.methods.base import build_towers

    images = images_of(spec["dataset"], spec["seed"])
    channels, size = int(images.shape[1]), int(images.shape[-1])
    grey = {"mean": [0.459], "std": [0.226]}  # our grey normalisation (data/transforms.py)
    normalize = {"normalize": grey} if channels == 1 else {}  # RGB: lightly's ImageNet default
    transform = SimCLRTransform(input_size=size, gaussian_blur=0.5, **normalize)

    class Views(Dataset):
        def __len__(self) -> int:
            return len(images)

        def __getitem__(self, i: int):
            return transform(tvf.to_pil_image(images[i])), 0

    preset = get_preset("simclr")
    settings = TrainSettings(image_size=size, in_channels=channels)
    backbone = build_towers(preset, settings)
    head = SimCLRProjectionHead(backbone.out_dim, backbone.out_dim, 128, batch_norm=False)
    model = torch.nn.Sequential(backbone, head)
    criterion = NTXentLoss(preset.temperature)
    batch = spec["batch_size"]
    optimizer = torch.optim.SGD(model.parameters(), lr=preset.lr * batch / 256, momentum=0.9)
    workers = spec["workers"]
    loader = DataLoader(Views(), batch_size=batch, shuffle=True, drop_last=True,
                        num_workers=workers, persistent_workers=workers > 0)  # fmt: skip
    start, steps = 0.0, len(loader)
    if spec.get("max_steps"):
        steps = min(steps, spec["max_steps"])
    for step, ((x0, x1), _) in enumerate(loader):
        if step == steps:
            break
        if step == WARMUP_STEPS:
            start = time.perf_counter()
        loss = criterion(model(x0), model(x1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    samples = (steps - WARMUP_STEPS) * batch
    return {"seconds": time.perf_counter() - start, "samples": samples}


def timed_bare(spec: dict[str, Any]) -> dict[str, Any]:
    """The method's backbone passes on fixed tensors, per memory format; seconds per step."""
    import torch

    from bench import step as steps
    from infomin.methods import TrainSettings, for_image_size, get_preset

    channels, size, batch = spec["channels"], spec["image_size"], spec["batch_size"]
    preset = for_image_size(get_preset(spec["preset"]), size)
    amp = torch.bfloat16 if spec["precision"].startswith("bf16") else None
    settings = TrainSettings(backbone=spec.get("backbone", "convnet"), image_size=size,
                             batch_size=batch, in_channels=channels)  # fmt: skip
    device = torch.device(spec.get("device", "cpu"))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    lr = preset.lr * batch / 256
    variants = {}
    for fmt in ("contiguous", "channels_last"):
        rt = steps.Runtime(device, amp=amp, channels_last=fmt == "channels_last")
        data = steps.Batch.make(batch, size, preset.jigsaw, spec["seed"], rt)
        if channels == 1:
            views = tuple(v[..., :1, :, :].contiguous() for v in data.views)
            data = steps.Batch(tuple(rt.tensor(v) for v in views), data.index)
        variants[fmt] = steps.bare(preset, settings, data, lr, rt)
    times: dict[str, list[float]] = {k: [] for k in variants}
    for fn in variants.values():
        fn()
    chunk = max(1, spec["steps"] // 4)
    for r in range(4):
        for name in list(variants)[r % 2 :] + list(variants)[: r % 2]:
            sync()
            start = time.perf_counter()
            for _ in range(chunk):
                variants[name]()
            sync()
            times[name].append((time.perf_counter() - start) / chunk)
    return {"seconds_per_step": {k: statistics.median(v) for k, v in times.items()}}


def child(spec: dict[str, Any]) -> None:
    import torch

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    kind = spec["kind"]
    run = {"pretrain": timed_pretrain, "lightly": timed_lightly, "bare": timed_bare}[kind]
    result = run(spec)
    result["peak_rss_mb"] = peak_rss_mb()
    print(RESULT_TAG + json.dumps(result), flush=True)


# -------------------------------------------------------------------------- parent side


@contextmanager
def source_tree(rev: str) -> Iterator[Path]:
    """`src/` of commit `rev` in a temporary folder (git archive: the repo is untouched)."""
    archive = subprocess.run(
        ["git", "archive", rev, "src"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix=f"infomin-{rev}-") as folder:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        yield Path(folder) / "src"


def run_child(
    spec: dict[str, Any], src: Path | None, module: str = "bench.epoch"
) -> dict[str, Any]:
    """One measurement in a fresh process (`python -m MODULE --child SPEC`, which prints a
    `RESULT_TAG` line); `src` replaces the installed infomin."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), str(ROOT)])
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.run(
            [sys.executable, "-m", module, "--child", json.dumps(spec)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            log.seek(0)
            raise RuntimeError(f"{spec['kind']} child failed:\n{log.read()[-3000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith(RESULT_TAG))
    return json.loads(line[len(RESULT_TAG) :])


def load() -> float:
    return os.getloadavg()[0]


def dataset_shape(dataset: dict[str, Any]) -> tuple[int, int]:
    """(channels, side) of the images, as pretraining sees them."""
    return (1, 28) if dataset["data"] == "fashion-mnist" else (3, 32)


def specs_for(method: str, dataset: dict[str, Any], args, variants: list[str]) -> dict:
    """The child specs of one (method, dataset) cell, by variant."""
    channels, size = dataset_shape(dataset)
    options = {"data": dataset["data"], "batch_size": args.batch_size}
    if dataset["data"] == "fashion-mnist" and args.fashion_steps:
        options["max_steps"] = args.fashion_steps + WARMUP_STEPS
    if "train_size" in dataset:
        options["train_size"] = dataset["train_size"]
    common = {"seed": args.seed, "threads": args.threads}
    out: dict[str, dict[str, Any]] = {}
    for variant in variants:
        if variant in ("before", "after"):
            extra = args.after_options if variant == "after" else {}
            out[variant] = {**common, "kind": "pretrain", "preset": method,
                            "options": {**options, **extra}}  # fmt: skip
        elif variant.startswith("bare"):
            precision = "bf16-mixed" if variant.endswith("bf16") else "32-true"
            out[variant] = {**common, "kind": "bare", "preset": method, "channels": channels,
                            "image_size": size, "batch_size": args.batch_size,
                            "steps": args.bare_steps, "precision": precision}  # fmt: skip
        elif variant == "lightly":
            out[variant] = {**common, "kind": "lightly", "dataset": dataset,
                            "batch_size": args.batch_size, "max_steps": options.get("max_steps"),
                            "workers": args.lightly_workers}  # fmt: skip
    return out


def per_sample_rate(result: dict[str, Any], batch: int) -> float:
    """Samples per second of one child's result."""
    if "seconds_per_step" in result:
        return batch / min(result["seconds_per_step"].values())
    return result["samples"] / result["seconds"]


def measure_cell(method: str, name: str, args, srcs: dict[str, Path | None]) -> dict:
    dataset = DATASETS[name]
    variants = [v for v in args.variants if v != "lightly" or method == "simclr"]
    precisions = {PIPELINE_PRECISION[v] for v in ("before", "after") if v in variants}
    variants += sorted({bare_key(p) for p in precisions})
    specs = specs_for(method, dataset, args, variants)
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        order = variants[r % len(variants) :] + variants[: r % len(variants)]
        record: dict[str, Any] = {"load_before": load()}
        for variant in order:
            record[variant] = run_child(specs[variant], srcs.get(variant))
            rate = per_sample_rate(record[variant], args.batch_size)
            print(f"  {method} {name} round {r + 1} {variant}: {rate:.0f} samples/s", flush=True)
        record["load_after"] = load()
        rounds.append(record)
    return summarise(rounds, variants, args.batch_size)


def bare_key(precision: str) -> str:
    return "bare-bf16" if precision.startswith("bf16") else "bare-fp32"


def summarise(rounds: list[dict[str, Any]], variants: list[str], batch: int) -> dict:
    """Medians over rounds of each variant's rate, peak memory and breakdown, and the
    per-round ratios (each taken within its round)."""
    out: dict[str, Any] = {"rounds": len(rounds), "variants": {}, "ratios": {}}
    for v in variants:
        results = [r[v] for r in rounds]
        entry: dict[str, Any] = {
            "samples_per_s": statistics.median(per_sample_rate(x, batch) for x in results),
            "peak_rss_mb": statistics.median(x["peak_rss_mb"] for x in results),
        }
        if "breakdown_s" in results[0]:
            entry["breakdown_share"] = {
                k: statistics.median(x["breakdown_s"][k] / x["seconds"] for x in results)
                for k in results[0]["breakdown_s"]
            }
        if "seconds_per_step" in results[0]:
            entry["memory_format"] = min(
                results[0]["seconds_per_step"], key=results[0]["seconds_per_step"].get
            )
        out["variants"][v] = entry

    def ratio(a: str, b: str) -> float:
        return statistics.median(
            per_sample_rate(r[a], batch) / per_sample_rate(r[b], batch) for r in rounds
        )

    for pipeline, precision in PIPELINE_PRECISION.items():
        if pipeline in variants and bare_key(precision) in variants:
            out["ratios"][f"{pipeline}_vs_bare"] = ratio(pipeline, bare_key(precision))
        if pipeline in variants and "lightly" in variants:
            out["ratios"][f"{pipeline}_vs_lightly"] = ratio(pipeline, "lightly")
    if "before" in variants and "after" in variants:
        out["ratios"]["after_vs_before"] = ratio("after", "before")
        out["peak_after_vs_before"] = (
            out["variants"]["after"]["peak_rss_mb"] / out["variants"]["before"]["peak_rss_mb"]
        )
    if "lightly" in variants and "bare-fp32" in variants:
        out["ratios"]["lightly_vs_bare"] = ratio("lightly", "bare-fp32")
    loads = [r["load_before"] for r in rounds] + [rounds[-1]["load_after"]]
    out["load"] = [round(x, 2) for x in loads]
    return out


# The precision each pipeline trains in by default (its bare backbone runs the same);
# "after" is resolved in `main` (precision "auto": bf16-mixed where the CPU has bf16).
PIPELINE_PRECISION = {"before": "32-true", "after": "32-true"}


def after_precision(options: dict[str, Any]) -> str:
    """What `pretrain` resolves the after run's precision to on this machine's CPU."""
    from infomin.methods.pretrain import resolve_precision
    from infomin.methods.pretrain_config import PretrainConfig

    config = PretrainConfig(accelerator="cpu", precision=options.get("precision", "auto"))
    return resolve_precision(config)


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__.splitlines()[0])
    # One torch thread, as every CPU bench here: on a shared machine two threads spin on a
    # busy core and slow down several-fold (measured: 142 vs 504 img/s for the bare convnet).
    parser.add_argument("--child", help=argparse_hidden())
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--variants", nargs="+", default=["before", "after", "lightly"],
                        choices=["before", "after", "lightly"])  # fmt: skip
    parser.add_argument("--before", default=BEFORE_REV, help="commit of the 'before' tree")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--bare-steps", type=int, default=24, help="steps timed per format")
    parser.add_argument("--lightly-workers", type=int, default=1,
                        help="DataLoader workers of lightly's loop")  # fmt: skip
    parser.add_argument(
        "--after-options",
        type=json.loads,
        default={},
        help="JSON of PretrainConfig fields for 'after' (trying settings)",
    )
    parser.add_argument("--digits-size", type=int, default=4096, help="embedded samples")
    parser.add_argument(
        "--fashion-methods",
        nargs="+",
        default=["simclr"],
        choices=METHODS,
        help="methods run on the 60,000-image dataset (an epoch is long)",
    )
    parser.add_argument("--fashion-rounds", type=int, default=1)
    parser.add_argument(
        "--fashion-steps",
        type=int,
        default=0,
        help="stop the 60,000-image epochs after this many steps (max_steps; 0: whole epoch)",
    )
    args = parser.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    if args.quick:
        args.rounds, args.bare_steps, args.batch_size, args.digits_size = 1, 4, 64, 512
        args.datasets = ["digits"]
    DATASETS["digits"]["train_size"] = args.digits_size
    if "after" in args.variants:
        PIPELINE_PRECISION["after"] = after_precision(args.after_options)
    started = start(args)  # this process's threads, recorded with the machine

    def save(payload: dict[str, Any]) -> None:  # after every cell: a cut-short run still counts
        name = "epoch" if args.threads == 1 else f"epoch-threads{args.threads}"
        print(f"wrote {write_result(name, args.out, payload, started)}", flush=True)

    run_all(args, save)
    return None


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


def replace_rounds(args, rounds: int):
    """`args` with another round count (the 60,000-image cells run fewer rounds)."""
    import argparse

    return argparse.Namespace(**{**vars(args), "rounds": rounds})


def run_all(args, save) -> None:
    """Every (dataset, method) cell; `save` gets the payload so far after each one."""
    cells: dict[str, dict[str, Any]] = {}
    with source_tree(args.before) as before_src:
        srcs: dict[str, Path | None] = {"before": before_src}
        for name in args.datasets:
            big = name == "fashion"
            methods = [m for m in args.methods if not big or m in args.fashion_methods]
            rounds = args.fashion_rounds if big else args.rounds
            for method in methods:
                print(f"{method} on {name}", flush=True)
                cell = measure_cell(method, name, replace_rounds(args, rounds), srcs)
                cells.setdefault(name, {})[method] = cell
                save(payload(args, cells))


def payload(args, cells: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The JSON record: settings and the cells measured so far."""
    return {
        "settings": {
            "batch_size": args.batch_size,
            "rounds": args.rounds,
            "fashion_rounds": args.fashion_rounds,
            "fashion_steps": args.fashion_steps,
            "bare_steps": args.bare_steps,
            "threads": args.threads or os.cpu_count(),
            "before": args.before,
            "lightly": package_version("lightly"),
            "precision": dict(PIPELINE_PRECISION),
            "lightly_workers": args.lightly_workers,
            "after_options": args.after_options,
            "datasets": {k: DATASETS[k] for k in args.datasets},
        },
        "cells": cells,
    }


if __name__ == "__main__":
    main()
