"""The app of a `lookout serve` worker process: uvicorn's workers call `serve_app`.

Everything a worker imports and builds before its first answer (FastAPI, SQLAlchemy's mappers,
pydantic's validators, the routes) lives as long as the process, so the cyclic garbage
collector is paused while it is made: it would otherwise walk those objects again and again as
they pile up (about 90 ms of CPU of each worker's start, `python -m bench boot`). The app's
lifespan then freezes them (`gc.freeze`), out of every later collection.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def serve_app() -> FastAPI:
    """Import and build the app with the garbage collector paused (resumed before it serves)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        from lookout.app import serve_app as build

        return build()
    finally:
        if enabled:
            gc.enable()
