"""The process pool: results in job order, progress messages delivered, both paths alike."""

from __future__ import annotations

import torch

from infomin.experiments.pool import report_progress, run_jobs


def square_and_report(x: int) -> tuple[int, int]:
    report_progress("job", x)
    return x * x, torch.get_num_threads()


def test_in_process_jobs_keep_order_and_deliver_progress():
    messages, finished = [], []
    results = run_jobs(square_and_report, [(3,), (1,), (2,)], workers=1, threads=1,
                       on_message=lambda *m: messages.append(m),
                       on_result=lambda job, result: finished.append(job))  # fmt: skip
    assert [r[0] for r in results] == [9, 1, 4]
    assert all(r[1] == 1 for r in results)
    assert messages == [("job", 3), ("job", 1), ("job", 2)]
    assert finished == [(3,), (1,), (2,)]
    report_progress("after")  # nobody listens any more: dropped, no error


def test_spawned_workers_give_the_same_results_and_messages():
    messages = []
    results = run_jobs(square_and_report, [(3,), (1,), (2,)], workers=2, threads=1,
                       on_message=lambda *m: messages.append(m))  # fmt: skip
    assert [r[0] for r in results] == [9, 1, 4] and all(r[1] == 1 for r in results)
    assert sorted(messages) == [("job", 1), ("job", 2), ("job", 3)]
