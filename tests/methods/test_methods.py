"""Each preset trains for real (2 steps through Lightning) and its pieces behave."""

import itertools
import json
import math
from dataclasses import replace

import pytest
import torch

from infomin.methods import PRESETS, TrainSettings, build_method, for_image_size
from infomin.methods.base import learning_rate_factor
from infomin.methods.pretrain import PretrainConfig, pretrain
from infomin.methods.shuffle_bn import SplitBatchNorm2d, shuffled_forward

TINY = dict(train_size=32, test_size=32, batch_size=8, epochs=1, max_steps=2, width=0.25)
# No evaluation: no test set either (an option the run would ignore is refused).
TRAIN_ONLY = {**{k: v for k, v in TINY.items() if k != "test_size"}, "evaluate": False}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_runs_a_two_step_fit(name, tmp_path):
    results = pretrain(PretrainConfig(preset=name, **TRAIN_ONLY), tmp_path)
    assert results["steps_done"] == 2
    assert math.isfinite(results["final"]["train/loss"])
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    assert (tmp_path / "logs" / "metrics.csv").exists()
    assert any((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


def _views(batch=8, size=32, patch=9):
    return (torch.randn(batch, 3, size, size), torch.randn(batch, 3, size, size),
            torch.randn(batch, 9, 3, patch, patch))  # fmt: skip


def test_queue_method_enqueues_keys_and_ema_moves_slowly():
    preset = for_image_size(PRESETS["mocov2"], 32)
    method = build_method(preset, TrainSettings(width=0.25, batch_size=8))
    assert not any(p.requires_grad for p in method.key_towers.parameters())
    before = method.queues[0].queue.clone()
    method.contrastive_loss(_views(), torch.arange(8))
    changed = (method.queues[0].queue != before).any(dim=1)
    assert int(changed.sum()) == 8 and int(method.queues[0].pointer) == 8


def test_bank_method_updates_rows_of_the_batch_only():
    preset = for_image_size(PRESETS["insdis"], 32)
    method = build_method(preset, TrainSettings(width=0.25, dataset_size=20, batch_size=4))
    before = method.banks[0].bank.clone()
    index = torch.tensor([3, 7, 11, 19])
    method.contrastive_loss(_views(batch=4), index)
    changed = (method.banks[0].bank != before).any(dim=1).nonzero().flatten()
    assert changed.tolist() == index.tolist()


def test_schedule_cosine_to_floor_or_steps_at_60_and_80_percent():
    """Without warm-up (the warm-up itself: test_preset_fidelity.py)."""
    preset = replace(PRESETS["infomin"], warmup_epochs=0)
    settings = TrainSettings(epochs=10, steps_per_epoch=10)
    factors = [learning_rate_factor(s, settings, preset) for s in range(100)]
    assert factors[0] == pytest.approx(1.0)
    assert factors[-1] < 0.01 and all(a >= b for a, b in itertools.pairwise(factors))
    step = replace(preset, schedule="step")
    assert learning_rate_factor(59, settings, step) == 1.0
    assert learning_rate_factor(60, settings, step) == pytest.approx(0.1)
    assert learning_rate_factor(80, settings, step) == pytest.approx(0.01)


def test_shuffled_forward_returns_rows_in_original_order():
    encoder = torch.nn.Linear(5, 3)
    x = torch.randn(16, 5)
    assert torch.allclose(shuffled_forward(encoder, x), encoder(x), atol=1e-6)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_split_batchnorm_normalises_each_sub_batch(memory_format):
    bn = SplitBatchNorm2d(2, num_splits=2, affine=False)
    x = (torch.randn(8, 2, 3, 3) * 3 + 1).contiguous(memory_format=memory_format)
    out = bn(x)
    assert out.is_contiguous(memory_format=memory_format)  # no copy to the other format
    # Sub-batch k: rows k, k + 2, ... (contiguous: a view) or 4k .. 4k + 3 (channels_last).
    if memory_format == torch.contiguous_format:
        rows_of = [torch.arange(0, 8, 2), torch.arange(1, 8, 2)]
    else:
        rows_of = [torch.arange(4), torch.arange(4, 8)]
    variances = []
    for index in rows_of:
        rows = x[index]
        mean = rows.mean(dim=(0, 2, 3), keepdim=True)
        var = rows.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        expected = (rows - mean) / torch.sqrt(var + bn.eps)  # naive reference
        assert torch.allclose(out[index], expected, atol=1e-5)
        variances.append(rows.var(dim=(0, 2, 3), unbiased=True))
    # running statistics: the usual update with the average of the sub-batch statistics
    means = torch.stack([x[index].mean(dim=(0, 2, 3)) for index in rows_of]).mean(0)
    assert torch.allclose(bn.running_mean, 0.1 * means, atol=1e-6)
    assert torch.allclose(bn.running_var, 0.9 + 0.1 * torch.stack(variances).mean(0), atol=1e-6)


def test_pretrain_short_run_evaluates_the_backbone(tmp_path):
    results = pretrain(PretrainConfig(preset="simclr", **TINY), tmp_path)
    assert "digit.linear_top1" in results["metrics"]
    json.dumps(results)  # machine-readable as it stands


def test_resumed_run_ends_like_an_uninterrupted_one(tmp_path):
    """Stop after epoch 1 of 3 (max_steps), resume, and compare with a straight run.

    Tolerance: bit-identical backbone weights are expected on CPU (same batches, same
    augmentation draws thanks to the RNG states in the checkpoint); 1e-6 is allowed.
    """
    config = PretrainConfig(preset="mocov2", evaluate=False, train_size=32, batch_size=8,
                            epochs=3, width=0.25)  # fmt: skip
    straight = pretrain(config, tmp_path / "straight")
    pretrain(replace(config, max_steps=4), tmp_path / "resumed")  # 4 steps = 1 epoch
    resumed = pretrain(config, tmp_path / "resumed", resume=True)
    assert resumed["steps_done"] == straight["steps_done"] == 12
    assert resumed["final"]["train/loss"] == pytest.approx(
        straight["final"]["train/loss"], abs=1e-6
    )
    a = torch.load(tmp_path / "straight/checkpoints/last.ckpt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "resumed/checkpoints/last.ckpt", weights_only=False)["state_dict"]
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key


def test_monitors_log_knn_and_online_accuracy(tmp_path):
    config = PretrainConfig(preset="simclr", evaluate=False, knn_every=1, online_probe=True,
                            **{**TINY, "max_steps": -1})  # fmt: skip
    final = pretrain(config, tmp_path)["final"]
    for key in ("monitor/digit.knn_top1", "monitor/background.knn_top1", "online/digit.top1"):
        assert 0.0 <= final[key] <= 100.0, key


def test_bf16_autocast_and_channels_last_run(tmp_path):
    config = PretrainConfig(preset="infomin", precision="bf16-mixed", channels_last=True,
                            **TRAIN_ONLY)  # fmt: skip
    results = pretrain(config, tmp_path)
    assert results["steps_done"] == 2 and math.isfinite(results["final"]["train/loss"])


@pytest.mark.parametrize("name", ["insdis", "cmc", "moco"])
def test_binary_nce_criterion_trains_and_tracks_its_normaliser(name, tmp_path):
    config = PretrainConfig(preset=name, criterion="nce", **TRAIN_ONLY)
    results = pretrain(config, tmp_path)
    assert results["preset"]["criterion"] == "nce"
    assert math.isfinite(results["final"]["train/loss"])
    state = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=False)["state_dict"]
    assert bool(state["criteria.0.z_initialised"]) and float(state["criteria.0.z"]) > 0


def test_evaluate_reads_a_pretrain_checkpoint_with_its_own_architecture(tmp_path):
    """CMC's checkpoint rebuilds its two half-width towers and feeds them YDbDr."""
    from infomin.evaluate.runner import EvalConfig, run_evaluation
    from infomin.methods.checkpoints import pretrained_encoder
    from infomin.models.export import CheckpointError

    pretrain(PretrainConfig(preset="cmc", **TRAIN_ONLY), tmp_path)
    weights = str(tmp_path / "checkpoints/last.ckpt")
    config = EvalConfig(encoder="weights", weights=weights, backbone="resnet50",
                        train_size=64, test_size=64)  # fmt: skip
    with pytest.raises(CheckpointError, match="pretrained_encoder"):
        run_evaluation(config)  # evaluate/ knows no training recipe: the caller builds it
    results = run_evaluation(config, encoder=pretrained_encoder(weights))  # not resnet50
    assert "digit.linear_top1" in results["metrics"]
    from infomin.models import build_backbone

    assert results["feature_dim"] == build_backbone("cmc-convnet", width=0.25).out_dim


def test_resume_skips_a_corrupt_last_checkpoint(tmp_path):
    """A truncated last.ckpt is reported and the newest good epoch checkpoint is used."""
    from infomin.methods.resume import resume_checkpoint

    config = PretrainConfig(preset="simclr", evaluate=False, train_size=32, batch_size=8,
                            epochs=2, width=0.25)  # fmt: skip
    pretrain(config, tmp_path)
    folder = tmp_path / "checkpoints"
    assert resume_checkpoint(folder) == folder / "last.ckpt"
    data = (folder / "last.ckpt").read_bytes()
    (folder / "last.ckpt").write_bytes(data[: len(data) // 2])
    assert resume_checkpoint(folder) == folder / "epoch001.ckpt"
    (folder / "epoch001.ckpt").write_bytes(b"garbage")
    assert resume_checkpoint(folder) == folder / "epoch000.ckpt"
    resumed = pretrain(replace(config, epochs=3), tmp_path, resume=True)
    assert resumed["epochs_done"] == 3


def test_resume_without_a_checkpoint_says_it_starts_afresh(tmp_path, capsys):
    config = PretrainConfig(preset="simclr", **TRAIN_ONLY)
    results = pretrain(config, tmp_path, resume=True)
    assert results["steps_done"] == 2
    assert "startingafresh" in "".join(capsys.readouterr().err.split())
