"""The worker's progress bar (rich, on stderr), or nothing."""

from __future__ import annotations

from typing import Any


class Progress:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool, total: int | None, console: Any = None) -> None:
        self._bar: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task = self._bar.add_task("analyses", total=total)
        self._bar.start()

    def set_total(self, total: int | None) -> None:
        if self._bar is not None and total is not None:
            self._bar.update(self._task, total=total)

    def advance(self, description: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=description)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
