"""Methods as data: one row of switches per contrastive method.

The reference code (PyContrast) showed that InsDis, CMC, MoCo, PIRL, MoCo v2, CMCv2 and
InfoMin differ only in six switches; SimCLR adds in-batch negatives. Keeping them as rows
of a table, not as if/else chains, makes the differences readable at a glance and lets
`infomin presets` print exactly what runs. Values are the paper's (notes section 2).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Literal

from infomin.config import ConfigError

Input = Literal["rgb", "ydbdr-split"]
Negatives = Literal["bank", "queue", "batch"]
Head = Literal["linear", "mlp"]
Schedule = Literal["cosine", "step"]
Criterion = Literal["infonce", "nce"]


@dataclass(frozen=True)
class Preset:
    """Every switch that tells one method from another, plus its optimiser defaults."""

    name: str
    input: Input  # rgb: one shared encoder; ydbdr-split: CMC's two towers (Y | DbDr)
    jigsaw: bool  # PIRL/InfoMin's second query from 9 patches
    negatives: Negatives  # memory bank, momentum queue, or the rest of the batch
    aug: str  # augmentation recipe A-E (infomin.views.recipes)
    head: Head  # linear d->128 or MLP d->d->ReLU->128
    temperature: float
    crop_min: float  # RandomResizedCrop lower bound: 0.08 with a bank, 0.2 with a queue
    num_negatives: int = 65536  # bank samples per query, or queue length
    bank_momentum: float = 0.5
    ema: float = 0.999  # key-encoder EMA over parameters (queue methods)
    jigsaw_weight: float = 0.5
    criterion: Criterion = "infonce"  # softmax InfoNCE; "nce": InsDis/CMC's binary NCE
    embed_dim: int = 128
    # Optimiser: SGD, lr for batch 256 (scaled linearly with the global batch).
    lr: float = 0.03
    momentum: float = 0.9
    weight_decay: float = 1e-4
    epochs: int = 200
    schedule: Schedule = "cosine"
    # None: PyContrast's rule (`auto_warmup_epochs`); a number (0 included) overrides it.
    warmup_epochs: int | None = None

    def as_row(self) -> dict[str, object]:
        return asdict(self)


# fmt: off
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(name="insdis",  input="rgb",         jigsaw=False, negatives="bank",  aug="A",
               head="linear", temperature=0.07, crop_min=0.08),
        Preset(name="cmc",     input="ydbdr-split", jigsaw=False, negatives="bank",  aug="C",
               head="linear", temperature=0.07, crop_min=0.08),
        Preset(name="moco",    input="rgb",         jigsaw=False, negatives="queue", aug="A",
               head="linear", temperature=0.07, crop_min=0.2),
        Preset(name="pirl",    input="rgb",         jigsaw=True,  negatives="bank",  aug="A",
               head="linear", temperature=0.07, crop_min=0.08),
        Preset(name="mocov2",  input="rgb",         jigsaw=False, negatives="queue", aug="B",
               head="mlp",    temperature=0.2,  crop_min=0.2),
        Preset(name="cmcv2",   input="ydbdr-split", jigsaw=False, negatives="queue", aug="E",
               head="mlp",    temperature=0.2,  crop_min=0.2),
        Preset(name="infomin", input="rgb",         jigsaw=True,  negatives="queue", aug="D",
               head="mlp",    temperature=0.15, crop_min=0.2),
        # SimCLR is not in the reference code; its paper's recipe: in-batch negatives,
        # symmetric NT-Xent, tau 0.5 at small batch, MoCo v2's augmentations.
        Preset(name="simclr",  input="rgb",         jigsaw=False, negatives="batch", aug="B",
               head="mlp",    temperature=0.5,  crop_min=0.08, num_negatives=0),
    )
}
# fmt: on

# What changes for small images (<= 96 px, e.g. CIFAR/STL/the embedded data): a shorter
# queue/bank draw (65,536 negatives would mostly be stale keys on a 50k-image set with
# few steps) and a faster EMA.
SMALL_IMAGE_OVERRIDES: dict[str, object] = {"num_negatives": 4096, "ema": 0.99}


def get_preset(name: str) -> Preset:
    """The preset called `name`; a clear error lists the choices."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]


def for_image_size(preset: Preset, image_size: int) -> Preset:
    """Dataset-aware defaults: small images get `SMALL_IMAGE_OVERRIDES` (not SimCLR's 0)."""
    if image_size > 96:
        return preset
    changes = dict(SMALL_IMAGE_OVERRIDES)
    if preset.negatives == "batch":
        changes.pop("num_negatives")
    return replace(preset, **changes)


# Warm-up of the reference code (PyContrast): large batches scale the lr up (x batch/256),
# and starting there diverges early; so above batch 256 the lr climbs linearly from 0.01
# for 5 epochs, then follows the schedule.
WARMUP_BATCH = 256  # warm up when the global batch is larger than this
WARMUP_EPOCHS = 5
WARMUP_FROM_LR = 0.01


def auto_warmup_epochs(global_batch: int) -> int:
    """PyContrast's warm-up length for a global batch: 5 epochs above 256, else none."""
    return WARMUP_EPOCHS if global_batch > WARMUP_BATCH else 0


def warmup_cell(preset: Preset) -> str:
    """How the presets table shows the warm-up: the rule, or the value a run fixed."""
    if preset.warmup_epochs is None:
        return f"{WARMUP_EPOCHS} (from lr {WARMUP_FROM_LR}) if batch > {WARMUP_BATCH}, else 0"
    return str(preset.warmup_epochs)


TABLE_COLUMNS = (
    "input", "jigsaw", "negatives", "aug", "head", "temperature", "crop_min", "warmup_epochs",
)  # fmt: skip


def preset_rows(columns: tuple[str, ...] = TABLE_COLUMNS) -> list[list[object]]:
    """The table `infomin presets` prints: one row per method."""
    known = {f.name for f in fields(Preset)}

    def cell(preset: Preset, column: str) -> object:
        return warmup_cell(preset) if column == "warmup_epochs" else getattr(preset, column)

    return [[p.name, *(cell(p, c) for c in columns if c in known)] for p in PRESETS.values()]
