"""App factories for benchmarks only (never serve these).

`unsigned_app` is Lookout with pipeline callbacks accepted without checking their signature:
the reference of the auth benchmark's "signed bulk post <= 1.1x the same post unsigned". Only
the pipeline caller dependency is replaced (FastAPI `dependency_overrides`), by one that runs
the same way (sync, in the thread pool) and hands the same body on as a signed caller, so the
answer is the same (201 and Lookout's shape) and the two servers differ by exactly the
verification: the HMAC over the body, the timestamp window and the replay record.

(Replacing `verified_callback` itself stopped working when the pipeline routes started to
call it directly, to accept VISTA's user callers: the unsigned post was then taken as a user's
and answered in VISTA's shape, 200 with every stored annotation.)
"""

from __future__ import annotations

from fastapi import FastAPI

from lookout.app import serve_app
from lookout.auth.dependencies import CallbackCaller, RawBodyDep, SignedCallback, pipeline_caller


def _unverified(body: RawBodyDep) -> CallbackCaller:
    signed = SignedCallback(body=body, scheme="unsigned-benchmark", key_id="none")
    return CallbackCaller(body, signed=signed)


def without_signature_check(app: FastAPI) -> FastAPI:
    """`app` taking pipeline callbacks as signed without verifying them."""
    app.dependency_overrides[pipeline_caller] = _unverified
    return app


def unsigned_app() -> FastAPI:
    return without_signature_check(serve_app())
