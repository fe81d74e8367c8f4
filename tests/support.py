"""Helpers shared by the tests: live servers, databases and small images."""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
import uvicorn
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

# One definition each, in bench (benchmarks run without the tests package; tests import
# from bench already): `from tests.support import free_port, jpeg_bytes` keeps working.
from bench.common import free_port as free_port
from bench.common import jpeg_bytes as jpeg_bytes
from lookout.accounts import service as accounts
from lookout.config import Settings
from lookout.storage.local import META_DIR


class LiveServer:
    """A real uvicorn server on loopback in a background thread."""

    def __init__(self, app: Any, *, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        # Idle connections are kept for 2 minutes, not uvicorn's 5 s: a test that waits on a
        # CLI run between two requests would otherwise race the server closing the client's
        # pooled connection (CI saw "Connection reset by peer" on the request after it).
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            ws="none",
            timeout_keep_alive=120,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# One-off requests (a presigned URL, outside any test client) wait as long as the suite's
# clients do: httpx's default of 5 s is shorter than a live server's stall on a loaded CI
# machine, which then fails a test for no fault of the code (CI saw it once on a presigned PUT).
HTTP_TIMEOUT = 30


def http_get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, timeout=HTTP_TIMEOUT, **kwargs)


def http_put(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.put(url, timeout=HTTP_TIMEOUT, **kwargs)


def http_post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, timeout=HTTP_TIMEOUT, **kwargs)


T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end in a thread of its own: an earlier test (Playwright's sync
    API) may leave an event loop running in this one, where `asyncio.run` refuses to start."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def png_bytes(width: int = 32, height: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(out, format="PNG")
    return out.getvalue()


@dataclass
class Lookout:
    """A running Lookout: its settings, URL, session factory and test users."""

    settings: Settings
    server: LiveServer
    sessions: sessionmaker[Session]
    backend: str
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        client = httpx.Client(base_url=self.url, headers=headers or {}, timeout=30)
        self._clients.append(client)
        return client

    def user_with_key(
        self, email: str, group: str | None = "team", *, admin: bool = False, expires_at: Any = None
    ) -> str:
        """Create a user (member of `group`) and return a fresh API key for them."""
        with self.sessions() as session:
            user = accounts.get_or_create_user(session, email=email, is_admin=admin)
            if group:
                accounts.add_member(
                    session, user=user, group=accounts.get_or_create_group(session, name=group)
                )
            token = accounts.create_api_key(
                session, user=user, name="test", expires_at=expires_at
            ).token
            session.commit()
            return token

    def keyed_client(
        self, email: str = "alice@example.org", group: str | None = "team", **kwargs: Any
    ) -> httpx.Client:
        return self.client({"X-API-Key": self.user_with_key(email, group, **kwargs)})

    def create_project(
        self, client: httpx.Client, name: str = "cams", **extra: Any
    ) -> dict[str, Any]:
        response = client.post("/api/projects", json={"name": name, **extra})
        assert response.status_code == 201, response.text
        return response.json()

    def upload(
        self,
        client: httpx.Client,
        project_id: str,
        data: bytes | None = None,
        filename: str = "frame.jpg",
        content_type: str = "image/jpeg",
        **form: Any,
    ) -> httpx.Response:
        files = {"file": (filename, data if data is not None else jpeg_bytes(), content_type)}
        return client.post(f"/api/projects/{project_id}/images", files=files, data=form)

    def count(self, table: str) -> int:
        with self.sessions() as session:
            return session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.sessions.kw["bind"].dispose()  # PostgreSQL has a connection limit


def stored_files(root: Path) -> list[Path]:
    """Objects in a local storage folder (not the folder of their content types)."""
    meta = root / META_DIR
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_relative_to(meta))


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class TcpProxy:
    """A TCP forwarder in front of a server that can be cut: an outage of that server.

    Cut, it resets every open connection and every new one (the client sees its connection
    reset, as when a storage node goes down behind its load balancer); restored, it forwards
    again on the same address. Muted, requests still reach the server but each connection is
    reset as its answer comes back: the client cannot tell whether its write happened.
    """

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.up = True
        self.answers = True
        self.closed = False
        self.refused = 0
        self.forwarded = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name="proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def cut(self) -> None:
        self.up = False
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            _reset(sock)

    def restore(self) -> None:
        self.up = True
        self.answers = True

    def mute(self) -> None:
        self.answers = False

    def close(self) -> None:
        self.closed = True
        self.cut()
        self._thread.join(5)
        self.listener.close()

    def _accept_loop(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.up:
                self.refused += 1
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            client.settimeout(None)
            self.forwarded += 1
            with self._lock:
                self._open |= {client, server}
            for source, target, answer in ((client, server, False), (server, client, True)):
                pump = threading.Thread(
                    target=self._pump, args=(source, target, answer), daemon=True
                )
                pump.start()

    def _pump(self, source: socket.socket, target: socket.socket, answer: bool) -> None:
        try:
            while data := source.recv(65536):
                if answer and not self.answers:
                    # "100 Continue" only asks for the body: what is muted is the final answer,
                    # even when it arrives in the same read as the 100.
                    interim, final = _split_interim(data)
                    target.sendall(interim)
                    if final:
                        _reset(target)
                        break
                    continue
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open -= {source, target}
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def _split_interim(data: bytes) -> tuple[bytes, bytes]:
    """The leading "100 Continue" answers of `data`, and what follows them."""
    end = 0
    while data.startswith(b"HTTP/1.1 100 ", end):
        head_end = data.find(b"\r\n\r\n", end)
        if head_end < 0:
            return data, b""  # the rest of the 100 comes in the next read
        end = head_end + 4
    return data[:end], data[end:]


def _reset(sock: socket.socket) -> None:
    """Drop a connection: the peer sees it reset (the shutdown also wakes a pump's recv)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
