"""MultiView and TwoCrop: views of one sample, flattened into one tuple."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from infomin.views import (
    ChannelSplit,
    JigsawPatches,
    MultiView,
    SplitChannels,
    TwoCrop,
    build_recipe,
)


def _image() -> torch.Tensor:
    return torch.randint(0, 256, (3, 70, 60), dtype=torch.uint8)


def test_infomin_views_two_crops_and_jigsaw() -> None:
    recipe = build_recipe("D", 32)
    views = MultiView(recipe, recipe, JigsawPatches(32))(_image())
    assert len(views) == 3
    assert views[0].shape == views[1].shape == (3, 32, 32)
    assert views[2].shape == (9, 3, 9, 9)
    assert not torch.equal(views[0], views[1])


def test_two_crop_draws_independently() -> None:
    first, second = TwoCrop(build_recipe("B", 32))(_image())
    assert first.shape == second.shape == (3, 32, 32)
    assert not torch.equal(first, second)


def test_tuple_views_are_flattened() -> None:
    cmc = MultiView(v2.Compose([build_recipe("C", 32), SplitChannels()]))
    y, dbdr = cmc(_image())
    assert y.shape == (1, 32, 32) and dbdr.shape == (2, 32, 32)
    y, dbdr, jig = MultiView(ChannelSplit("lab"), JigsawPatches(32))(_image())
    assert y.shape == (1, 70, 60) and dbdr.shape == (2, 70, 60) and jig.shape[0] == 9
    assert len(MultiView(ChannelSplit("lab"), JigsawPatches(32))) == 2


def test_every_view_sees_the_same_sample() -> None:
    seen = []

    def record(x: torch.Tensor) -> torch.Tensor:
        seen.append(x)
        return x

    img = _image()
    out = MultiView(record, record, record)(img)
    assert len(out) == 3 and all(s is img for s in seen)


def test_bad_views_fail_clearly() -> None:
    with pytest.raises(ValueError, match="at least one"):
        MultiView()
    with pytest.raises(TypeError, match="callable"):
        MultiView("D")  # type: ignore[arg-type]


def test_views_survive_pickling_for_dataloader_workers() -> None:
    """Spawned DataLoader workers receive the transform by pickle."""
    import pickle

    views = MultiView(build_recipe("D", 32), build_recipe("E", 32), JigsawPatches(32))
    restored = pickle.loads(pickle.dumps(views))
    shapes = [tuple(v.shape) for v in restored(_image())]
    assert shapes == [(3, 32, 32), (3, 32, 32), (9, 3, 9, 9)]
