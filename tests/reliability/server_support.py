"""Helpers of the server fault and load scenarios: `lookout serve` subprocesses and signed posts.

A scenario that kills a server needs a real process (SIGKILL cannot be sent to a thread), so
these tests run the command people run, `lookout serve`, in a subprocess of its own process
group on loopback. Callers authenticate with API keys made directly in the database; pipeline
callbacks are signed with the v1 scheme exactly as the SDK signs them.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from bench.common import serve_command, stop_process_group, wait_for_health
from lookout.accounts import service as accounts
from lookout.db import make_engine, make_session_factory
from lookout.pipeline.signing import sign_request
from tests.conftest import HMAC_SECRET, new_postgres_database
from tests.support import free_port, jpeg_bytes

REPO = Path(__file__).resolve().parents[2]
GROUP = "reliability"
PROXY_SECRET = "reliability-proxy-secret"


class ServeProcess:
    """`lookout serve` in a subprocess (its own process group), logging to a file.

    The one way the tests start, await and stop a `lookout serve` process (the command, the
    health wait and the group stop are bench's). Several instances may share one database and
    one data folder, as several machines share PostgreSQL and object storage. `kill()` is
    SIGKILL of the whole process group: no shutdown handler runs, exactly like a crashed
    machine. No Lookout setting of the environment the tests run in reaches the server; with
    no `database_url` it uses its default database (in the data folder), as a user's does.
    """

    def __init__(
        self,
        database_url: str | None,
        data_dir: Path,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
        name: str = "lookout",
        local_mode: bool = False,
        log_level: str = "warning",
    ) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.workers = workers
        self.name = name
        self.log_level = log_level
        self.port = free_port()
        self.log_path = data_dir.parent / f"{name}-{self.port}.log"
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("LOOKOUT_", "PROXY_", "PLATFORM_", "DATABASE_URL"))
        }
        self.env = {
            **inherited,
            **({"DATABASE_URL": database_url} if database_url else {}),
            "LOOKOUT_DATA_DIR": str(data_dir),
            "LOOKOUT_SECRET_KEY": "reliability-signing-key",
            "ML_CALLBACK_HMAC_SECRET": HMAC_SECRET,
            "LOOKOUT_FETCH_ALLOW_PRIVATE": "true",  # frame sources listen on loopback
            "PYTHONPATH": str(REPO),
            **(env or {}),
        }
        self.env.pop("LOOKOUT_LOCAL_MODE", None)
        if local_mode:  # on loopback without a proxy secret: requests act as the local admin
            self.env.pop("PROXY_SECRET", None)
        else:  # authentication required: keys and signatures are checked as in production
            self.env.setdefault("PROXY_SECRET", PROXY_SECRET)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServeProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                serve_command(self.port, self.workers, self.log_level),
                cwd=self.data_dir,
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.starts += 1
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        wait_for_health(self.process, self.url, self.name, timeout, self.log_text)

    def kill(self) -> None:
        """SIGKILL the server and its workers (no graceful shutdown)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# A worker's first line once it serves (uvicorn's), with its process id.
STARTED = re.compile(r"Started server process \[(\d+)\]")


def parent_of(pid: str) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone meanwhile
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state


def worker_pids(supervisor: int) -> set[int]:
    """The supervisor's spawned workers (not multiprocessing's resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and parent_of(entry.name) == supervisor:
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in command:
                found.add(int(entry.name))
    return found


def started_pids(server: ServeProcess) -> set[int]:
    return {int(pid) for pid in STARTED.findall(server.log_text())}


@contextmanager
def serving(*servers: ServeProcess) -> Iterator[tuple[ServeProcess, ...]]:
    """Start the servers; stop them whatever happens."""
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


# --- databases --------------------------------------------------------------------------------


def fresh_postgres_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated PostgreSQL database (the session's pgserver, from the template)."""
    return new_postgres_database(request.getfixturevalue("postgres_server"))


def backend_of(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgres"


class Database:
    """Direct access to a test database: keys, counts."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite"):
            # Not Lookout's engine: that one takes SQLite's write lock at every BEGIN, and the
            # tests read while servers write. Plain deferred transactions only read (WAL).
            self.engine = sa.create_engine(url, connect_args={"timeout": 30})
        else:
            self.engine = make_engine(url, pool_size=2, max_overflow=2)
        self.sessions = make_session_factory(self.engine)

    def api_key(self, email: str, *, admin: bool = False) -> str:
        """A user in group `reliability` and a fresh API key of theirs."""
        with self.sessions() as session:
            user = accounts.get_or_create_user(session, email=email, is_admin=admin)
            group = accounts.get_or_create_group(session, name=GROUP)
            accounts.add_member(session, user=user, group=group)
            token = accounts.create_api_key(session, user=user, name="reliability").token
            session.commit()
            return token

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar_one()

    def predictions(self, analysis_id: str) -> int:
        # SQLite stores UUIDs as 32 hex digits, PostgreSQL as uuid: compare through the type.
        statement = (
            sa.select(sa.func.count())
            .select_from(sa.table("predictions"))
            .where(sa.column("analysis_id", sa.Uuid) == uuid.UUID(analysis_id))
        )
        with self.engine.connect() as conn:
            return conn.execute(statement).scalar_one()

    def idempotency_key_stored(self, key: str) -> bool:
        statement = sa.text("SELECT count(*) FROM idempotency_records WHERE key = :key")
        with self.engine.connect() as conn:
            return bool(conn.execute(statement, {"key": key}).scalar_one())

    def predictions_by_analysis(self) -> dict[str, int]:
        statement = sa.text("SELECT analysis_id, count(*) FROM predictions GROUP BY analysis_id")
        with self.engine.connect() as conn:
            return {str(uuid.UUID(str(a))): n for a, n in conn.execute(statement)}

    def close(self) -> None:
        self.engine.dispose()


# --- requests ---------------------------------------------------------------------------------


def bulk_path(analysis_id: str) -> str:
    return f"/api/analyses/{analysis_id}/annotations:bulk"


def signed_headers(method: str, path: str, body: bytes, **extra: str) -> dict[str, str]:
    """v1 signature headers (a fresh nonce: sign every attempt again, as the SDK does)."""
    return {
        "Content-Type": "application/json",
        **sign_request(HMAC_SECRET, method, path, body),
        **extra,
    }


def post_bulk(
    client: httpx.Client, analysis_id: str, body: bytes, key: str, **kwargs: Any
) -> httpx.Response:
    """One signed bulk post with an Idempotency-Key (`kwargs` go to httpx, e.g. timeout)."""
    path = bulk_path(analysis_id)
    headers = signed_headers("POST", path, body, **{"Idempotency-Key": key})
    return client.post(path, content=body, headers=headers, **kwargs)


def new_key() -> str:
    return f"idem-{uuid.uuid4().hex}"


def create_project(client: httpx.Client, name: str) -> str:
    response = client.post("/api/projects", json={"name": name, "group": GROUP})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def upload_image(client: httpx.Client, project_id: str, seed: int = 0) -> str:
    data = jpeg_bytes(640, 480, color=(seed % 256, 120, 200))
    files = {"file": (f"frame-{seed}.jpg", data, "image/jpeg")}
    response = client.post(f"/api/projects/{project_id}/images", files=files)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def create_analysis(client: httpx.Client, image_id: str, model: str = "reliability") -> str:
    body = {"model_name": model, "model_version": "1"}
    response = client.post(f"/api/images/{image_id}/analyses", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


# --- object storage that can fail ---------------------------------------------------------------


class StorageSwitch:
    """A TCP proxy in front of the S3 server that can take storage away and give it back.

    - "up": connections are forwarded;
    - "down": connections are accepted and closed at once (the service is unreachable);
    - "hang": connections are accepted and held unanswered (a partitioned network) until the
      mode changes: to "up" they are forwarded, to "down" they are closed.
    """

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.mode = "up"
        self.changed = threading.Condition()
        self.refused = 0
        self.held = 0
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode: str) -> None:
        assert mode in {"up", "down", "hang"}
        with self.changed:
            self.mode = mode
            self.changed.notify_all()

    def close(self) -> None:
        self._closing = True
        self.set("down")
        self.listener.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self.changed:
            if self.mode == "hang":
                self.held += 1
                self.changed.wait_for(lambda: self.mode != "hang")
            mode = self.mode
        if mode == "down":
            self.refused += 1
            conn.close()
            return
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            conn.close()
            return
        for source, sink in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
