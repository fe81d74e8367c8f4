"""An HTTP client for the six steps of the ML analysis API, with retries and v1 signatures.

Only the standard library, httpx, tenacity and ``lookout.httpretry`` (the client-side retry
helper, itself httpx and tenacity only): pipelines install it without the server.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import tenacity

from lookout.httpretry import RetryPolicy, call_timeout, retrying, safe_url
from lookout.pipeline.signing import sign_request

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024


class LookoutAPIError(Exception):
    """Lookout (or the storage behind a presigned URL) answered with an error."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        field: str | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(f"{status_code}: {detail}" + (f" (field {field})" if field else ""))
        self.status_code = status_code
        self.detail = detail
        self.field = field
        self.response = response


def _error(response: httpx.Response) -> LookoutAPIError:
    detail, field = response.text[:2000] or response.reason_phrase, None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"] if isinstance(body["detail"], str) else json.dumps(body["detail"])
        field = body.get("field")
    return LookoutAPIError(response.status_code, detail, field, response)


class LookoutPipelineClient:
    """Run an analysis against Lookout: create, status, presign, upload, annotate, finalize.

    `hmac_secret` signs the pipeline callbacks (v1 scheme: timestamp, nonce, method, path and
    body digest); `api_key` authenticates the user calls (create, reads). Requests are tried
    `retries` more times, with exponential backoff (or the server's Retry-After, in seconds or
    as an HTTP date), on connection errors, timeouts, 429 and 5xx, never longer than
    `max_backoff` at a time; a create is tried again only when it cannot have run. Every
    attempt is signed afresh, and bulk posts reuse one Idempotency-Key across their attempts,
    so a retry never stores anything twice.
    """

    def __init__(
        self,
        api_url: str,
        hmac_secret: str | bytes,
        api_key: str | None = None,
        key_id: str | None = None,
        timeout: float = 30,
        retries: int = 5,
        *,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Prepare the clients; nothing is sent until the first call."""
        self.api_url = api_url.rstrip("/")
        self.hmac_secret = hmac_secret
        self.api_key = api_key
        self.key_id = key_id
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.policy = RetryPolicy(
            attempts=self.retries + 1,
            timeout_s=timeout,
            backoff_base_s=backoff,
            max_wait_s=max_backoff,
        )
        timeouts = call_timeout(self.policy)
        self._http = httpx.Client(
            base_url=self.api_url,
            timeout=timeouts,
            transport=transport,
            headers={"User-Agent": "lookout-pipeline"},
        )
        # Presigned URLs are absolute (S3 or Lookout's local storage) and carry their own auth.
        self._uploads = httpx.Client(timeout=timeouts, transport=transport)

    # --- plumbing ------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()
        self._uploads.close()

    def __enter__(self) -> LookoutPipelineClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _retrying(self, what: str, *, safe: bool) -> tenacity.Retrying:
        """Retries under this client's policy; a call that must not run twice (``safe=False``)
        is tried again only on answers and errors that prove it did not run."""
        return retrying(self.policy if safe else self.policy.not_run_only(), what, logger=log)

    def _user_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key} if self.api_key else {}

    def _request(
        self,
        method: str,
        path: str,
        *,
        payload: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        signed: bool,
        safe: bool = True,
    ) -> httpx.Response:
        body = (
            b""
            if payload is None
            else json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        )
        clean = {k: v for k, v in (params or {}).items() if v is not None}

        def attempt() -> httpx.Response:
            request = self._http.build_request(
                method, path, params=clean, content=body, headers=dict(headers or {})
            )
            if payload is not None:
                request.headers["Content-Type"] = "application/json"
            if signed:
                raw_path = request.url.raw_path.decode("ascii")
                request.headers.update(
                    sign_request(
                        self.hmac_secret,
                        method,
                        raw_path,
                        body,
                        key_id=self.key_id,
                    )
                )
            else:
                request.headers.update(self._user_headers())
            return self._http.send(request)

        response = self._retrying(f"{method} {path}", safe=safe)(attempt)
        if response.status_code >= 400:
            raise _error(response)
        return response

    # --- the six steps -------------------------------------------------------------------

    def create_analysis(
        self,
        image_id: str,
        model_name: str,
        model_version: str = "",
        parameters: dict[str, Any] | None = None,
        description: str | None = None,
        *,
        provenance: dict[str, Any] | None = None,
        external_job_id: str | None = None,
    ) -> dict[str, Any]:
        """Step 1 (API key): a new queued analysis of an image."""
        payload: dict[str, Any] = {
            "model_name": model_name,
            "model_version": model_version,
            "parameters": parameters or {},
        }
        for name, value in (
            ("description", description),
            ("provenance", provenance),
            ("external_job_id", external_job_id),
        ):
            if value is not None:
                payload[name] = value
        return self._request(
            "POST", f"/api/images/{image_id}/analyses", payload=payload, signed=False, safe=False
        ).json()

    def update_status(
        self, analysis_id: str, status: str, *, error_message: str | None = None
    ) -> dict[str, Any]:
        """Step 2: processing (or queued, failed, cancelled...)."""
        payload: dict[str, Any] = {"status": status}
        if error_message is not None:
            payload["error_message"] = error_message
        return self._request(
            "PATCH", f"/api/analyses/{analysis_id}/status", payload=payload, signed=True
        ).json()

    def request_presigned_urls(
        self, analysis_id: str, artifacts: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Step 3: {"presigned_urls": [{artifact_name, upload_url, expires_in, ...}]}."""
        return self._request(
            "POST",
            f"/api/analyses/{analysis_id}/artifacts/presign",
            payload={"artifacts": artifacts},
            signed=True,
        ).json()

    def upload_artifact(
        self,
        presigned_url: str,
        path_or_bytes: str | os.PathLike[str] | bytes,
        content_type: str,
    ) -> None:
        """Step 4: PUT a file (streamed from disk) or bytes to a presigned URL."""

        def attempt() -> httpx.Response:
            headers = {"Content-Type": content_type}
            if isinstance(path_or_bytes, bytes):
                return self._uploads.put(presigned_url, content=path_or_bytes, headers=headers)
            path = Path(path_or_bytes)
            headers["Content-Length"] = str(path.stat().st_size)
            return self._uploads.put(presigned_url, content=_read_file(path), headers=headers)

        response = self._retrying(f"PUT {safe_url(presigned_url)}", safe=True)(attempt)
        if response.status_code >= 400:
            raise _error(response)

    def upload_file(
        self,
        analysis_id: str,
        artifact_name: str,
        path_or_bytes: str | os.PathLike[str] | bytes,
        content_type: str,
    ) -> dict[str, Any]:
        """Steps 3 and 4 for one artifact; returns its presigned URL entry."""
        size = (
            len(path_or_bytes)
            if isinstance(path_or_bytes, bytes)
            else Path(path_or_bytes).stat().st_size
        )
        spec = {"artifact_name": artifact_name, "content_type": content_type, "size": size}
        entry = self.request_presigned_urls(analysis_id, [spec])["presigned_urls"][0]
        self.upload_artifact(entry["upload_url"], path_or_bytes, content_type)
        return entry

    def submit_annotations(
        self,
        analysis_id: str,
        annotations: list[dict[str, Any]],
        idempotency_key: str | None = None,
        replace: bool = False,
    ) -> dict[str, Any]:
        """Step 5: store annotations (all or none); `replace=True` swaps the existing ones.

        One Idempotency-Key (given, or generated here) covers every retry of this call, so the
        server stores the annotations once and answers retries with the first answer.
        """
        key = idempotency_key or str(uuid.uuid4())
        return self._request(
            "POST",
            f"/api/analyses/{analysis_id}/annotations:bulk",
            payload={"annotations": annotations},
            params={"mode": "replace" if replace else None},
            headers={"Idempotency-Key": key},
            signed=True,
        ).json()

    def finalize_analysis(
        self,
        analysis_id: str,
        status: str = "completed",
        summary: dict[str, Any] | None = None,
        *,
        error_message: str | None = None,
    ) -> dict[str, Any]:
        """Step 6: completed, failed or cancelled, with a summary."""
        payload: dict[str, Any] = {"status": status, "summary": summary or {}}
        if error_message is not None:
            payload["error_message"] = error_message
        return self._request(
            "POST", f"/api/analyses/{analysis_id}/finalize", payload=payload, signed=True
        ).json()

    # --- reads (API key) -----------------------------------------------------------------

    def get_analysis(
        self, analysis_id: str, annotations_limit: int = 1000, annotations_offset: int = 0
    ) -> dict[str, Any]:
        """The analysis with a page of its annotations."""
        params = {"annotations_limit": annotations_limit, "annotations_offset": annotations_offset}
        return self._request(
            "GET", f"/api/analyses/{analysis_id}", params=params, signed=False
        ).json()

    def list_analyses(
        self,
        image_id: str,
        model_name: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """{"items": [...], "total": n} for an image."""
        params = {"model_name": model_name, "status": status, "limit": limit, "offset": offset}
        return self._request(
            "GET", f"/api/images/{image_id}/analyses", params=params, signed=False
        ).json()


def _read_file(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk
