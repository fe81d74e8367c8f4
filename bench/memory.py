"""Resident memory of each server worker after the bulk and read workloads.

    uv run python -m bench memory            # 2 workers; 60 bulk posts, 3 x 5 s of reads
    uv run python -m bench memory --quick    # 16 bulk posts, 3 x 1.5 s of reads

`lookout serve` runs as users run it (PostgreSQL, `--workers 2` by default). Each worker's
resident set (VmRSS from /proc) is read at start, after signed 1,000-box `annotations:bulk`
posts from 4 clients, and after reads at 16 connections of an analysis of 1,000 annotations
and pages of 100 images (every page of a 1,000-image project, so the caches fill). For scale,
a process that only imports FastAPI, SQLAlchemy's ORM and psycopg is measured beside it.

Target: <= 150 MB resident per worker after both workloads (the largest worker counts).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.common import (
    LookoutServer,
    Report,
    at_most,
    bulk_body,
    create_analysis,
    from_list,
    http_request,
    load,
    log,
    postgres,
    read_fixture,
    signed_bulk_headers,
    standard_args,
)

LIMIT_MB = 150.0
CLIENTS = 4
CONNECTIONS = 16


def resident_mb(pid: int) -> float:
    """VmRSS of a process, in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def worker_pids(server: LookoutServer) -> list[int]:
    """The processes answering requests: the server's children, or the server itself when
    it runs one worker (uvicorn then serves in its main process)."""
    assert server.process is not None
    main = server.process.pid
    children = [int(p) for p in Path(f"/proc/{main}/task/{main}/children").read_text().split() if p]
    # Workers are spawned by multiprocessing; its resource tracker is a child too, not a worker.
    workers = [pid for pid in children if "spawn_main" in _cmdline(pid)]
    return workers or [main]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def frameworks_mb() -> float:
    """Resident memory of a process that imports only the frameworks a worker is built on."""
    code = (
        "import fastapi, sqlalchemy.orm, psycopg, uvicorn\n"
        "from pathlib import Path\n"
        "line = next(l for l in Path('/proc/self/status').read_text().splitlines()"
        " if l.startswith('VmRSS:'))\n"
        "print(int(line.split()[1]) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def _snapshot(server: LookoutServer, label: str) -> dict[int, float]:
    sizes = {pid: resident_mb(pid) for pid in worker_pids(server)}
    log(f"{label}: " + ", ".join(f"worker {pid} {mb:.0f} MB" for pid, mb in sizes.items()))
    return sizes


def main(argv: list[str] | None = None) -> int:
    args = standard_args(__doc__.split("\n\n")[0], argv)
    posts = 16 if args.quick else 60
    seconds = 1.5 if args.quick else 5.0
    report = Report("memory")
    with postgres() as pg, LookoutServer(pg.database(), workers=args.workers) as server:
        started = _snapshot(server, "started")
        fixture = read_fixture(server)
        auth = {"X-API-Key": fixture.admin_key}
        requests = []
        for i in range(posts):
            analysis = create_analysis_with(server, fixture.admin_key, fixture.image_id)
            body = bulk_body(1000, seed=i)
            path = f"/api/analyses/{analysis}/annotations:bulk"
            headers = signed_bulk_headers(analysis, body)
            requests.append(http_request("POST", path, headers=headers, body=body))
        result = load(server.url, from_list(requests), connections=CLIENTS, expect=(201,))
        assert json.loads(result.sample)["created_count"] == 1000
        after_bulk = _snapshot(server, f"after {posts} bulk posts")
        pages = [
            http_request(
                "GET",
                f"/api/projects/{fixture.project_id}/images?limit=100&skip={skip}",
                headers=auth,
            )
            for skip in range(0, 1000, 100)
        ]
        analysis = http_request("GET", f"/api/analyses/{fixture.analysis_id}", headers=auth)
        for _round in range(args.rounds):
            load(server.url, from_list(pages * 50), connections=CONNECTIONS)
            load(server.url, analysis, connections=CONNECTIONS, duration=seconds)
        after_reads = _snapshot(server, "after reads")
    largest = max(after_reads.values())
    report.figure(
        "worker_resident_after_bulk_and_reads",
        largest,
        "MB",
        reference=LIMIT_MB,
        ratio=largest / LIMIT_MB,
        target=at_most(1.0),
        workers=args.workers,
        started_mb=sorted(started.values()),
        after_bulk_mb=sorted(after_bulk.values()),
        after_reads_mb=sorted(after_reads.values()),
        frameworks_only_mb=frameworks_mb(),
        load=os.getloadavg()[0],
    )
    return report.exit_code()


def create_analysis_with(server: LookoutServer, key: str, image_id: str) -> str:
    import httpx

    with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as client:
        return create_analysis(client, image_id)


if __name__ == "__main__":
    raise SystemExit(main())
