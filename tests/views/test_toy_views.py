"""The toy's views share exactly the factors they claim to share, in factors and pixels."""

import pytest
import torch

from infomin.data.moving_digits import digit_indices
from infomin.data.transforms import to_model_input
from infomin.views.pairs import PairSet, ProbeSet
from infomin.views.toy import (
    FACTOR_FIELDS,
    FACTORS,
    ToyPairSource,
    parse_shared,
    render_frame,
    shared_label,
)

N = 200
SHARED_SETS = ["none", "digit", "position", "background", "digit+position",
               "digit+background", "position+background", "all"]  # fmt: skip


def _field_equal(a, b):
    """Per sample: is this factor field identical in both views?"""
    return (a == b).reshape(len(a), -1).all(dim=1)


@pytest.mark.parametrize("shared", SHARED_SETS)
def test_v2_shares_exactly_the_chosen_factors(shared):
    raw = ToyPairSource(shared).raw_pairs("train", N, seed=3)
    names = parse_shared(shared)
    for factor in FACTORS:
        for field in FACTOR_FIELDS[factor]:
            same = _field_equal(getattr(raw.v1_factors, field), getattr(raw.v2_factors, field))
            if factor in names:
                assert same.all(), (shared, field)
            else:
                # Independent draws: the 10 digit classes and 11 photos collide by chance.
                assert same.float().mean() < 0.2, (shared, field)


def _ink_centre(frames):
    """Centre of mass (x, y) of the drawn ink, on a black background (dim = 0)."""
    mass = frames.float().sum(dim=1)  # [N, H, W]
    grid = torch.arange(frames.shape[-1]).float() + 0.5
    total = mass.sum(dim=(1, 2))
    x = (mass.sum(dim=1) * grid).sum(dim=1) / total
    y = (mass.sum(dim=2) * grid).sum(dim=1) / total
    return torch.stack([x, y], dim=1)


@pytest.mark.parametrize("shared", ["position", "position+background"])
def test_shared_position_puts_v2s_digit_where_v1s_is(shared):
    raw = ToyPairSource(shared, dim=0.0).raw_pairs("train", N, seed=1)
    v1_centre, v2_centre = _ink_centre(raw.v1), _ink_centre(raw.v2)
    assert not _field_equal(raw.v1_factors.digit_index, raw.v2_factors.digit_index).all()
    # Drawn at the nearest whole pixel: within 0.5 px of the position on each axis, and
    # no ink clipped at the canvas edge (v1's position fits both digits).
    assert (v2_centre - raw.v1_factors.position[:, 0]).abs().max() < 0.51
    assert (v2_centre - v1_centre).abs().max() < 1.01


def test_unshared_position_moves_the_digit():
    raw = ToyPairSource("digit", dim=0.0).raw_pairs("train", N, seed=1)
    distance = (_ink_centre(raw.v2) - _ink_centre(raw.v1)).norm(dim=1)
    assert (distance > 1.5).float().mean() > 0.8


def test_shared_digit_has_the_same_ink_colour_and_pixels():
    raw = ToyPairSource("digit+position", dim=0.0).raw_pairs("train", 50, seed=2)
    assert torch.equal(raw.v1, raw.v2)  # same digit, colour and place on black: same frame


@pytest.mark.parametrize(("step", "row"), [(0.0, "digit+background"), (1.0, "digit")])
def test_ladder_endpoints_equal_the_named_rows(step, row):
    ladder = ToyPairSource("digit+background", ladder=step).pairs("train", 64, seed=5)
    named = ToyPairSource(row).pairs("train", 64, seed=5)
    assert torch.equal(ladder.v1, named.v1) and torch.equal(ladder.v2, named.v2)


def test_ladder_interior_mixes_and_the_far_end_keeps_only_colour():
    def shared_fraction(step, field):
        raw = ToyPairSource("digit+background", ladder=step).raw_pairs("train", 400, seed=0)
        a, b = getattr(raw.v1_factors, field), getattr(raw.v2_factors, field)
        return _field_equal(a, b).float().mean().item()

    assert 0.35 < shared_fraction(0.5, "crop_offset") < 0.65
    assert shared_fraction(1.5, "color") == 1.0
    assert 0.35 < shared_fraction(1.5, "digit_index") < 0.65
    assert shared_fraction(2.0, "digit_index") < 0.05
    assert shared_fraction(2.0, "color") == 1.0 and shared_fraction(2.0, "crop_offset") < 0.05


def test_pairs_are_normalised_floats_and_deterministic():
    source = ToyPairSource("digit", canvas=24, digit_size=14)
    pairs = source.pairs("test", 32, seed=0)
    assert isinstance(pairs, PairSet) and pairs.v1.shape == (32, 3, 24, 24)
    assert pairs.v1.dtype == torch.float32 and pairs.v1.min() < 0 < pairs.v1.max()
    assert torch.equal(pairs.v2, source.pairs("test", 32, seed=0).v2)
    assert not torch.equal(pairs.v2, source.pairs("test", 32, seed=1).v2)


def test_probe_set_is_single_frames_for_f2_with_held_out_digits():
    source = ToyPairSource("digit")
    train, test = source.probe_set("train", 100, seed=0), source.probe_set("test", 100, seed=0)
    assert isinstance(train, ProbeSet) and train.images_1 is None
    assert train.images_2.shape == (100, 3, 32, 32)
    assert set(train.targets) == set(train.tasks) == {"digit", "background", "position"}
    assert train.targets["position"].shape == (100, 2)
    assert test.images_2.shape == train.images_2.shape
    assert not torch.equal(test.images_2, train.images_2)
    assert not set(digit_indices("train").tolist()) & set(digit_indices("test").tolist())


@pytest.mark.parametrize(
    ("text", "expected"),
    [("background+digit", "digit+background"), ("all", "digit+position+background"),
     ("none", "none"), (" Position ", "position")],
)  # fmt: skip
def test_shared_accepts_strings_and_sets(text, expected):
    assert shared_label(parse_shared(text)) == expected
    assert ToyPairSource(frozenset(parse_shared(text))).shared == parse_shared(text)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"shared": "digit+colour"}, "valid: digit, position, background"),
     ({"shared": "digit", "ladder": 0.5}, "starts from digit\\+background"),
     ({"shared": "digit+background", "ladder": 2.5}, "ladder must be in"),
     ({"shared": "digit", "digit_size": 40}, "digit_size")],
)  # fmt: skip
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ToyPairSource(**kwargs)


# --- the sequence variant: v1 a clip of frames, v2 its next frame -------------------------


def test_sequence_v1_stacks_the_clip_and_v2_is_its_next_frame():
    source = ToyPairSource("all", dim=0.0, v1_frames=3)
    raw = source.raw_pairs("train", 40, seed=4)
    assert raw.v1.shape == (40, 9, 32, 32) and raw.v2.shape == (40, 3, 32, 32)
    assert raw.v1_factors.position.shape == (40, 4, 2)
    for t in range(3):
        assert torch.equal(
            raw.v1[:, 3 * t : 3 * t + 3], render_frame(raw.v1_factors, source.config, t)
        )
    assert torch.equal(raw.v2, render_frame(raw.v1_factors, source.config, 3))  # all shared


def test_sequence_shared_position_is_where_the_motion_carries_v1s_digit():
    raw = ToyPairSource("position", dim=0.0, v1_frames=3).raw_pairs("train", N, seed=6)
    assert not _field_equal(raw.v1_factors.digit_index, raw.v2_factors.digit_index).all()
    next_place = raw.v1_factors.position[:, 3]
    assert (_ink_centre(raw.v2) - next_place).abs().max() < 0.51  # no ink clipped
    last_seen = _ink_centre(raw.v1[:, 6:9])
    assert ((next_place - last_seen).norm(dim=1) > 0.5).float().mean() > 0.8  # it moved
    steps = raw.v1_factors.position.diff(dim=1).norm(dim=2)
    assert steps.max() <= 3.0 + 1e-4  # speed in [1, 3] px per frame, bounces included


def test_sequence_pairs_normalise_each_frame_as_rgb():
    source = ToyPairSource("digit", v1_frames=2)
    raw, pairs = source.raw_pairs("test", 8, seed=0), source.pairs("test", 8, seed=0)
    assert pairs.v1.shape == (8, 6, 32, 32)
    assert torch.allclose(pairs.v1[:, 3:], to_model_input(raw.v1[:, 3:]))
    assert torch.equal(pairs.v2, to_model_input(raw.v2))


def test_one_frame_is_the_single_frame_variant_and_zero_is_refused():
    single = ToyPairSource("position", v1_frames=1)
    assert single.v2_frame == 0 and ToyPairSource("position", v1_frames=4).v2_frame == 4
    assert torch.equal(
        single.pairs("train", 16, 2).v2, ToyPairSource("position").pairs("train", 16, 2).v2
    )
    with pytest.raises(ValueError, match="v1_frames"):
        ToyPairSource("digit", v1_frames=0)


def test_free_colour_shares_the_digit_image_but_never_its_colour():
    raw = ToyPairSource("digit+position", v1_frames=2, colour="free").raw_pairs("train", N, 3)
    assert _field_equal(raw.v1_factors.digit_index, raw.v2_factors.digit_index).all()
    assert not _field_equal(raw.v1_factors.color, raw.v2_factors.color).any()
    named = ToyPairSource("digit+position", v1_frames=2).raw_pairs("train", N, 3)
    assert _field_equal(named.v1_factors.color, named.v2_factors.color).all()  # "digit"
    with pytest.raises(ValueError, match="colour must be one of digit, free"):
        ToyPairSource("digit", colour="blue")
