"""The one process pool of the view experiments: independent jobs, spawned workers, one thread.

Why processes: the critics are small convnets, whose convolutions parallelise badly
inside one op; on a busy 2-core machine two intra-op threads cost up to 8x the time of
one per step (measured), while two single-threaded processes keep both cores busy.
Why spawn: a forked child of a process that has started torch's threads can hang.

A job is ``function(*arguments)`` with picklable arguments (a module-level function).
Jobs report progress with `report_progress(*message)`: from a worker it travels back
through a queue, in-process it is handed straight to the caller's ``on_message``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from infomin.threads import set_torch_threads, torch_threads

Job = tuple[Any, ...]  # the arguments of one call
OnMessage = Callable[..., None]
OnResult = Callable[[Job, Any], None]

_QUEUE: Any = None  # in a worker: where `report_progress` puts its messages
_LOCAL: OnMessage | None = None  # in-process: the caller's `on_message`


def report_progress(*message: Any) -> None:
    """Send a progress message to the caller of `run_jobs` (dropped if nobody listens)."""
    if _QUEUE is not None:
        _QUEUE.put(message)
    elif _LOCAL is not None:
        _LOCAL(*message)


def _init_worker(threads: int, progress_queue: Any) -> None:
    global _QUEUE
    set_torch_threads(threads)
    _QUEUE = progress_queue


def run_jobs(
    function: Callable[..., Any],
    jobs: Sequence[Job],
    workers: int = 1,
    threads: int | None = 1,
    on_message: OnMessage | None = None,
    on_result: OnResult | None = None,
) -> list[Any]:
    """``function(*job)`` for every job; the results in the order of ``jobs``.

    Args:
        function: A module-level function (spawned workers import it by name).
        jobs: The arguments of each call.
        workers: Processes; 1 runs the jobs here, one after the other.
        threads: Torch threads per worker (in-process: for the duration; None there
            leaves the caller's setting, and means 1 in a worker).
        on_message: Receives every `report_progress` message of the jobs.
        on_result: Called with ``(job, result)`` as each job finishes.
    """
    if workers <= 1 or len(jobs) <= 1:
        return _run_here(function, jobs, threads, on_message, on_result)
    return _run_spawned(function, jobs, min(workers, len(jobs)), threads or 1, on_message,
                        on_result)  # fmt: skip


def _run_here(
    function: Callable[..., Any], jobs: Sequence[Job], threads: int | None,
    on_message: OnMessage | None, on_result: OnResult | None,
) -> list[Any]:  # fmt: skip
    global _LOCAL
    results = []
    previous, _LOCAL = _LOCAL, on_message
    try:
        with torch_threads(threads) if threads is not None else contextlib.nullcontext():
            for job in jobs:
                results.append(function(*job))
                if on_result is not None:
                    on_result(job, results[-1])
    finally:
        _LOCAL = previous
    return results


def _run_spawned(
    function: Callable[..., Any], jobs: Sequence[Job], workers: int, threads: int,
    on_message: OnMessage | None, on_result: OnResult | None,
) -> list[Any]:  # fmt: skip
    context = multiprocessing.get_context("spawn")
    progress_queue = context.Queue()
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                               initargs=(threads, progress_queue))  # fmt: skip
    try:
        futures: dict[Future[Any], int] = {
            pool.submit(function, *job): i for i, job in enumerate(jobs)
        }
        results: list[Any] = [None] * len(jobs)
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            _drain(progress_queue, on_message)
            for future in done:
                index = futures[future]
                results[index] = future.result()
                if on_result is not None:
                    on_result(jobs[index], results[index])
        # A worker's last messages can still be in its queue's feeder thread when its job
        # is done; the workers flush it when they exit, so drain once more after that.
        pool.shutdown(wait=True)
        _drain(progress_queue, on_message)
        return results
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _drain(progress_queue: Any, on_message: OnMessage | None) -> None:
    while True:
        try:
            message = progress_queue.get_nowait()
        except queue.Empty:
            return
        if on_message is not None:
            on_message(*message)
