"""Four places where the presets follow the reference code (PyContrast, CMC), each checked
against a reference written out here: explicit slices, explicit pairs, the loss and the
jigsaw head by hand in Python floats, and the warm-up lr from its formula."""

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from infomin.methods import PRESETS, TrainSettings, build_method, for_image_size
from infomin.methods.presets import TABLE_COLUMNS, preset_rows
from infomin.methods.pretrain import PretrainConfig, build_views, resolve_preset

B, SIZE = 4, 32


def _crop(seed: int, channels: int = 3, batch: int = B) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, channels, SIZE, SIZE, generator=gen)


def _method(name: str, batch_size: int = B, **changes):
    preset = replace(for_image_size(PRESETS[name], SIZE), **changes)
    settings = TrainSettings(width=0.25, dataset_size=16, batch_size=batch_size)
    return build_method(preset, settings)


def _record_inputs(modules: list[nn.Module]) -> list[list[torch.Tensor]]:
    """Every input each module receives from now on, in call order."""
    seen: list[list[torch.Tensor]] = [[] for _ in modules]
    for slot, module in zip(seen, modules, strict=True):
        module.register_forward_hook(lambda _m, args, _out, slot=slot: slot.append(args[0]))
    return seen


def _naive_info_nce(query, positive, negatives, tau: float) -> float:
    """Mean over rows of -log softmax([q.p, q.n_1, ...] / tau)[0], in Python floats."""
    total = 0.0
    for q, p, negs in zip(query.tolist(), positive.tolist(), negatives.tolist(), strict=True):
        logits = [sum(a * b for a, b in zip(q, row, strict=True)) / tau for row in [p, *negs]]
        top = max(logits)
        total += top + math.log(sum(math.exp(v - top) for v in logits)) - logits[0]
    return total / len(query)


# 1. CMC (memory bank): Y and DbDr of the SAME crop ------------------------------------


@pytest.mark.parametrize("views", ["one crop", "two crops"])
def test_cmc_towers_see_y_and_dbdr_of_one_crop(views):
    method = _method("cmc")
    crop = _crop(0)
    batch = (crop,) if views == "one crop" else (crop, _crop(1))
    seen = _record_inputs(method.towers)
    method.contrastive_loss(batch, torch.arange(B))
    assert torch.equal(seen[0][0], crop[:, 0:1])  # Y of the crop
    assert torch.equal(seen[1][0], crop[:, 1:3])  # DbDr of the same crop


def test_cmc_loss_equals_both_directions_on_one_crop_by_hand():
    """Y's query against the DbDr bank and DbDr's against the Y bank, one crop, one draw."""
    method = _method("cmc", num_negatives=5)
    crop, index = _crop(2), torch.tensor([1, 4, 9, 12])
    negatives = torch.randint(0, 16, (B, 5), generator=torch.Generator().manual_seed(3))
    method.banks[0].sample = lambda *_args, **_kw: negatives
    banks = [bank.bank.clone() for bank in method.banks]  # before this step's update
    with torch.no_grad():
        z_y = method.heads[0](method.towers[0](crop[:, :1]))
        z_dbdr = method.heads[1](method.towers[1](crop[:, 1:]))
    tau = method.preset.temperature
    expected = _naive_info_nce(z_y, banks[1][index], banks[1][negatives], tau)
    expected += _naive_info_nce(z_dbdr, banks[0][index], banks[0][negatives], tau)
    loss = method.contrastive_loss((crop,), index)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_bank_presets_get_one_crop_and_queue_presets_two():
    image = torch.randint(0, 256, (3, 40, 40), dtype=torch.uint8)
    shapes = {}
    for name in ("cmc", "insdis", "pirl", "cmcv2"):
        views = build_views(for_image_size(PRESETS[name], SIZE), SIZE)(image)
        shapes[name] = [tuple(v.shape) for v in views]
    crop = (3, SIZE, SIZE)
    assert shapes["cmc"] == [crop] and shapes["insdis"] == [crop]
    assert shapes["pirl"][0] == crop and len(shapes["pirl"]) == 2  # crop + 9 patches
    assert shapes["pirl"][1][0] == 9
    assert shapes["cmcv2"] == [crop, crop]


def test_cmc_on_channel_group_views_feeds_each_group_to_its_tower():
    """`pretrain --views` pairs arrive as the towers' inputs already: unchanged."""
    method = _method("cmc")
    g1, g2 = _crop(4, channels=1), _crop(5, channels=2)
    seen = _record_inputs(method.towers)
    method.contrastive_loss((g1, g2), torch.arange(B))
    assert torch.equal(seen[0][0], g1) and torch.equal(seen[1][0], g2)


# 2. InfoMin's jigsaw head: an MLP like its main head, in the preset's embedding size --


def _linear_shapes(module: nn.Module) -> list[tuple[int, int]]:
    return [tuple(m.weight.shape) for m in module.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize(("name", "mlp"), [("infomin", True), ("pirl", False)])
def test_jigsaw_patch_projection_follows_the_preset_head(name, mlp):
    method = _method(name, embed_dim=64)
    d = int(method.towers[0].out_dim)
    head = method.jigsaw_head
    expected = [(d, d), (64, d)] if mlp else [(64, d)]
    assert _linear_shapes(head.patch_projections[0]) == expected
    assert _linear_shapes(head.output) == [(64, 9 * 64)]


def test_infomin_jigsaw_embedding_by_hand_with_embed_dim_64():
    method = _method("infomin", embed_dim=64)
    head = method.jigsaw_head
    first, second = [m for m in head.patch_projections[0].modules() if isinstance(m, nn.Linear)]
    d = int(method.towers[0].out_dim)
    features = torch.randn(2, 9, d, generator=torch.Generator().manual_seed(6))
    permutation = torch.stack([torch.randperm(9, generator=torch.Generator().manual_seed(s))
                               for s in (7, 8)])  # fmt: skip

    def affine(layer: nn.Linear, x: list[float]) -> list[float]:
        rows, bias = layer.weight.tolist(), layer.bias.tolist()
        return [sum(w * v for w, v in zip(row, x, strict=True)) + b
                for row, b in zip(rows, bias, strict=True)]  # fmt: skip

    for b in range(2):
        patches = [affine(second, [max(0.0, v) for v in affine(first, f)])
                   for f in features[b].tolist()]  # fmt: skip
        concatenated = [v for j in permutation[b].tolist() for v in patches[j]]
        out = affine(head.output, concatenated)
        norm = math.sqrt(sum(v * v for v in out))
        expected = torch.tensor([v / norm for v in out])
        with torch.no_grad():
            got = head(features, permutation)[b]
        assert got.shape == (64,) and torch.allclose(got, expected, atol=1e-5)


def test_infomin_with_embed_dim_64_trains_a_step():
    """embed_dim went in as the patch size and left the jigsaw output at 128: shape error."""
    method = _method("infomin", embed_dim=64)
    patches = torch.randn(B, 9, 3, 9, 9)
    loss = method.contrastive_loss((_crop(0), _crop(1), patches), torch.arange(B))
    assert torch.isfinite(loss)


# 3. CMCv2 (queue): queries from crop 1, keys from crop 2, in both directions ----------


def test_cmcv2_pairs_cross_crops_in_both_directions():
    method = _method("cmcv2")
    v1, v2 = _crop(10), _crop(11)
    expected = [(0, v1[:, :1], 1, v2[:, 1:]), (1, v1[:, 1:], 0, v2[:, :1])]
    got = method.pairs((v1, v2))
    assert [(q, k) for q, _, k, _ in got] == [(q, k) for q, _, k, _ in expected]
    for (_, q_in, _, k_in), (_, q_ref, _, k_ref) in zip(got, expected, strict=True):
        assert torch.equal(q_in, q_ref) and torch.equal(k_in, k_ref)


def test_cmcv2_step_encodes_queries_of_crop_1_and_keys_of_crop_2():
    method = _method("cmcv2", batch_size=B)
    v1, v2 = _crop(12), _crop(13)
    queries = _record_inputs(method.towers)
    keys: list[tuple[int, torch.Tensor]] = []
    real_keys = method.keys
    method.keys = lambda tower, x: keys.append((tower, x)) or real_keys(tower, x)
    method.contrastive_loss((v1, v2), torch.arange(B))
    assert torch.equal(queries[0][0], v1[:, 0:1]) and torch.equal(queries[1][0], v1[:, 1:3])
    assert [tower for tower, _ in keys] == [1, 0]
    assert torch.equal(keys[0][1], v2[:, 1:3]) and torch.equal(keys[1][1], v2[:, 0:1])


def test_cmcv2_on_channel_group_views_uses_each_group_as_query_and_key():
    method = _method("cmcv2")
    g1, g2 = _crop(14, channels=1), _crop(15, channels=2)
    got = method.pairs((g1, g2))
    assert [(q, k) for q, _, k, _ in got] == [(0, 1), (1, 0)]
    assert torch.equal(got[0][1], g1) and torch.equal(got[0][3], g2)
    assert torch.equal(got[1][1], g2) and torch.equal(got[1][3], g1)


# 4. Warm-up: 5 epochs from lr 0.01 above global batch 256, unless the user set one -----


def _lrs(method, steps: int) -> list[float]:
    """The lr of every step 0..steps-1, as the optimiser applies it."""
    config = method.configure_optimizers()
    optimizer, schedule = config["optimizer"], config["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return lrs


def _reference_lr(step: int, base: float, warmup_steps: int, total: int) -> float:
    """PyContrast: cosine to base * 0.1^3 over the run; warm-up line from 0.01 to it."""

    def cosine(s: int) -> float:
        floor = base * 0.1**3
        return floor + (base - floor) * (1 + math.cos(math.pi * s / total)) / 2

    if step >= warmup_steps:
        return cosine(step)
    return 0.01 + step / warmup_steps * (cosine(warmup_steps) - 0.01)


def _queue_method(batch: int, **changes):
    preset = replace(for_image_size(PRESETS["mocov2"], SIZE), **changes)
    settings = TrainSettings(width=0.25, batch_size=batch, epochs=20, steps_per_epoch=10)
    return build_method(preset, settings)


@pytest.mark.parametrize(
    ("batch", "changes", "warmup_steps"),
    [
        (512, {}, 50),  # unset, batch > 256: 5 epochs x 10 steps
        (256, {}, 0),  # unset, batch 256: none
        (512, {"warmup_epochs": 0}, 0),  # the user's 0 wins
        (128, {"warmup_epochs": 2}, 20),  # the user's 2 wins, from lr 0.01 too
    ],
)
def test_lr_per_step_matches_the_warmup_formula(batch, changes, warmup_steps):
    lrs = _lrs(_queue_method(batch, **changes), 200)
    base = 0.03 * batch / 256
    for step in (0, 1, 10, 19, 20, 25, 49, 50, 51, 120, 199):
        expected = _reference_lr(step, base, warmup_steps, 200)
        assert lrs[step] == pytest.approx(expected, rel=1e-6), step
    if warmup_steps:
        assert lrs[0] == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"batch_size": 512}, 5),
        ({"batch_size": 256}, 0),
        ({"batch_size": 128, "devices": 4}, 5),  # the global batch decides
        ({"batch_size": 512, "warmup_epochs": 0}, 0),
        ({"batch_size": 64, "warmup_epochs": 3}, 3),
    ],
)
def test_resolved_preset_records_the_warmup_the_run_gets(changes, expected):
    config = PretrainConfig(preset="mocov2", evaluate=False, **changes)
    assert resolve_preset(config, SIZE).warmup_epochs == expected


def test_presets_table_states_the_warmup_rule():
    column = TABLE_COLUMNS.index("warmup_epochs") + 1
    for row in preset_rows():
        assert row[column] == "5 (from lr 0.01) if batch > 256, else 0"


def test_crop_min_reaches_the_recipe_of_both_view_paths():
    """`--crop-min` (a sweep's sweet spot) replaces the preset's crop lower bound in the
    per-image views and in the batched ones; nonsense and --views are refused."""
    from infomin.config import ConfigError
    from infomin.methods.pretrain import build_batched_views

    default = resolve_preset(PretrainConfig(preset="simclr", evaluate=False), SIZE)
    preset = resolve_preset(PretrainConfig(preset="simclr", evaluate=False, crop_min=0.55), SIZE)
    assert default.crop_min != 0.55 and preset.crop_min == 0.55
    assert build_views(preset, SIZE).views[0].spec.crop_scale == (0.55, 1.0)
    assert build_batched_views(preset, SIZE).views[0].spec.crop_scale == (0.55, 1.0)
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="crop_min must be in"):
            PretrainConfig(preset="simclr", crop_min=bad)
    with pytest.raises(ConfigError, match="--views makes its own views"):
        PretrainConfig(preset="simclr", crop_min=0.5, views="recipe:B")
