"""Load: concurrent pipelines posting signed bulk annotations, resending as retrying clients do.

Each pipeline is a thread with its own keep-alive connection to `lookout serve --workers 2`: it
creates analyses (API key) and posts signed batches (v1, a fresh nonce per attempt, one
Idempotency-Key per batch) until the time is up. Every 10th batch is sent twice (a retry whose
first answer was lost), and every 25th is first sent with a timeout too short to wait for the
answer, then resent as a client does after its timeout. Nothing may answer 5xx, and the stored
annotations must be exactly the batches sent, each once.

CI size: 8 pipelines for 8 s; `LOOKOUT_RELIABILITY_FULL=1`: 32 pipelines for 60 s.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from bench.common import bulk_body
from tests.reliability.record import record, size
from tests.reliability.server_support import (
    Database,
    ServeProcess,
    backend_of,
    create_analysis,
    create_project,
    fresh_postgres_url,
    new_key,
    post_bulk,
    serving,
    upload_image,
)

RESEND_EVERY = 10  # a retry after a lost answer
TIMEOUT_EVERY = 25  # a retry after a client-side timeout
POSTS_PER_ANALYSIS = 20
SHORT_TIMEOUT = 0.001  # seconds: the answer is never waited for


@dataclass
class Figures:
    """What all pipelines sent and got back (updated under a lock)."""

    codes: Counter[int] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    requests: int = 0
    resends: int = 0
    timeouts: int = 0
    batches: int = 0
    sent_once: int = 0
    analyses: list[str] = field(default_factory=list)
    elapsed: float = 0.0  # seconds from the first post to the last answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, response: httpx.Response) -> httpx.Response:
        with self.lock:
            self.requests += 1
            self.codes[response.status_code] += 1
            if response.status_code != 201:
                self.problems.append(f"{response.status_code} {response.text[:300]}")
        return response


class Pipeline:
    """One pipeline's loop of signed bulk posts against its own analyses."""

    def __init__(
        self, url: str, api_key: str, image: str, index: int, batch: int, figures: Figures
    ) -> None:
        self.client = httpx.Client(base_url=url, headers={"X-API-Key": api_key}, timeout=120)
        self.image = image
        self.index = index
        self.batch = batch
        self.figures = figures
        # A few bodies made up front: building JSON is the client's cost, not the server's.
        self.bodies = [bulk_body(batch, seed=index * 10 + i) for i in range(4)]

    def run(self, deadline: float) -> None:
        posts = 0
        analysis = ""
        try:
            while time.monotonic() < deadline:
                if posts % POSTS_PER_ANALYSIS == 0:
                    analysis = create_analysis(self.client, self.image, f"load-{self.index}")
                    with self.figures.lock:
                        self.figures.analyses.append(analysis)
                self.post(analysis, self.bodies[posts % len(self.bodies)], posts)
                posts += 1
        except Exception as exc:  # reported by the test, not lost in a thread
            with self.figures.lock:
                self.figures.problems.append(f"pipeline {self.index}: {exc!r}")
        finally:
            self.client.close()

    def post(self, analysis: str, body: bytes, n: int) -> None:
        key = new_key()
        figures = self.figures
        if n % TIMEOUT_EVERY == TIMEOUT_EVERY - 1:
            try:
                figures.answer(post_bulk(self.client, analysis, body, key, timeout=SHORT_TIMEOUT))
            except httpx.TimeoutException:
                with figures.lock:
                    figures.requests += 1
                    figures.timeouts += 1
            first = figures.answer(post_bulk(self.client, analysis, body, key))
            resent = True
        else:
            first = figures.answer(post_bulk(self.client, analysis, body, key))
            resent = False
            if n % RESEND_EVERY == RESEND_EVERY - 1:
                again = figures.answer(post_bulk(self.client, analysis, body, key))
                if again.headers.get("Idempotent-Replayed") != "true" or (
                    again.json() != first.json()
                ):
                    with figures.lock:
                        figures.problems.append("a resend was not answered from the record")
                resent = True
        with figures.lock:
            figures.resends += resent
            if first.status_code == 201:
                figures.batches += 1
                figures.sent_once += self.batch


def _run_load(url: str, db: Database, pipelines: int, seconds: float, batch: int) -> Figures:
    api_key = db.api_key("pipelines@example.org")
    with httpx.Client(base_url=url, headers={"X-API-Key": api_key}, timeout=60) as client:
        project = create_project(client, "load")
        # One image per pipeline: at most 200 analyses per image (ML_MAX_ANALYSES_PER_IMAGE).
        images = [upload_image(client, project, seed=i) for i in range(pipelines)]
    figures = Figures()
    workers = [Pipeline(url, api_key, images[i], i, batch, figures) for i in range(pipelines)]
    started = time.monotonic()
    threads = [threading.Thread(target=w.run, args=(started + seconds,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures.elapsed = time.monotonic() - started
    return figures


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_concurrent_pipelines_with_retries_store_every_batch_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Concurrent pipelines posting signed batches for a while, some resent with the same
    Idempotency-Key (after a lost answer or a client-side timeout): zero 5xx, and the stored
    annotation count equals exactly the annotations of the batches sent, each counted once."""
    if backend == "postgres":
        url = fresh_postgres_url(request)
        pipelines, seconds = size(8, 32), size(8, 60)
    else:  # SQLite serializes writers (one at a time): the same load must still get through
        import shutil

        database = tmp_path / "lookout.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), database)
        url = f"sqlite:///{database}"
        pipelines, seconds = size(8, 32), size(8, 60)
    batch = size(200, 500)
    db = Database(url)
    server = ServeProcess(url, tmp_path / "data", workers=2)
    with serving(server):
        figures = _run_load(server.url, db, pipelines, seconds, batch)
    stored_by_analysis = db.predictions_by_analysis()
    stored = sum(stored_by_analysis.get(a, 0) for a in figures.analyses)
    log = server.log_text()
    db.close()
    server_errors = sum(n for code, n in figures.codes.items() if code >= 500)
    record(
        f"load: concurrent pipelines, retries ({backend_of(url)})",
        pipelines=pipelines,
        seconds=seconds,
        batch_size=batch,
        server_workers=2,
        requests_sent=figures.requests,
        resends=figures.resends,
        client_timeouts_injected=figures.timeouts,
        server_errors=server_errors,
        batches_sent_once=figures.batches,
        annotations_sent_once=figures.sent_once,
        annotations_stored=stored,
        annotations_lost=max(0, figures.sent_once - stored),
        annotations_duplicated=max(0, stored - figures.sent_once),
        stored_per_second=round(stored / figures.elapsed),
        requests_per_second=round(figures.requests / figures.elapsed, 1),
    )
    assert figures.problems == []
    assert server_errors == 0
    assert "Traceback" not in log, log[-3000:]
    assert figures.batches > pipelines  # the load really ran
    assert stored == figures.sent_once
