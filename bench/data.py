"""Data pipeline: InfoMin Aug images per second per worker, the batched path, starvation.

Per image (what one DataLoader worker does, one thread):
- ours-D: ``build_recipe("D")``, InfoMin Aug (timm RandAugment on a PIL copy);
- v2-D: a plain torchvision v2 composition of the same operations (v2.RandAugment on the
  tensor, magnitude mapped onto its 31 bins), the peer a user would write;
- ours-B: MoCo v2's recipe (no RandAugment, half the jitter), for scale;
- ours-D-torchvision-blur: ours-D with its ``SeparableGaussianBlur`` (same draws and
  output as torchvision's, two 1-D passes) put back to torchvision's k x k kernel: what
  the separable blur saves;
- ours-infomin-sample: everything a worker makes for one InfoMin sample (two crops of D
  and the nine jigsaw patches).
Batched (``infomin.views.BatchedRecipe`` on one thread, the same core budget as a
worker): recipe D without RandAugment and recipe B, on a ``uint8`` batch.

Starvation: the trainer eats ``batch / step time`` samples per second (from
``bench/results/step.json`` when present, same machine); one worker makes the
``ours-infomin-sample`` rate; their ratio is the number of workers needed. At 224 px
the JSON gives the workers needed per 1,000 samples/s a GPU would consume.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from torchvision.transforms import v2

from bench.common import (
    alternate,
    make_parser,
    paired_ratio,
    paired_spread,
    start,
    summary,
    write_result,
)
from infomin.data import photos
from infomin.views import BatchedRecipe, JigsawPatches, build_recipe, get_recipe
from infomin.views.blur import SeparableGaussianBlur
from infomin.views.recipes import RecipeTransform, adapt_to_small_images, blur_kernel_size

SIZES = (32, 224)
INPUT_SIDE = {32: 32, 224: 256}  # CIFAR stores 32 px images; ImageNet loaders decode ~256


def source_images(count: int, side: int) -> list[torch.Tensor]:
    """Centre squares of the bundled photos at ``side`` px (real content, not noise)."""
    images = []
    for i in range(count):
        array = photos.photo(i % photos.NUM_PHOTOS, side)
        h, w = array.shape[:2]
        top, left = (h - side) // 2, (w - side) // 2
        square = np.array(array[top : top + side, left : left + side])  # writable copy
        images.append(torch.from_numpy(square).permute(2, 0, 1).contiguous())
    return images


def plain_v2_recipe_d(size: int) -> v2.Compose:
    """InfoMin Aug written with torchvision v2 only (same steps, same order, same numbers)."""
    spec = get_recipe("D")
    spec = adapt_to_small_images(spec, size) if size <= 96 else spec
    b, c, s, h = spec.scaled_jitter  # type: ignore[misc]
    ra = spec.randaugment
    assert ra is not None
    blur = v2.GaussianBlur(blur_kernel_size(size), sigma=spec.blur_sigma)
    return v2.Compose(
        [
            v2.RandomResizedCrop(size, scale=spec.crop_scale, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(b, c, s, h)], p=spec.jitter_p),
            v2.RandomApply([blur], p=spec.blur_p),
            v2.RandAugment(num_ops=ra.num_ops, magnitude=round(3 * ra.magnitude)),
            v2.RandomGrayscale(p=spec.grayscale_p),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        ]
    )


def per_image(transform: Callable, images: list[torch.Tensor]) -> Callable[[], None]:
    def run() -> None:
        for img in images:
            transform(img)

    return run


def step_shares(size: int, images: list[torch.Tensor]) -> dict[str, float]:
    """Share of InfoMin Aug's per-image time spent in each step: where a worker's time goes."""
    steps = build_recipe("D", size).augment.transforms
    spent: dict[str, float] = {}
    for img in images:
        x = img
        for step in steps:
            inner = step.transforms[0] if isinstance(step, v2.RandomApply) else step
            start = time.perf_counter()
            x = step(x)
            name = type(inner).__name__
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
    total = sum(spent.values())
    return {name: round(t / total, 3) for name, t in spent.items()}


def with_torchvision_blur(recipe: RecipeTransform) -> RecipeTransform:
    """``recipe`` with its separable blur swapped for torchvision's (same parameters)."""
    for step in recipe.augment.transforms:
        inner = step.transforms if isinstance(step, v2.RandomApply) else []
        for i, t in enumerate(inner):
            if isinstance(t, SeparableGaussianBlur):
                inner[i] = v2.GaussianBlur(t.kernel_size, t.sigma)
    return recipe


def infomin_sample(size: int) -> Callable[[torch.Tensor], object]:
    recipe = build_recipe("D", size)
    jigsaw = JigsawPatches(size)
    return lambda img: (recipe(img), recipe(img), jigsaw(img))


def batched(name: str, size: int, batch: torch.Tensor) -> Callable[[], None]:
    recipe = BatchedRecipe(name, size, drop_randaugment=True)
    return lambda: recipe(batch)


def bench_size(size: int, args) -> dict:
    n = args.images
    images = source_images(n, INPUT_SIDE[size])
    stacked = torch.stack(images)
    per = {
        "ours-D": per_image(build_recipe("D", size), images),
        "v2-D": per_image(plain_v2_recipe_d(size), images),
        "ours-D-torchvision-blur": per_image(
            with_torchvision_blur(build_recipe("D", size)), images
        ),
        "ours-B": per_image(build_recipe("B", size), images),
        "ours-infomin-sample": per_image(infomin_sample(size), images),
        "batched-D-without-RA": batched("D", size, stacked),
        "batched-B": batched("B", size, stacked),
    }
    times = alternate(per, args.rounds, 1, warmup=1)
    rate = {name: n / statistics.median(t) for name, t in times.items()}
    result = {
        "images_per_s": {k: round(v, 1) for k, v in rate.items()},
        "ours_vs_v2": paired_ratio(times, "ours-D", "v2-D"),  # time ratio: < 1 is faster
        "ours_vs_v2_quartiles": paired_spread(times, "ours-D", "v2-D"),
        "separable_blur_speedup": paired_ratio(times, "ours-D-torchvision-blur", "ours-D"),
        "batched_B_speedup": paired_ratio(times, "ours-B", "batched-B"),
        "recipe_b_speedup": paired_ratio(times, "ours-D", "ours-B"),
        "times": summary(times),
        "input_side": INPUT_SIDE[size],
        "images_per_round": n,
    }
    result["workers_per_1000_samples_per_s"] = math.ceil(1000 / rate["ours-infomin-sample"])
    result["recipe_d_step_shares"] = shares = step_shares(size, images)
    top = max(shares, key=shares.__getitem__)
    print(
        f"{size:3d} px  ours-D {rate['ours-D']:.0f} img/s/worker, v2-D {rate['v2-D']:.0f}: "
        f"ours/v2 time {result['ours_vs_v2']:.2f}x; RandAugment "
        f"{shares.get('PILRandAugment', 0):.0%} of D; separable blur "
        f"{result['separable_blur_speedup']:.2f}x faster D; "
        f"batched B {result['batched_B_speedup']:.1f}x per-image B; "
        f"infomin sample {rate['ours-infomin-sample']:.0f}/s/worker; "
        f"slowest step {top} ({shares[top]:.0%})",
        flush=True,
    )
    return result


def trainer_demand(results_dir) -> dict | None:
    """Samples per second the infomin step consumes, from step.json (same machine)."""
    path = results_dir / "step.json"
    if not path.is_file():
        return None
    step = json.loads(path.read_text())
    settings = step["settings"]
    median_ms = step["methods"].get("infomin", {}).get("times", {}).get("ours", {}).get("median_ms")
    if median_ms is None:
        return None
    return {
        "image_size": settings["image_size"],
        "samples_per_s": settings["batch_size"] / (median_ms / 1000),
        "threads": settings.get("threads"),
    }


def starvation(results: dict, demand: dict | None) -> dict | None:
    if demand is None or demand["image_size"] not in results:
        return None
    supply = results[demand["image_size"]]["images_per_s"]["ours-infomin-sample"]
    workers = demand["samples_per_s"] / supply
    print(
        f"starvation at {demand['image_size']} px: the infomin step eats "
        f"{demand['samples_per_s']:.0f} samples/s, one worker makes {supply:.0f}/s: "
        f"{workers:.2f} workers needed",
        flush=True,
    )
    return {**demand, "worker_samples_per_s": supply, "workers_needed": workers}


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), choices=SIZES)
    parser.add_argument("--images", type=int, default=64, help="images per timed round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.rounds = 8, 2
    started = start(args)  # one thread by default: what a DataLoader worker runs
    results = {size: bench_size(size, args) for size in args.sizes}
    payload = {
        "settings": {
            "threads": torch.get_num_threads(),
            "rounds": args.rounds,
            "images": args.images,
        },
        "sizes": {str(k): v for k, v in results.items()},
        "starvation": starvation(results, trainer_demand(args.out)),
    }
    print(f"wrote {write_result('data', args.out, payload, started)}")


if __name__ == "__main__":
    main()
