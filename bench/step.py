"""Training step: our simclr, mocov2 and infomin steps against lightly and the bare backbone.

One step = forward, loss, backward and an SGD update (for queue methods also the EMA
update of the key encoder and the enqueue), on fixed synthetic views so that only the
step is timed (the data pipeline has its own benchmark).

- ours: `build_method(preset)`'s `training_step` + backward + `configure_optimizers`'s
  SGD and schedule step, exactly what Lightning runs, without Lightning's loop (and so
  without its logging, which needs the loop; lightly's step does not log either).
- lightly: the same recipe from lightly's parts (NTXentLoss with or without its memory
  bank, SimCLR/MoCo projection heads without BN, `update_momentum`, `batch_shuffle`),
  our backbone, batch, image size, temperature, queue size, EMA and optimiser. Lightly
  has no jigsaw branch: its infomin step adds the preset's jigsaw head (ours, built by
  `make_jigsaw_head`: an MLP per patch for infomin, as its method) and scores both queries
  in one NTXentLoss call (the mean over the stacked rows is the 0.5 / 0.5 mix; the bank
  then receives each key twice, a content difference that costs no time).
- bare: the backbone passes the method itself makes and nothing else: forward+backward
  on every view that gets gradients (both crops for simclr; crop 1 and the jigsaw
  patches for infomin), a no-grad forward of a key copy on crop 2 for queue methods,
  a scalar loss, SGD. `ours / bare` is what the method adds on top of the network.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor, nn

from bench.common import (
    alternate,
    fmt_ratio,
    make_parser,
    package_version,
    paired_ratio,
    paired_spread,
    start,
    summary,
    write_result,
)
from infomin.methods import TrainSettings, build_method, for_image_size, get_preset
from infomin.methods.base import build_towers, make_jigsaw_head
from infomin.methods.presets import Preset
from infomin.views import jigsaw_geometry

METHODS = ("simclr", "mocov2", "infomin")
Step = Callable[[], None]


@dataclass(frozen=True)
class Runtime:
    """Where and how a step runs: device, autocast dtype, channels-last memory (GPU bench)."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    amp: torch.dtype | None = None
    channels_last: bool = False

    def autocast(self) -> AbstractContextManager:
        if self.amp is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def place(self, module: nn.Module) -> nn.Module:
        if self.channels_last:
            return module.to(self.device, memory_format=torch.channels_last)
        return module.to(self.device)

    def tensor(self, x: Tensor) -> Tensor:
        x = x.to(self.device)
        if self.channels_last and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x


CPU = Runtime()


@dataclass(frozen=True)
class Batch:
    """Fixed synthetic inputs: two crops, the jigsaw patches, the sample indices."""

    views: tuple[Tensor, ...]
    index: Tensor

    @classmethod
    def make(cls, batch: int, size: int, jigsaw: bool, seed: int, rt: Runtime = CPU) -> Batch:
        g = torch.Generator().manual_seed(seed)
        views = [torch.randn(batch, 3, size, size, generator=g) for _ in range(2)]
        if jigsaw:
            p = jigsaw_geometry(size).patch
            views.append(torch.randn(batch, 9, 3, p, p, generator=g))
        return cls(tuple(rt.tensor(v) for v in views), torch.arange(batch, device=rt.device))


def sgd(params, preset: Preset, lr: float) -> torch.optim.SGD:
    trainable = [p for p in params if p.requires_grad]
    return torch.optim.SGD(
        trainable, lr=lr, momentum=preset.momentum, weight_decay=preset.weight_decay
    )


def optimise(optimizer: torch.optim.Optimizer, loss: Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _no_log(*args: object, **kwargs: object) -> None:
    """Stands in for `LightningModule.log` when a step runs without a Trainer."""


def ours(preset: Preset, settings: TrainSettings, batch: Batch, rt: Runtime = CPU) -> Step:
    settings = replace(settings, channels_last=rt.channels_last)
    method = rt.place(build_method(preset, settings))
    # `self.log` needs a Trainer: outside one every call takes Lightning's warning path,
    # measured at 5% of an infomin step here, a cost no real run pays (under a Trainer
    # logging is part of Lightning's loop, outside the step) and lightly's step lacks.
    method.log = _no_log  # type: ignore[method-assign]
    config = method.configure_optimizers()
    optimizer, schedule = config["optimizer"], config["lr_scheduler"]["scheduler"]
    data = (list(batch.views), {}, batch.index)

    def step() -> None:
        with rt.autocast():
            loss = method.training_step(data, 0)
        optimise(optimizer, loss)
        schedule.step()

    return step


class LightlyModel(nn.Module):
    """The recipe as a lightly user writes it (lightly's examples), on our backbone."""

    def __init__(self, preset: Preset, settings: TrainSettings) -> None:
        from lightly.loss import NTXentLoss
        from lightly.models.modules import MoCoProjectionHead, SimCLRProjectionHead
        from lightly.models.utils import deactivate_requires_grad

        super().__init__()
        self.preset = preset
        self.backbone = build_towers(preset, settings)
        d, e = int(self.backbone.out_dim), preset.embed_dim
        queue = preset.negatives == "queue"
        head = MoCoProjectionHead if queue else SimCLRProjectionHead
        self.head = head(d, d, e, batch_norm=False)
        bank = (preset.num_negatives, e) if queue else 0
        self.criterion = NTXentLoss(preset.temperature, memory_bank_size=bank)
        self.jigsaw = make_jigsaw_head(preset, d) if preset.jigsaw else None
        if queue:
            self.backbone_m = copy.deepcopy(self.backbone)
            self.head_m = copy.deepcopy(self.head)
            deactivate_requires_grad(self.backbone_m)
            deactivate_requires_grad(self.head_m)

    def loss(self, views: tuple[Tensor, ...]) -> Tensor:
        if self.preset.negatives == "batch":
            z0, z1 = (self.head(self.backbone(v)) for v in views[:2])
            return self.criterion(z0, z1)
        from lightly.models.utils import batch_shuffle, batch_unshuffle, update_momentum

        update_momentum(self.backbone, self.backbone_m, self.preset.ema)
        update_momentum(self.head, self.head_m, self.preset.ema)
        query = self.head(self.backbone(views[0]))
        with torch.no_grad():
            shuffled, order = batch_shuffle(views[1])
            key = batch_unshuffle(self.head_m(self.backbone_m(shuffled)), order)
        if self.jigsaw is None:
            return self.criterion(query, key)
        patches = views[2]
        b, n = patches.shape[:2]
        jigsaw = self.jigsaw(self.backbone(patches.flatten(0, 1)).view(b, n, -1))
        return self.criterion(torch.cat([query, jigsaw]), torch.cat([key, key]))


def lightly(
    preset: Preset, settings: TrainSettings, batch: Batch, lr: float, rt: Runtime = CPU
) -> Step:
    model = rt.place(LightlyModel(preset, settings))
    optimizer = sgd(model.parameters(), preset, lr)

    def step() -> None:
        with rt.autocast():
            loss = model.loss(batch.views)
        optimise(optimizer, loss)

    return step


def bare(
    preset: Preset, settings: TrainSettings, batch: Batch, lr: float, rt: Runtime = CPU
) -> Step:
    backbone = rt.place(build_towers(preset, settings))
    key_copy = copy.deepcopy(backbone).requires_grad_(False)
    optimizer = sgd(backbone.parameters(), preset, lr)
    queue = preset.negatives == "queue"

    def loss() -> Tensor:
        graded = [batch.views[0]] if queue else list(batch.views[:2])
        if preset.jigsaw:
            graded.append(batch.views[2].flatten(0, 1))
        total = sum(backbone(x).mean() for x in graded)
        if queue:
            with torch.no_grad():
                key_copy(batch.views[1])
        return total

    def step() -> None:
        with rt.autocast():
            total = loss()
        optimise(optimizer, total)

    return step


def bench_method(name: str, args, settings: TrainSettings) -> dict:
    preset = for_image_size(get_preset(name), settings.image_size)
    batch = Batch.make(settings.batch_size, settings.image_size, preset.jigsaw, args.seed)
    torch.manual_seed(args.seed)
    lr = preset.lr * settings.batch_size / 256
    variants = {
        "ours": ours(preset, settings, batch),
        "lightly": lightly(preset, settings, batch, lr),
        "bare": bare(preset, settings, batch, lr),
    }
    times = alternate(variants, args.rounds, args.repeats, warmup=2)
    result = {
        "vs_lightly": paired_ratio(times, "ours", "lightly"),
        "vs_bare": paired_ratio(times, "ours", "bare"),
        "lightly_vs_bare": paired_ratio(times, "lightly", "bare"),
        "vs_lightly_quartiles": paired_spread(times, "ours", "lightly"),
        "vs_bare_quartiles": paired_spread(times, "ours", "bare"),
        "times": summary(times),
        "temperature": preset.temperature,
        "queue_size": preset.num_negatives if preset.negatives == "queue" else None,
        "jigsaw_patch_px": jigsaw_geometry(settings.image_size).patch if preset.jigsaw else None,
    }
    print(
        f"{name:8s} ours/lightly {fmt_ratio(result['vs_lightly'])}  "
        f"ours/bare {fmt_ratio(result['vs_bare'])}  "
        f"lightly/bare {fmt_ratio(result['lightly_vs_bare'])}  "
        f"(ours {result['times']['ours']['median_ms']:.0f} ms/step)",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--backbone", default="convnet", help="any infomin backbone name")
    parser.add_argument(
        "--width", type=float, default=1.0, help="backbone width (small: magnifies overhead)"
    )
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds (median)")
    parser.add_argument("--repeats", type=int, default=2, help="steps timed per round")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_size, args.rounds, args.repeats = 16, 2, 1
    started = start(args)
    settings = TrainSettings(
        backbone=args.backbone,
        width=args.width,
        image_size=args.image_size,
        batch_size=args.batch_size,
        epochs=1,
        steps_per_epoch=10_000,
    )
    results = {name: bench_method(name, args, settings) for name in args.methods}
    payload = {
        "settings": {
            "backbone": args.backbone,
            "width": args.width,
            "image_size": args.image_size,
            "batch_size": args.batch_size,
            "rounds": args.rounds,
            "steps_per_round": args.repeats,
            "threads": torch.get_num_threads(),
            "lightly": package_version("lightly"),
        },
        "methods": results,
    }
    path = write_result("step", args.out, payload, started)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
