"""The worker loop: claim → download the image → detect → post boxes and overlay → finalize.

A worker is a client of a Lookout server over HTTP: it signs every call with the callback
secret (v1 scheme) and needs no user API key. It serves one or more models (an ONNX file each),
claims up to `batch_size` analyses at a time whenever fewer than `concurrency` are in hand,
processes `concurrency` of them at once in threads, and keeps the lease of every analysis it
holds alive with heartbeats from a separate thread. Before posting anything it renews the lease
one last time (the fence): an analysis whose lease was lost (it went back to the queue and
another worker may hold it) is dropped without writing. Annotations are posted with
`mode=replace`, so a retry after a crashed attempt never leaves two sets of boxes.

Stopping (SIGINT/SIGTERM, or `Worker.stop()`): no new claims; analyses being processed are
finished; claimed ones not started yet are released back to the queue.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from lookout.pipeline.client import LookoutAPIError
from lookout.pipeline.queue import QueueClient
from lookout.worker.config import (
    EXIT_CONFIG,
    EXIT_FAILURES,
    EXIT_INTERRUPTED,
    EXIT_NO_MODEL,
    EXIT_OK,
    EXIT_SERVER,
    PAUSE_ENV,
    ConfigError,
    ModelSpec,
    WorkerConfig,
    default_worker_id,
    pause_from_env,
)
from lookout.worker.detector import Detection, Detector, ImageError, ModelError, decode_image
from lookout.worker.overlay import draw_overlay
from lookout.worker.progress import Progress

# The worker's Python API (settings and exit codes live in `config`).
__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILURES",
    "EXIT_INTERRUPTED",
    "EXIT_NO_MODEL",
    "EXIT_OK",
    "EXIT_SERVER",
    "ConfigError",
    "LeaseLost",
    "ModelSpec",
    "ServerRefused",
    "Stats",
    "Worker",
    "WorkerConfig",
    "default_worker_id",
    "pause_from_env",
]

log = logging.getLogger("lookout.worker")

OVERLAY_NAME = "detections.png"


class LeaseLost(Exception):
    """The analysis is no longer held by this worker."""


class ServerRefused(Exception):
    """The server answered in a way retrying cannot fix (bad secret, wrong URL)."""


@dataclass
class Stats:
    claimed: int = 0
    completed: int = 0
    failed: int = 0
    released: int = 0
    lost: int = 0
    detections: int = 0

    @property
    def finished(self) -> int:
        return self.completed + self.failed + self.released + self.lost


@dataclass
class _Served:
    spec: ModelSpec
    detector: Detector | None
    error: str | None = None
    disabled: bool = False


class Worker:
    """One worker process: see the module docstring."""

    def __init__(
        self,
        config: WorkerConfig,
        *,
        client: QueueClient | None = None,
        detector_factory: Callable[..., Detector] = Detector,
        console: Any = None,
    ) -> None:
        config.validate()
        self.config = config
        self.client = client or QueueClient(
            config.api_url,
            config.hmac_secret,
            key_id=config.key_id,
            timeout=config.timeout,
            retries=config.retries,
        )
        # Heartbeats get their own connection pool and give up quickly: the next beat retries.
        self._beats = QueueClient(
            config.api_url,
            config.hmac_secret,
            key_id=config.key_id,
            timeout=min(config.timeout, 10.0),
            retries=1,
        )
        self._detector_factory = detector_factory
        self.stats = Stats()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._slot = threading.Condition(self._lock)
        self._held: dict[str, dict[str, Any]] = {}
        self._lost: dict[str, str] = {}
        self._fatal: str | None = None
        self._served: list[_Served] = []
        self._remaining: dict[str, int] = {}
        self._progress = Progress(False, None)
        self._console = console

    # --- control -------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; finish what is being processed, give back what is not started."""
        self._stop.set()
        with self._slot:
            self._slot.notify_all()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        self.client.close()
        self._beats.close()

    # --- the loop ------------------------------------------------------------------------

    def load_models(self) -> list[_Served]:
        served = []
        cfg = self.config
        for spec in cfg.models:
            try:
                detector = self._detector_factory(
                    spec.path,
                    confidence=cfg.confidence,
                    iou=cfg.iou,
                    max_detections=cfg.max_detections,
                    class_names=cfg.class_names,
                    threads=cfg.threads_per_model,
                )
            except ModelError as exc:
                log.error("model %s cannot be used: %s", spec.label, exc)
                served.append(_Served(spec, None, str(exc)))
                continue
            log.info(
                "serving model %s from %s (input %dx%d, %s classes)",
                spec.label,
                spec.path,
                detector.input_width,
                detector.input_height,
                detector.num_classes or "unknown",
            )
            served.append(_Served(spec, detector))
        return served

    def run(self) -> int:
        """Work until stopped, the limit is reached or (with drain) the queue is empty."""
        cfg = self.config
        self._served = self.load_models()
        show = cfg.progress if cfg.progress is not None else _stderr_is_terminal()
        self._progress = Progress(show, cfg.limit, self._console)
        beats = threading.Thread(target=self._heartbeats, name="heartbeats", daemon=True)
        beats.start()
        executor = ThreadPoolExecutor(cfg.concurrency, thread_name_prefix="analysis")
        log.info(
            "worker %s started: %s, batch %d, concurrency %d, lease %ds",
            cfg.worker_id,
            cfg.api_url,
            cfg.batch_size,
            cfg.concurrency,
            cfg.lease_seconds,
        )
        try:
            self._loop(executor)
        finally:
            # Claimed analyses still run to the end (a stop request releases them instead).
            executor.shutdown(wait=True)
            self._stop.set()
            self._done.set()
            beats.join(timeout=5)
            self._progress.stop()
        s = self.stats
        log.info(
            "worker %s done: %d completed, %d failed, %d released, %d lost (%d detections)",
            cfg.worker_id,
            s.completed,
            s.failed,
            s.released,
            s.lost,
            s.detections,
        )
        return self.exit_code()

    def exit_code(self) -> int:
        if self._fatal is not None:
            return EXIT_SERVER
        if self._served and all(s.detector is None for s in self._served):
            return EXIT_NO_MODEL
        return EXIT_FAILURES if self.stats.failed else EXIT_OK

    def _loop(self, executor: ThreadPoolExecutor) -> None:
        """Claim while there is room, hand the analyses out; until stopped, done or refused."""
        cfg = self.config
        idle = cfg.poll_seconds
        rotation = itertools.count()
        while self._may_claim():
            held = self._wait_for_room()
            if self._stop.is_set():
                break
            active = [s for s in self._served if not s.disabled]
            if not active:
                log.error("no usable model left; stopping")
                break
            claimed = self._claim(active, next(rotation))
            if claimed is None:  # the server could not be asked
                if self._fatal is not None:
                    break
                idle = self._idle(idle)
                continue
            if not claimed:
                if cfg.drain and held == 0:
                    log.info("the queue is empty")
                    break
                idle = self._wait_for_own_work(idle) if cfg.drain else self._idle(idle)
                continue
            idle = cfg.poll_seconds
            for analysis, served in claimed:
                future = executor.submit(self._run_one, analysis, served)
                future.add_done_callback(_log_crash)

    def _may_claim(self) -> bool:
        """Neither stopping nor at the limit of analyses to take."""
        limit = self.config.limit
        reached = limit is not None and self.stats.claimed >= limit
        return not self._stop.is_set() and not reached

    def _wait_for_room(self) -> int:
        """Wait until fewer than `concurrency` analyses are held (or stopping); how many are."""
        with self._slot:
            while len(self._held) >= self.config.concurrency and not self._stop.is_set():
                self._slot.wait(timeout=1.0)
            return len(self._held)

    def _claim(
        self, active: list[_Served], turn: int
    ) -> list[tuple[dict[str, Any], _Served]] | None:
        """A claimed batch (perhaps empty), or None when the server could not be asked.

        A refusal retrying cannot fix, or an unreachable server while draining, ends the run
        (``_fatal`` says why).
        """
        cfg = self.config
        want = (
            cfg.batch_size
            if cfg.limit is None
            else min(cfg.batch_size, cfg.limit - self.stats.claimed)
        )
        try:
            return self._claim_round(active, turn, want)
        except ServerRefused as exc:
            self._fatal = str(exc)
            log.error("%s", exc)
        except (httpx.TransportError, LookoutAPIError) as exc:
            log.warning("could not claim work from %s: %s", cfg.api_url, exc)
            if cfg.drain:
                self._fatal = f"could not reach {cfg.api_url}: {exc}"
        return None

    def _idle(self, idle: float) -> float:
        """Wait `idle` seconds (less if stopped); the next wait is twice as long, up to the max."""
        self._stop.wait(idle)
        return min(idle * 2, self.config.max_poll_seconds)

    def _wait_for_own_work(self, idle: float) -> float:
        """Draining: wait for the analyses in hand to finish, then look at the queue once more."""
        with self._slot:
            if self._held:
                self._slot.wait(timeout=idle)
        return idle

    def _claim_round(
        self, active: list[_Served], turn: int, want: int
    ) -> list[tuple[dict[str, Any], _Served]]:
        """Claim for the models in turn (rotating who goes first) until one has work."""
        cfg = self.config
        for i in range(len(active)):
            served = active[(turn + i) % len(active)]
            try:
                answer = self.client.claim(
                    cfg.worker_id,
                    served.spec.name,
                    model_version=served.spec.version,
                    project_id=cfg.project_id,
                    limit=want,
                    lease_seconds=cfg.lease_seconds,
                )
            except LookoutAPIError as exc:
                if exc.status_code in {400, 401, 403, 404, 405, 422}:  # retrying cannot help
                    raise ServerRefused(
                        f"the server at {cfg.api_url} refused the claim ({exc}); check the URL, "
                        "ML_CALLBACK_HMAC_SECRET and the worker's options"
                    ) from exc
                raise
            analyses = answer.get("analyses", [])
            self._remaining[served.spec.label] = int(answer.get("remaining", 0))
            if answer.get("requeued") or answer.get("failed"):
                log.info(
                    "expired leases: %s back in the queue, %s failed for good",
                    answer.get("requeued", 0),
                    answer.get("failed", 0),
                )
            if not analyses:
                continue
            with self._slot:
                for analysis in analyses:
                    self._held[analysis["id"]] = analysis
                self.stats.claimed += len(analyses)
            if served.detector is None:
                served.disabled = True  # fail this batch with the reason, then claim no more
            if self.config.limit is None:
                total = self.stats.finished + len(self._held) + sum(self._remaining.values())
                self._progress.set_total(total)
            log.debug("claimed %d analyses of %s", len(analyses), served.spec.label)
            return [(a, served) for a in analyses]
        return []

    # --- one analysis --------------------------------------------------------------------

    def _run_one(self, analysis: dict[str, Any], served: _Served) -> None:
        analysis_id = analysis["id"]
        outcome = "released"
        try:
            self.after_claim(analysis)
            if self._stop.is_set():
                self._release(analysis_id)
                return
            outcome = self._process(analysis, served)
        except LeaseLost as exc:
            outcome = "lost"
            with self._lock:
                self.stats.lost += 1
            log.warning("analysis %s: %s; dropped without writing", analysis_id, exc)
        except httpx.TransportError as exc:
            outcome = "abandoned"
            log.error(
                "analysis %s: lost contact with the server (%s); its lease will expire "
                "and it goes back to the queue",
                analysis_id,
                exc,
            )
        except Exception as exc:  # a bug or an unexpected answer: report it on the analysis
            log.exception("analysis %s: unexpected error", analysis_id)
            outcome = self._fail(analysis, f"worker error: {type(exc).__name__}: {exc}")
        finally:
            with self._slot:
                self._held.pop(analysis_id, None)
                self._lost.pop(analysis_id, None)
                self._slot.notify_all()
            self._progress.advance(f"{served.spec.label}: {outcome}")

    def after_claim(self, analysis: dict[str, Any]) -> None:
        """Called in the analysis's thread before any work (the test hook's pause lives here)."""
        if self.config.pause_after_claim and not self._stop.is_set():
            log.info(
                "analysis %s: pausing %.1f s (%s)",
                analysis["id"],
                self.config.pause_after_claim,
                PAUSE_ENV,
            )
            self._stop.wait(self.config.pause_after_claim)

    def _process(self, analysis: dict[str, Any], served: _Served) -> str:
        analysis_id = analysis["id"]
        if served.detector is None:
            return self._fail(
                analysis, f"model {served.spec.label} could not be loaded: {served.error}"
            )
        started = time.perf_counter()
        try:
            data = self.client.download_image(analysis)
        except LookoutAPIError as exc:
            if exc.status_code == 404:
                return self._fail(analysis, f"could not download the image: {exc.detail}")
            raise
        self._check_held(analysis_id)
        params = analysis.get("parameters") or {}
        detector = served.detector
        confidence = _number(params.get("confidence_threshold"), detector.confidence, 0.0, 1.0)
        iou = _number(params.get("iou_threshold"), detector.iou, 1e-6, 1.0)
        try:
            image = decode_image(data)
            if (image.width, image.height) != (analysis["width"], analysis["height"]):
                raise ImageError(
                    f"the image decodes to {image.width}x{image.height} but Lookout recorded "
                    f"{analysis['width']}x{analysis['height']}"
                )
            inference_started = time.perf_counter()
            detections = detector.detect(image, confidence=confidence, iou=iou)
            inference_ms = (time.perf_counter() - inference_started) * 1000
            png = draw_overlay(image, detections) if self.config.overlay else None
        except (ImageError, ModelError) as exc:
            return self._fail(analysis, str(exc))
        self._fence(analysis_id)
        if png is not None:
            self.client.upload_file(analysis_id, OVERLAY_NAME, png, "image/png")
        self.client.submit_annotations(analysis_id, _annotations(detections), replace=True)
        summary = self._summary(
            analysis,
            served,
            detections,
            started,
            inference_ms,
            confidence=confidence,
            iou=iou,
            overlay=png is not None,
        )
        self.client.finalize_analysis(analysis_id, "completed", summary)
        with self._lock:
            self.stats.completed += 1
            self.stats.detections += len(detections)
        log.info(
            "analysis %s (image %s): %d detections %s in %.0f ms",
            analysis_id,
            analysis["image_id"],
            len(detections),
            dict(summary["classes"]),
            summary["processing_time_ms"],
        )
        return "completed"

    def _summary(
        self,
        analysis: dict[str, Any],
        served: _Served,
        detections: list[Detection],
        started: float,
        inference_ms: float,
        *,
        confidence: float,
        iou: float,
        overlay: bool,
    ) -> dict[str, Any]:
        detector = served.detector
        assert detector is not None
        classes = Counter(d.class_name for d in detections)
        return {
            "total_detections": len(detections),
            "classes": dict(sorted(classes.items())),
            "processing_time_ms": round((time.perf_counter() - started) * 1000, 1),
            "inference_time_ms": round(inference_ms, 1),
            "confidence_threshold": confidence,
            "iou_threshold": iou,
            "image_size": [analysis["width"], analysis["height"]],
            "model": {
                "name": served.spec.name,
                "version": analysis.get("model_version"),
                "file": served.spec.path.name,
                "sha256": detector.sha256,
                "input_size": [detector.input_width, detector.input_height],
            },
            "overlay": OVERLAY_NAME if overlay else None,
            "worker_id": self.config.worker_id,
            "attempt": analysis.get("attempts"),
        }

    def _fail(self, analysis: dict[str, Any], message: str) -> str:
        """Finalize as failed with the reason (if this worker still holds the analysis)."""
        analysis_id = analysis["id"]
        try:
            self._fence(analysis_id)
            self.client.finalize_analysis(
                analysis_id,
                "failed",
                {"error": message, "worker_id": self.config.worker_id},
                error_message=message,
            )
        except LeaseLost as exc:
            with self._lock:
                self.stats.lost += 1
            log.warning("analysis %s: %s; not marked failed", analysis_id, exc)
            return "lost"
        except (httpx.TransportError, LookoutAPIError) as exc:
            log.error(
                "analysis %s failed (%s) and could not be finalized: %s", analysis_id, message, exc
            )
            return "error"
        with self._lock:
            self.stats.failed += 1
        log.warning("analysis %s failed: %s", analysis_id, message)
        return "failed"

    def _release(self, analysis_id: str) -> None:
        try:
            self.client.release(analysis_id, self.config.worker_id)
        except (httpx.TransportError, LookoutAPIError) as exc:
            log.warning(
                "could not release analysis %s (its lease will expire): %s", analysis_id, exc
            )
            return
        with self._lock:
            self.stats.released += 1
        log.info("analysis %s released back to the queue", analysis_id)

    def _check_held(self, analysis_id: str) -> None:
        with self._lock:
            reason = self._lost.get(analysis_id)
        if reason is not None:
            raise LeaseLost(reason)

    def _fence(self, analysis_id: str) -> None:
        """Renew the lease right before writing; LeaseLost when another worker may hold it."""
        self._check_held(analysis_id)
        try:
            self.client.heartbeat(analysis_id, self.config.worker_id, self.config.lease_seconds)
        except LookoutAPIError as exc:
            if exc.status_code in {404, 409}:
                raise LeaseLost(exc.detail) from exc
            raise

    # --- heartbeats ----------------------------------------------------------------------

    def _heartbeats(self) -> None:
        cfg = self.config
        while not self._done.wait(cfg.heartbeat_interval):
            with self._lock:
                held = [a for a in self._held if a not in self._lost]
            for analysis_id in held:
                try:
                    self._beats.heartbeat(analysis_id, cfg.worker_id, cfg.lease_seconds)
                except LookoutAPIError as exc:
                    if exc.status_code in {404, 409}:
                        with self._lock:
                            self._lost[analysis_id] = exc.detail
                        log.warning("analysis %s: lease lost: %s", analysis_id, exc.detail)
                    else:
                        log.warning("heartbeat of %s failed: %s", analysis_id, exc)
                except httpx.TransportError as exc:
                    log.warning("heartbeat of %s failed: %s", analysis_id, exc)


def _annotations(detections: list[Detection]) -> list[dict[str, Any]]:
    return [
        {
            "annotation_type": "bounding_box",
            "class_name": d.class_name,
            "confidence": d.confidence,
            "id": f"det-{i}",
            "data": {"bbox": d.xyxy, "format": "xyxy", "class_id": d.class_id},
        }
        for i, d in enumerate(detections)
    ]


def _number(value: Any, default: float, low: float, high: float) -> float:
    """A threshold from the analysis parameters, or the worker's own when absent or invalid."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value) if low <= value <= high else default


def _stderr_is_terminal() -> bool:
    import sys

    return sys.stderr.isatty()


def _log_crash(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:  # _run_one catches everything; this is a last resort
        log.error("analysis task crashed: %r", exc)
