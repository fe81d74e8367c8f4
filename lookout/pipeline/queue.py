"""Work-queue calls for workers: claim analyses, keep their leases, fetch their images.

    from lookout.pipeline.queue import QueueClient

    with QueueClient("http://localhost:5050", hmac_secret) as client:
        batch = client.claim("worker-1", "yolo_v8", limit=4, lease_seconds=120)
        for analysis in batch["analyses"]:
            image = client.download_image(analysis)
            client.heartbeat(analysis["id"], "worker-1", lease_seconds=120)
            ...  # then the six steps' methods: upload_file, submit_annotations, finalize_analysis

Every call is signed with Lookout's v1 scheme (the only one these endpoints accept). Like the
rest of the SDK it needs only the standard library, httpx and tenacity.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lookout.pipeline.client import LookoutAPIError, LookoutPipelineClient

__all__ = ["LookoutAPIError", "QueueClient"]


def _iso(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class QueueClient(LookoutPipelineClient):
    """`LookoutPipelineClient` plus the work-queue endpoints."""

    def claim(
        self,
        worker_id: str,
        model_name: str,
        *,
        model_version: str | None = None,
        project_id: str | None = None,
        limit: int = 1,
        lease_seconds: int = 120,
    ) -> dict[str, Any]:
        """Claim up to `limit` queued analyses of a model: {"analyses": [...], "remaining": n}.

        Not retried once the request may have reached the server (a lost answer would leave
        the analyses leased to this worker until the lease expires).
        """
        payload: dict[str, Any] = {
            "worker_id": worker_id,
            "model_name": model_name,
            "limit": limit,
            "lease_seconds": lease_seconds,
        }
        if model_version is not None:
            payload["model_version"] = model_version
        if project_id is not None:
            payload["project_id"] = str(project_id)
        return self._request(
            "POST", "/api/analyses:claim", payload=payload, signed=True, safe=False
        ).json()

    def heartbeat(
        self, analysis_id: str, worker_id: str, lease_seconds: int = 120
    ) -> dict[str, Any]:
        """Extend the lease; LookoutAPIError 409 when this worker no longer holds it."""
        payload = {"worker_id": worker_id, "lease_seconds": lease_seconds}
        return self._request(
            "POST", f"/api/analyses/{analysis_id}/heartbeat", payload=payload, signed=True
        ).json()

    def release(self, analysis_id: str, worker_id: str) -> dict[str, Any]:
        """Give the analysis back to the queue unprocessed (409 when not held)."""
        return self._request(
            "POST",
            f"/api/analyses/{analysis_id}/release",
            payload={"worker_id": worker_id},
            signed=True,
        ).json()

    def download_image(self, analysis: Mapping[str, Any] | str) -> bytes:
        """The bytes of the image of a claimed analysis (its `image_url`, or its id)."""
        if isinstance(analysis, str):
            path = f"/api/analyses/{analysis}/image"
        else:
            path = str(analysis.get("image_url") or f"/api/analyses/{analysis['id']}/image")
        return self._request("GET", path, signed=True).content

    def queue(
        self,
        project_id: str,
        model_name: str,
        model_version: str = "",
        *,
        parameters: dict[str, Any] | None = None,
        sequence_id: str | None = None,
        captured_after: datetime | str | None = None,
        captured_before: datetime | str | None = None,
        limit: int | None = None,
        retry_failed: bool = False,
    ) -> dict[str, Any]:
        """Queue the model over a project (user call: the API key, or local mode).

        {"queued": n, "already_present": m, "over_limit": k}; safe to repeat.
        """
        payload: dict[str, Any] = {
            "model_name": model_name,
            "model_version": model_version,
            "parameters": parameters or {},
        }
        optional = {
            "sequence_id": sequence_id,
            "captured_after": _iso(captured_after),
            "captured_before": _iso(captured_before),
            "limit": limit,
        }
        payload.update(
            {k: str(v) if k == "sequence_id" else v for k, v in optional.items() if v is not None}
        )
        if retry_failed:
            payload["retry_failed"] = True
        return self._request(
            "POST", f"/api/projects/{project_id}/analyses:queue", payload=payload, signed=False
        ).json()
