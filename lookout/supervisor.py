"""`lookout serve --workers N`: uvicorn's workers, each listening on a socket of its own.

uvicorn's supervisor hands every worker one shared listening socket, and asyncio accepts every
connection waiting on a socket at once: the worker that wakes first takes a client's whole
pool of kept-alive connections (the importer's eight, a reverse proxy's upstream pool). During
a platform import one worker was seen near a whole core and the other near a fifth. Here each
worker has a socket of its own, all bound to the same port with `SO_REUSEPORT`, and the kernel
spreads new connections over them by their addresses (Linux).

The supervisor holds the sockets and they listen from the start, so a connection that arrives
while its worker starts or is replaced waits in that socket's queue instead of being refused.
Workers are uvicorn's own (`uvicorn.supervisors.multiprocess.Process`), pinged and replaced as
uvicorn's supervisor does: one that does not answer its health check in time is killed and
started again on its socket; one that fails before it serves stops the server (exit status 3).
SIGINT and SIGTERM stop every worker; SIGHUP replaces them one by one, each new worker ready
before the one it replaces stops.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from typing import Any

import uvicorn
from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Process

log = logging.getLogger("uvicorn.error")


def serve(factory: str, *, host: str, port: int, workers: int, log_level: str) -> int:
    """Serve the app that `factory` ("module:function") makes, as `lookout serve` does; the
    exit status. No proxy headers: a client address is trusted from no one (the reverse proxy
    proves itself with its secret instead)."""
    options: dict[str, Any] = {"host": host, "port": port, "workers": workers}
    options |= {"log_level": log_level, "factory": True, "proxy_headers": False}
    if workers == 1 or not spreads_connections():
        uvicorn.run(factory, **options)  # exits with status 3 itself if it cannot start
        return 0
    config = Config(factory, **options)
    try:
        sockets = listening_sockets(host, port, workers, config.backlog)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", host, port, exc)
        return STARTUP_FAILURE
    return Supervisor(config, sockets).run()


def spreads_connections() -> bool:
    """Whether the kernel balances connections over sockets sharing a port (Linux's
    `SO_REUSEPORT`; elsewhere the option exists but the last socket bound gets them all)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening_sockets(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """`count` sockets listening on one port; OSError if it is taken or cannot be bound.

    A plain bind is tried first: a port another process listens on, with `SO_REUSEPORT` or
    not, is refused as uvicorn's own bind would refuse it, instead of joining its group and
    sharing its connections.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]  # the port chosen for 0
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(backlog)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class Supervisor:
    """Runs one uvicorn worker per socket until SIGINT or SIGTERM; `run` returns the exit
    status (0, or 3 when a worker failed before serving)."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        self.config = config
        self.sockets = sockets
        self.processes: list[Process] = []
        self.should_exit = threading.Event()
        self.exit_status = 0
        self.signals: list[signal.Signals] = []

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            # Only noted here: the loop below acts on it (a handler must not block).
            signal.signal(sig, lambda number, _frame: self.signals.append(signal.Signals(number)))
        host, port = self.sockets[0].getsockname()[:2]
        log.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", host, port)
        log.info("Started parent process [%d]", os.getpid())
        self.processes = [self._start(sock) for sock in self.sockets]
        while not self.should_exit.wait(0.5):
            self._handle_signals()
            self._replace_dead_workers()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join()
        for sock in self.sockets:
            sock.close()
        log.info("Stopping parent process [%d]", os.getpid())
        return self.exit_status

    def _start(self, sock: socket.socket) -> Process:
        process = Process(self.config, [sock])
        process.start()
        return process

    def _replace_dead_workers(self) -> None:
        for index, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung or gone
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # The app, the database or the socket is broken: every restart would fail alike.
                log.error("Child process [%s] failed to start, stopping.", process.pid)
                self.exit_status = STARTUP_FAILURE
                self.should_exit.set()
                return
            log.info("Child process [%s] died", process.pid)
            self.processes[index] = self._start(self.sockets[index])

    def _handle_signals(self) -> None:
        while self.signals:
            sig = self.signals.pop(0)
            if sig == signal.SIGHUP:
                log.info("Received SIGHUP, restarting processes.")
                self._restart_all()
            else:
                log.info("Received %s, exiting.", sig.name)
                self.should_exit.set()

    def _restart_all(self) -> None:
        """Replace each worker by a new one on its socket, ready before the old one stops."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(self.sockets[index])
            timeout = self.config.timeout_worker_healthcheck
            if not new.wait_until_ready(timeout, self.should_exit):
                new.kill()
                new.join()
                log.error("New child process [%s] was not ready in time; restart stopped.", new.pid)
                return
            old.terminate()
            old.join()
            self.processes[index] = new
