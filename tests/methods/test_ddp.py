"""Real 2-process CPU DDP (gloo): gathered negatives, global enqueue, equal gradients."""

import json
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from infomin.methods import PRESETS, TrainSettings, build_method, for_image_size

BATCH = 8  # global batch; each of the 2 processes holds half


def _method(name):
    torch.manual_seed(0)
    settings = TrainSettings(width=0.25, batch_size=BATCH, dataset_size=BATCH)
    method = build_method(for_image_size(PRESETS[name], 32), settings)
    # BN in eval mode: per-process BN statistics of a half batch legitimately differ from
    # the full batch's; freezing them isolates what DDP must get right (the gather and the
    # gradient scale), which is what this test is about.
    return method.eval()


def _views():
    torch.manual_seed(1)
    return torch.randn(BATCH, 3, 32, 32), torch.randn(BATCH, 3, 32, 32)


def _grads(method):
    return {n: p.grad.clone() for n, p in method.named_parameters() if p.grad is not None}


def _worker(rank, name, init_file, out_file):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    method = _method(name)
    v1, v2 = _views()
    half = slice(rank * BATCH // 2, (rank + 1) * BATCH // 2)
    loss = method.contrastive_loss((v1[half], v2[half]), torch.arange(BATCH)[half])
    loss.backward()
    for p in method.parameters():  # what DDP does: average gradients over processes
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= 2
    losses = [torch.zeros(()) for _ in range(2)]
    dist.all_gather(losses, loss.detach())
    if rank == 0:
        state = {"grads": _grads(method), "loss": torch.stack(losses).mean()}
        if hasattr(method, "queues"):
            state["pointer"] = method.queues[0].pointer.clone()
        torch.save(state, out_file)
    dist.destroy_process_group()


@pytest.mark.parametrize("name", ["simclr", "mocov2"])
def test_two_process_gradients_equal_single_process(name, tmp_path):
    """Tolerance 1e-5 absolute on every gradient entry (float32, different sum order)."""
    out = tmp_path / "rank0.pt"
    mp.spawn(_worker, args=(name, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    distributed = torch.load(out, weights_only=False)

    method = _method(name)
    v1, v2 = _views()
    loss = method.contrastive_loss((v1, v2), torch.arange(BATCH))
    loss.backward()
    single = _grads(method)

    assert distributed["loss"] == pytest.approx(loss.item(), abs=1e-5)
    assert distributed["grads"].keys() == single.keys()
    for key, grad in single.items():
        assert torch.allclose(distributed["grads"][key], grad, atol=1e-5), key
    if name == "mocov2":
        assert int(distributed["pointer"]) == BATCH  # the global batch of keys was enqueued


def test_cli_pretrain_on_two_cpu_processes(tmp_path):
    """`--devices 2` on CPU goes through Lightning's DDP; the queue sees the global batch."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "infomin", "pretrain", "--preset", "mocov2",
               "--devices", "2", "--accelerator", "cpu", "--max-steps", "3", "--epochs", "1",
               "--train-size", "64", "--test-size", "64", "--batch-size", "8",
               "--width", "0.25", "--out", str(out)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert int(state["queues.0.pointer"]) == 3 * 2 * 8
    results = json.loads((out / "results.json").read_text())
    assert results["steps_done"] == 3 and "digit.linear_top1" in results["metrics"]
