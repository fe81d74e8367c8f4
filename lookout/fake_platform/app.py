"""FastAPI app faking the Pyronear alert API, with switchable faults.

Auth notes: tokens are real-looking HS256 JWTs (``sub``, ``scopes``,
``organization_id``, ``iat``, ``exp``) signed with a per-server secret.  Expiry is
judged at request time from ``iat`` and the *current* ``token_ttl_s`` so tests can
make live tokens expire by changing the config.  A missing bearer answers 401
``{"detail": "Not authenticated"}`` (FastAPI's OAuth2 scheme); a bad, revoked or
expired one 401 ``{"detail": "Could not validate credentials."}``.

Access rules follow pyro-api: admins may read any sequence/detection by id, but
``/sequences/all/fromdate`` is scoped to the token's organization for everyone in the 2025
schema; in the later one (pyro-api 2026) an admin's listing spans every organization.  The
later schema also hides cameras not marked trustable from ``/cameras/`` unless asked with
``include_non_trustable=true``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lookout.fake_platform.data import (
    Detection,
    FakePlatformConfig,
    PlatformData,
    Sequence,
    camera_json,
    crop_key,
    detection_json,
    generate,
    organization_json,
    render_jpeg,
    sequence_json,
)

API = "/api/v1"
LOGIN_PATH = f"{API}/login/creds"
BAD_CREDENTIALS = "Could not validate credentials."
IMAGE_CACHE_SIZE = 256
# Bodies a reverse proxy (nginx) in front of the platform sends for gateway errors.
GATEWAY_PAGES = {
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
}
NGINX_PAGE = (
    "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n"
    "<center><h1>{0}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class FakePlatformStats:
    """Thread-safe counters: requests per path template, faults per kind, and the most
    requests in progress at once (what a client's concurrency limit promises)."""

    def __init__(self) -> None:
        """Start from zero."""
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.in_progress = 0
        self.peak_in_progress = 0

    def count_request(self, template: str) -> int:
        """Count one request; returns how many requests were counted so far."""
        with self._lock:
            self.requests[template] += 1
            return self.requests.total()

    def started(self) -> None:
        """A request began (its latency included)."""
        with self._lock:
            self.in_progress += 1
            self.peak_in_progress = max(self.peak_in_progress, self.in_progress)

    def ended(self) -> None:
        """A request ended, answered or not."""
        with self._lock:
            self.in_progress -= 1

    def count_fault(self, kind: str) -> None:
        """Count one injected fault."""
        with self._lock:
            self.faults[kind] += 1

    def reset(self) -> None:
        """Forget everything counted so far."""
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            self.peak_in_progress = self.in_progress

    def snapshot(self) -> dict[str, Any]:
        """A copy of the counters."""
        with self._lock:
            return {
                "requests": dict(self.requests),
                "faults": dict(self.faults),
                "peak_in_progress": self.peak_in_progress,
            }


@dataclass(frozen=True)
class TokenPayload:
    """What a bearer token says about its holder."""

    sub: str
    role: str
    organization_id: int


def _b64(raw: bytes) -> str:
    """Unpadded base64url, as JWT uses."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _compact(obj: dict[str, Any]) -> bytes:
    """JSON without spaces, as JWT libraries write it."""
    return json.dumps(obj, separators=(",", ":")).encode()


def _unb64(text: str) -> bytes:
    """Inverse of :func:`_b64`."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakePlatformState:
    """Live state shared by the app and the test: config, counters, data, secrets."""

    def __init__(self, config: FakePlatformConfig | None = None) -> None:
        """Wrap a config (a default one if none)."""
        self.config = config or FakePlatformConfig()
        self.stats = FakePlatformStats()
        self._lock = threading.Lock()
        self._data: PlatformData | None = None
        self._data_key: tuple[Any, ...] | None = None
        self._by_bucket_key: dict[str, Detection] = {}
        self._images: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._token_epoch = 0
        # Tokens issued at or before this instant are expired (see expire_tokens).
        self._expired_before = float("-inf")
        self.reseed_faults()

    # -- data

    @property
    def data(self) -> PlatformData:
        """The generated platform, rebuilt if a data-shaping config field changed."""
        key = self.config.data_key()
        with self._lock:
            if self._data is None or key != self._data_key:
                self._data = generate(self.config)
                self._data_key = key
                self._by_bucket_key = {d.bucket_key: d for d in self._data.detections.values()}
            return self._data

    def detection_by_key(self, bucket_key: str) -> Detection | None:
        """Detection whose frame is stored under this key."""
        _ = self.data  # make sure the index matches the current config
        return self._by_bucket_key.get(bucket_key)

    def cached_image(self, det: Detection) -> bytes | None:
        """The JPEG of a detection if it is rendered already."""
        cfg = self.config
        key = (cfg.data_key(), det.id, tuple(cfg.image_size))
        with self._lock:
            if key in self._images:
                self._images.move_to_end(key)
                return self._images[key]
        return None

    def image(self, det: Detection) -> bytes:
        """The JPEG of a detection, rendered once and cached."""
        if (jpeg := self.cached_image(det)) is not None:
            return jpeg
        cfg = self.config
        width, height = cfg.image_size  # a list when set from JSON
        key = (cfg.data_key(), det.id, (width, height))
        jpeg = render_jpeg(self.data.cameras[det.camera_id], det, (width, height), cfg.seed)
        with self._lock:
            self._images[key] = jpeg
            while len(self._images) > IMAGE_CACHE_SIZE:
                self._images.popitem(last=False)
        return jpeg

    # -- faults

    def reseed_faults(self) -> None:
        """Restart the fault dice from the seed (same faults for the same requests)."""
        self._fault_rng = random.Random(f"faults-{self.config.seed}")

    def _fault_eligible(self, path: str) -> bool:
        """Whether faults may hit this path."""
        cfg = self.config
        if path.startswith(LOGIN_PATH) and not cfg.faults_on_login:
            return False
        return cfg.fault_paths is None or any(path.startswith(p) for p in cfg.fault_paths)

    def draw_fault(self, path: str) -> tuple[str, int] | None:
        """Roll the dice for one request: (kind, status) or None."""
        cfg = self.config
        rates = (
            ("drop", cfg.drop_rate),
            ("timeout", cfg.timeout_rate),
            ("error", cfg.error_rate),
            ("rate_limit", cfg.rate_limit_rate),
        )
        if not any(rate > 0 for _, rate in rates) or not self._fault_eligible(path):
            return None
        with self._lock:
            roll, pick = self._fault_rng.random(), self._fault_rng.random()
        edge = 0.0
        for kind, rate in rates:
            edge += rate
            if roll < edge:
                statuses = cfg.error_statuses or (500,)
                status = statuses[int(pick * len(statuses))] if kind == "error" else 0
                return kind, status
        return None

    # -- tokens

    def _secret(self, purpose: str) -> bytes:
        """A per-server secret (changing the epoch revokes every token)."""
        return hashlib.sha256(
            f"fake-platform-{purpose}-{self.config.seed}-{self._token_epoch}".encode()
        ).digest()

    def revoke_tokens(self) -> None:
        """Make every token issued so far invalid."""
        with self._lock:
            self._token_epoch += 1

    def expire_tokens(self) -> None:
        """Expire every token issued so far: their holders get 401 until they log in again."""
        with self._lock:
            self._expired_before = time.time()
        self.stats.count_fault("token_expiry")

    def issue_token(self, username: str) -> str:
        """A signed JWT for a known user."""
        _, role, org = self.config.users[username]
        now = time.time()
        header = {"alg": "HS256", "typ": "JWT"}
        # pyro-api puts the user's numeric id (as a string) in "sub".
        user_id = list(self.config.users).index(username) + 1
        body = {
            "sub": str(user_id),
            "scopes": [role],
            "organization_id": org,
            "iat": now,
            "exp": int(now) + 365 * 86400,
        }
        signing = f"{_b64(_compact(header))}.{_b64(_compact(body))}"
        sig = hmac.new(self._secret("jwt"), signing.encode(), hashlib.sha256).digest()
        return f"{signing}.{_b64(sig)}"

    def read_token(self, token: str) -> TokenPayload | None:
        """Payload of a valid, unexpired token, else None."""
        try:
            header, body, sig = token.split(".")
            want = hmac.new(
                self._secret("jwt"), f"{header}.{body}".encode(), hashlib.sha256
            ).digest()
            if not hmac.compare_digest(want, _unb64(sig)):
                return None
            claims = json.loads(_unb64(body))
            ttl = self.config.token_ttl_s
            issued = float(claims["iat"])
            if issued <= self._expired_before or (ttl is not None and time.time() - issued > ttl):
                self.stats.count_fault("expired_token")
                return None
            return TokenPayload(
                str(claims["sub"]), str(claims["scopes"][0]), int(claims["organization_id"])
            )
        except (ValueError, KeyError, IndexError, TypeError):
            return None

    # -- storage

    def presign(self, base_url: str, organization_id: int, bucket_key: str) -> str:
        """An S3-style presigned GET URL for a frame, served by this fake."""
        path = f"/storage/alert-api-{organization_id}/{bucket_key}"
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        expires = str(self.config.url_ttl_s)
        query = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"FAKEPYRONEARKEY/{amz_date[:8]}/gra/s3/aws4_request",
            "X-Amz-Date": amz_date,
            "X-Amz-Expires": expires,
            "X-Amz-SignedHeaders": "host",
            "X-Amz-Signature": self._signature(path, amz_date, expires),
        }
        base = (self.config.public_url or base_url).rstrip("/")
        return f"{base}{path}?{urlencode(query)}"

    def _signature(self, path: str, amz_date: str, expires: str) -> str:
        """HMAC over what a presigned URL grants."""
        return hmac.new(
            self._secret("s3"), f"{path}\n{amz_date}\n{expires}".encode(), hashlib.sha256
        ).hexdigest()

    def check_presigned(self, path: str, params: dict[str, str]) -> str | None:
        """None if the URL's signature is valid and unexpired, else an S3 error code."""
        amz_date, expires, sig = (
            params.get(k, "") for k in ("X-Amz-Date", "X-Amz-Expires", "X-Amz-Signature")
        )
        if not (amz_date and expires and sig):
            return "AccessDenied"
        if not hmac.compare_digest(sig, self._signature(path, amz_date, expires)):
            return "SignatureDoesNotMatch"
        try:
            issued = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
            if time.time() >= issued + int(expires):
                return "AccessDenied"
        except ValueError:
            return "AuthorizationQueryParametersError"
        return None


# ---------------------------------------------------------------- faults middleware


class FaultMiddleware:
    """Pure ASGI middleware: counts requests and injects latency and faults."""

    def __init__(self, app: ASGIApp, state: FakePlatformState, routes: list[Any]) -> None:
        """Wrap ``app``; ``routes`` are used to name the path template of a request."""
        self.app, self.state, self.routes = app, state, routes

    def _template(self, scope: Scope) -> str:
        """The route path a request matches (e.g. ``/api/v1/sequences/{sequence_id}``)."""
        for route in self.routes:
            match, _ = route.matches(scope)
            if match != Match.NONE:
                return route.path
        return "<unmatched>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, perhaps badly."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        served = state.stats.count_request(self._template(scope))
        if served == state.config.expire_tokens_at_request:
            state.expire_tokens()
        state.stats.started()
        try:
            await self._serve(scope, receive, send)
        finally:
            state.stats.ended()

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Latency, then the request or the fault drawn for it."""
        state = self.state
        if state.config.latency_s > 0:
            state.stats.count_fault("latency")
            await asyncio.sleep(state.config.latency_s)
        fault = state.draw_fault(scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        kind, status = fault
        state.stats.count_fault(kind)
        if kind == "drop":
            await self._drop(receive, send)
        elif kind == "timeout":
            replay = await self._hang(receive, state.config.timeout_hang_s)
            if replay is not None:
                await self.app(scope, replay, send)
        elif kind == "rate_limit":
            retry = str(state.config.retry_after_s)
            body = {"detail": "Rate limit exceeded"}
            await JSONResponse(body, 429, headers={"Retry-After": retry})(scope, receive, send)
        else:
            state.stats.count_fault(f"error_{status}")
            await _error_response(status)(scope, receive, send)

    @staticmethod
    async def _drop(receive: Receive, send: Send) -> None:
        """Close the connection without a single byte of answer."""
        # uvicorn passes bound methods of its request cycle, which holds the socket.
        transport = getattr(getattr(receive, "__self__", None), "transport", None)
        if transport is not None:
            transport.close()
            # Let connection_lost run so uvicorn knows not to send its own 500.
            await asyncio.sleep(0.05)
            return
        # Other servers: promise a body, then die mid-answer.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1024")],
            }
        )
        raise ConnectionAbortedError("fake platform dropped the connection")

    @staticmethod
    async def _hang(receive: Receive, seconds: float) -> Receive | None:
        """Wait ``seconds`` or until the client leaves; return a receive replaying the body."""
        buffered: list[Message] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            buffered.append(message)
            if not message.get("more_body"):
                break
        # Once the body is read, the next message can only be the client leaving.
        waiter = asyncio.ensure_future(receive())
        done, _ = await asyncio.wait({waiter}, timeout=seconds)
        if waiter in done:
            return None
        waiter.cancel()

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        return replay


def _error_response(status: int) -> Response:
    """A 5xx as the platform (500) or its reverse proxy (502/503) would send it."""
    if status in GATEWAY_PAGES:
        return HTMLResponse(NGINX_PAGE.format(GATEWAY_PAGES[status]), status)
    return PlainTextResponse("Internal Server Error", status)


# ---------------------------------------------------------------- app


oauth2 = OAuth2PasswordBearer(tokenUrl=LOGIN_PATH, auto_error=False)


def _state(request: Request) -> FakePlatformState:
    """The live state of this app."""
    return request.app.state.platform


def _auth(request: Request, token: str | None = Depends(oauth2)) -> TokenPayload:
    """Validate the bearer token."""
    if token is None:
        raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    payload = _state(request).read_token(token)
    if payload is None:
        raise HTTPException(401, BAD_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"})
    return payload


def _shape(state: FakePlatformState, resource: str, item: dict[str, Any]) -> dict[str, Any]:
    """Apply the configured missing/renamed field faults."""
    omit = state.config.omit_fields.get(resource, set())
    rename = state.config.rename_fields.get(resource, {})
    return {rename.get(k, k): v for k, v in item.items() if k not in omit}


def _not_found(table: str) -> HTTPException:
    """pyro-api's 404 for an unknown id."""
    return HTTPException(404, f"Table {table} has no corresponding entry.")


def _forbidden() -> HTTPException:
    """pyro-api's 403 for an object outside the caller's organization."""
    return HTTPException(403, "Access forbidden.")


def _detection_item(request: Request, det: Detection) -> dict[str, Any]:
    """One detection with a fresh presigned URL."""
    state = _state(request)
    org = state.data.cameras[det.camera_id].organization_id
    url = state.presign(str(request.base_url), org, det.bucket_key)
    crop = state.presign(str(request.base_url), org, crop_key(det.bucket_key))
    return _shape(state, "detections", detection_json(det, state.config.schema, url, crop))


def _add_auth_routes(app: FastAPI) -> None:
    """Login."""

    @app.post(LOGIN_PATH)
    def login(request: Request, form: OAuth2PasswordRequestForm = Depends()) -> dict[str, str]:
        """Exchange credentials for a bearer token."""
        state = _state(request)
        user = state.config.users.get(form.username)
        if user is None or not hmac.compare_digest(user[0], form.password):
            raise HTTPException(401, "Invalid credentials.")
        return {"access_token": state.issue_token(form.username), "token_type": "bearer"}


def _add_org_routes(app: FastAPI) -> None:
    """Cameras and organizations."""

    @app.get(f"{API}/cameras/")
    def cameras(
        request: Request,
        include_non_trustable: bool = False,
        who: TokenPayload = Depends(_auth),
    ) -> list[dict[str, Any]]:
        """Cameras (all for admins, else the caller's organization's); the later schema
        lists untrusted cameras only when asked."""
        state, data = _state(request), _state(request).data
        hide_untrusted = state.config.schema == "later" and not include_non_trustable
        latest: dict[int, Detection] = {}
        for det in data.detections.values():  # ids follow created_at
            latest[det.camera_id] = det
        out = []
        for cam in data.cameras.values():
            if who.role != "admin" and cam.organization_id != who.organization_id:
                continue
            if hide_untrusted and not cam.is_trustable:
                continue
            last = latest.get(cam.id)
            url = (
                state.presign(str(request.base_url), cam.organization_id, last.bucket_key)
                if last
                else None
            )
            out.append(_shape(state, "cameras", camera_json(cam, last, url)))
        return out

    @app.get(f"{API}/organizations/")
    def organizations(request: Request, who: TokenPayload = Depends(_auth)) -> list[dict[str, Any]]:
        """Organizations (admins only)."""
        if who.role != "admin":
            raise HTTPException(403, "Incompatible token scope.")
        state = _state(request)
        return [
            _shape(state, "organizations", organization_json(o))
            for o in state.data.organizations.values()
        ]


def _add_sequence_routes(app: FastAPI) -> None:
    """Sequences and their detections."""

    @app.get(f"{API}/sequences/all/fromdate")
    def from_date(
        request: Request,
        from_date: date = Query(),
        limit: int | None = Query(None, ge=1),
        offset: int = Query(0, ge=0),
        who: TokenPayload = Depends(_auth),
    ) -> list[dict[str, Any]]:
        """A page of the caller's organization's sequences started that day, newest first."""
        state = _state(request)
        limit = limit or state.config.default_page_limit
        schema = state.config.schema
        everyone = schema == "later" and who.role == "admin"
        organization = None if everyone else who.organization_id
        page = state.data.sequences_on(from_date, organization, schema)[offset : offset + limit]
        # The platform decorates this listing with its event grouping (ungrouped here).
        items = [
            sequence_json(s, state.data, schema)
            | {"event_groups": [[s.id]], "event_smoke_locations": []}
            for s in page
        ]
        return [_shape(state, "sequences", item) for item in items]

    @app.get(f"{API}/sequences/{{sequence_id}}")
    def sequence(
        request: Request, sequence_id: int = Path(gt=0), who: TokenPayload = Depends(_auth)
    ) -> dict[str, Any]:
        """One sequence."""
        state = _state(request)
        seq = _visible_sequence(state, sequence_id, who)
        return _shape(state, "sequences", sequence_json(seq, state.data, state.config.schema))

    @app.get(f"{API}/sequences/{{sequence_id}}/detections")
    def sequence_detections(
        request: Request,
        sequence_id: int = Path(gt=0),
        limit: int = Query(10, ge=1, le=100),
        desc: bool = Query(True),
        offset: int = Query(0, ge=0),
        who: TokenPayload = Depends(_auth),
    ) -> list[dict[str, Any]]:
        """Detections of a sequence ordered by created_at (offset only in the later schema)."""
        state = _state(request)
        cfg = state.config
        seq = _visible_sequence(state, sequence_id, who)
        dets = state.data.visible_detections(seq, cfg.schema)
        dets = sorted(dets, key=lambda d: (d.created_at, d.id), reverse=desc)
        # The 2025 platform has no offset parameter; FastAPI ignores unknown ones.
        start = offset if cfg.schema == "later" else 0
        page = dets[start : start + limit]
        if cfg.broken_image_breaks_list and any(
            d.id in cfg.broken_image_detection_ids for d in page
        ):
            state.stats.count_fault("broken_list")
            raise HTTPException(404, "The requested file was not found.")
        return [_detection_item(request, d) for d in page]


def _visible_sequence(state: FakePlatformState, sequence_id: int, who: TokenPayload) -> Sequence:
    """A sequence the caller may read (404 unknown, 403 other organization unless admin)."""
    seq = state.data.sequence(sequence_id, state.config.schema)
    if seq is None:
        raise _not_found("Sequence")
    if who.role != "admin" and state.data.org_of_sequence(seq) != who.organization_id:
        raise _forbidden()
    return seq


def _add_detection_routes(app: FastAPI) -> None:
    """Detection URL and the object storage behind it."""

    @app.get(f"{API}/detections/{{detection_id}}/url")
    def detection_url(
        request: Request, detection_id: int = Path(gt=0), who: TokenPayload = Depends(_auth)
    ) -> dict[str, str]:
        """A presigned URL to a detection's frame."""
        state = _state(request)
        det = state.data.detection(detection_id, state.config.schema)
        if det is None:
            raise _not_found("Detection")
        org = state.data.cameras[det.camera_id].organization_id
        if who.role != "admin" and org != who.organization_id:
            raise _forbidden()
        return {"url": state.presign(str(request.base_url), org, det.bucket_key)}

    @app.get("/storage/{bucket}/{bucket_key}")
    async def storage(request: Request, bucket: str, bucket_key: str) -> Response:
        """The object store: a presigned GET of a frame."""
        state = _state(request)
        problem = state.check_presigned(request.url.path, dict(request.query_params))
        if problem:
            return _s3_error(403, problem, "Access denied or the URL has expired.")
        det = state.detection_by_key(bucket_key)
        org = state.data.cameras[det.camera_id].organization_id if det else None
        if det is None or bucket != f"alert-api-{org}":
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        if det.id in state.config.broken_image_detection_ids:
            state.stats.count_fault("broken_image")
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        # Served on the event loop when rendered already (the usual case): no thread hop.
        jpeg = state.cached_image(det) or await run_in_threadpool(state.image, det)
        return Response(jpeg, media_type="image/jpeg")


def _s3_error(status: int, code: str, message: str) -> Response:
    """An S3-style XML error."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(body, status, media_type="application/xml")


def create_app(config: FakePlatformConfig | None = None) -> FastAPI:
    """Build the fake platform; ``app.state.platform`` holds config, counters and data."""
    state = FakePlatformState(config)
    app = FastAPI(title="Fake Pyronear alert API", version="fake")
    app.state.platform = state
    _add_auth_routes(app)
    _add_org_routes(app)
    _add_sequence_routes(app)
    _add_detection_routes(app)
    app.add_middleware(FaultMiddleware, state=state, routes=app.router.routes)
    return app
