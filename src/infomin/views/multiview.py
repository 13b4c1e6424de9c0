"""Several views of one sample, as one transform a dataset can carry.

A *view* is anything that maps a sample (a ``uint8 [C, H, W]`` image) to a tensor or a
tuple of tensors: a built recipe, ``ChannelSplit`` (two tensors), ``JigsawPatches``
(one ``[9, C, p, p]`` tensor). ``MultiView`` applies each view to the same sample and
concatenates their outputs into one flat tuple, so a method receives
``(view_1, view_2[, jigsaw])`` and never needs to know how the views were made.

Examples::

    MultiView(build_recipe("D", 224), build_recipe("D", 224), JigsawPatches(224))
    TwoCrop(build_recipe("B", 224))                      # MoCo v2: (crop_1, crop_2)
    MultiView(v2.Compose([build_recipe("C", 224), SplitChannels()]))  # CMC: (Y, DbDr)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

ViewFn = Callable[[Any], "Tensor | tuple[Tensor, ...]"]


class MultiView:
    """Apply every view to the same sample; return all their tensors as one flat tuple.

    A view that returns a tuple (or list) contributes each of its tensors in order; a
    view that returns a tensor contributes that tensor. Randomness is drawn per view,
    so two copies of one recipe give two different crops.
    """

    def __init__(self, *views: ViewFn) -> None:
        if not views:
            raise ValueError("MultiView needs at least one view")
        for view in views:
            if not callable(view):
                raise TypeError(f"a view must be callable, got {type(view).__name__}")
        self.views = views

    def __call__(self, sample: Any) -> tuple[Tensor, ...]:
        outputs: list[Tensor] = []
        for view in self.views:
            out = view(sample)
            if isinstance(out, tuple | list):
                outputs.extend(out)
            else:
                outputs.append(out)
        return tuple(outputs)

    def __len__(self) -> int:
        """Number of views (not of tensors: a channel split gives two tensors)."""
        return len(self.views)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(v) for v in self.views)
        return f"{type(self).__name__}(\n  {inner}\n)"


class TwoCrop(MultiView):
    """Two independent draws of the same view: ``TwoCrop(t)(x) == (t(x), t(x))``."""

    def __init__(self, view: ViewFn) -> None:
        super().__init__(view, view)
