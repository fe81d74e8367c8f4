"""Run the fake pyro-annotator with uvicorn in a background thread on loopback."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from lookout.fake_annotator.app import FakeAnnotatorState, create_app
from lookout.fake_annotator.data import FakeAnnotatorData
from lookout.loopback import serve_in_thread


@dataclass
class RunningFakeAnnotator:
    """A fake pyro-annotator serving in a thread; stop it with :meth:`stop` or a ``with``."""

    url: str
    app: FastAPI
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def state(self) -> FakeAnnotatorState:
        """Live state: data (change it between runs), tokens, request counters."""
        return self.app.state.annotator

    @property
    def data(self) -> FakeAnnotatorData:
        """What it serves."""
        return self.state.data

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningFakeAnnotator:
        """Use as a context manager."""
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        """Stop on leaving the block."""
        self.stop()


def start_fake_annotator(
    data: FakeAnnotatorData | None = None, port: int = 0
) -> RunningFakeAnnotator:
    """Start serving on 127.0.0.1 (a free port unless ``port`` is given); return once ready."""
    app = create_app(data)
    url, server, thread = serve_in_thread(app, name="fake pyro-annotator", port=port)
    return RunningFakeAnnotator(url=url, app=app, _server=server, _thread=thread)


def main(host: str = "127.0.0.1", port: int = 8788) -> None:
    """Serve the demo data in the foreground until interrupted (Ctrl-C)."""
    print(f"Fake pyro-annotator at http://{host}:{port}  (login admin / admin-pass)", flush=True)
    uvicorn.run(create_app(), host=host, port=port, log_level="info")
