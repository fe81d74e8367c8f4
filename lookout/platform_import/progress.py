"""Progress bars for the long phases (shown only on a terminal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Bars:
    """One rich Progress for the run; each phase adds a bar."""

    def __init__(self, console: Console | None = None) -> None:
        """Draw on ``console`` when it is a terminal, else stay silent."""
        self.enabled = console is not None and console.is_terminal
        self.progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not self.enabled,
            transient=False,
        )

    def __enter__(self) -> Bars:
        """Start drawing."""
        self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop drawing."""
        self.progress.stop()

    @contextmanager
    def phase(self, description: str, total: int) -> Iterator[Callable[[], None]]:
        """A bar for one phase; call the yielded function once per finished item."""
        task = self.progress.add_task(description, total=total)
        yield lambda: self.progress.advance(task)
