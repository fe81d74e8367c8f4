"""Render the JSON lines of one benchmark run as the README's markdown table.

    uv run python -m bench all --quick | tee run.jsonl
    uv run python -m bench.table run.jsonl

Every row is one figure of that run: its value, the reference measured in the same run, the
ratio and the target. Lines that are not figures (logs, tracebacks) are skipped.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

HEADER = (
    "| benchmark | figure | value | reference (same run) | ratio | target | met |\n"
    "|---|---|---|---|---|---|---|"
)


def figures(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The figure records among a run's output lines."""
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and {"benchmark", "figure", "value"} <= record.keys():
            yield record


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, int | float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def row(record: dict[str, Any]) -> str:
    unit = record.get("unit") or ""
    ok = record.get("ok")
    met = "-" if ok is None else ("yes" if ok else "no")
    cells = [
        f"`{record['benchmark']}`",
        record["figure"],
        f"{_number(record['value'])} {unit}".strip(),
        _number(record.get("reference")),
        _number(record.get("ratio")),
        record.get("target") or "-",
        met,
    ]
    return "| " + " | ".join(cells) + " |"


def table(lines: Iterable[str]) -> str:
    return "\n".join([HEADER, *(row(record) for record in figures(lines))])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in {"-h", "--help"}:
        print(__doc__)
        return 0 if args else 2
    print(table(Path(args[0]).read_text().splitlines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
