"""`lookout serve --workers N`: each worker listens on its own socket of the port.

Which worker holds a connection is read from /proc: the server side of each established
connection to the port is a socket in exactly one worker's file descriptors. With one shared
listening socket, asyncio's accept loop let the first worker to wake take every waiting
connection; with a socket per worker (`SO_REUSEPORT`) the kernel spreads them by address, so
16 connections all landing on one of two workers has odds of 2 in 65,536.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from starlette.applications import Starlette

from bench.common import serve_command
from lookout.supervisor import spreads_connections
from tests.reliability.server_support import REPO, ServeProcess, started_pids, worker_pids

CONNECTIONS = 16

pytestmark = pytest.mark.skipif(
    not spreads_connections(), reason="a socket per worker needs Linux's SO_REUSEPORT"
)


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets among the process's file descriptors."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found


def server_side_inodes(port: int, state: str) -> set[int]:
    """Inodes of the IPv4 sockets whose local port is `port`, in a TCP state ("01"
    established, "0A" listening)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            found.add(int(fields[9]))
    return found


def held_by_worker(server: ServeProcess, state: str) -> dict[int, set[int]]:
    """Each worker's sockets of the port in `state`."""
    assert server.process is not None
    of_port = server_side_inodes(server.port, state)
    return {pid: socket_inodes(pid) & of_port for pid in worker_pids(server.process.pid)}


def open_connections(server: ServeProcess, count: int) -> list[http.client.HTTPConnection]:
    """`count` kept-alive connections, all opened before any is used (as a client's pool
    opens them), then each answered once."""
    connections = [
        http.client.HTTPConnection("127.0.0.1", server.port, timeout=30) for _ in range(count)
    ]
    for connection in connections:
        connection.connect()
    for connection in connections:
        connection.request("GET", "/api/health")
        response = connection.getresponse()
        assert response.status == 200
        response.read()
    return connections


def wait_for_workers(server: ServeProcess, count: int, but: set[int] = frozenset()) -> set[int]:
    """The supervisor's workers once `count` of them, none of `but`, have started serving."""
    assert server.process is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        workers = worker_pids(server.process.pid)
        if len(workers) == count and not workers & but and workers <= started_pids(server):
            return workers
        time.sleep(0.1)
    raise AssertionError(f"workers did not start: {server.log_text()[-3000:]}")


def run_to_exit(
    command: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """A server command expected to stop by itself: its status and output."""
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def two_workers(sqlite_template: Path, tmp_path: Path) -> Iterator[ServeProcess]:
    database = tmp_path / "lookout.db"
    shutil.copy(sqlite_template, database)
    server = ServeProcess(
        f"sqlite:///{database}", tmp_path / "data", workers=2, log_level="info", local_mode=True
    )
    server.start()
    try:
        wait_for_workers(server, 2)
        yield server
    finally:
        server.stop()


def test_each_worker_listens_on_a_socket_of_its_own(two_workers: ServeProcess) -> None:
    listening = held_by_worker(two_workers, "0A")
    assert len(listening) == 2
    first, second = listening.values()
    assert len(first) == 1 and len(second) == 1 and first != second


def test_kept_alive_connections_are_spread_over_the_workers(two_workers: ServeProcess) -> None:
    connections = open_connections(two_workers, CONNECTIONS)
    try:
        held = held_by_worker(two_workers, "01")
        assert sum(len(inodes) for inodes in held.values()) == CONNECTIONS
        assert all(held.values()), f"one worker holds every connection: {held}"
    finally:
        for connection in connections:
            connection.close()


def test_a_killed_worker_is_replaced_on_its_socket(two_workers: ServeProcess) -> None:
    """Connections that reach the dead worker's socket before its replacement starts wait in
    that socket's queue (the supervisor keeps it listening) and are answered by the
    replacement: none is refused or reset."""
    before = held_by_worker(two_workers, "0A")
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    connections = open_connections(two_workers, CONNECTIONS)  # at once: every one answered
    try:
        after = wait_for_workers(two_workers, 2, but={victim})
        replacement = (after - set(before)).pop()
        assert held_by_worker(two_workers, "0A")[replacement] == before[victim]
        assert "died" in two_workers.log_text()
        assert held_by_worker(two_workers, "01")[replacement], "none waited for the replacement"
    finally:
        for connection in connections:
            connection.close()


def health_status(port: int) -> int:
    """`GET /api/health` on a new connection; its status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/api/health")
        return connection.getresponse().status
    finally:
        connection.close()


def test_sighup_replaces_every_worker_while_the_port_answers(two_workers: ServeProcess) -> None:
    """The port never refuses a connection while the workers are replaced: the supervisor
    keeps every socket listening. A connection an old worker accepted in its last moment is
    closed with it (uvicorn's shutdown closes connections without a request in progress), as
    in uvicorn's own restarts; the client's second try is answered."""
    assert two_workers.process is not None
    before = worker_pids(two_workers.process.pid)
    os.kill(two_workers.process.pid, signal.SIGHUP)
    answered = 0
    deadline = time.monotonic() + 120
    while (
        worker_pids(two_workers.process.pid) & before
        or len(worker_pids(two_workers.process.pid)) != 2
    ):
        assert time.monotonic() < deadline, two_workers.log_text()[-3000:]
        try:
            status = health_status(two_workers.port)
        except (ConnectionResetError, http.client.RemoteDisconnected):
            status = health_status(two_workers.port)  # refused or closed again: the test fails
        assert status == 200
        answered += 1
    assert answered
    assert len(held_by_worker(two_workers, "0A")) == 2
    assert health_status(two_workers.port) == 200


def test_a_port_in_use_is_refused_not_shared(two_workers: ServeProcess, tmp_path: Path) -> None:
    """A second server on the port must not join the first one's sockets (their group)."""
    second = run_to_exit(serve_command(two_workers.port, 2), two_workers.env, tmp_path)
    assert second.returncode == 3, second.stderr[-2000:]
    assert "cannot listen on" in second.stderr and "in use" in second.stderr


def test_a_port_held_by_another_program_is_refused(tmp_path: Path, sqlite_template: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        database = tmp_path / "lookout.db"
        shutil.copy(sqlite_template, database)
        env = {
            **os.environ,
            "LOOKOUT_DATA_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{database}",
        }
        result = run_to_exit(serve_command(taken.getsockname()[1], 2), env, tmp_path)
    assert result.returncode == 3, result.stderr[-2000:]
    assert "cannot listen on" in result.stderr


def failing_app() -> Starlette:
    """An app whose startup fails (as Lookout's would on a broken setup)."""

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("this app cannot start")
        yield

    return Starlette(lifespan=lifespan)


def test_workers_that_cannot_start_stop_the_server_with_status_3(tmp_path: Path) -> None:
    """Not restarted for ever: every restart would fail the same way."""
    run = (
        "from lookout.supervisor import serve; raise SystemExit(serve("
        "'tests.reliability.test_workers:failing_app', host='127.0.0.1', port=0, workers=2, "
        "log_level='info'))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = run_to_exit([sys.executable, "-c", run], env, tmp_path)
    assert result.returncode == 3, result.stderr[-3000:]
    assert "failed to start, stopping" in result.stderr
    assert "this app cannot start" in result.stderr
