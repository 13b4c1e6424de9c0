"""Evaluation: the linear probe on cached features against the reference protocol.

- cached (ours): extract frozen features of the train and test images once, then fit the
  softmax probe by full-batch L-BFGS (``infomin.evaluate``). Timed end to end.
- reference: the paper's protocol, 60 epochs of SGD over *augmented* images
  (RandomResizedCrop scale (0.2, 1) + flip, redrawn every epoch) pushed through the
  frozen backbone, lr decayed 10x at epochs 30, 40 and 50, momentum 0.9, no weight
  decay; the features pass a BatchNorm without affine parameters so one learning rate
  suits any backbone. Tested on the centre (unaugmented) test images.

Both use the same frozen backbone (a seeded, randomly initialised convnet at half width:
the ratio is about the protocol, not the representation) on photo-patches (11 photos,
32 px). Ratio = reference time / cached time, with the cached probe timed before and
after the reference run (median), and the top-1 difference in points beside it with
its standard error (binomial, both probes scored on the same test images): on 2,000 test
images a single accuracy is only known to about +-1 point.
"""

from __future__ import annotations

import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from bench.common import make_parser, start, write_result
from infomin.data.photo_patches import PhotoPatches
from infomin.data.transforms import to_model_input
from infomin.evaluate import extract_features, frozen, linear_probe_accuracy, topk_accuracy
from infomin.models import build_backbone
from infomin.views.batched import crop_boxes, random_flip, resized_crop

REFERENCE_EPOCHS = 60
MILESTONES = (30, 40, 50)


class InMemory(Dataset):
    """Decoded images and labels in memory, so neither protocol is timed decoding."""

    def __init__(self, dataset: Dataset) -> None:
        items = [dataset[i] for i in range(len(dataset))]  # type: ignore[arg-type]
        self.images = torch.stack([img for img, _ in items])
        self.labels = torch.stack([t["photo"] for _, t in items])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Tensor]]:
        return self.images[index], {"photo": self.labels[index]}


def cached_probe(backbone: nn.Module, train: InMemory, test: InMemory) -> tuple[float, float]:
    """(seconds, test top-1) of feature extraction + L-BFGS probe."""
    started = time.perf_counter()
    train_x, _ = extract_features(backbone, train, batch_size=256)
    test_x, _ = extract_features(backbone, test, batch_size=256)
    acc = linear_probe_accuracy(train_x, train.labels, test_x, test.labels)
    return time.perf_counter() - started, acc["top1"]


def augment(images: Tensor, generator: torch.Generator) -> Tensor:
    """The reference protocol's training views: crop (0.2, 1) + flip, per image."""
    x = images.float() / 255.0
    boxes = crop_boxes(len(x), x.shape[-2], x.shape[-1], (0.2, 1.0), generator=generator)
    return to_model_input(random_flip(resized_crop(x, boxes, x.shape[-1]), 0.5, generator))


def reference_probe(
    backbone: nn.Module, train: InMemory, test: InMemory, args
) -> tuple[float, float]:
    """(seconds, test top-1) of the 60-epoch SGD protocol over augmented images."""
    started = time.perf_counter()
    images, labels = train.images, train.labels
    classes = int(labels.max()) + 1
    dim = int(backbone.out_dim)
    probe = nn.Sequential(nn.BatchNorm1d(dim, affine=False), nn.Linear(dim, classes))
    optimizer = torch.optim.SGD(probe.parameters(), lr=args.lr, momentum=0.9)
    steps_per_epoch = -(-len(images) // args.batch_size)
    schedule = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, [m * steps_per_epoch for m in MILESTONES], 0.1
    )
    g = torch.Generator().manual_seed(args.seed)
    with frozen(backbone):
        for _ in range(args.epochs):
            order = torch.randperm(len(images), generator=g)
            for chunk in order.split(args.batch_size):
                with torch.no_grad():
                    features = backbone(augment(images[chunk], g))
                loss = F.cross_entropy(probe(features), labels[chunk])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
        probe.eval()
        with torch.no_grad():
            scores = probe(backbone(to_model_input(test.images)))
    return time.perf_counter() - started, topk_accuracy(scores, test.labels, (1,))["top1"]


def standard_error(top1_a: float, top1_b: float, n: int) -> float:
    """Binomial standard error of one accuracy (points), at the mean of the two."""
    p = (top1_a + top1_b) / 200
    return 100 * math.sqrt(p * (1 - p) / n)


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=1500)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=REFERENCE_EPOCHS)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.5, help="reference protocol's SGD lr")
    parser.add_argument("--width", type=float, default=0.5, help="convnet width multiplier")
    args = parser.parse_args(argv)
    if args.quick:
        args.train_size, args.test_size, args.epochs = 200, 200, 3
    started = start(args)
    backbone = build_backbone("convnet", width=args.width, image_size=32)
    train = InMemory(PhotoPatches("train", num_patches=args.train_size, seed=args.seed))
    test = InMemory(PhotoPatches("test", num_patches=args.test_size, seed=args.seed))
    before, cached_top1 = cached_probe(backbone, train, test)
    ref_s, ref_top1 = reference_probe(backbone, train, test, args)
    after, _ = cached_probe(backbone, train, test)
    cached_s = statistics.median([before, after])
    result = {
        "speedup": ref_s / cached_s,
        "cached": {"seconds": cached_s, "top1": cached_top1},
        "reference": {"seconds": ref_s, "top1": ref_top1, "epochs": args.epochs, "lr": args.lr},
        "top1_gap_points": cached_top1 - ref_top1,
        "top1_standard_error_points": standard_error(cached_top1, ref_top1, args.test_size),
        "settings": {
            "dataset": "photo-patches 32 px",
            "train_size": args.train_size,
            "test_size": args.test_size,
            "backbone": f"convnet width {args.width} (random init, seeded)",
            "threads": torch.get_num_threads(),
        },
    }
    print(
        f"linear probe: cached {cached_s:.1f} s, top-1 {cached_top1:.1f}%; reference "
        f"{args.epochs} epochs {ref_s:.1f} s, top-1 {ref_top1:.1f}%: "
        f"{result['speedup']:.1f}x faster, {result['top1_gap_points']:+.1f} points "
        f"(standard error {result['top1_standard_error_points']:.1f})",
        flush=True,
    )
    print(f"wrote {write_result('probe', args.out, result, started)}")


if __name__ == "__main__":
    main()
