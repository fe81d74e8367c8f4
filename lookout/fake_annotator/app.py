"""FastAPI app faking pyro-annotator's annotation API (the part an importer reads).

Faithful to the real server (pyronear/pyro-annotator, `annotation_api/src/app`) where the
importer depends on it:

- everything under `/api/v1`; `POST /api/v1/auth/login` takes JSON `{username, password}` and
  answers `{access_token, token_type: "bearer"}` (401 `Incorrect username or password`);
  every other route wants `Authorization: Bearer <token>` (401 `Not authenticated` without
  one, 401 `Could not validate credentials` for a bad one);
- lists are fastapi-pagination pages: `page` (from 1) and `size` (1..100, default 50), answered
  as `{items, total, page, size, pages}`; a size above 100 is 422;
- `GET /sequences/`, `/annotations/sequences/` (with `contributors`), `/detections/`,
  `/annotations/detections/` with the filters and orders the importer uses, and
  `GET /detections/{id}/url` answering `{url}`: a presigned-looking URL of the image, served
  by this fake at `/fake-bucket/{key}`;
- with `data.accounts` false, the 2025 API: no login (404) and every route open.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from lookout.fake_annotator.data import FakeAnnotatorData, demo_data

API = "/api/v1"
MAX_PAGE_SIZE = 100


@dataclass
class FakeAnnotatorState:
    """Live state: the data, issued tokens, counters."""

    data: FakeAnnotatorData
    tokens: dict[str, int] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    # Path -> how many of its next requests answer 503 (a proxy's "try again").
    failures: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def revoke_tokens(self) -> None:
        """Forget every token issued so far."""
        with self.lock:
            self.tokens.clear()

    def fail_next(self, path: str, times: int = 1) -> None:
        """Answer the next `times` requests of `path` with 503."""
        with self.lock:
            self.failures[path] += times

    def _should_fail(self, path: str) -> bool:
        with self.lock:
            self.requests[path] += 1
            if self.failures[path] > 0:
                self.failures[path] -= 1
                return True
            return False


class LoginRequest(BaseModel):
    username: str
    password: str


bearer = HTTPBearer(auto_error=False)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def _page(items: list[dict[str, Any]], page: int, size: int) -> dict[str, Any]:
    """A fastapi-pagination page of `items`."""
    start = (page - 1) * size
    return {
        "items": items[start : start + size],
        "total": len(items),
        "page": page,
        "size": size,
        "pages": math.ceil(len(items) / size) if items else 0,
    }


def _ordered(
    rows: list[dict[str, Any]], order_by: str, direction: str, key: str = "id"
) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r[order_by] or "", r[key]), reverse=direction == "desc")


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> int:
    """The user id of the bearer token (401 as the real API answers)."""
    state: FakeAnnotatorState = request.app.state.annotator
    if not state.data.accounts:
        return 0
    if credentials is None:
        raise _unauthorized("Not authenticated")
    with state.lock:
        user_id = state.tokens.get(credentials.credentials)
    if user_id is None:
        raise _unauthorized("Could not validate credentials")
    return user_id


User = Annotated[int, Depends(current_user)]
Page = Annotated[int, Query(ge=1)]
Size = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


def create_app(data: FakeAnnotatorData | None = None) -> FastAPI:
    """The app serving `data` (the demo data unless given)."""
    app = FastAPI(title="fake pyro-annotator", openapi_url=f"{API}/openapi.json")
    state = FakeAnnotatorState(data or demo_data())
    app.state.annotator = state

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Any:
        if state._should_fail(request.url.path):
            return JSONResponse({"detail": "Service Unavailable"}, status_code=503)
        return await call_next(request)

    @app.get("/status", include_in_schema=False)
    def status() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(f"{API}/auth/login")
    def login(body: LoginRequest) -> dict[str, str]:
        if not state.data.accounts:
            raise HTTPException(404, detail="Not Found")
        known = state.data.users.get(body.username)
        if known is None or not secrets.compare_digest(known[0], body.password):
            raise _unauthorized("Incorrect username or password")
        token = secrets.token_urlsafe(24)
        with state.lock:
            state.tokens[token] = known[1]
        return {"access_token": token, "token_type": "bearer"}

    @app.get(f"{API}/sequences/")
    def list_sequences(
        _user: User,
        source_api: str | None = None,
        organisation_name: str | None = None,
        recorded_at_gte: str | None = None,
        recorded_at_lte: str | None = None,
        order_by: str = Query("created_at", pattern="^(created_at|recorded_at)$"),
        order_direction: str = Query("desc", pattern="^(asc|desc)$"),
        page: Page = 1,
        size: Size = 50,
    ) -> dict[str, Any]:
        rows = list(state.data.sequences.values())
        if source_api is not None:
            rows = [r for r in rows if r["source_api"] == source_api]
        if organisation_name is not None:
            rows = [r for r in rows if r["organisation_name"] == organisation_name]
        if recorded_at_gte is not None:
            rows = [r for r in rows if r["recorded_at"] >= _z(recorded_at_gte)]
        if recorded_at_lte is not None:
            rows = [r for r in rows if r["recorded_at"] <= _z(recorded_at_lte)]
        return _page(_ordered(rows, order_by, order_direction), page, size)

    @app.get(f"{API}/sequences/{{sequence_id}}")
    def get_sequence(sequence_id: int, _user: User) -> dict[str, Any]:
        found = state.data.sequences.get(sequence_id)
        if found is None:
            raise HTTPException(404, detail="Table Sequence has no corresponding entry.")
        return found

    @app.get(f"{API}/annotations/sequences/")
    def list_sequence_annotations(
        _user: User,
        sequence_id: int | None = None,
        processing_stage: str | None = None,
        order_by: str = Query("created_at", pattern="^(created_at|sequence_recorded_at)$"),
        order_direction: str = Query("desc", pattern="^(asc|desc)$"),
        page: Page = 1,
        size: Size = 50,
    ) -> dict[str, Any]:
        rows = list(state.data.sequence_annotations.values())
        if sequence_id is not None:
            rows = [r for r in rows if r["sequence_id"] == sequence_id]
        if processing_stage is not None:
            rows = [r for r in rows if r["processing_stage"] == processing_stage]
        return _page(_ordered(rows, "created_at", order_direction), page, size)

    @app.get(f"{API}/detections/")
    def list_detections(
        _user: User,
        sequence_id: int | None = None,
        order_by: str = Query("created_at", pattern="^(created_at|recorded_at)$"),
        order_direction: str = Query("desc", pattern="^(asc|desc)$"),
        page: Page = 1,
        size: Size = 50,
    ) -> dict[str, Any]:
        rows = list(state.data.detections.values())
        if sequence_id is not None:
            rows = [r for r in rows if r["sequence_id"] == sequence_id]
        return _page(_ordered(rows, order_by, order_direction), page, size)

    @app.get(f"{API}/detections/{{detection_id}}/url")
    def detection_url(detection_id: int, request: Request, _user: User) -> dict[str, str]:
        found = state.data.detections.get(detection_id)
        if found is None:
            raise HTTPException(404, detail="Detection not found")
        base = str(request.base_url).rstrip("/")
        signature = secrets.token_hex(8)
        return {"url": f"{base}/fake-bucket/{found['bucket_key']}?X-Amz-Signature={signature}"}

    @app.get("/fake-bucket/{key:path}", include_in_schema=False)
    def bucket_object(key: str) -> Response:
        image = state.data.images.get(key)
        if image is None:
            return Response("<Error><Code>NoSuchKey</Code></Error>", 404, media_type="text/xml")
        return Response(image, media_type="image/jpeg")

    @app.get(f"{API}/annotations/detections/")
    def list_detection_annotations(
        _user: User,
        sequence_id: int | None = None,
        processing_stage: str | None = None,
        order_by: str = Query("created_at", pattern="^(created_at|processing_stage)$"),
        order_direction: str = Query("desc", pattern="^(asc|desc)$"),
        page: Page = 1,
        size: Size = 50,
    ) -> dict[str, Any]:
        rows = list(state.data.detection_annotations.values())
        if sequence_id is not None:
            rows = [
                r
                for r in rows
                if state.data.detections[r["detection_id"]]["sequence_id"] == sequence_id
            ]
        if processing_stage is not None:
            rows = [r for r in rows if r["processing_stage"] == processing_stage]
        return _page(_ordered(rows, order_by, order_direction), page, size)

    return app


def _z(value: str) -> str:
    """A query timestamp in the stored form (naive values are UTC)."""
    value = value.replace("+00:00", "Z")
    return value if value.endswith("Z") else f"{value}Z"
