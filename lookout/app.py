"""The FastAPI application: routers, error answers, limits and security headers."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lookout import __version__, apidocs
from lookout.aliases import PathAliases
from lookout.analyses.artifacts import upload_refusal
from lookout.analyses.predictions import PAGE_CACHE
from lookout.auth import signatures
from lookout.auth.middleware import LocalOnly, SingleCredentialHeaders
from lookout.body_limits import BodySizeLimit
from lookout.config import Settings, get_settings
from lookout.db import keep_sqlite_statistics, make_engine, make_session_factory
from lookout.deps import Runtime
from lookout.errors import LookoutError
from lookout.grouping.service import join_after_draft, leave_groups
from lookout.images.service import IMAGE_PAGES
from lookout.jsonbody import UnstorableBody
from lookout.route_index import RouteIndex
from lookout.schema import Schema
from lookout.storage import StorageError, make_storage

log = logging.getLogger(__name__)
CLIENT_CLOSED_REQUEST = 499


class SecurityHeaders:
    """nosniff everywhere, so stored content is never run as something else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            # Starlette answers a crash outside every middleware, without these headers: answer
            # here, then let the error go on to be logged (nothing more is sent once started).
            if not started:
                text = [(b"content-type", b"text/plain; charset=utf-8")]
                await with_headers({"type": "http.response.start", "status": 500, "headers": text})
                await send({"type": "http.response.body", "body": b"Internal Server Error"})
            raise

    HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"))


# Query parameters that carry credentials: presigned URLs' signatures (Lookout's, S3's), tokens.
_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:[^=&\s\"]*(?:signature|credential|token|secret|password|api[-_]?key)"
    r"[^=&\s\"]*|sig)=)[^&\s\"]*"
)


def redact_query(text: str) -> str:
    """The text with the values of credential-like query parameters replaced."""
    return _SECRET_QUERY.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Log records never show credentials carried in URLs: uvicorn's access log prints each
    request's query (a presigned URL's signature) and httpx logs the URLs the server fetches
    (the platform's presigned frames)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        return True


def _redacted(value: Any) -> Any:
    if isinstance(value, int | float) or value is None:
        return value
    text = str(value)
    return redact_query(text) if "?" in text else value


def install_log_redaction() -> None:
    """Filter the loggers that print URLs (once per process: every worker builds its app)."""
    for name in ("uvicorn.access", "uvicorn.error", "httpx"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


class ErrorBody(Schema):
    """Every refusal of the API: what is wrong and, when one input is to blame, which."""

    detail: str
    field: str | None = None


# Documented by reference, not as `"model": ErrorBody`: FastAPI builds a pydantic adapter for
# every model of every response of every route: over a thousand adapters of this one model,
# built by each server worker at its start. The schema goes to the components once
# (`_document_error_body`).
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def _error(description: str) -> dict[str, Any]:
    return {"content": _ERROR_CONTENT, "description": description}


def _document_error_body(app: FastAPI) -> None:
    """Put ErrorBody in the OpenAPI components, where the error responses refer to it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            components = build().setdefault("components", {}).setdefault("schemas", {})
            components["ErrorBody"] = ErrorBody.model_json_schema()
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# Answers any API route may give besides its own (documented, so clients and schemathesis
# know them): the error handlers below, the body size limit and the authentication brake.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Invalid input: `detail` says what is wrong, `field` where"),
    401: _error("Missing or invalid credentials (API key, proxy headers or HMAC signature)"),
    403: _error("Not allowed, e.g. a cross-site write or a group you are not a member of"),
    404: _error("No such object, or it belongs to a group you are not a member of"),
    409: _error("Conflicts with the current state of the object"),
    413: _error("The request body or upload is larger than the server accepts"),
    415: _error("The upload is not of a supported type"),
    429: _error("Too many failed authentication attempts from this client; try again later"),
    503: _error("The database or the object storage is unavailable; try again"),
}


def _error_body(exc: LookoutError) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": exc.message}
    if exc.field:
        body["field"] = exc.field
    return body


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LookoutError)
    async def lookout_error(_request: Request, exc: LookoutError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(_error_body(exc), status_code=exc.status, headers=headers)

    @app.exception_handler(UnstorableBody)
    async def unstorable_body(_request: Request, exc: UnstorableBody) -> JSONResponse:
        return JSONResponse({"detail": exc.detail, "field": exc.field}, exc.status_code)

    @app.exception_handler(StorageError)
    async def storage_error(_request: Request, exc: StorageError) -> JSONResponse:
        log.error("object storage failed: %s", exc)
        return JSONResponse({"detail": StorageError.answer}, 503)

    @app.exception_handler(sa.exc.OperationalError)
    async def database_error(_request: Request, exc: sa.exc.OperationalError) -> JSONResponse:
        log.error("database failed: %s", exc)
        return JSONResponse({"detail": "database is unavailable, try again"}, 503)

    @app.exception_handler(sa.exc.DataError)
    async def refused_value(_request: Request, exc: sa.exc.DataError) -> JSONResponse:
        # A value the database cannot hold came from the client (PostgreSQL refuses NUL
        # characters in text, which SQLite and Python accept): the request is at fault.
        log.info("the database refused a value: %s", exc.orig)
        nul = "NUL" in str(exc.orig)
        detail = "text must not contain NUL characters" if nul else "a value is out of range"
        return JSONResponse({"detail": detail}, 400)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, _exc: ClientDisconnect) -> Response:
        # The client left before sending its whole request (a killed importer): nothing was
        # done and nobody reads the answer, so this is no server error. 499 as nginx logs it.
        log.info("client left during %s %s", request.method, request.url.path)
        return Response(status_code=CLIENT_CLOSED_REQUEST)


DESCRIPTION = """Reviewed, trustworthy training data from camera detections.

Every path under `/api/` is also served under `/api-key/` and `/api-ml/` (the prefixes VISTA's
scripts and pipelines use), as aliases of the same routes with the same authentication and
access rules: `GET /api-key/projects` is `GET /api/projects`. A path spelled with a trailing
slash (`POST /api/projects/`) is answered as the path without it, not redirected."""


def size_caches(megabytes: int) -> None:
    """Bound the process's rendered-JSON caches (LOOKOUT_RENDER_CACHE_MB): three quarters for
    pages of annotations, a quarter for pages of images."""
    total = megabytes * 1024 * 1024
    PAGE_CACHE.resize(total * 3 // 4)
    IMAGE_PAGES.resize(total // 4)


def serve_app() -> FastAPI:
    """The app of a server process (`lookout serve`, one per uvicorn worker)."""
    return create_app(freeze_gc=True)


def create_app(settings: Settings | None = None, *, freeze_gc: bool = False) -> FastAPI:
    """Build the app with its engine, sessions and storage."""
    settings = settings or get_settings()
    install_log_redaction()
    size_caches(settings.render_cache_mb)
    engine = make_engine(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    runtime = Runtime(
        settings=settings,
        sessions=make_session_factory(engine),
        storage=make_storage(settings),
        fetch_private=settings.fetch_private_allowed,
        upload_refusal=upload_refusal,
        after_draft=functools.partial(join_after_draft, iou_threshold=settings.group_iou),
        before_sequence_purge=leave_groups,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if freeze_gc:
            # What is loaded by now (modules, mappers, routes) lives as long as the process:
            # keep it out of the garbage collector's sight, so collecting a request's garbage
            # stays cheap (a third of a 1,000-box bulk post went to full collections). Only in
            # a process of its own: frozen objects are never collected.
            gc.freeze()
        statistics = asyncio.create_task(keep_sqlite_statistics(engine))
        yield
        statistics.cancel()
        if "http" in runtime.__dict__:  # made only if a URL was fetched
            runtime.http.close()
        engine.dispose()

    app = FastAPI(
        title="Lookout",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # No 307s: PathAliases serves a trailing-slash spelling directly (see lookout/aliases.py).
        redirect_slashes=False,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    from lookout import health

    # First: probes come often, and the router tries routes in order.
    health.install(app, responses={503: ERROR_RESPONSES[503]})
    apidocs.install(app)
    _include_routers(app)
    _document_error_body(app)
    RouteIndex.install(app.router)
    app.add_middleware(
        BodySizeLimit, json_limit=settings.max_request_bytes, upload_limit=settings.max_upload_bytes
    )
    app.add_middleware(SingleCredentialHeaders, names=_credential_headers(settings))
    # Probes skip the layers inside (body limits, credential checks, the framework's own).
    app.add_middleware(health.Liveness)
    if settings.local_mode:
        app.add_middleware(LocalOnly, extra_hosts=settings.local_hosts)
    app.add_middleware(SecurityHeaders)
    # Outermost: every other middleware, the router and the dependencies see the canonical path.
    app.add_middleware(PathAliases, routes=app.router)
    return app


def _credential_headers(settings: Settings) -> list[str]:
    """Headers that say who the caller is or prove it: each may be sent once only."""
    return [
        settings.proxy_user_header,
        settings.proxy_secret_header,
        "x-api-key",
        "authorization",
        signatures.SIGNATURE_HEADER,
        signatures.TIMESTAMP_HEADER,
        signatures.NONCE_HEADER,
        signatures.KEY_ID_HEADER,
    ]


def _include_routers(app: FastAPI) -> None:
    from lookout.accounts.admin_routes import router as accounts_admin
    from lookout.accounts.routes import router as accounts
    from lookout.analyses.queue_routes import router as work_queue
    from lookout.analyses.routes import router as analyses
    from lookout.classes.routes import router as classes
    from lookout.comments.routes import router as comments
    from lookout.images.routes import router as images
    from lookout.projects.routes import router as projects
    from lookout.reviewing.routes import router as review_queue
    from lookout.sequences.routes import router as sequences
    from lookout.storage.routes import router as storage

    routers = (
        accounts,
        accounts_admin,
        projects,
        images,
        classes,
        comments,
        sequences,
        review_queue,
        storage,
        analyses,
        work_queue,
    )
    for router in routers:
        router.install(app.router, responses=ERROR_RESPONSES)

    from lookout.evaluation.page import router as evaluation_page
    from lookout.evaluation.routes import router as evaluation
    from lookout.exports.routes import router as exports
    from lookout.grouping.routes import router as groups

    exports.install(app.router, responses=ERROR_RESPONSES)
    evaluation.install(app.router, responses=ERROR_RESPONSES)
    groups.install(app.router, responses=ERROR_RESPONSES)
    evaluation_page.install(app.router)

    from lookout.web import group_pages
    from lookout.web import routes as web
    from lookout.web.admin_page import router as admin_page
    from lookout.web.trash_page import router as trash_page

    web.router.install(app.router)
    admin_page.install(app.router)
    trash_page.install(app.router)
    group_pages.router.install(app.router)
    web.mount_static(app)
