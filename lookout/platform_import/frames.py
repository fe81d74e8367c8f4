"""A sequence's frames into Lookout: fetched by Lookout from their URL, else by the importer.

Via the server, frames with a URL go in batches of ``FRAMES_PER_BATCH``; a frame Lookout could
not fetch (502) is downloaded here and uploaded, one that failed otherwise is sent again alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from lookout.httpretry import RetryPolicy, TransportFailure, error_detail, send
from lookout.platform_import.lookout_client import LookoutClient, LookoutError
from lookout.platform_import.payloads import frame_from_url, frame_metadata
from lookout.platform_import.platform_client import PlatformClient, PlatformError
from lookout.platform_import.platform_models import PlatformDetection

log = logging.getLogger(__name__)

# Frames the server fetches in one request (a sequence of the platform has 1 to ~30).
FRAMES_PER_BATCH = 10
FALLBACK = "Lookout could not fetch the frame of detection %d (%s); downloading it here instead"


class FrameFailed(Exception):
    """A frame that could not be downloaded here."""


@dataclass(frozen=True)
class FrameResult:
    """What happened to one frame."""

    detection_id: int
    status: str  # "created", "existing" or "failed"
    error: str | None = None


@dataclass(frozen=True)
class SequenceFrames:
    """The frames of one platform sequence, and where they go."""

    client: PlatformClient  # the login that can read the sequence (fresh frame URLs)
    platform_id: int
    sequence_id: str  # in Lookout
    detections: list[PlatformDetection]


class FrameStore:
    """Stores frames through Lookout (``via_server``) or through the importer."""

    def __init__(
        self,
        lookout: LookoutClient,
        http: httpx.Client,
        policy: RetryPolicy,
        pool: ThreadPoolExecutor,
        platform_calls: threading.Semaphore,
        *,
        via_server: bool,
    ) -> None:
        """``pool`` runs the frames sent one by one; each call that reaches the platform (a
        download here, or a request in which Lookout fetches) holds one of ``platform_calls``."""
        self.lookout = lookout
        self.http = http
        self.policy = policy
        self.pool = pool
        self.platform_calls = platform_calls
        self.via_server = via_server

    def store(self, frames: SequenceFrames) -> list[FrameResult]:
        """Every frame's result: batches from this thread, the others through the pool."""
        batched = [d for d in frames.detections if self.via_server and d.url]
        alone = [d for d in frames.detections if not (self.via_server and d.url)]
        pending = self.pool.map(lambda d: self._store_one(frames, d), alone)
        results: list[FrameResult] = []
        for start in range(0, len(batched), FRAMES_PER_BATCH):
            results += self._store_batch(frames, batched[start : start + FRAMES_PER_BATCH])
        results += pending
        return results

    def _store_batch(
        self, frames: SequenceFrames, batch: list[PlatformDetection]
    ) -> list[FrameResult]:
        """Frames the server fetches in one request; a frame it could not store goes alone."""
        try:
            with self.platform_calls:  # Lookout fetches them, one at a time
                answers = self.lookout.add_frames_from_urls(
                    frames.sequence_id, [frame_from_url(d) for d in batch]
                )
        except (LookoutError, TransportFailure) as exc:
            log.warning(
                "sequence %d: %d frames could not be sent together (%s); sending them one by one",
                frames.platform_id,
                len(batch),
                exc,
            )
            return [self._store_one(frames, d) for d in batch]
        return [self._batch_result(frames, d, a) for d, a in zip(batch, answers, strict=True)]

    def _batch_result(
        self, frames: SequenceFrames, det: PlatformDetection, answer: object
    ) -> FrameResult:
        """One frame's answer within a batch; an error sends the frame again, alone."""
        status = answer.get("status") if isinstance(answer, dict) else None
        if status in (200, 201):
            return FrameResult(det.id, "existing" if status == 200 else "created")
        detail = answer.get("detail") if isinstance(answer, dict) else answer
        if status == 502:
            log.warning(FALLBACK, det.id, detail)
        else:  # e.g. storage unavailable: retried alone, with the retry policy
            log.info("frame of detection %d: %s (%s); sent alone", det.id, status, detail)
        return self._store_one(frames, det, via_server=status != 502)

    def _store_one(
        self, frames: SequenceFrames, det: PlatformDetection, *, via_server: bool = True
    ) -> FrameResult:
        """Store one frame; any error is this frame's result, never an exception."""
        try:
            return self._store_steps(frames, det, via_server)
        except (PlatformError, LookoutError, TransportFailure, FrameFailed) as exc:
            log.warning("frame of detection %d failed: %s", det.id, exc)
            return FrameResult(det.id, "failed", str(exc))
        except Exception as exc:  # a bug must not stop the other frames
            log.exception("frame of detection %d: unexpected error", det.id)
            return FrameResult(det.id, "failed", repr(exc))

    def _store_steps(
        self, frames: SequenceFrames, det: PlatformDetection, via_server: bool
    ) -> FrameResult:
        """Via the server (it fetches the URL); on a 502 or by choice, via the importer."""
        if via_server and self.via_server and det.url:
            try:
                with self.platform_calls:
                    made = self.lookout.add_frame_from_url(frames.sequence_id, frame_from_url(det))
                return FrameResult(det.id, "existing" if made.existing else "created")
            except LookoutError as exc:
                if exc.status != 502:
                    raise
                log.warning(FALLBACK, det.id, exc)
        with self.platform_calls:
            content, content_type = self._download(frames.client, det)
        name = det.bucket_key or f"detection-{det.id}.jpg"
        made = self.lookout.add_frame_file(
            frames.sequence_id, content, name, content_type, frame_metadata(det)
        )
        return FrameResult(det.id, "existing" if made.existing else "created")

    def _download(self, client: PlatformClient, det: PlatformDetection) -> tuple[bytes, str]:
        """The frame's bytes; an expired or missing URL is replaced by a fresh one once."""
        url = det.url or client.detection_url(det.id)
        response = send(self.http, "GET", url, policy=self.policy, logger=log)
        if response.status_code in (403, 404) and det.url:
            url = client.detection_url(det.id)
            response = send(self.http, "GET", url, policy=self.policy, logger=log)
        if response.status_code != 200:
            raise FrameFailed(
                f"could not download the frame: HTTP {response.status_code} "
                f"{error_detail(response, 120)}"
            )
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if not content_type.startswith("image/"):
            raise FrameFailed(f"the frame URL answered {content_type or 'no content type'}")
        return response.content, content_type


def flat_boxes(detections: Iterable[PlatformDetection], created: set[int]) -> int:
    """Boxes without area (left out) on the frames just created."""
    return sum(not b.has_area for d in detections if d.id in created for b in d.boxes)
