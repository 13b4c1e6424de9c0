"""Two CPU processes (gloo) against one process holding the whole global batch.

Convention checked here (the DDP convention of ``NTXentLoss(gather=True)``): each rank
computes the mean loss over its own 2n queries, with candidates gathered from both
ranks by a differentiable all-gather. Then

- the mean of the per-rank losses equals the single-process loss on the global batch
  (DDP and loggers average over ranks), and
- the gradient on each rank's local embeddings, divided by the world size W (what DDP's
  gradient averaging does), equals the matching slice of the single-process gradient.

Both are checked to 1e-6 absolute in float32. The queue and the memory bank must also
receive the *global* batch, identically on both ranks.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from infomin.objectives import MemoryBank, MomentumQueue, NTXentLoss, gather, rank, world_size

WORLD = 2
LOCAL = 3
DIM = 5
TAU = 0.2


def global_batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(123)
    z0 = F.normalize(torch.randn(WORLD * LOCAL, DIM, generator=gen), dim=1)
    z1 = F.normalize(torch.randn(WORLD * LOCAL, DIM, generator=gen), dim=1)
    return z0, z1


def _worker(process_rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=process_rank, world_size=WORLD
    )
    try:
        assert rank() == process_rank and world_size() == WORLD
        z0, z1 = global_batch()
        rows = slice(process_rank * LOCAL, (process_rank + 1) * LOCAL)
        local0 = z0[rows].clone().requires_grad_(True)
        local1 = z1[rows].clone().requires_grad_(True)
        loss = NTXentLoss(temperature=TAU, gather=True)(local0, local1)
        loss.backward()

        queue = MomentumQueue(8, DIM, generator=torch.Generator().manual_seed(0))
        keys = z1[rows] + 0.0
        queue.enqueue(keys)

        bank = MemoryBank(10, DIM, generator=torch.Generator().manual_seed(1))
        indices = torch.arange(LOCAL) + LOCAL * process_rank
        bank.update(indices, z0[rows])

        plain = gather(z0[rows], differentiable=False)
        torch.save(
            {
                "loss": loss.detach(),
                "grad0": local0.grad,
                "grad1": local1.grad,
                "queue": queue.queue.clone(),
                "pointer": int(queue.pointer),
                "bank": bank.bank.clone(),
                "plain_gather": plain,
            },
            Path(out_dir) / f"rank{process_rank}.pt",
        )
    finally:
        dist.destroy_process_group()


def test_two_process_gather_matches_single_process(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    results = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]

    z0, z1 = global_batch()
    z0 = z0.clone().requires_grad_(True)
    z1 = z1.clone().requires_grad_(True)
    single = NTXentLoss(temperature=TAU)(z0, z1)
    single.backward()

    mean_rank_loss = sum(r["loss"] for r in results) / WORLD
    torch.testing.assert_close(mean_rank_loss, single.detach(), rtol=0, atol=1e-6)
    for r, result in enumerate(results):
        rows = slice(r * LOCAL, (r + 1) * LOCAL)
        torch.testing.assert_close(result["grad0"] / WORLD, z0.grad[rows], rtol=0, atol=1e-6)
        torch.testing.assert_close(result["grad1"] / WORLD, z1.grad[rows], rtol=0, atol=1e-6)
        torch.testing.assert_close(result["plain_gather"], z0.detach())

    # queue: both ranks enqueued the global batch of keys, in rank order
    expected_queue = MomentumQueue(8, DIM, generator=torch.Generator().manual_seed(0))
    expected_queue.enqueue(z1.detach())
    for result in results:
        assert torch.equal(result["queue"], expected_queue.queue)
        assert result["pointer"] == WORLD * LOCAL

    # memory bank: both ranks applied the global update
    expected_bank = MemoryBank(10, DIM, generator=torch.Generator().manual_seed(1))
    expected_bank.update(torch.arange(WORLD * LOCAL), z0.detach())
    for result in results:
        torch.testing.assert_close(result["bank"], expected_bank.bank, rtol=0, atol=1e-7)
