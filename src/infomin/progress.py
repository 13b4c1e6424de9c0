"""Progress display for long work, as `(done, total)` callbacks.

Library code reports progress through a plain callback so it never depends on a
display; the CLI plugs in rich's progress bars (to stderr, so stdout stays clean for
tables and paths).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

ProgressCallback = Callable[[int, int], None]

console = Console(stderr=True)


@contextmanager
def progress_bars() -> Iterator[Callable[[str], ProgressCallback]]:
    """Yield `task(description) -> callback`; each callback drives its own bar."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bars:

        def new_task(description: str) -> ProgressCallback:
            # The bar appears on the first report, so a command that fails while
            # loading its data prints its error without an empty bar above it.
            task_ids: list[TaskID] = []

            def update(done: int, total: int) -> None:
                if not task_ids:
                    task_ids.append(bars.add_task(description, total=total))
                bars.update(task_ids[0], completed=done, total=total)

            return update

        yield new_task
