"""App factories for benchmarks only (never serve these).

`unsigned_app` is Lookout with pipeline callbacks accepted without checking their signature:
the reference of the auth benchmark's "signed bulk post <= 1.1x the same post unsigned". Only
the signature dependency is replaced (FastAPI `dependency_overrides`), by one that runs the
same way (sync, in the thread pool) and hands the same body on, so the two servers differ by
exactly the verification: the HMAC over the body, the timestamp window and the replay record.
"""

from __future__ import annotations

from fastapi import FastAPI

from lookout.app import serve_app
from lookout.auth.dependencies import RawBodyDep, SignedCallback, verified_callback


def _unverified(body: RawBodyDep) -> SignedCallback:
    return SignedCallback(body=body, scheme="unsigned-benchmark", key_id="none")


def unsigned_app() -> FastAPI:
    app = serve_app()
    app.dependency_overrides[verified_callback] = _unverified
    return app
