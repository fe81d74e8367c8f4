"""Print the recorded scenario figures as a Markdown table (the last line of each scenario)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def table(lines: list[dict]) -> str:
    latest: dict[str, dict] = {}
    for line in lines:
        latest[line["scenario"]] = line
    rows = ["| scenario | size | figures |", "|---|---|---|"]
    for name, line in latest.items():
        figures = ", ".join(
            f"{key.replace('_', ' ')}: {value}"
            for key, value in line.items()
            if key not in {"scenario", "size", "at"}
        )
        rows.append(f"| {name} | {line['size']} | {figures} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.reliability.report <record.jsonl>", file=sys.stderr)
        return 2
    text = Path(argv[0]).read_text(encoding="utf-8")
    print(table([json.loads(line) for line in text.splitlines() if line.strip()]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
