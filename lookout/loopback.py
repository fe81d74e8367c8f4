"""Serve an ASGI app with uvicorn in a background thread on loopback (the fakes use it)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

STARTUP_TIMEOUT_S = 10.0


def serve_in_thread(
    app: Any, *, name: str, port: int = 0, **uvicorn_options: Any
) -> tuple[str, uvicorn.Server, threading.Thread]:
    """Start serving on 127.0.0.1 (a free port unless `port` is given); return once ready.

    Returns the base URL, the server (set `should_exit` to stop it) and its thread.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    options: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "lifespan": "off",
        # A hanging request must not hold shutdown for its whole duration.
        "timeout_graceful_shutdown": 1,
    }
    server = uvicorn.Server(uvicorn.Config(app, **(options | uvicorn_options)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread
