"""Presigned PUT and GET for the local storage backend (S3 serves its own)."""

from __future__ import annotations

import re
import tempfile
from typing import Annotated, BinaryIO, cast

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from lookout.body_limits import accepts_uploads
from lookout.deps import get_runtime
from lookout.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from lookout.route_table import RouteTable
from lookout.storage.base import ObjectNotFound, ObjectTooLarge
from lookout.storage.local import ROUTE_PREFIX, LocalStorage

router = RouteTable(tags=["storage"], include_in_schema=False)
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


def _local_storage(request: Request) -> LocalStorage:
    storage = get_runtime(request).storage
    if not isinstance(storage, LocalStorage):
        raise NotFound("presigned URLs are served by the S3 service, not by Lookout")
    return storage


def _verify(
    storage: LocalStorage, method: str, key: str, content_type: str, expires: int, signature: str
) -> None:
    try:
        reason = storage.verify(method, key, content_type, expires, signature)
    except ValueError as exc:
        raise Forbidden("invalid presigned URL") from exc
    if reason:
        raise Forbidden(reason)


def _upload_refusal(request: Request, key: str) -> str | None:
    """Why `key` takes no upload now (an artifact confirmed or of a final analysis), or None."""
    with get_runtime(request).sessions() as session:
        return get_runtime(request).upload_refusal(session, key)


@router.put(ROUTE_PREFIX + "{key:path}")
@accepts_uploads
async def presigned_put(
    key: str,
    request: Request,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=200)],
    content_type: Annotated[str, Query(max_length=200)] = "",
) -> dict[str, object]:
    """Accept one upload to a presigned URL: same key, method and Content-Type as signed."""
    storage = _local_storage(request)
    _verify(storage, "PUT", key, content_type, expires, signature)
    sent_type = request.headers.get("content-type", "")
    if sent_type.split(";")[0].strip().lower() != content_type.lower():
        raise Forbidden(f"Content-Type {sent_type!r} does not match the presigned {content_type!r}")
    refusal = await run_in_threadpool(_upload_refusal, request, key)
    if refusal is not None:
        raise Conflict(refusal)
    limit = get_runtime(request).settings.ml_max_artifact_bytes
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as buffer:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"upload is larger than {limit} bytes")
            buffer.write(chunk)
        buffer.seek(0)
        try:
            # A spooled file is a binary file; typeshed only calls it IO[bytes].
            stream = cast(BinaryIO, buffer)
            await run_in_threadpool(storage.put_file, key, stream, content_type, max_bytes=limit)
        except ObjectTooLarge as exc:
            raise PayloadTooLarge(str(exc)) from exc
        except ValueError as exc:
            raise InvalidInput(str(exc), field="key") from exc
    return {"key": key, "size": size}


@router.get(ROUTE_PREFIX + "{key:path}")
async def presigned_get(
    key: str,
    request: Request,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=200)],
    filename: Annotated[str | None, Query(max_length=255)] = None,
) -> StreamingResponse:
    """Serve an object through a presigned GET URL, always as a download."""
    storage = _local_storage(request)
    _verify(storage, "GET", key, "", expires, signature)
    try:
        opened = await run_in_threadpool(storage.open_object, key)
    except ObjectNotFound as exc:
        raise NotFound("object not found") from exc
    safe_name = _SAFE_FILENAME.sub("_", filename or key.rsplit("/", 1)[-1])
    return StreamingResponse(
        opened.chunks,
        media_type=opened.content_type or "application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{safe_name}"',
            "Content-Length": str(opened.size),
        },
    )
