"""`infomin export`: a checkpoint's backbone for torchvision or Detectron2, and how to load it.

A file that loads without complaint into the wrong place is the usual way transfer
results go wrong (every weight skipped, training from random init), so the command
prints, next to the file, what each framework must be told to take it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from infomin.models.export import (
    DETECTRON2_DEFAULT_OUT,
    TORCHVISION_DEFAULT_OUT,
    Exported,
    ResNetLayout,
    detectron2_config,
)

EXPORT_HELP = """\
Extract the backbone of a pretraining checkpoint: no heads, no `module.` prefixes.
--format torchvision (default, backbone.pt): a state_dict with torchvision's names, loads
strictly into torchvision.models.resnetNN() minus fc and into the body of torchvision's
detection backbones. --format detectron2 (backbone-d2.pkl): a plain pickle of numpy
arrays under Detectron2's ResNet names with "matching_heuristics": True, the form
Detectron2's DetectionCheckpointer aligns into backbone.bottom_up.*. Afterwards the
command prints the loading code and the config values each framework needs.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser(
        "export",
        help="a clean backbone for torchvision or Detectron2, with how to load it",
        description=EXPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("checkpoint", help="Lightning checkpoint (.ckpt) or state_dict")
    export.add_argument("--format", default="torchvision", choices=("torchvision", "detectron2"))
    export.add_argument(
        "--out",
        default=None,
        help=f"file to write (default {TORCHVISION_DEFAULT_OUT}, or {DETECTRON2_DEFAULT_OUT} "
        "with --format detectron2)",
    )
    export.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    from infomin.models.export import export_backbone

    default = DETECTRON2_DEFAULT_OUT if args.format == "detectron2" else TORCHVISION_DEFAULT_OUT
    exported = export_backbone(args.checkpoint, args.out or default, args.format)
    print(f"wrote {exported.path}")
    print(loading_instructions(exported))
    return 0


def loading_instructions(exported: Exported) -> str:
    """How to load `exported` in its framework, as text to paste."""
    if exported.fmt == "detectron2":
        assert exported.layout is not None  # the export refuses non-ResNets
        return _detectron2_instructions(exported.path, exported.layout)
    return _torchvision_instructions(exported.path, exported.layout)


def _detectron2_instructions(path: Path, layout: ResNetLayout) -> str:
    values = {"MODEL.WEIGHTS": str(path), **detectron2_config(layout)}
    opts = " ".join(f"{key} {_d2_value(value)}" for key, value in values.items())
    return (
        "Detectron2: pass these config values (they rebuild this trunk and feed it the "
        "input it was trained on):\n"
        f"  train_net.py --config-file CONFIG.yaml {opts}\n"
        "or in Python, after building the model from a cfg holding those values:\n"
        "  from detectron2.checkpoint import DetectionCheckpointer\n"
        f"  DetectionCheckpointer(model).load({str(path)!r})\n"
        "Check its log: the 'Following weights matched' table must list the backbone "
        "(backbone.bottom_up.stem, res2..res5).\n"
        "By default Detectron2 freezes BatchNorm statistics (FrozenBN) and the stem and res2 "
        "(MODEL.BACKBONE.FREEZE_AT 2); MoCo's transfer configs fine-tune all of it with "
        "MODEL.BACKBONE.FREEZE_AT 0 MODEL.RESNETS.NORM naiveSyncBN."
    )


def _d2_value(value: object) -> str:
    """A config value as Detectron2's command-line opts parse it."""
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


def _torchvision_instructions(path: Path, layout: ResNetLayout | None) -> str:
    if layout is None:
        return (
            "torchvision: not a ResNet; load with load_state_dict(torch.load(...), strict=True) "
            "into the same torchvision model with its classifier removed"
        )
    load = f"torch.load({str(path)!r})"
    if not layout.torchvision_standard:
        return (
            "torchvision: this ResNet differs from torchvision's constructors "
            f"(stem {layout.stem_kernel}x{layout.stem_kernel}, {layout.stem_channels} stem "
            f"channels, {layout.in_channels} input channels); rebuild it with the training "
            "backbone and load strictly:\n"
            "  from infomin.models.backbones import build_backbone\n"
            "  m = build_backbone(NAME, width=W, image_size=SIZE)  # as in config.yaml\n"
            f"  m.load_state_dict({load}, strict=True)"
        )
    name = f"resnet{layout.depth}"
    return (
        "torchvision classification:\n"
        f"  m = torchvision.models.{name}(weights=None); m.fc = torch.nn.Identity()\n"
        f"  m.load_state_dict({load}, strict=True)\n"
        "torchvision detection (Faster R-CNN / RetinaNet / Mask R-CNN share the body):\n"
        "  from torchvision.models.detection.backbone_utils import resnet_fpn_backbone\n"
        f"  b = resnet_fpn_backbone(backbone_name={name!r}, weights=None, trainable_layers=5)\n"
        f"  b.body.load_state_dict({load}, strict=True)\n"
        "  model = torchvision.models.detection.FasterRCNN(b, num_classes=N)"
    )
