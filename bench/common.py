"""What every benchmark needs: PostgreSQL, Lookout servers, a load generator and the report.

- `postgres()` starts a throwaway PostgreSQL (the `pgserver` package, in a temporary folder)
  and hands out fresh, migrated databases.
- `LookoutServer` runs `lookout serve` (uvicorn, `--workers N`) in a subprocess on loopback.
- `load()` drives a server with N keep-alive connections from a small asyncio HTTP/1.1 client
  (a few microseconds per request, so the client is not what gets measured).
- `Report` prints one JSON line per figure and turns missed targets into exit status 1.

Benchmarks are run by hand (`uv run python -m bench <name>`), never by the test suite.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HMAC_SECRET = "bench-hmac-secret"
LOCALHOST = "127.0.0.1"


def log(message: str) -> None:
    """Progress for the person watching (stderr, so stdout stays one JSON line per figure)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- the report -------------------------------------------------------------------------------


@dataclass
class Target:
    """`ratio >= bound` (at_least) or `ratio <= bound` (at_most)."""

    op: str
    bound: float

    def holds(self, ratio: float) -> bool:
        return ratio >= self.bound if self.op == ">=" else ratio <= self.bound

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}"


def at_least(bound: float) -> Target:
    return Target(">=", bound)


def at_most(bound: float) -> Target:
    return Target("<=", bound)


def _round(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_round(v) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        digits = 4 if abs(value) < 10 else 2 if abs(value) < 1000 else 0
        return round(value, digits) if digits else round(value)
    return value


@dataclass
class Report:
    """One JSON line per figure on stdout; `exit_code()` is 1 when a target was missed."""

    benchmark: str
    lines: list[dict[str, Any]] = field(default_factory=list)

    def figure(
        self,
        figure: str,
        value: float,
        unit: str,
        *,
        reference: float | None = None,
        ratio: float | None = None,
        target: Target | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        ok = target.holds(ratio) if target is not None and ratio is not None else None
        line = {
            "benchmark": self.benchmark,
            "figure": figure,
            "value": _round(value),
            "unit": unit,
            "reference": _round(reference),
            "ratio": _round(ratio),
            "target": str(target) if target is not None else None,
            "ok": ok,
        }
        line.update({k: _round(v) for k, v in extra.items()})
        self.lines.append(line)
        print(json.dumps(line), flush=True)
        return line

    def exit_code(self) -> int:
        missed = [line["figure"] for line in self.lines if line["ok"] is False]
        if missed:
            log(f"{self.benchmark}: target missed: {', '.join(missed)}")
            return 1
        return 0


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


# --- PostgreSQL -------------------------------------------------------------------------------


class Postgres:
    """A PostgreSQL server from `pgserver`; `database()` makes a fresh, migrated database."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self._count = 0

    @property
    def admin_url(self) -> str:
        return _psycopg(self.server.get_uri())

    def database(self, name: str | None = None, *, migrate: bool = True) -> str:
        """A new database (migrated to head unless told otherwise); its SQLAlchemy URL."""
        import sqlalchemy as sa

        self._count += 1
        name = name or f"bench_{self._count}"
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        url = sa.engine.make_url(self.admin_url).set(database=name)
        rendered = url.render_as_string(hide_password=False)
        if migrate:
            from lookout.migrate import upgrade

            upgrade(rendered)
        return rendered


def _psycopg(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def libpq_url(url: str) -> str:
    """The plain libpq form of a SQLAlchemy URL (for psycopg.connect)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL server in a temporary folder, stopped and removed afterwards."""
    try:
        import pgserver
    except ImportError as exc:  # a dev dependency: `uv sync` installs it
        raise SystemExit(f"pgserver is not installed ({exc}); run `uv sync`") from exc
    folder = tempfile.mkdtemp(prefix="lookout-bench-pg-")
    log("starting PostgreSQL (pgserver)")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield Postgres(server)
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def sqlite_database() -> Iterator[str]:
    """A migrated SQLite file in a temporary folder; its URL."""
    from lookout.migrate import upgrade

    folder = tempfile.mkdtemp(prefix="lookout-bench-sqlite-")
    url = f"sqlite:///{folder}/lookout.db"
    upgrade(url)
    try:
        yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- Lookout servers --------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on loopback right now (also the tests' helper: tests/support.py)."""
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


def serve_command(port: int, workers: int, log_level: str = "warning") -> list[str]:
    """`lookout serve` on loopback, as people run it, on a database migrated beforehand.

    `python -m lookout` runs what the `lookout` script runs: its workers (spawned processes
    import the parent's main module again) import `lookout.__main__`, not the command line's
    Typer and rich that `python -m lookout.cli` would have each worker load before its app.
    """
    return [
        sys.executable,
        "-m",
        "lookout",
        "serve",
        "--host",
        LOCALHOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        log_level,
        "--no-migrate",
    ]


def wait_for_health(
    process: subprocess.Popen[bytes],
    url: str,
    name: str,
    timeout: float,
    output: Callable[[], str] = lambda: "",
) -> None:
    """Until `GET /api/health` answers 200; RuntimeError if the process exits or time runs out."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {output()[-3000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not start within {timeout} s")


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM a server started with start_new_session (supervisor and workers), then SIGKILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


class LookoutServer:
    """`lookout serve` in a subprocess on loopback (local mode: no proxy secret is set).

    `app` names another ASGI app factory (`module:function`) for benchmark-only variants;
    by default the server is exactly what `uv run lookout serve` runs.
    """

    def __init__(
        self,
        database_url: str,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
        app: str | None = None,
        name: str = "lookout",
    ) -> None:
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.app = app
        self.name = name
        self.folder = Path(tempfile.mkdtemp(prefix="lookout-bench-server-"))
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "LOOKOUT_DATA_DIR": str(self.folder / "data"),
            "LOOKOUT_SECRET_KEY": "bench-signing-key",
            "ML_CALLBACK_HMAC_SECRET": HMAC_SECRET,
            "PYTHONPATH": str(REPO),
            **(env or {}),
        }
        self.env.pop("PROXY_SECRET", None)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def command(self) -> list[str]:
        if self.app is None:
            return serve_command(self.port, self.workers)
        return [
            sys.executable,
            "-m",
            "uvicorn",
            self.app,
            "--factory",
            "--host",
            LOCALHOST,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]

    def start(self) -> LookoutServer:
        env = dict(self.env)
        if self.app is not None:
            env["LOOKOUT_LOCAL_MODE"] = "true"  # what `lookout serve` sets on loopback
        log(f"starting {self.name} ({self.workers} worker(s)) on {self.url}")
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.folder,  # no stray .env is read
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=None,
            start_new_session=True,
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        assert self.process is not None
        wait_for_health(self.process, self.url, self.name, timeout)
        # Every worker should answer: warm them all up a little.
        for _ in range(10 * self.workers):
            httpx.get(f"{self.url}/api/health", timeout=5)

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> LookoutServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# --- fixtures through the API and the services ------------------------------------------------


def jpeg_bytes(
    width: int = 64,
    height: int = 48,
    color: tuple[int, int, int] = (90, 140, 200),
    quality: int = 85,
) -> bytes:
    """A small real JPEG with a drawn plume so thumbnails have content (also the tests')."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), color)
    ImageDraw.Draw(img).ellipse(
        (width // 4, height // 4, width // 2, height // 2), fill=(200, 200, 200)
    )
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def api_key(database_url: str, email: str = "bench@example.org", *, admin: bool = True) -> str:
    """A user (admin unless told otherwise, member of group `bench`) and a fresh API key."""
    from lookout.accounts import service as accounts
    from lookout.db import make_engine, make_session_factory

    engine = make_engine(database_url, pool_size=1)
    try:
        with make_session_factory(engine)() as session:
            user = accounts.get_or_create_user(session, email=email, is_admin=admin)
            group = accounts.get_or_create_group(session, name="bench")
            accounts.add_member(session, user=user, group=group)
            token = accounts.create_api_key(session, user=user, name="bench").token
            session.commit()
            return token
    finally:
        engine.dispose()


def create_project(client: Any, name: str = "bench") -> str:
    response = client.post("/api/projects", json={"name": name, "group": "bench"})
    response.raise_for_status()
    return response.json()["id"]


def upload_image(client: Any, project_id: str, data: bytes | None = None) -> dict[str, Any]:
    files = {"file": ("frame.jpg", data or jpeg_bytes(640, 480), "image/jpeg")}
    response = client.post(f"/api/projects/{project_id}/images", files=files)
    response.raise_for_status()
    return response.json()


def create_analysis(client: Any, image_id: str, model_name: str = "bench-model") -> str:
    response = client.post(
        f"/api/images/{image_id}/analyses", json={"model_name": model_name, "model_version": "1"}
    )
    response.raise_for_status()
    return response.json()["id"]


def boxes(count: int, seed: int = 0, *, normalized: bool = False) -> list[dict[str, Any]]:
    """`count` bounding boxes of three classes, as a pipeline posts them.

    In the ML document's default format (xywh pixels of a 640x480 image), or `normalized`
    (xyxyn, as the platform's boxes).
    """
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(count):
        w, h = rng.uniform(0.015, 0.19), rng.uniform(0.02, 0.19)
        x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        if normalized:
            bbox = {"bbox": [round(v, 5) for v in (x, y, x + w, y + h)], "format": "xyxyn"}
        else:
            pixels = (x * 640, y * 480, w * 640, h * 480)
            bbox = {"bbox": [round(v, 2) for v in pixels], "format": "xywh"}
        out.append(
            {
                "annotation_type": "bounding_box",
                "class_name": rng.choice(("smoke", "fire", "cloud")),
                "confidence": round(rng.uniform(0.05, 0.99), 4),
                "data": bbox,
            }
        )
    return out


def bulk_body(count: int, seed: int = 0) -> bytes:
    """A bulk post body exactly as the SDK sends it (compact JSON)."""
    return json.dumps({"annotations": boxes(count, seed)}, separators=(",", ":")).encode()


def signed_bulk_headers(analysis_id: str, body: bytes) -> dict[str, str]:
    """The SDK's v1 signature headers and an Idempotency-Key, as `submit_annotations` sends."""
    from lookout.pipeline.signing import sign_request

    path = f"/api/analyses/{analysis_id}/annotations:bulk"
    headers = sign_request(HMAC_SECRET, "POST", path, body)
    headers["Idempotency-Key"] = str(uuid.uuid4())
    headers["Content-Type"] = "application/json"
    return headers


# --- the load generator -----------------------------------------------------------------------


def http_request(
    method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    """The raw bytes of one HTTP/1.1 keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {LOCALHOST}", "User-Agent: lookout-bench"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        return status, await reader.readexactly(int(lower[at + 17 : end]))
    if b"\r\ntransfer-encoding: chunked" in lower:
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, bytes(body)
            body += chunk[:-2]
    return status, await reader.read()


@dataclass
class LoadResult:
    """What one load run measured."""

    latencies: list[float]  # seconds, one per completed request
    elapsed: float  # seconds from the first send to the last answer
    statuses: dict[int, int]
    sample: bytes = b""  # the body of one answer, for a sanity check

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed > 0 else 0.0

    def ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


def merge(results: list[LoadResult]) -> LoadResult:
    """Several runs as one (rates over their summed durations)."""
    statuses: dict[int, int] = {}
    for result in results:
        for status, count in result.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return LoadResult(
        [lat for r in results for lat in r.latencies],
        sum(r.elapsed for r in results),
        statuses,
        results[0].sample if results else b"",
    )


async def _load(
    targets: list[tuple[str, int]],
    sources: list[Callable[[], bytes | None]],
    duration: float | None,
    expect: frozenset[int],
) -> LoadResult:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sample: list[bytes] = []
    bad: list[str] = []
    started = time.perf_counter()
    deadline = started + duration if duration else None
    finished = [started]

    async def connection(target: tuple[str, int], requests: Callable[[], bytes | None]) -> None:
        reader, writer = await asyncio.open_connection(*target)
        try:
            while deadline is None or time.perf_counter() < deadline:
                request = requests()
                if request is None:
                    return
                sent = time.perf_counter()
                writer.write(request)
                status, body = await _read_response(reader)
                done = time.perf_counter()
                latencies.append(done - sent)
                finished[0] = max(finished[0], done)
                statuses[status] = statuses.get(status, 0) + 1
                if status not in expect and len(bad) < 3:
                    bad.append(f"HTTP {status}: {body[:300]!r}")
                if not sample:
                    sample.append(body)
        finally:
            writer.close()

    await asyncio.gather(
        *(connection(targets[i % len(targets)], source) for i, source in enumerate(sources))
    )
    if bad:
        raise RuntimeError("unexpected answers during the load: " + " | ".join(bad))
    return LoadResult(latencies, finished[0] - started, statuses, sample[0] if sample else b"")


Source = Callable[[], bytes | None]


def load(
    url: str | list[str],
    requests: Source | bytes | list[Source],
    *,
    connections: int,
    duration: float | None = None,
    expect: Iterable[int] = (200,),
) -> LoadResult:
    """Send requests over `connections` keep-alive connections until `duration` is over or
    the source returns None. A `bytes` request is sent again and again; a list gives each
    connection its own source. Several URLs (servers) share the connections round-robin."""
    if isinstance(requests, bytes):
        fixed = requests

        def requests() -> bytes:
            return fixed

    sources = requests if isinstance(requests, list) else [requests] * connections
    assert len(sources) == connections
    targets = []
    for each in [url] if isinstance(url, str) else url:
        host, port = each.removeprefix("http://").split(":")
        targets.append((host, int(port)))
    runner: Callable[[Any], Any]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        runner = asyncio.run
    return runner(_load(targets, sources, duration, frozenset(expect)))


def from_list(items: list[bytes]) -> Callable[[], bytes | None]:
    """A request source that sends each of `items` once."""
    iterator = iter(items)
    return lambda: next(iterator, None)


@dataclass
class Timer:
    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Timer]:
    timer = Timer()
    began = time.perf_counter()
    try:
        yield timer
    finally:
        timer.seconds = time.perf_counter() - began


def standard_args(description: str, argv: list[str] | None) -> Any:
    """`--quick` and `--rounds` for every benchmark, plus `--workers` for server ones."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes (under ~30 s)")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions; medians are reported")
    parser.add_argument("--workers", type=int, default=2, help="server processes (uvicorn)")
    return parser.parse_args(argv)


# --- rows inserted directly (SQL), for sizes the API would take too long to build -------------


def insert_images(
    database_url: str, project_id: str, count: int, *, start: int = 0, prefix: str = "bench"
) -> None:
    """`count` image rows in a project, one second apart (generate_series on PostgreSQL).

    Only rows: listing never touches the stored objects.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    params = {"project": project_id, "n": count, "start": start, "prefix": prefix}
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(
                    sa.text(
                        "INSERT INTO images (id, project_id, object_key, filename, content_type, "
                        "size_bytes, width, height, sha256, captured_at, created_at, updated_at) "
                        "SELECT gen_random_uuid(), CAST(:project AS uuid), "
                        "'projects/' || :project || '/images/' || :prefix || '-' || g || '.jpg', "
                        "'frame-' || g || '.jpg', 'image/jpeg', 40000 + g % 9973, 640, 480, "
                        "md5(g::text) || md5((g + 1)::text), "
                        "t, t, t FROM generate_series(:start + 1, :start + :n) AS g, "
                        "LATERAL (SELECT TIMESTAMPTZ '2024-01-01 00:00:00+00' "
                        "+ g * interval '1 second' AS t) AS ts"
                    ),
                    params,
                )
            else:
                conn.execute(
                    sa.text(
                        "WITH RECURSIVE g(i) AS (SELECT :start + 1 UNION ALL SELECT i + 1 FROM g "
                        "WHERE i < :start + :n) "
                        "INSERT INTO images (id, project_id, object_key, filename, content_type, "
                        "size_bytes, width, height, sha256, captured_at, created_at, updated_at) "
                        "SELECT lower(hex(randomblob(16))), :project_hex, "
                        "'projects/' || :project || '/images/' || :prefix || '-' || i || '.jpg', "
                        "'frame-' || i || '.jpg', 'image/jpeg', 40000 + i % 9973, 640, 480, "
                        "printf('%064x', i), t, t, t FROM (SELECT i, "
                        "datetime(1704067200 + i, 'unixepoch') || '.000000' AS t FROM g)"
                    ),
                    {**params, "project_hex": uuid.UUID(project_id).hex},
                )
    finally:
        engine.dispose()


@dataclass
class ReadFixture:
    """A project with `images` image rows, an image with an analysis of 1,000 annotations,
    and an API key of a member (not an admin) of the project's group."""

    project_id: str
    image_id: str
    analysis_id: str
    member_key: str
    admin_key: str


def read_fixture(
    server: LookoutServer, *, images: int = 1000, annotations: int = 1000
) -> ReadFixture:
    import httpx

    admin = api_key(server.database_url, "admin@example.org", admin=True)
    member = api_key(server.database_url, "member@example.org", admin=False)
    with httpx.Client(base_url=server.url, headers={"X-API-Key": admin}, timeout=60) as client:
        project = create_project(client)
        image = upload_image(client, project)["id"]
        analysis = create_analysis(client, image)
        body = bulk_body(annotations)
        response = client.post(
            f"/api/analyses/{analysis}/annotations:bulk",
            content=body,
            headers=signed_bulk_headers(analysis, body),
        )
        response.raise_for_status()
    insert_images(server.database_url, project, images)
    analyze(server.database_url)
    return ReadFixture(project, image, analysis, member, admin)


def analyze(database_url: str) -> None:
    """Fresh planner statistics after a bulk load (what autovacuum does a little later on a
    live server); without them PostgreSQL may plan as if the tables were empty."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
    finally:
        engine.dispose()
