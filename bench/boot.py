"""Boot: what a server process imports before it can answer, against the framework alone.

    uv run python -m bench boot            # 7 runs of each, alternating
    uv run python -m bench boot --quick    # 3 runs of each

Each run is a fresh interpreter timing one statement (interpreter start-up excluded):

- baseline: `import fastapi, sqlalchemy.orm, psycopg`, the frameworks any such server loads;
- serve: what each `lookout serve` worker does before answering: the `lookout` script's import
  (uvicorn's spawned workers run it again: `lookout.__main__`), the app built by
  `lookout.server:serve_app` (uvicorn's factory), and its first answer (`GET /api/health`).

Target: serve <= 1.5x baseline, CPU time and wall time, medians of runs alternated in one
invocation, with the machine's load average printed beside them. Also printed (no target): the
CPU time of the command line's import (`lookout.cli`, what the parent `lookout serve` process
loads; a worker no longer does).

Whether the installed packages carry compiled bytecode (`compile-bytecode` under `[tool.uv]`)
is printed too: with PYTHONDONTWRITEBYTECODE=1 and no bytecode, every process compiles every
module from source.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import REPO, Report, at_most, log, median, standard_args

BASELINE = "import fastapi, sqlalchemy.orm, psycopg"
# A worker's first answer: FastAPI builds some of its routes at the first request, not before.
SERVE = """
import asyncio
import lookout.__main__, lookout.server
app = lookout.server.serve_app()
async def first_request():
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/api/health", "raw_path": b"/api/health", "root_path": "",
        "query_string": b"", "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent
asyncio.run(first_request())
"""
CLI = "import lookout.cli"
TARGET = 1.5

# Times the statement alone, then counts what it left in sys.modules.
PROBE = """
import time
wall, cpu = time.perf_counter(), time.process_time()
{statement}
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
import json, sys
print(json.dumps({{"wall": wall, "cpu": cpu, "modules": len(sys.modules)}}))
"""


def clean_env(folder: Path) -> dict[str, str]:
    """The environment of a user's first start: local storage, SQLite in `folder`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LOOKOUT_", "STORAGE_", "S3_", "DATABASE_URL", "PROXY_"))
    }
    return env | {"LOOKOUT_DATA_DIR": str(folder / "data"), "PYTHONPATH": str(REPO)}


def probe(statement: str, folder: Path) -> dict[str, float]:
    """Wall and CPU seconds of `statement` in a fresh interpreter, and the modules it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(statement=statement)],
        cwd=folder,  # no stray .env is read
        env=clean_env(folder),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(result.stdout.splitlines()[-1])


def bytecode_compiled() -> bool:
    """Whether the installed packages come with bytecode (checked on fastapi's)."""
    spec = importlib.util.find_spec("fastapi.applications")
    assert spec is not None and spec.origin is not None
    return Path(importlib.util.cache_from_source(spec.origin)).exists()


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def main(argv: list[str] | None = None) -> int:
    args = standard_args(__doc__.split("\n\n")[0], argv)
    runs = max(args.rounds, 3 if args.quick else 7)
    report = Report("boot")
    # As `lookout serve` does before starting its workers: Lookout's own bytecode written.
    from lookout.cli import compile_package

    compile_package()
    load_before = load_average()
    statements = {"baseline": BASELINE, "serve": SERVE, "cli": CLI}
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in statements}
    with tempfile.TemporaryDirectory(prefix="lookout-bench-boot-") as folder:
        for _ in range(runs):  # alternated, so a change of load touches all alike
            for name, statement in statements.items():
                samples[name].append(probe(statement, Path(folder)))
    compiled = bytecode_compiled()
    for clock in ("cpu", "wall"):
        base = median(s[clock] for s in samples["baseline"])
        serve = median(s[clock] for s in samples["serve"])
        log(f"{clock}: baseline {base * 1000:.0f} ms, serve {serve * 1000:.0f} ms")
        report.figure(
            f"serve_import_{clock}",
            serve * 1000,
            "ms",
            reference=base * 1000,
            ratio=serve / base,
            target=at_most(TARGET),
            runs=runs,
            modules=median(s["modules"] for s in samples["serve"]),
            baseline_modules=median(s["modules"] for s in samples["baseline"]),
            bytecode_compiled=compiled,
            load_before=load_before,
            load_after=load_average(),
        )
    base, cli = (median(s["cpu"] for s in samples[name]) for name in ("baseline", "cli"))
    log(f"command line: {cli * 1000:.0f} ms of CPU to import")
    report.figure(
        "cli_import_cpu",
        cli * 1000,
        "ms",
        reference=base * 1000,
        ratio=cli / base,
        runs=runs,
        modules=median(s["modules"] for s in samples["cli"]),
        load_after=load_average(),
    )
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
