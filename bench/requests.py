"""Per-request cost, writes and reads against a bare FastAPI app, measured in one run with `wrk`.

    uv run python -m bench requests            # 6 rounds of 3 s per figure, PostgreSQL
    uv run python -m bench requests --quick    # 3 rounds of 1 s
    uv run python -m bench requests --only image,review_save --seconds 2   # some figures

Two servers run side by side under the same uvicorn settings (`lookout serve`'s: workers,
loop and HTTP implementation chosen by uvicorn, log level warning, access log on at that
level, no proxy headers):

- bare: FastAPI with one route, `GET /ping` answering `{"status":"ok"}`;
- Lookout (`lookout serve`) on PostgreSQL with a project of 1,000 images, an image with an
  analysis of 1,000 annotations and a few more analyses, 4,000 sequences waiting for review
  (drafted, version 1) and API keys of group members (one per connection).

The load generator is `wrk` (C, one connection per thread, so a Lua script can keep each
connection's state); without it the benchmark says so and exits 2 (`apt-get install wrk`).
Every figure is requests/s of keep-alive connections, API-key authenticated except the
bare route and liveness:

  at 8 connections   bare `GET /ping`, liveness `GET /api/health`, `GET /api/images/{id}`,
                     `POST /api/images/{id}/analyses` (rotating over 999 images, as each
                     image holds at most 200 analyses), a review save `PUT
                     /api/sequences/{id}/review` (each connection saves its own sequence,
                     sending the version the previous answer gave), and a claim
                     (`POST /api/review-queue/claim`, then `POST /api/review-queue/release`
                     of what it got: each connection is its own reviewer; both requests count)
  at 16 connections  liveness, the first page of 100 images, the sixth page (cursor), an
                     image's analyses, and `GET /api/analyses/{id}` (1,000 annotations)

Also printed, with no target: `image_driver_floor`, the statements `GET /api/images/{id}`
sends PostgreSQL (the key with its user and groups, the image in the caller's groups, in one
transaction) through psycopg from 8 threads, no HTTP and no framework: what the database and
the driver alone allow, against the bare app.

Targets (ratios of rates measured side by side in each round; the median over rounds):
liveness >= 0.8 of bare, an image >= 0.5 of bare; creating an analysis, a review save and
a claim >= 0.5 of liveness at 8 connections; pages of images and an image's analyses >= 0.5
of liveness at 16 connections; the analysis of 1,000 annotations >= 0.3. Rounds alternate
every figure; the load average is printed with each figure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.common import (
    LOCALHOST,
    LookoutServer,
    Report,
    api_key,
    at_least,
    create_analysis,
    log,
    median,
    postgres,
    read_fixture,
    standard_args,
)

SEQUENCES = 4000  # waiting for review: the first 64 are saved, the rest are claimed
IMAGES = 1000


def bare_app() -> Any:
    """The reference: FastAPI with one route and nothing else."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app


class BareServer(LookoutServer):
    """`bare_app` served exactly as `lookout serve` serves Lookout (`lookout.supervisor.serve`)."""

    def command(self) -> list[str]:
        run = (
            "from lookout.supervisor import serve; raise SystemExit(serve("
            f"'bench.requests:bare_app', host={LOCALHOST!r}, port={self.port}, "
            f"workers={self.workers}, log_level='warning'))"
        )
        return [sys.executable, "-c", run]

    def wait_ready(self, timeout: float = 60.0) -> None:
        import time

        import httpx

        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bare app exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the bare app did not start")


# --- wrk ---------------------------------------------------------------------------------------

# Shared by every script: one connection per thread (`-t N -c N`), each thread told its number
# in setup(); done() prints one JSON line that main() reads.
LUA_COMMON = r"""
local threads = {}
function setup(thread)
  thread:set("n", #threads)
  table.insert(threads, thread)
end
bad = 0
last_bad = ""
function count_bad(status, body, ok)
  if not ok[status] then
    bad = bad + 1
    last_bad = status .. " " .. string.sub(body or "", 1, 200)
  end
end
function done(summary, latency, requests)
  local bad_total, sample = 0, ""
  for _, t in ipairs(threads) do
    bad_total = bad_total + (t:get("bad") or 0)
    local s = t:get("last_bad")
    if s and s ~= "" then sample = s end
  end
  io.write(string.format(
    '@@wrk {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p99_us":%d,"bad":%d,"bad_sample":%q}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), bad_total, sample))
end
"""


def lua_list(values: list[str]) -> str:
    return "{" + ", ".join(json.dumps(v) for v in values) + "}"


def fixed_script(method: str, path: str, headers: dict[str, str], body: str | None) -> str:
    """The same request again and again (wrk's own fast path: no Lua per request)."""
    lines = [f"wrk.method = {json.dumps(method)}", f"wrk.path = {json.dumps(path)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    return LUA_COMMON + "\n".join(lines) + "\n"


def rotating_create_script(key: str, images: list[str]) -> str:
    """POST /api/images/{id}/analyses, each request on the next image of the list."""
    return LUA_COMMON + textwrap.dedent(
        f"""
        local images = {lua_list(images)}
        local i = 0
        local headers = {{["X-API-Key"] = {json.dumps(key)},
                          ["Content-Type"] = "application/json"}}
        local body = '{{"model_name":"bench-model","model_version":"1"}}'
        local ok = {{[201] = true}}
        function init(args) i = n * 7919 end
        function request()
          i = i + 1
          local image = images[(i % #images) + 1]
          return wrk.format("POST", "/api/images/" .. image .. "/analyses", headers, body)
        end
        function response(status, headers, body) count_bad(status, body, ok) end
        """
    )


def review_save_script(keys: list[str], sequences: list[str], versions: list[int]) -> str:
    """Each connection saves its own sequence, sending the version the last answer gave (the
    first time, the version stored when wrk starts)."""
    return LUA_COMMON + textwrap.dedent(
        f"""
        local keys = {lua_list(keys)}
        local sequences = {lua_list(sequences)}
        local versions = {{{", ".join(map(str, versions))}}}
        local version
        local ok = {{[200] = true}}
        local headers, path
        function init(args)
          headers = {{["X-API-Key"] = keys[n + 1], ["Content-Type"] = "application/json"}}
          path = "/api/sequences/" .. sequences[n + 1] .. "/review"
          version = versions[n + 1]
        end
        function request()
          local body = '{{"tracks":[],"has_missed_smoke":false,"is_unsure":false,' ..
            '"processing_stage":"annotated","version":' .. version .. '}}'
          return wrk.format("PUT", path, headers, body)
        end
        function response(status, headers, body)
          count_bad(status, body, ok)
          local v = string.match(body, '"version":(%d+)')
          if v then version = tonumber(v) end
        end
        """
    )


def claim_script(keys: list[str]) -> str:
    """Each connection is a reviewer: claim the next sequence, release it, claim again."""
    return LUA_COMMON + textwrap.dedent(
        f"""
        local keys = {lua_list(keys)}
        local held = nil
        local ok = {{[200] = true, [204] = true}}
        local headers
        function init(args)
          headers = {{["X-API-Key"] = keys[n + 1], ["Content-Type"] = "application/json"}}
        end
        function request()
          if held then
            local body = '{{"sequence_id":"' .. held .. '"}}'
            held = nil
            return wrk.format("POST", "/api/review-queue/release", headers, body)
          end
          return wrk.format("POST", "/api/review-queue/claim", headers, "{{}}")
        end
        function response(status, headers, body)
          count_bad(status, body, ok)
          if status == 200 then
            held = string.match(body, '"sequence":{{"id":"([%x%-]+)"')
          end
        end
        """
    )


@dataclass
class Kind:
    name: str
    server: str  # "bare" or "lookout"
    connections: int
    script: str | Callable[[], str]  # a callable is asked again before every run
    reference: str | None = None  # the kind whose rate of the same round it is compared with
    bound: float | None = None
    rates: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    socket_errors: int = 0


def wrk_run(url: str, script: Path, connections: int, seconds: int) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{connections}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",  # a busy machine's slowest answers are counted, not dropped as errors
        "-s",
        str(script),
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    for line in result.stdout.splitlines():
        if line.startswith("@@wrk "):
            return json.loads(line[6:])
    raise RuntimeError(f"wrk printed no summary: {result.stdout[-2000:]} {result.stderr[-2000:]}")


def measure_once(kind: Kind, urls: dict[str, str], folder: Path, seconds: int) -> float:
    if kind.server == "driver":
        assert isinstance(kind.script, str)
        token, image = kind.script.split()
        rate, p50 = driver_floor(urls["driver"], token, image, kind.connections, seconds)
        kind.rates.append(rate)
        kind.p50_ms.append(p50)
        kind.p99_ms.append(float("nan"))
        return rate
    script = folder / f"{kind.name}.lua"
    if callable(kind.script) or not script.exists():
        script.write_text(kind.script() if callable(kind.script) else kind.script)
    out = wrk_run(urls[kind.server], script, kind.connections, seconds)
    if out["bad"] or out["status_errors"]:
        raise RuntimeError(f"{kind.name}: unexpected answers: {out}")
    if out["socket_errors"]:  # reported with the figure (a timeout on a loaded machine)
        kind.socket_errors += out["socket_errors"]
    rate = out["requests"] / (out["duration_us"] / 1e6)
    kind.rates.append(rate)
    kind.p50_ms.append(out["p50_us"] / 1000)
    kind.p99_ms.append(out["p99_us"] / 1000)
    return rate


# --- the fixture ----------------------------------------------------------------------------


def insert_sequences(database_url: str, project_id: str, count: int) -> list[str]:
    """`count` sequences waiting for review (a draft at version 1 each), oldest first."""
    from bench.queue_order import insert_queue

    insert_queue(database_url, project_id, count)
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id FROM sequences WHERE project_id = :p ORDER BY started_at"),
                {"p": project_id},
            )
            return [str(row[0]) for row in rows]
    finally:
        engine.dispose()


def review_versions(database_url: str, sequences: list[str]) -> list[int]:
    """The stored version of each sequence's review, in the order given."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT CAST(sequence_id AS text), version FROM sequence_reviews "
                    "WHERE CAST(sequence_id AS text) = ANY(:ids)"
                ),
                {"ids": sequences},
            )
            found = dict(rows.all())
    finally:
        engine.dispose()
    return [found[s] for s in sequences]


def image_ids(database_url: str, project_id: str, but: str) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id FROM images WHERE project_id = :p AND id <> :but ORDER BY id"),
                {"p": project_id, "but": but},
            )
            return [str(row[0]) for row in rows]
    finally:
        engine.dispose()


def kinds_for(server: LookoutServer, connections: int) -> list[Kind]:
    import httpx

    from bench.common import analyze

    fixture = read_fixture(server, images=IMAGES - 1)
    member = {"X-API-Key": fixture.member_key}
    with httpx.Client(base_url=server.url, headers=member, timeout=60) as client:
        for _ in range(4):  # an image's analyses: a page of five
            create_analysis(client, fixture.image_id)
        cursor = None
        for _ in range(5):  # the sixth page
            query = "limit=100" + (f"&cursor={quote(cursor)}" if cursor else "")
            page = client.get(f"/api/projects/{fixture.project_id}/images?{query}")
            page.raise_for_status()
            cursor = page.json()["next_cursor"]
        assert cursor, "a sixth page of images should exist"
    sequences = insert_sequences(server.database_url, fixture.project_id, SEQUENCES)
    keys = [
        api_key(server.database_url, f"reviewer{i}@example.org", admin=False)
        for i in range(connections)
    ]
    images = image_ids(server.database_url, fixture.project_id, fixture.image_id)
    analyze(server.database_url)
    # Saves take the oldest sequences (each connection its own), claims the rest: a saved
    # review is annotated and leaves the queue.
    saved = sequences[:connections]
    project = fixture.project_id

    def get(path: str, auth: bool = True) -> str:
        return fixed_script("GET", path, member if auth else {}, None)

    low, high = connections, 2 * connections
    image, analysis = fixture.image_id, fixture.analysis_id
    page = f"/api/projects/{project}/images?limit=100"
    versions = lambda: review_versions(server.database_url, saved)  # noqa: E731
    # (name, server, connections, script, compared with, target)
    return [
        Kind("bare_ping", "bare", low, get("/ping", auth=False)),
        Kind("health", "lookout", low, get("/api/health", auth=False), "bare_ping", 0.8),
        Kind("image", "lookout", low, get(f"/api/images/{image}"), "bare_ping", 0.5),
        # No HTTP: the image read's statements through psycopg alone (see driver_floor).
        Kind("image_driver_floor", "driver", low, f"{fixture.member_key} {image}", "bare_ping"),
        Kind(
            "create_analysis",
            "lookout",
            low,
            rotating_create_script(fixture.member_key, images),
            "health",
            0.5,
        ),
        Kind(
            "review_save",
            "lookout",
            low,
            lambda: review_save_script(keys, saved, versions()),
            "health",
            0.5,
        ),
        Kind("claim_release", "lookout", low, claim_script(keys), "health", 0.5),
        Kind("health_16", "lookout", high, get("/api/health", auth=False)),
        Kind("images_page_first", "lookout", high, get(page), "health_16", 0.5),
        Kind(
            "images_page_sixth",
            "lookout",
            high,
            get(f"{page}&cursor={quote(cursor)}"),
            "health_16",
            0.5,
        ),
        Kind(
            "image_analyses",
            "lookout",
            high,
            get(f"/api/images/{image}/analyses"),
            "health_16",
            0.5,
        ),
        Kind("analysis_1000", "lookout", high, get(f"/api/analyses/{analysis}"), "health_16", 0.3),
    ]


# What `GET /api/images/{id}` asks PostgreSQL, statement for statement (the API key with its
# user and groups, then the image within the caller's groups), in one transaction.
FLOOR_KEY = (
    "SELECT k.id, k.secret_hash, k.revoked_at, k.expires_at, k.last_used_at, u.id, u.email, "
    "u.is_admin, u.is_active, m.group_id FROM api_keys k JOIN users u ON u.id = k.user_id "
    "LEFT JOIN memberships m ON m.user_id = u.id WHERE k.prefix = %s"
)
FLOOR_IMAGE = (
    "SELECT i.* FROM images i JOIN projects p ON p.id = i.project_id "
    "WHERE p.group_id = ANY(%s) AND i.id = %s"
)


def driver_floor(database_url: str, token: str, image_id: str, connections: int, seconds: float):
    """Requests/s of the image read's statements alone: psycopg (prepared statements), one
    thread and connection per client, no HTTP, no framework, no ORM. What PostgreSQL and the
    driver cost a request before any server work; p50 in ms too."""
    import threading
    import time

    import psycopg

    from bench.common import libpq_url

    prefix = token.split("_")[1]
    counts = [0] * connections
    latencies: list[list[float]] = [[] for _ in range(connections)]
    start = threading.Barrier(connections + 1)
    stop = [0.0]

    def client(n: int) -> None:
        with psycopg.connect(libpq_url(database_url), prepare_threshold=0) as conn:
            start.wait()
            while time.perf_counter() < stop[0]:
                began = time.perf_counter()
                with conn.transaction():
                    rows = conn.execute(FLOOR_KEY, (prefix,)).fetchall()
                    groups = [row[9] for row in rows]
                    conn.execute(FLOOR_IMAGE, (groups, image_id)).fetchall()
                latencies[n].append(time.perf_counter() - began)
                counts[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    stop[0] = time.perf_counter() + 3600
    start.wait()
    began = time.perf_counter()
    stop[0] = began + seconds
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    every = sorted(x for each in latencies for x in each)
    return sum(counts) / elapsed, every[len(every) // 2] * 1000


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def main(argv: list[str] | None = None) -> int:
    import argparse

    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--seconds", type=int, default=None, help="seconds per figure per round")
    extra.add_argument("--only", default=None, help="comma-separated figures (and references)")
    known, rest = extra.parse_known_args(argv)
    args = standard_args(__doc__.split("\n\n")[0], rest)
    if shutil.which("wrk") is None:
        print(
            "bench requests needs wrk (the load generator), which is not installed: "
            "apt-get install -y wrk (or brew install wrk)",
            file=sys.stderr,
        )
        return 2
    rounds = args.rounds if args.rounds != 3 or args.quick else 6
    seconds = known.seconds or (1 if args.quick else 3)
    connections = 8
    report = Report("requests")
    load_before = load_average()
    with (
        postgres() as pg,
        BareServer("", workers=args.workers, name="bare") as bare,
        LookoutServer(pg.database(), workers=args.workers) as server,
        tempfile.TemporaryDirectory(prefix="lookout-bench-wrk-") as folder,
    ):
        kinds = kinds_for(server, connections)
        if known.only:
            wanted = set(known.only.split(","))
            wanted |= {k.reference for k in kinds if k.name in wanted and k.reference}
            kinds = [k for k in kinds if k.name in wanted]
        urls = {"bare": bare.url, "lookout": server.url, "driver": server.database_url}
        log("warming up")
        for kind in kinds:
            measure_once(kind, urls, Path(folder), 1)
            kind.rates.clear(), kind.p50_ms.clear(), kind.p99_ms.clear()
        for round_ in range(rounds):
            for kind in kinds:
                measure_once(kind, urls, Path(folder), seconds)
            log(
                f"round {round_ + 1}/{rounds} (load {load_average()}): "
                + ", ".join(f"{k.name} {k.rates[-1]:,.0f}/s" for k in kinds)
            )
    by_name = {kind.name: kind for kind in kinds}
    load_after = load_average()
    for kind in kinds:
        common = {
            "connections": kind.connections,
            "workers": args.workers,
            "p50_ms": median(kind.p50_ms),
            "p99_ms": median(kind.p99_ms),
            "rounds": kind.rates,
            "socket_errors": kind.socket_errors,
            "load_before": load_before,
            "load_after": load_after,
        }
        ref = by_name.get(kind.reference or "")
        if ref is None:
            report.figure(kind.name, median(kind.rates), "requests/s", **common)
            continue
        ratios = [a / b for a, b in zip(kind.rates, ref.rates, strict=True)]
        report.figure(
            kind.name,
            median(kind.rates),
            "requests/s",
            reference=median(ref.rates),
            ratio=median(ratios),
            target=at_least(kind.bound) if kind.bound is not None else None,
            versus=ref.name,
            round_ratios=ratios,
            **common,
        )
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
