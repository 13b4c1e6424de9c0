"""Views: how one sample becomes the inputs that contrastive learning compares.

- ``colorspaces``: RGB -> Lab, YCbCr, YDbDr, ... and ``ChannelSplit`` (the CMC view);
  ``color_conversions`` computes each conversion.
- ``recipes``: augmentation recipes A-E as data (``RecipeSpec``, ``RECIPES``) and
  ``build_recipe``; ``randaugment``: their timm RandAugment step (``RandAugmentSpec``).
- ``jigsaw``: ``JigsawPatches``, the PIRL/InfoMin nine-patch branch.
- ``multiview``: ``MultiView`` / ``TwoCrop`` to bundle views of one sample.
- ``batched``: ``BatchedRecipe``, the recipes' steps on a whole batch on any device
  (its colour steps in ``batched_color``); ``blur``: the separable Gaussian blur both use.
- ``pairs``: the view contract (``PairSet``, ``ProbeSet``, ``PairSource``).
- ``images`` (``ImagePool``), ``sources`` (colour-space, patch, recipe, learned-view
  sources), ``toy`` (the toy's factor-sharing frames), ``flows`` (the learned g),
  ``spec_kinds`` (the kinds a SPEC names, written once), ``specs`` (parsing SPECs).

May import: data and the shared helpers (config, outputs, progress, reports, threads).
A view never knows who consumes or measures it.
"""

from infomin.views.batched import BatchedJigsaw, BatchedRecipe, BatchedViews
from infomin.views.colorspaces import (
    COLOR_SPACES,
    ChannelSplit,
    ColorSpace,
    SplitChannels,
    canonical_color_space,
    estimate_channel_stats,
    get_color_space,
    normalize_channels,
    split_channels,
    to_color_space,
    to_normalized_color_space,
)
from infomin.views.jigsaw import (
    JigsawGeometry,
    JigsawPatches,
    extract_grid_patches,
    jigsaw_geometry,
)
from infomin.views.multiview import MultiView, TwoCrop
from infomin.views.randaugment import (
    CMC_RANDAUGMENT_OPS,
    IMAGENET_MEAN_255,
    PILRandAugment,
    RandAugmentSpec,
    build_timm_randaugment,
)
from infomin.views.recipes import (
    CROP_SCALE_BANK,
    CROP_SCALE_QUEUE,
    RECIPES,
    SMALL_IMAGE_RULE,
    RecipeSpec,
    RecipeTransform,
    SmallImageRule,
    adapt_to_small_images,
    blur_kernel_size,
    build_recipe,
    ensure_rgb,
    get_recipe,
)

__all__ = [
    "CMC_RANDAUGMENT_OPS",
    "COLOR_SPACES",
    "CROP_SCALE_BANK",
    "CROP_SCALE_QUEUE",
    "IMAGENET_MEAN_255",
    "RECIPES",
    "SMALL_IMAGE_RULE",
    "BatchedJigsaw",
    "BatchedRecipe",
    "BatchedViews",
    "ChannelSplit",
    "ColorSpace",
    "JigsawGeometry",
    "JigsawPatches",
    "MultiView",
    "PILRandAugment",
    "RandAugmentSpec",
    "RecipeSpec",
    "RecipeTransform",
    "SmallImageRule",
    "SplitChannels",
    "TwoCrop",
    "adapt_to_small_images",
    "blur_kernel_size",
    "build_recipe",
    "build_timm_randaugment",
    "canonical_color_space",
    "ensure_rgb",
    "estimate_channel_stats",
    "extract_grid_patches",
    "get_color_space",
    "get_recipe",
    "jigsaw_geometry",
    "normalize_channels",
    "split_channels",
    "to_color_space",
    "to_normalized_color_space",
]
