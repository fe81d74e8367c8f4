"""`uv run python -m bench <name> [--quick]`: run one benchmark; `--list` names them all."""

from __future__ import annotations

import importlib
import signal
import sys

# name -> (module, one-line description)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "boot": ("bench.boot", "what a server worker imports before answering vs the frameworks alone"),
    "bulk": ("bench.bulk", "signed annotations:bulk ingest vs the database driver (PostgreSQL)"),
    "reads": ("bench.reads", "an analysis of 1,000 annotations and a page of 100 images vs health"),
    "requests": (
        "bench.requests",
        "per-request cost, writes and reads vs a bare FastAPI app and liveness (wrk)",
    ),
    "memory": ("bench.memory", "resident memory per server worker after bulk posts and reads"),
    "auth": ("bench.auth", "API key vs local mode; signed vs unsigned bulk post"),
    "import": ("bench.platform_import", "platform import with 20 ms latency vs its lower bound"),
    "drafts": ("bench.drafts", "draft generation: 60-frame vs 30-frame sequences"),
    "scale": ("bench.scale", "a page of images in a 1,000,000-image project vs a 10,000 one"),
    "cluster": ("bench.cluster", "two API processes against one PostgreSQL (production layout)"),
    "ui": ("bench.ui", "in Chromium: 10,000 boxes redrawn, 60-frame review ready, save to next"),
    "export": ("bench.export", "COCO and YOLO exports: peak memory, and time for 2N vs N images"),
    "queue-order": (
        "bench.queue_order",
        "claim by disagreement in 100,000 sequences: p99 <= 50 ms",
    ),
    "triage": ("bench.triage", "grouping recurring objects: day 30 of imports vs day 1"),
}


def usage() -> str:
    lines = [
        "usage: python -m bench <name> [--quick] [options]   (python -m bench <name> -h)",
        "       python -m bench all [--quick]",
        "",
        "benchmarks:",
    ]
    for name, (_module, text) in BENCHMARKS.items():
        lines.append(f"  {name:<10} {text}")
    return "\n".join(lines)


def run(name: str, argv: list[str]) -> int:
    module, _text = BENCHMARKS[name]
    return int(importlib.import_module(module).main(argv) or 0)


def _stop(signum: int, _frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C: every server and database a benchmark started is stopped.
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _stop)
    if not argv or argv[0] in {"-h", "--help"}:
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--list":
        for name, (_module, text) in BENCHMARKS.items():
            print(f"{name}\t{text}")
        return 0
    name, rest = argv[0], argv[1:]
    if name == "all":
        codes = [run(each, rest) for each in BENCHMARKS]
        return max(codes)
    if name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    return run(name, rest)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
