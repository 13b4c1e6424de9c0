"""Transfer at small scale: does contrastive pretraining beat supervised pretraining?

The paper's second claim: InfoMin-pretrained ResNets transfer to detection (VOC, COCO)
better than ImageNet-supervised ones. Here, on two CPU cores:

- Pretraining ("ImageNet"): colorful-moving-digits train split (coloured MNIST digits over
  photo crops, 32 px). Initialisations compared, all the same ResNet-18 (width
  `--width`, CIFAR stem): random; supervised (cross-entropy on the digit labels, the
  analogue of ImageNet-supervised); infomin, mocov2 and simclr (`infomin pretrain`, no
  labels). The same number of steps and batch size for all four pretrainings.
- Every pretrained backbone goes through `infomin export --format torchvision` (our own
  export) and is loaded with `strict=True`: a transfer number never rests on a silently
  skipped weight.
- Detection ("COCO"): digit-scenes (1-4 held-out digits over held-out photo regions,
  64 px), torchvision's Faster R-CNN with an FPN on that trunk (`weights=None`,
  nothing downloaded), the whole network fine-tuned with the same schedule for every
  initialisation. AP, AP50, AP75 on held-out scenes: COCO's definition (IoU 0.5:0.95,
  101-point interpolated precision, up to 100 detections per image, per class then
  averaged), computed here because torchmetrics' mean average precision needs
  pycocotools, which is not installed.
- Low-label classification (the semi-supervised protocol): Fashion-MNIST (Debian's
  `dataset-fashion-mnist`, or `--data-dir`), the whole network fine-tuned on 1% and 10%
  of the 60,000 training labels (600 and 6,000 images, grey repeated to RGB at 28 px),
  top-1 on the 10,000 test images. A new domain and new labels for every trunk.
- Seeds: each seed redoes the pretraining and the fine-tuning; mean ± sample std.

`python -m bench.transfer --jobs 2` (`make bench-transfer`): 3 seeds, 15 (init, seed)
cells in two processes of one thread each, 74 min on 2 cores (measured). `--quick`: one
seed, short schedules, 6.0 min on 2 idle cores; it checks the pipeline, not the
verdict. On a GPU: `--device cuda --threads 0`. Writes
bench/results/transfer/transfer[-quick].json (per-seed rows, the table, and each init
minus supervised and minus random, paired by seed with 95% intervals) and prints the
tables; `--summarise FILE` recomputes them from a saved file.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import math
import multiprocessing
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.ops import MultiScaleRoIAlign, box_iou

from bench.common import RESULTS_DIR, make_parser, start, write_result
from infomin.data.base import DatasetError
from infomin.data.digit_scenes import DigitScenes
from infomin.data.fashion_mnist import DEFAULT_DIR, FashionMNIST
from infomin.data.moving_digits import ColorfulMovingDigits
from infomin.data.transforms import RGB_MEAN, RGB_STD, to_model_input
from infomin.experiments.statistics import interval_verdict, paired_difference
from infomin.models.backbones import build_backbone
from infomin.models.export import CheckpointError, export_backbone
from infomin.outputs import write_json

INITS = ("random", "supervised", "infomin", "mocov2", "simclr")
PRETRAIN_SIZE = 32  # colorful-moving-digits canvas; the trunk keeps the CIFAR stem
NUM_DIGITS = 10
NUM_FASHION = 10
FRACTIONS = (0.01, 0.10)
METRICS = ("AP", "AP50", "AP75", *(f"top1@{f:.0%}" for f in FRACTIONS))


@dataclass(frozen=True)
class Plan:
    """Sizes and schedules of one run (the same for every initialisation)."""

    seeds: int = 3
    width: float = 0.25
    pretrain_images: int = 4000
    pretrain_steps: int = 400
    pretrain_batch: int = 64
    canvas: int = 64
    max_digits: int = 4
    det_train: int = 1000
    det_test: int = 300
    det_steps: int = 800
    det_batch: int = 8
    cls_steps: int = 200
    cls_batch: int = 32
    cls_pool: int = 60_000  # Fashion-MNIST training images, of which 1% / 10% keep labels
    cls_test: int = 10_000  # Fashion-MNIST test images scored


FULL = Plan()
QUICK = Plan(
    seeds=1,
    pretrain_images=1000,
    pretrain_steps=40,
    det_train=300,
    det_test=100,
    det_steps=100,
    cls_steps=20,
    cls_test=2000,
)
# Steps of low-label fine-tuning per label fraction, in units of `cls_steps`: 10x the
# labels get 3x the steps (about 200 vs 60 epochs of the labelled images in the full plan).
STEP_SCALE = {0.01: 1, 0.10: 3}


# ------------------------------------------------------------------ pretraining
def pretrain_ssl(preset: str, plan: Plan, seed: int, folder: Path, device: str) -> Path:
    """`infomin pretrain` without labels, then our export: the torchvision backbone file."""
    from infomin.methods.pretrain import PretrainConfig, last_checkpoint, pretrain

    epochs = math.ceil(plan.pretrain_steps * plan.pretrain_batch / plan.pretrain_images)
    config = PretrainConfig(
        preset=preset,
        backbone="resnet18",
        width=plan.width,
        seed=seed,
        train_size=plan.pretrain_images,
        batch_size=plan.pretrain_batch,
        epochs=epochs,
        max_steps=plan.pretrain_steps,
        evaluate=False,
        accelerator="gpu" if device == "cuda" else "cpu",
    )
    run = folder / preset
    shutil.rmtree(run, ignore_errors=True)  # an earlier run's checkpoints: train afresh
    with _quiet(run / "pretrain.log"):
        pretrain(config, run)
    return export_backbone(last_checkpoint(run), run / "backbone.pt").path


def pretrain_supervised(plan: Plan, seed: int, folder: Path, device: str) -> Path:
    """Cross-entropy on the digit labels (the ImageNet-supervised analogue), then export."""
    torch.manual_seed(seed)
    data = ColorfulMovingDigits("train", num_clips=plan.pretrain_images, frames=1, seed=seed)
    images, labels = data.clips[:, 0], data.digit
    trunk = _trunk(plan.width).to(device)
    head = nn.Linear(trunk.out_dim, NUM_DIGITS).to(device)
    step = _classifier_step(trunk, head, plan.pretrain_steps, lr=0.1)
    for batch in _batches(len(labels), plan.pretrain_batch, plan.pretrain_steps, seed):
        x = _flip(to_model_input(images[batch]).to(device))
        step(x, labels[batch].to(device))
    path = folder / "supervised" / "last.ckpt"
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {f"backbone.{k}": v.cpu() for k, v in trunk.state_dict().items()}
    torch.save({"state_dict": state}, path)
    return export_backbone(path, path.parent / "backbone.pt").path


def pretrain_init(init: str, plan: Plan, seed: int, folder: Path, device: str) -> Path | None:
    """One initialisation's exported backbone file (None: random init)."""
    if init == "random":
        return None
    if init == "supervised":
        return pretrain_supervised(plan, seed, folder, device)
    return pretrain_ssl(init, plan, seed, folder, device)


@contextlib.contextmanager
def _quiet(log: Path):
    """Lightning's progress output into a log file, so the bench prints only its table.

    Lightning's info lines go through a logging handler bound to the stderr of import
    time, which a redirect does not reach: that logger is raised to warnings meanwhile.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    lightning_log = logging.getLogger("lightning.pytorch")
    level = lightning_log.level
    lightning_log.setLevel(logging.WARNING)
    try:
        with (
            open(log, "w") as handle,
            contextlib.redirect_stdout(handle),
            contextlib.redirect_stderr(handle),
        ):
            yield
    finally:
        lightning_log.setLevel(level)


# ------------------------------------------------------------------ shared pieces
def _trunk(width: float) -> nn.Module:
    """The one architecture every initialisation uses (ResNet-18, CIFAR stem)."""
    return build_backbone("resnet18", width=width, image_size=PRETRAIN_SIZE)


def load_init(trunk: nn.Module, file: Path | None) -> nn.Module:
    """Our exported weights into the trunk, strictly (a skipped key would be an error)."""
    if file is not None:
        trunk.load_state_dict(torch.load(file, map_location="cpu", weights_only=True), strict=True)
    return trunk


def _batches(n: int, batch: int, steps: int, seed: int):
    """`steps` index batches drawn by reshuffling `range(n)` epoch after epoch."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.empty(0, dtype=torch.long)
    for _ in range(steps):
        if len(order) < batch:
            order = torch.cat([order, torch.randperm(n, generator=generator)])
        yield order[:batch]
        order = order[batch:]


def _flip(x: Tensor) -> Tensor:
    """Random horizontal flip per image."""
    mask = torch.rand(len(x), device=x.device) < 0.5
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


def _schedule(optimizer: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over 5% of the steps, then cosine to zero."""
    warm = max(1, steps // 20)

    def factor(i: int) -> float:
        return (i + 1) / warm if i < warm else 0.5 * (1 + math.cos(math.pi * i / steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _classifier_step(trunk: nn.Module, head: nn.Module, steps: int, lr: float) -> Callable:
    """One SGD step of cross-entropy on trunk + head (whole network trained)."""
    params = [*trunk.parameters(), *head.parameters()]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)
    scheduler = _schedule(optimizer, steps)
    trunk.train()
    head.train()

    def step(x: Tensor, y: Tensor) -> None:
        loss = F.cross_entropy(head(trunk(x)), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()

    return step


# ------------------------------------------------------------------ detection
def detector(trunk: nn.Module, canvas: int) -> FasterRCNN:
    """torchvision's Faster R-CNN + FPN on our trunk, sized for 64-96 px scenes.

    Strides of the CIFAR-stem trunk: layer2 2, layer3 4, layer4 8, FPN pool 16; anchors
    8-64 px fit digits of 12-24 px. The box head is narrowed (256-d) for the CPU.
    """
    channels = [
        trunk.layer2[-1].conv2.out_channels,
        trunk.layer3[-1].conv2.out_channels,
        trunk.layer4[-1].conv2.out_channels,
    ]
    fpn = BackboneWithFPN(trunk, {"layer2": "0", "layer3": "1", "layer4": "2"}, channels, 64)
    anchors = AnchorGenerator(((8,), (16,), (32,), (64,)), ((0.5, 1.0, 2.0),) * 4)
    return FasterRCNN(
        fpn,
        num_classes=None,
        min_size=canvas,
        max_size=canvas,
        image_mean=list(RGB_MEAN),
        image_std=list(RGB_STD),
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_train=600,
        rpn_post_nms_top_n_train=300,
        rpn_pre_nms_top_n_test=300,
        rpn_post_nms_top_n_test=100,
        box_roi_pool=MultiScaleRoIAlign(["0", "1", "2"], output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(64 * 7 * 7, 256),
        box_predictor=FastRCNNPredictor(256, NUM_DIGITS + 1),
        box_batch_size_per_image=128,
        box_score_thresh=0.01,
        box_detections_per_img=100,
    )


def finetune_detector(model: FasterRCNN, data: DigitScenes, plan: Plan, seed: int, device: str):
    """Fine-tune the whole detector (SGD 0.02, warm-up + cosine), labels shifted by one."""
    torch.manual_seed(seed)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.02, momentum=0.9, weight_decay=1e-4)
    scheduler = _schedule(optimizer, plan.det_steps)
    for batch in _batches(len(data), plan.det_batch, plan.det_steps, seed):
        images, targets = _detection_batch(data, batch.tolist(), device)
        loss = sum(model(images, targets).values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return model


def _detection_batch(data: DigitScenes, indices: list[int], device: str):
    images, targets = [], []
    for i in indices:
        image, target = data[i]
        images.append(image.float().div(255).to(device))
        targets.append(
            {"boxes": target["boxes"].to(device), "labels": target["labels"].to(device) + 1}
        )
    return images, targets


@torch.no_grad()
def predict(model: FasterRCNN, data: DigitScenes, device: str) -> list[dict[str, Tensor]]:
    """Detections per test scene, labels shifted back to digits."""
    model.eval()
    out = []
    for start_at in range(0, len(data), 32):
        indices = list(range(start_at, min(start_at + 32, len(data))))
        images, _ = _detection_batch(data, indices, device)
        for found in model(images):
            out.append(
                {k: v.cpu() for k, v in found.items()} | {"labels": found["labels"].cpu() - 1}
            )
    return out


def average_precision(
    predictions: Sequence[dict[str, Tensor]], targets: Sequence[dict[str, Tensor]]
) -> dict[str, float]:
    """COCO-style AP, AP50, AP75 (in %): per class and IoU threshold, then averaged."""
    thresholds = np.round(np.linspace(0.5, 0.95, 10), 2)
    classes = sorted({int(c) for t in targets for c in t["labels"]})
    table = np.array([[_class_ap(predictions, targets, c, t) for c in classes] for t in thresholds])
    return {
        "AP": 100 * float(table.mean()),
        "AP50": 100 * float(table[0].mean()),
        "AP75": 100 * float(table[5].mean()),
    }


def _class_ap(predictions, targets, label: int, threshold: float) -> float:
    """101-point interpolated AP of one class at one IoU threshold (greedy COCO matching)."""
    truth = [t["boxes"][t["labels"] == label] for t in targets]
    found = [
        (float(s), i, b)
        for i, p in enumerate(predictions)
        for s, b in zip(
            p["scores"][p["labels"] == label], p["boxes"][p["labels"] == label], strict=True
        )
    ]
    found.sort(key=lambda d: -d[0])
    taken = [torch.zeros(len(b), dtype=torch.bool) for b in truth]
    hits = np.zeros(len(found))
    for k, (_, image, box) in enumerate(found):
        if len(truth[image]) == 0:
            continue
        iou = box_iou(box[None], truth[image])[0].masked_fill(taken[image], -1.0)
        best = int(iou.argmax())
        if iou[best] >= threshold:
            taken[image][best] = True
            hits[k] = 1
    total = sum(len(b) for b in truth)
    recall = np.cumsum(hits) / total
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    points = np.searchsorted(recall, np.linspace(0, 1, 101), side="left")
    return float(np.mean([envelope[p] if p < len(envelope) else 0.0 for p in points]))


def detection_run(file: Path | None, plan: Plan, seed: int, device: str, data) -> dict[str, float]:
    """Fine-tune a detector from one initialisation and score it on the held-out scenes."""
    torch.manual_seed(seed)
    model = detector(load_init(_trunk(plan.width), file), plan.canvas)
    finetune_detector(model, data["train"], plan, seed, device)
    test = data["test"]
    return average_precision(predict(model, test, device), [test[i][1] for i in range(len(test))])


# ------------------------------------------------------------------ low-label classification
def low_label_run(file: Path | None, fraction: float, plan: Plan, seed: int, device: str, data):
    """Top-1 (%) on the Fashion-MNIST test images after fine-tuning on `fraction` of the
    training pool's labels (a per-seed random choice of images)."""
    torch.manual_seed(seed)
    train, test = data
    count = max(1, round(fraction * len(train[1])))
    chosen = torch.randperm(len(train[1]), generator=torch.Generator().manual_seed(seed))[:count]
    trunk = load_init(_trunk(plan.width), file).to(device)
    head = nn.Linear(trunk.out_dim, NUM_FASHION).to(device)
    steps = plan.cls_steps * STEP_SCALE[fraction]
    step = _classifier_step(trunk, head, steps, lr=0.05)
    for batch in _batches(count, min(plan.cls_batch, count), steps, seed):
        idx = chosen[batch]
        step(_flip(to_model_input(train[0][idx]).to(device)), train[1][idx].to(device))
    trunk.eval()
    head.eval()
    with torch.no_grad():
        logits = torch.cat(
            [head(trunk(to_model_input(x).to(device))).cpu() for x in test[0].split(256)]
        )
    return 100 * float((logits.argmax(1) == test[1]).float().mean())


def fashion(data_dir: Path, split: str, count: int) -> tuple[Tensor, Tensor]:
    """The first `count` images of a Fashion-MNIST split as uint8 RGB, and their labels."""
    data = FashionMNIST(data_dir, split)
    if count > len(data.labels):
        raise DatasetError(
            f"Fashion-MNIST {split} holds {len(data.labels)} images in {data.root}, "
            f"fewer than the {count} asked for"
        )
    return data.images[:count].expand(-1, 3, -1, -1), data.labels[:count]


# ------------------------------------------------------------------ the run
@dataclass(frozen=True)
class Cell:
    """One initialisation at one seed: the unit of work a process runs on its own."""

    init: str
    seed: int


def run_cell(
    cell: Cell, plan: Plan, folder: Path, device: str, data_dir: Path, threads: int, resume: bool
) -> dict[str, float]:
    """Pretrain one initialisation, then its detection and low-label scores (a table row).

    Every random draw is seeded from `cell.seed` here, so a row does not depend on which
    process ran it or in what order. The row is saved beside the cell's run folder;
    with `resume`, a saved row of the same plan and device is kept instead of rerun, so
    a stopped table restarts where it stopped.
    """
    if threads:
        torch.set_num_threads(threads)
    seed_folder = folder / f"seed{cell.seed}"
    saved = seed_folder / f"{cell.init}.json"
    if resume and saved.is_file():
        record = json.loads(saved.read_text())
        if record["plan"] == asdict(plan) and record["device"] == device:
            print(f"  seed {cell.seed} {cell.init}: kept from {saved}", flush=True)
            return record["row"]
    data = load_data(plan, cell.seed, data_dir)
    began = time.perf_counter()
    file = pretrain_init(cell.init, plan, cell.seed, seed_folder, device)
    pretrain_s = time.perf_counter() - began
    began = time.perf_counter()
    row = detection_run(file, plan, cell.seed, device, data["scenes"])
    row["detection_s"] = time.perf_counter() - began
    began = time.perf_counter()
    for fraction in FRACTIONS:
        key = f"top1@{fraction:.0%}"
        row[key] = low_label_run(file, fraction, plan, cell.seed, device, data["fashion"])
    row["low_label_s"] = time.perf_counter() - began
    row["pretrain_s"] = pretrain_s
    row = {key: round(value, 2) for key, value in row.items()}
    saved.parent.mkdir(parents=True, exist_ok=True)  # random init made no run folder
    write_json(saved, {"plan": asdict(plan), "device": device, "row": row})
    print(f"  seed {cell.seed} {cell.init}: " + ", ".join(f"{k} {v}" for k, v in row.items()),
          flush=True)  # fmt: skip
    return row


def run_cells(cells: Sequence[Cell], jobs: int, *args) -> list[dict[str, float]]:
    """`run_cell` over every cell, in `jobs` processes (one: in this process)."""
    if jobs == 1:
        return [run_cell(cell, *args) for cell in cells]
    context = multiprocessing.get_context("spawn")  # no forked copy of torch's thread pools
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        return list(pool.map(run_cell, cells, *(itertools.repeat(arg) for arg in args)))


def plan_cells(inits: Sequence[str], first_seed: int, seeds: int) -> list[Cell]:
    """Every (init, seed), the longest first so the processes finish together (random
    init has no pretraining: last)."""
    cells = [Cell(init, seed) for seed in range(first_seed, first_seed + seeds) for init in inits]
    return sorted(cells, key=lambda cell: cell.init == "random")


def summarise(runs: Sequence[dict[str, dict[str, float]]]) -> dict[str, dict[str, list[float]]]:
    """Per init and metric: [mean, sample std (0 for one seed)] over seeds."""
    table: dict[str, dict[str, list[float]]] = {}
    for init in runs[0]:
        table[init] = {}
        for metric in runs[0][init]:
            values = [run[init][metric] for run in runs]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            table[init][metric] = [round(statistics.fmean(values), 4), round(spread, 4)]
    return table


def _markdown_table(corner: str, rows: dict[str, list[str]]) -> str:
    """A markdown table with one column per metric and one row per init."""
    lines = [f"| {corner} | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    lines += [f"| {init} | " + " | ".join(cells) + " |" for init, cells in rows.items()]
    return "\n".join(lines)


def markdown(table: dict[str, dict[str, list[float]]], seeds: int) -> str:
    """The README table: mean ± std over seeds."""
    return _markdown_table("init", {
        init: [f"{row[m][0]:.1f} ± {row[m][1]:.1f}" if seeds > 1 else f"{row[m][0]:.1f}"
               for m in METRICS]
        for init, row in table.items()
    })  # fmt: skip


def compare(runs: Sequence[dict[str, dict[str, float]]], baseline: str = "supervised") -> dict:
    """The verdict: each other init minus ``baseline``, per metric, paired by seed (both
    pretrained and fine-tuned from the same seed), with its 95% Student-t interval.
    Empty when the baseline was not run."""
    if baseline not in runs[0]:
        return {}
    out: dict[str, dict[str, dict]] = {}
    for init in runs[0]:
        if init == baseline:
            continue
        out[init] = {}
        for metric in METRICS:
            ours = [run[init][metric] for run in runs]
            theirs = [run[baseline][metric] for run in runs]
            difference = paired_difference(ours, theirs)
            difference["verdict"] = interval_verdict(difference["interval"])
            out[init][metric] = difference
    return out


def markdown_comparison(comparison: dict, baseline: str = "supervised") -> str:
    """Init - baseline in points, [95% interval], and what the interval settles."""

    def cell(found: dict) -> str:
        interval = found["interval"]
        span = f" [{interval[0]:+.1f}, {interval[1]:+.1f}]" if interval else ""
        return f"{found['difference']:+.1f}{span} {found['verdict']}"

    rows = {init: [cell(metrics[m]) for m in METRICS] for init, metrics in comparison.items()}
    return _markdown_table(f"init - {baseline}", rows)


MARKDOWN_KEYS = ("markdown", "markdown_comparison", "markdown_comparison_random")


def summarise_file(path: Path) -> int:
    """Recompute a saved run's table and verdict from its per-seed rows (no training)."""
    try:
        record = json.loads(path.read_text())
        runs, seeds = record["runs"], record["plan"]["seeds"]
    except (OSError, ValueError, KeyError) as err:
        print(f"bench.transfer: error: {path} is not a bench.transfer result ({err})",
              file=sys.stderr)  # fmt: skip
        return 2
    record.update(result_tables(runs, seeds))
    write_json(path, record)
    print(*(record[key] for key in MARKDOWN_KEYS), f"updated {path}", sep="\n\n")
    return 0


def result_tables(runs: Sequence[dict[str, dict[str, float]]], seeds: int) -> dict:
    """The table, its markdown, and the paired comparisons: against supervised (the
    paper's question) and against random init (does any pretraining help here?)."""
    order = [init for init in INITS if init in runs[0]]  # saved JSON sorts its keys
    runs = [{init: run[init] for init in order} for run in runs]
    table = summarise(runs)
    out: dict = {"table": table, "markdown": markdown(table, seeds)}
    for baseline, key in (("supervised", "comparison"), ("random", "comparison_random")):
        found = compare(runs, baseline)
        out[key], out[f"markdown_{key}"] = found, markdown_comparison(found, baseline)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__.split("\n\n")[0])
    parser.set_defaults(out=RESULTS_DIR / "transfer")
    parser.add_argument("--inits", default=",".join(INITS), help="initialisations to compare")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows of cells a stopped run finished (same plan and device, under "
        "--work); without it every cell is trained afresh",
    )
    parser.add_argument(
        "--summarise",
        type=Path,
        metavar="JSON",
        help="recompute the table and the verdict of a saved result from its per-seed "
        "rows, and rewrite it (no training)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="processes, each running whole (init, seed) cells with --threads threads: on "
        "2 cores, --jobs 2 runs the table about twice as fast as one process",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help=f"Fashion-MNIST IDX folder ({DEFAULT_DIR})"
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("runs/bench-transfer"),
        help="folder for the pretraining runs and exported backbones",
    )
    for field, value in asdict(FULL).items():
        kind = float if isinstance(value, float) else int
        parser.add_argument(
            f"--{field.replace('_', '-')}",
            type=kind,
            default=None,
            help=f"override the plan (full {value}, quick {getattr(QUICK, field)})",
        )
    return parser


def make_plan(args: argparse.Namespace) -> Plan:
    """The full or quick plan with the overrides given on the command line."""
    base = QUICK if args.quick else FULL
    changes = {f: getattr(args, f) for f in asdict(base) if getattr(args, f) is not None}
    plan = replace(base, **changes)
    if min(asdict(plan).values()) <= 0:
        raise DatasetError("every size, step count and the width must be > 0")
    return plan


def load_data(plan: Plan, seed: int, data_dir: Path) -> dict:
    """The target tasks: scenes rendered per seed (digit-scenes' refusals fire here) and
    Fashion-MNIST read once (a missing or bad file is a one-line `DatasetError`)."""
    scenes = {
        split: DigitScenes(split, n, canvas=plan.canvas, max_digits=plan.max_digits, seed=seed)
        for split, n in (("train", plan.det_train), ("test", plan.det_test))
    }
    labelled = fashion(data_dir, "train", plan.cls_pool), fashion(data_dir, "test", plan.cls_test)
    return {"scenes": scenes, "fashion": labelled}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.summarise is not None:
        return summarise_file(args.summarise)
    started = start(args)
    inits = [name.strip() for name in args.inits.split(",") if name.strip()]
    try:
        unknown = sorted(set(inits) - set(INITS))
        if unknown or not inits:
            raise DatasetError(f"unknown init {unknown}; choose from {', '.join(INITS)}")
        plan = make_plan(args)
        if args.jobs < 1:
            raise DatasetError(f"--jobs must be >= 1, not {args.jobs}")
        if args.device not in ("cpu", "cuda"):
            raise DatasetError(f"--device must be cpu or cuda, not {args.device!r}")
        if args.device == "cuda" and not torch.cuda.is_available():
            raise DatasetError("--device cuda: torch sees no CUDA device here")
        data_dir = args.data_dir or DEFAULT_DIR  # resolved here: --jobs processes get it
        load_data(
            replace(plan, det_train=1, det_test=1), args.seed, data_dir
        )  # refuse bad scenes and missing data before any training
    except (DatasetError, CheckpointError) as err:
        print(f"bench.transfer: error: {err}", file=sys.stderr)
        return 2
    cells = plan_cells(inits, args.seed, plan.seeds)
    rows = run_cells(
        cells, args.jobs, plan, args.work, args.device, data_dir, args.threads, args.resume
    )
    done = dict(zip(cells, rows, strict=True))
    seeds = range(args.seed, args.seed + plan.seeds)
    runs = [{init: done[Cell(init, seed)] for init in inits} for seed in seeds]
    tables = result_tables(runs, plan.seeds)
    print(*(tables[key] for key in MARKDOWN_KEYS), sep="\n\n")
    name = "transfer-quick" if args.quick else "transfer"
    payload = {"plan": asdict(plan), "inits": inits, "jobs": args.jobs, "runs": runs, **tables}
    print(f"wrote {write_result(name, args.out, payload, started)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
