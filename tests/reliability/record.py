"""Figures of the reliability and security scenarios, gathered for docs/reliability.md.

Scenarios run in CI at a reduced size; `LOOKOUT_RELIABILITY_FULL=1` runs them at the size the
issue names. With `LOOKOUT_RELIABILITY_RECORD=<file>` every scenario appends one JSON line of
its figures there; `uv run python -m tests.reliability.report <file>` prints the table.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

FULL = os.environ.get("LOOKOUT_RELIABILITY_FULL", "").lower() in {"1", "true", "yes"}


def size(ci: int, full: int) -> int:
    """The scenario's size: `full` with LOOKOUT_RELIABILITY_FULL=1, else the CI size."""
    return full if FULL else ci


def record(scenario: str, **figures: Any) -> None:
    """Append one scenario's figures (requests sent, faults injected, stored, lost...)."""
    target = os.environ.get("LOOKOUT_RELIABILITY_RECORD")
    if not target:
        return
    line = {"scenario": scenario, "size": "full" if FULL else "ci", "at": time.time(), **figures}
    with Path(target).open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, sort_keys=False) + "\n")
