"""``learned:PATH`` through the view-spec grammar: g's views, usable by mi and sweep."""

from __future__ import annotations

import pytest
import torch

from infomin.data.base import DatasetError
from infomin.views.flows import FlowConfig, PixelFlow, save_flow
from infomin.views.specs import SpecError, parse_spec, parse_view_spec


def test_identity_g_gives_exactly_the_colour_space_split(tmp_path):
    """g starts as its input space, so learned:g0 and colorspace:ydbdr are the same views."""
    path = save_flow(PixelFlow(FlowConfig(input_space="ydbdr")), tmp_path / "g0.pt")
    learned = parse_view_spec(f"learned:{path},size=16,photo_size=96")
    fixed = parse_view_spec("colorspace:ydbdr,size=16,photo_size=96")
    a, b = learned.pairs("test", 64, 0), fixed.pairs("test", 64, 0)
    assert a.v1.shape == (64, 1, 16, 16) and a.v2.shape == (64, 2, 16, 16)
    assert torch.allclose(a.v1, b.v1) and torch.allclose(a.v2, b.v2)
    probe = learned.probe_set("test", 32, 0)
    assert probe.images_1.shape[1] == 1 and probe.images_2.shape[1] == 2
    assert "photo" in probe.targets
    assert learned.primary_metric == "photo.linear_top1"


def test_trained_g_changes_the_views(tmp_path):
    flow = PixelFlow(FlowConfig())
    with torch.no_grad():
        for layer in flow.layers:
            layer.hyper[-1].bias.normal_(std=0.5)
    path = save_flow(flow, tmp_path / "g.pt")
    learned = parse_view_spec(f"learned:{path},size=16,photo_size=96").pairs("test", 16, 0)
    fixed = parse_view_spec("colorspace:rgb,size=16,photo_size=96").pairs("test", 16, 0)
    assert not torch.allclose(learned.v2, fixed.v2)


def test_spec_text_round_trips_and_checks_its_path(tmp_path):
    spec = parse_spec(f"learned:{tmp_path}/g.pt,size=16")
    assert str(spec) == f"learned:{tmp_path}/g.pt,size=16"
    with pytest.raises(SpecError, match="learned needs path"):
        parse_spec("learned:size=16")
    with pytest.raises(DatasetError, match=r"no learned view file at .*missing"):
        parse_view_spec(f"learned:{tmp_path}/missing.pt")  # before any data is read
