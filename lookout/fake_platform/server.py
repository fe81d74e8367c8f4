"""Run the fake platform with uvicorn in a background thread on loopback."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from fastapi import FastAPI

from lookout.fake_platform.app import FakePlatformState, FakePlatformStats, create_app
from lookout.fake_platform.data import FakePlatformConfig
from lookout.loopback import serve_in_thread


@dataclass
class RunningFakePlatform:
    """A fake platform serving in a thread; stop it with :meth:`stop` or a ``with`` block."""

    url: str
    config: FakePlatformConfig
    app: FastAPI
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def state(self) -> FakePlatformState:
        """Live state (data, tokens, fault dice)."""
        return self.app.state.platform

    @property
    def stats(self) -> FakePlatformStats:
        """Request and fault counters."""
        return self.state.stats

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (next calls get 401)."""
        self.state.revoke_tokens()

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningFakePlatform:
        """Use as a context manager."""
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        """Stop on leaving the block."""
        self.stop()


def start_fake_platform(
    config: FakePlatformConfig | None = None, port: int = 0, **uvicorn_options: Any
) -> RunningFakePlatform:
    """Start serving on 127.0.0.1 (a free port unless ``port`` is given) and return once ready."""
    config = config or FakePlatformConfig()
    app = create_app(config)
    url, server, thread = serve_in_thread(app, name="fake platform", port=port, **uvicorn_options)
    return RunningFakePlatform(url=url, config=config, app=app, _server=server, _thread=thread)


def describe(url: str, config: FakePlatformConfig) -> str:
    """Human summary: base URL, demo credentials and active faults."""
    lines = [
        f"Fake Pyronear alert API at {url}  (schema {config.schema}, seed {config.seed})",
        "Credentials:",
    ]
    for user, (password, role, org) in config.users.items():
        lines.append(f"  {user} / {password}  ({role}, organization {org})")
    faults = {
        k: getattr(config, k)
        for k in (
            "latency_s",
            "error_rate",
            "rate_limit_rate",
            "timeout_rate",
            "drop_rate",
            "token_ttl_s",
            "expire_tokens_at_request",
        )
        if getattr(config, k)
    }
    if faults:
        lines.append("Faults: " + ", ".join(f"{k}={v}" for k, v in faults.items()))
    return "\n".join(lines)


def main(host: str = "127.0.0.1", port: int = 8787, **config: Any) -> None:
    """Serve the fake platform in the foreground until interrupted (Ctrl-C)."""
    cfg = FakePlatformConfig(**config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    print(describe(f"http://{host}:{sock.getsockname()[1]}", cfg), flush=True)
    server = uvicorn.Server(
        uvicorn.Config(create_app(cfg), log_level="info", timeout_graceful_shutdown=1)
    )
    server.run(sockets=[sock])
