"""Server-side faults: a server killed mid-post, two servers on one database, concurrent SQLite
writers, and object storage going away during uploads.

Every scenario runs the real `lookout serve` (subprocesses, so they can be SIGKILLed) or the
real app under uvicorn, against the session's PostgreSQL, SQLite files and moto S3, and records
its figures with `record(...)` for docs/reliability.md.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import sqlalchemy as sa

from bench.common import bulk_body
from lookout.accounts import service as accounts
from lookout.analyses.models import Artifact, ArtifactState
from lookout.images.models import Image
from tests.analyses.ml_support import Setup, make_setup
from tests.reliability.record import record, size
from tests.reliability.server_support import (
    Database,
    ServeProcess,
    StorageSwitch,
    backend_of,
    bulk_path,
    create_analysis,
    create_project,
    fresh_postgres_url,
    new_key,
    post_bulk,
    serving,
    signed_headers,
    upload_image,
)
from tests.support import HTTP_TIMEOUT, http_put, jpeg_bytes, png_bytes, wait_until


class Tally:
    """Counts every answer of a scenario: status codes, and any 5xx or "database is locked"."""

    def __init__(self) -> None:
        self.codes: Counter[int] = Counter()
        self.problems: list[str] = []
        self._lock = threading.Lock()

    def note(self, response: httpx.Response) -> httpx.Response:
        with self._lock:
            self.codes[response.status_code] += 1
            if response.status_code >= 500 or "locked" in response.text:
                self.problems.append(f"{response.status_code} {response.text[:300]}")
        return response

    @property
    def sent(self) -> int:
        return sum(self.codes.values())

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.codes.items() if code >= 500)


class Calls(Tally):
    """A Tally that also runs requests concurrently from a thread pool."""

    def __init__(self, threads: int) -> None:
        super().__init__()
        self.pool = ThreadPoolExecutor(threads)

    def run(self, *calls: Any) -> list[httpx.Response]:
        """Run (function, args...) tuples at once; their responses in the order given."""
        futures = [self.pool.submit(call[0], *call[1:]) for call in calls]
        return [self.note(future.result()) for future in futures]

    def close(self) -> None:
        self.pool.shutdown()


# --- 1. the server killed during a bulk post ---------------------------------------------------


def _kill_moments(duration: float, count: int) -> list[float]:
    """`count` moments spread over a post's life (seconds after it starts)."""
    return [duration * (0.1 + 0.9 * (i + 0.5) / count) for i in range(count)]


def _wait_for_commit(db: Database, key: str, timeout: float = 60.0) -> None:
    """Return as soon as the batch's Idempotency-Key record is committed."""
    deadline = time.monotonic() + timeout
    while not db.idempotency_key_stored(key):
        assert time.monotonic() < deadline, "the batch was never committed"
        time.sleep(0.002)


def _wait_for_insert(db: Database, timeout: float = 60.0) -> None:
    """PostgreSQL: return once the batch's INSERT statement is running."""
    deadline = time.monotonic() + timeout
    while not db.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
        "AND datname = current_database() AND query LIKE 'INSERT INTO predictions%'"
    ):
        assert time.monotonic() < deadline, "the batch's INSERT never ran"
        time.sleep(0.002)


class InFlight:
    """One bulk post running in a thread, so the server can be killed while it is in flight."""

    def __init__(self, url: str, analysis_id: str, body: bytes, key: str) -> None:
        self.response: httpx.Response | None = None
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, args=(url, analysis_id, body, key))
        self.thread.start()

    def _run(self, url: str, analysis_id: str, body: bytes, key: str) -> None:
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                self.response = post_bulk(client, analysis_id, body, key)
        except httpx.HTTPError as exc:
            self.error = exc

    def join(self) -> None:
        self.thread.join(timeout=120)
        assert not self.thread.is_alive()


def _kill_during_post(
    server: ServeProcess,
    db: Database,
    analysis: str,
    body: bytes,
    key: str,
    moment: float | str,
) -> tuple[int, bool]:
    """Post, SIGKILL the server at `moment` (seconds after the start, "insert": while its
    INSERT runs, "commit": right after it commits), restart it; the stored count of the
    analysis and whether the client got an answer before the kill."""
    post = InFlight(server.url, analysis, body, key)
    if moment == "commit":
        _wait_for_commit(db, key)
    elif moment == "insert":
        _wait_for_insert(db)
    else:
        time.sleep(float(moment))
    server.kill()
    post.join()
    stored = db.predictions(analysis)
    if post.response is not None:  # answered before the kill: it must be durable
        assert post.response.status_code == 201, post.response.text
        assert stored > 0
    server.start()
    return stored, post.response is not None


def _moment_label(moment: float | str, duration: float) -> str:
    return moment if isinstance(moment, str) else f"{moment / duration:.2f} of a post"


def test_server_killed_during_bulk_post_stores_all_or_nothing(
    database_url: str, tmp_path: Path
) -> None:
    """SIGKILL of `lookout serve` while a large signed bulk post is in flight, at moments spread
    over the request's life, while its INSERT runs (PostgreSQL) and right after its commit:
    after a restart every batch is wholly stored or wholly absent, an answered batch is stored,
    and the resend with the same Idempotency-Key (fresh signature) stores it exactly once."""
    batch = size(20_000, 50_000)
    db = Database(database_url)
    api_key = db.api_key("pipeline@example.org")
    server = ServeProcess(
        database_url, tmp_path / "data", env={"ML_MAX_ANNOTATIONS_PER_REQUEST": str(batch)}
    )
    outcomes: Counter[str] = Counter()
    points: list[str] = []
    with serving(server):
        with _keyed(server, api_key) as client:
            image = upload_image(client, create_project(client, "killed"))
            # How long one post takes here, to spread the kills over its whole life.
            probe = create_analysis(client, image)
            started = time.monotonic()
            assert post_bulk(client, probe, bulk_body(batch), new_key()).status_code == 201
            duration = time.monotonic() - started
            assert db.predictions(probe) == batch
            # Full size also kills at once, as the request arrives.
            moments: list[float | str] = [0.0] * size(0, 1)
            moments += [*_kill_moments(duration, size(2, 8)), "commit"]
            if backend_of(database_url) == "postgres":
                moments.append("insert")
            analyses = [create_analysis(client, image) for _ in moments]
        for attempt, (analysis, moment) in enumerate(zip(analyses, moments, strict=True)):
            body, key = bulk_body(batch, seed=attempt + 1), new_key()
            stored, answered = _kill_during_post(server, db, analysis, body, key, moment)
            outcomes["partial"] += stored not in (0, batch)
            assert stored in (0, batch), f"partial batch after a kill: {stored} of {batch}"
            assert stored == batch or moment != "commit"
            outcome = "whole" if stored else "absent"
            outcomes[outcome] += 1
            outcomes["whole_unanswered"] += bool(stored) and not answered
            outcomes["answered"] += answered
            points.append(f"{_moment_label(moment, duration)}: {outcome}")
            _resend_twice(server, api_key, db, analysis, body, key, stored, outcomes)
    stored_total = sum(db.predictions(a) for a in analyses)
    db.close()
    record(
        f"server killed during bulk post ({backend_of(database_url)})",
        batch_size=batch,
        kills=len(moments),
        kill_points="; ".join(points),
        batches_whole_after_kill=outcomes["whole"],
        batches_absent_after_kill=outcomes["absent"],
        partial_batches=outcomes["partial"],
        whole_but_unanswered=outcomes["whole_unanswered"],
        answered_before_kill=outcomes["answered"],
        resends=outcomes["resends"],
        resends_replayed=outcomes["replayed"],
        annotations_sent_once=len(moments) * batch,
        annotations_stored=stored_total,
        annotations_lost=len(moments) * batch - stored_total,
    )
    assert stored_total == len(moments) * batch


def _keyed(server: ServeProcess, api_key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-API-Key": api_key}, timeout=120)


def _resend_twice(
    server: ServeProcess,
    api_key: str,
    db: Database,
    analysis: str,
    body: bytes,
    key: str,
    stored: int,
    outcomes: Counter[str],
) -> None:
    """The pipeline retries after the restart with the same key and a fresh signature: stored
    once whatever the kill left, then always the stored answer."""
    batch = len(json.loads(body)["annotations"])
    with _keyed(server, api_key) as client:
        for _ in range(2):
            again = post_bulk(client, analysis, body, key)
            outcomes["resends"] += 1
            assert again.status_code == 201, again.text
            assert again.json()["created_count"] == batch
            was_replay = again.headers.get("Idempotent-Replayed") == "true"
            assert was_replay == bool(stored)
            outcomes["replayed"] += was_replay
            assert db.predictions(analysis) == batch
            stored = batch  # so the second resend must be a replay


# --- 2. two server processes on one PostgreSQL -------------------------------------------------


def _clients(servers: tuple[ServeProcess, ...], api_key: str) -> list[httpx.Client]:
    return [_keyed(server, api_key) for server in servers]


def _bulk_through_both(
    calls: Calls, clients: list[httpx.Client], db: Database, analyses: list[str], batch: int
) -> int:
    """Each batch (own key) goes to both processes at once, twice per analysis: every batch is
    stored once, the other copy answers the stored response. Returns the annotations sent once."""
    jobs, groups = [], []
    for n, analysis in enumerate(analyses):
        for copy in range(2):
            body, key = bulk_body(batch, seed=2 * n + copy), new_key()
            groups.append((analysis, len(jobs)))
            jobs += [(post_bulk, client, analysis, body, key) for client in clients]
    responses = calls.run(*jobs)
    for _analysis, first in groups:
        pair = responses[first : first + len(clients)]
        assert [r.status_code for r in pair] == [201] * len(clients), [r.text for r in pair]
        replays = [r.headers.get("Idempotent-Replayed") == "true" for r in pair]
        assert replays.count(False) == 1, "a batch was stored by both processes"
        # The same answer (PostgreSQL's JSONB keeps the values, not the key order).
        assert all(r.json() == pair[0].json() for r in pair), "the replay differs"
    for analysis in analyses:
        assert db.predictions(analysis) == 2 * batch
    return 2 * batch * len(analyses)


def _append_track(
    client: httpx.Client, sequence: str, marker: int, tally: Tally
) -> tuple[int, int]:
    """A person adding their track: read, save with the version read, reload on 409.
    Returns (saves refused as stale, status of the final save)."""
    note = tally.note
    stale = 0
    while True:
        current = note(client.get(f"/api/sequences/{sequence}/review"))
        assert current.status_code in (200, 404), current.text
        review = current.json() if current.status_code == 200 else {"tracks": [], "version": None}
        mine = {"decision": "smoke", "confidence": float(marker), "boxes": []}
        body = {"tracks": [*review["tracks"], mine], "version": review["version"]}
        saved = note(client.put(f"/api/sequences/{sequence}/review", json=body))
        if saved.status_code != 409:
            return stale, saved.status_code
        stale += 1


def _reviews_through_both(
    calls: Calls, clients: list[httpx.Client], project: str, writers: int
) -> tuple[int, int]:
    """Concurrent versioned saves of one review through both processes: every person's track
    ends up in the review exactly once. Returns (saves, stale saves refused)."""
    created = clients[0].post(
        "/api/sequences",
        json={
            "project_id": project,
            "source": "reliability",
            "source_id": "contested-review",
            "started_at": "2024-06-01T12:00:00Z",
        },
    )
    assert created.status_code == 201, created.text
    sequence = created.json()["id"]
    futures = [
        calls.pool.submit(_append_track, clients[i % len(clients)], sequence, i, calls)
        for i in range(writers)
    ]
    outcomes = [future.result() for future in futures]
    assert [status for _stale, status in outcomes] == [200] * writers
    final = clients[1].get(f"/api/sequences/{sequence}/review").json()
    assert sorted(t["confidence"] for t in final["tracks"]) == [float(i) for i in range(writers)]
    assert final["version"] == writers  # one insert (version 1), then one bump per save
    return writers, sum(stale for stale, _status in outcomes)


def _post_json(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(path, json=body)


def _upload(client: httpx.Client, project: str, seed: int) -> httpx.Response:
    files = {
        "file": (f"frame-{seed}.jpg", jpeg_bytes(64, 48, color=(seed % 256, 90, 30)), "image/jpeg")
    }
    return client.post(f"/api/projects/{project}/images", files=files)


def _creates_through_both(
    calls: Calls,
    clients: list[httpx.Client],
    admins: list[httpx.Client],
    db: Database,
    project: str,
    images: int,
) -> None:
    """Creates racing through both processes: one winner for a contested name, one row per
    unique source id, one group created on the fly, every upload stored and readable."""
    contested = {"name": "contested", "group": "reliability"}
    answers = calls.run(*[(_post_json, c, "/api/projects", contested) for c in clients * 3])
    assert sorted(r.status_code for r in answers) == [201] + [409] * (len(answers) - 1)
    assert db.scalar("SELECT count(*) FROM projects WHERE name = 'contested'") == 1
    grouped = calls.run(
        *[
            (
                _post_json,
                admins[i % 2],
                "/api/projects",
                {"name": f"team-{i}", "group": "new-team", "create_group": True},
            )
            for i in range(6)
        ]
    )
    assert [r.status_code for r in grouped] == [201] * 6, [r.text for r in grouped]
    assert db.scalar("SELECT count(*) FROM groups WHERE name = 'new-team'") == 1
    camera = {"project_id": project, "source": "reliability", "source_id": "cam-1", "name": "c"}
    cameras = calls.run(*[(_post_json, c, "/api/cameras", camera) for c in clients * 3])
    assert sorted(r.status_code for r in cameras) == [200] * (len(cameras) - 1) + [201]
    assert len({r.json()["id"] for r in cameras}) == 1
    uploads = calls.run(*[(_upload, clients[i % 2], project, i) for i in range(images)])
    assert [r.status_code for r in uploads] == [201] * images
    for i, uploaded in enumerate(uploads):  # written through one process, read through the other
        other = clients[(i + 1) % 2]
        assert calls.note(other.get(uploaded.json()["content_url"])).status_code == 200
    # And the one image uploaded before.
    assert db.scalar("SELECT count(*) FROM images WHERE project_id = :p", p=project) == images + 1


def _replay_through_other(
    calls: Calls, clients: list[httpx.Client], db: Database, analysis: str
) -> tuple[int, int]:
    """A signed v1 request accepted by one process is refused when replayed to the other (the
    nonce is recorded in PostgreSQL) and to itself. Returns (annotations stored, refusals)."""
    body = bulk_body(5, seed=99)
    path = bulk_path(analysis)
    headers = signed_headers("POST", path, body)
    before = db.predictions(analysis)
    assert calls.note(clients[0].post(path, content=body, headers=headers)).status_code == 201
    refused = 0
    for client in (clients[1], clients[0]):
        replay = calls.note(client.post(path, content=body, headers=headers))
        assert replay.status_code == 401, replay.text
        assert "already used" in replay.json()["detail"]
        refused += 1
    assert db.predictions(analysis) == before + 5
    return 5, refused


@pytest.mark.postgres
def test_a_group_created_by_two_requests_at_once_is_one_group(
    request: pytest.FixtureRequest,
) -> None:
    """Regression: two requests creating the same new group (a project with create_group, as
    above through two processes) made the second one fail with a unique violation (500)."""
    db = Database(fresh_postgres_url(request))
    first, second = db.sessions(), db.sessions()
    try:
        mine = accounts.get_or_create_group(first, name="racing")  # inserted, not committed
        with ThreadPoolExecutor(1) as pool:
            # Blocks on the unique index until the first transaction ends.
            theirs = pool.submit(accounts.get_or_create_group, second, name="racing")
            assert wait_until(
                lambda: (
                    db.scalar(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'"
                    )
                    > 0
                ),
                timeout=30,
            )
            first.commit()
            assert theirs.result(timeout=30).id == mine.id
        second.commit()
    finally:
        first.close()
        second.close()
    assert db.scalar("SELECT count(*) FROM groups WHERE name = 'racing'") == 1
    db.close()


@pytest.mark.postgres
def test_two_server_processes_on_one_postgres(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two `lookout serve` processes share one PostgreSQL (and one storage folder): writes
    racing through both lose nothing and duplicate nothing, a replay through the other
    process is refused, and no request answers 5xx."""
    url = fresh_postgres_url(request)
    db = Database(url)
    member, admin = db.api_key("pipeline@example.org"), db.api_key("boss@example.org", admin=True)
    data = tmp_path / "shared-data"
    servers = (ServeProcess(url, data, name="lookout-a"), ServeProcess(url, data, name="lookout-b"))
    calls = Calls(threads=8)
    with serving(*servers):
        clients, admins = _clients(servers, member), _clients(servers, admin)
        project = create_project(clients[0], "shared")
        image = upload_image(clients[1], project)
        analyses = [create_analysis(clients[i % 2], image) for i in range(size(6, 24))]
        sent_once = _bulk_through_both(calls, clients, db, analyses, size(500, 1000))
        saves, stale = _reviews_through_both(calls, clients, project, size(6, 16))
        _creates_through_both(calls, clients, admins, db, project, size(8, 32))
        replayed_batch, refused = _replay_through_other(calls, clients, db, analyses[0])
        sent_once += replayed_batch
    stored = sum(db.predictions(a) for a in analyses)
    log = "".join(s.log_text() for s in servers)
    db.close()
    calls.close()
    record(
        "two server processes, one PostgreSQL",
        processes=2,
        requests=calls.sent,
        status_counts=dict(sorted(calls.codes.items())),
        server_errors=calls.server_errors,
        annotations_sent_once=sent_once,
        annotations_stored=stored,
        duplicates=max(0, stored - sent_once),
        lost=max(0, sent_once - stored),
        review_saves=saves,
        stale_saves_refused=stale,
        replays_refused=refused,
    )
    assert calls.problems == []
    assert "Traceback" not in log, log[-3000:]
    assert stored == sent_once


# --- 3. SQLite under concurrent writers --------------------------------------------------------


def _sqlite_writer(
    url: str,
    api_key: str,
    tally: Tally,
    project: str,
    image: str,
    sequence: str,
    writer: int,
    rounds: int,
    batch: int,
) -> int:
    """One client's mix of writes; returns the annotations it sent once."""
    sent_once = 0
    with httpx.Client(base_url=url, headers={"X-API-Key": api_key}, timeout=120) as client:
        created = tally.note(
            client.post(f"/api/images/{image}/analyses", json={"model_name": f"writer-{writer}"})
        )
        assert created.status_code == 201, created.text
        analysis = created.json()["id"]
        for r in range(rounds):
            assert tally.note(_upload(client, project, writer * 1000 + r)).status_code == 201
            body, key = bulk_body(batch, seed=writer * 1000 + r), new_key()
            assert tally.note(post_bulk(client, analysis, body, key)).status_code == 201
            sent_once += batch
            if r % 3 == 0:  # a retrying client's resend
                again = tally.note(post_bulk(client, analysis, body, key))
                assert again.headers.get("Idempotent-Replayed") == "true"
            stale, saved = _append_track(client, sequence, writer * 1000 + r, tally)
            assert saved == 200
            name = {"name": f"writer-{writer}-{r}", "group": "reliability"}
            assert tally.note(client.post("/api/projects", json=name)).status_code == 201
            camera = {
                "project_id": project,
                "source": "reliability",
                "source_id": "shared-cam",
                "name": "shared",
            }
            assert tally.note(client.post("/api/cameras", json=camera)).status_code in (200, 201)
    return sent_once


def test_sqlite_concurrent_writers_never_see_a_locked_database(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """Many clients writing at once (uploads, signed bulk posts and resends, versioned review
    saves, creates) through `lookout serve --workers 2` on one SQLite file: no answer is 5xx or
    mentions a locked database, and every write is stored exactly once."""
    import shutil

    database = tmp_path / "lookout.db"
    shutil.copy(sqlite_template, database)
    url = f"sqlite:///{database}"
    writers, rounds, batch = size(8, 32), size(3, 10), size(200, 500)
    db = Database(url)
    api_key = db.api_key("writer@example.org")
    tally = Tally()
    server = ServeProcess(url, tmp_path / "data", workers=2)
    with serving(server):
        with httpx.Client(
            timeout=HTTP_TIMEOUT, base_url=server.url, headers={"X-API-Key": api_key}
        ) as client:
            project = create_project(client, "sqlite-writers")
            image = upload_image(client, project)
            sequence = client.post(
                "/api/sequences",
                json={
                    "project_id": project,
                    "source": "reliability",
                    "source_id": "shared-review",
                    "started_at": "2024-06-01T12:00:00Z",
                },
            ).json()["id"]
        with ThreadPoolExecutor(writers) as pool:
            futures = [
                pool.submit(
                    _sqlite_writer,
                    server.url,
                    api_key,
                    tally,
                    project,
                    image,
                    sequence,
                    w,
                    rounds,
                    batch,
                )
                for w in range(writers)
            ]
            sent_once = sum(f.result() for f in futures)
        with httpx.Client(
            timeout=HTTP_TIMEOUT, base_url=server.url, headers={"X-API-Key": api_key}
        ) as client:
            review = client.get(f"/api/sequences/{sequence}/review").json()
    log = server.log_text()
    stored = db.scalar("SELECT count(*) FROM predictions")
    images = db.scalar("SELECT count(*) FROM images") - 1
    projects = db.scalar("SELECT count(*) FROM projects WHERE name LIKE 'writer-%'")
    cameras = db.scalar("SELECT count(*) FROM cameras")
    db.close()
    expected_tracks = sorted(float(w * 1000 + r) for w in range(writers) for r in range(rounds))
    record(
        "SQLite under concurrent writers",
        server_workers=2,
        clients=writers,
        requests=tally.sent,
        status_counts=dict(sorted(tally.codes.items())),
        server_errors=tally.server_errors,
        database_locked_answers=sum("locked" in p for p in tally.problems),
        annotations_sent_once=sent_once,
        annotations_stored=stored,
        images_uploaded=writers * rounds,
        images_stored=images,
        review_saves=len(review["tracks"]),
        stale_saves_refused=tally.codes[409],
    )
    assert tally.problems == []
    assert "locked" not in log and "Traceback" not in log, log[-3000:]
    assert stored == sent_once
    assert images == writers * rounds
    assert projects == writers * rounds and cameras == 1
    assert sorted(t["confidence"] for t in review["tracks"]) == expected_tracks
    assert review["version"] == writers * rounds


# --- 4. object storage unavailable during uploads ----------------------------------------------

PNG_ARTIFACT = png_bytes(40, 30)


def _s3_lookout(lookout_factory: Any, switch: StorageSwitch, **settings: Any) -> Any:
    """Lookout (in-process) on S3 reached through the switch, in a bucket of its own."""
    return lookout_factory(
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL=switch.url,
        S3_BUCKET=f"rel-{uuid.uuid4().hex[:12]}",
        S3_ACCESS_KEY_ID="test",
        S3_SECRET_ACCESS_KEY="test",
        S3_CREATE_BUCKET=True,
        **settings,
    )


def _frame(client: httpx.Client, sequence: str, seed: int) -> httpx.Response:
    files = {"file": (f"f{seed}.jpg", jpeg_bytes(64, 48, color=(seed, 60, 90)), "image/jpeg")}
    metadata = json.dumps({"source": "reliability", "source_id": f"frame-{seed}"})
    return client.post(
        f"/api/sequences/{sequence}/frames", files=files, data={"metadata": metadata}
    )


def _objects_check(setup: Setup, s3_endpoint: str) -> tuple[int, int]:
    """(rows whose object is missing, objects no row names) for images and uploaded artifacts."""
    bucket = setup.lookout.settings.s3_bucket
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    stored = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    with setup.lookout.sessions() as session:
        named = set(session.scalars(sa.select(Image.object_key)))
        named |= {k for k in session.scalars(sa.select(Image.thumbnail_key)) if k}
        named |= set(
            session.scalars(
                sa.select(Artifact.object_key).where(Artifact.state == ArtifactState.UPLOADED)
            )
        )
    return len(named - stored), len(stored - named)


def test_storage_outage_during_artifact_and_image_uploads(
    lookout_factory: Any, s3_endpoint: str
) -> None:
    """S3 goes away in the middle of a pipeline's artifact upload and of image and frame
    uploads: every request that needs storage answers 503 naming it (never another 5xx), no
    row points at a missing object, and the same requests succeed once storage is back."""
    switch = StorageSwitch(s3_endpoint)
    setup = make_setup(_s3_lookout(lookout_factory, switch))
    analysis = setup.create_analysis()["id"]
    assert (
        setup.v1("PATCH", f"/api/analyses/{analysis}/status", {"status": "processing"}).status_code
        == 200
    )
    sequence = setup.client.post(
        "/api/sequences",
        json={
            "project_id": setup.project_id,
            "source": "reliability",
            "source_id": "outage",
            "started_at": "2024-06-01T12:00:00Z",
        },
    ).json()["id"]
    presign = {"artifacts": [{"artifact_name": "heatmap.png", "content_type": "image/png"}]}
    images_before = setup.lookout.count("images")
    tally = Tally()

    switch.set("down")
    # Presigning is a signature computed here: it works, the upload itself cannot.
    presigned = tally.note(setup.v1("POST", f"/api/analyses/{analysis}/artifacts/presign", presign))
    url = presigned.json()["presigned_urls"][0]["upload_url"]
    with pytest.raises(httpx.TransportError):
        http_put(url, content=PNG_ARTIFACT, headers={"Content-Type": "image/png"})
    during = [
        setup.v1("POST", f"/api/analyses/{analysis}/finalize", {"status": "completed"}),
        setup.client.get(f"/api/analyses/{analysis}/artifacts"),
        setup.lookout.upload(setup.client, setup.project_id, jpeg_bytes(80, 60)),
        _frame(setup.client, sequence, 1),
        setup.client.get(f"/api/images/{setup.image_id}/content"),
        setup.client.get(f"/api/images/{setup.image_id}/thumbnail"),
    ]
    for response in during:
        tally.note(response)
        assert response.status_code == 503, response.text
        assert "storage" in response.json()["detail"]
    assert setup.lookout.count("images") == images_before  # no row without its object
    state = setup.client.get(f"/api/analyses/{analysis}").json()
    assert state["status"] == "processing" and state["completed_at"] is None
    missing_during, _ = _objects_check(setup, s3_endpoint)

    switch.set("up")
    assert (
        http_put(url, content=PNG_ARTIFACT, headers={"Content-Type": "image/png"}).status_code
        == 200
    )
    after = [
        setup.v1("POST", f"/api/analyses/{analysis}/finalize", {"status": "completed"}),
        setup.lookout.upload(setup.client, setup.project_id, jpeg_bytes(80, 60)),
        _frame(setup.client, sequence, 1),
        setup.client.get(f"/api/images/{setup.image_id}/thumbnail"),
    ]
    assert [tally.note(r).status_code for r in after] == [200, 201, 201, 200]
    artifacts = setup.client.get(f"/api/analyses/{analysis}/artifacts").json()["artifacts"]
    assert [(a["state"], a["size_bytes"]) for a in artifacts] == [("uploaded", len(PNG_ARTIFACT))]
    download = setup.client.get(f"/api/analyses/{analysis}/artifacts/heatmap.png")
    assert download.content == PNG_ARTIFACT
    missing, orphans = _objects_check(setup, s3_endpoint)
    switch.close()
    record(
        f"object storage outage during uploads ({setup.lookout.backend})",
        requests=tally.sent,
        requests_during_outage=len(during) + 1,
        answered_503_naming_storage=sum(r.status_code == 503 for r in during),
        other_5xx=sum(n for c, n in tally.codes.items() if c >= 500 and c != 503),
        storage_connections_refused=switch.refused,
        retries_after_outage=len(after),
        retries_succeeded=sum(r.status_code < 300 for r in after),
        rows_without_object=missing + missing_during,
        orphan_objects=orphans,
    )
    assert missing == missing_during == 0 and orphans == 0


# --- slow I/O must not hold the database (regressions) -----------------------------------------

# One pooled PostgreSQL connection: a request that keeps its connection across slow I/O would
# make every other request wait for it (SQLite has one write lock whatever the pool).
ONE_CONNECTION = {"LOOKOUT_DB_POOL_SIZE": 1, "LOOKOUT_DB_MAX_OVERFLOW": 0}


def _big_png() -> bytes:
    """A 12 MB PNG: more than loopback sockets buffer, so a slow reader stalls the stream."""
    import numpy as np
    from PIL import Image as PILImage

    pixels = np.random.default_rng(0).integers(0, 255, (2000, 2000, 3), dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, format="PNG", compress_level=0)
    return out.getvalue()


def test_a_slowly_read_download_does_not_block_other_requests(lookout_factory: Any) -> None:
    """Regression: the image content was streamed inside the request's transaction, so a client
    reading slowly (or not at all) held SQLite's write lock, and every other request answered
    503 "database is locked" after the busy timeout (on PostgreSQL it held a pooled connection)."""
    lookout = lookout_factory(**ONE_CONNECTION)
    client = lookout.keyed_client()
    project = lookout.create_project(client)["id"]
    image = lookout.upload(client, project, _big_png(), "big.png", "image/png").json()
    with (
        lookout.client(dict(client.headers)) as reader,
        reader.stream("GET", image["content_url"]) as download,
    ):
        chunks = download.iter_raw(65536)  # kept: a collected iterator closes the download
        next(chunks)  # started, then the reader stops reading
        created = client.post("/api/projects", json={"name": "while-downloading"})
        listed = client.get("/api/projects")
    assert created.status_code == 201, created.text
    assert listed.status_code == 200
    record(
        f"slow download vs other requests ({lookout.backend})",
        download_bytes=image["size_bytes"],
        requests_during_stalled_download=2,
        answered_ok=2,
    )


def _frame_url(setup: Setup, switch: StorageSwitch) -> str:
    """A presigned GET of the setup image's object, reached through the switch."""
    with setup.lookout.sessions() as session:
        key = session.get_one(Image, uuid.UUID(setup.image_id)).object_key
    s3 = boto3.client(
        "s3",
        endpoint_url=switch.url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    bucket = setup.lookout.settings.s3_bucket
    return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})


def test_hung_object_storage_does_not_block_other_requests(
    lookout_factory: Any, s3_endpoint: str
) -> None:
    """Regression: uploads, thumbnails, artifact listings and frames given by URL called S3 (or
    the URL) inside the request's transaction; with storage hanging (a partitioned network)
    they held SQLite's write lock and every other request answered 503 "database is locked"
    (on PostgreSQL they held pooled connections). Now the rest of the API answers while they
    wait, and they complete once storage answers again."""
    switch = StorageSwitch(s3_endpoint)
    setup = make_setup(_s3_lookout(lookout_factory, switch, **ONE_CONNECTION))
    analysis = setup.create_analysis()["id"]
    presign = {"artifacts": [{"artifact_name": "mask.png", "content_type": "image/png"}]}
    assert (
        setup.v1("POST", f"/api/analyses/{analysis}/artifacts/presign", presign).status_code == 200
    )
    sequence = setup.client.post(
        "/api/sequences",
        json={
            "project_id": setup.project_id,
            "source": "reliability",
            "source_id": "hung",
            "started_at": "2024-06-01T12:00:00Z",
        },
    ).json()["id"]
    frame = {"url": _frame_url(setup, switch), "source": "reliability", "source_id": "by-url"}
    switch.set("hang")
    with ThreadPoolExecutor(4) as pool:
        hung = [
            pool.submit(setup.lookout.upload, setup.client, setup.project_id, jpeg_bytes(70, 50)),
            pool.submit(setup.client.get, f"/api/images/{setup.image_id}/thumbnail"),
            pool.submit(setup.client.get, f"/api/analyses/{analysis}/artifacts"),
            pool.submit(setup.client.post, f"/api/sequences/{sequence}/frames", json=frame),
        ]
        assert wait_until(lambda: switch.held >= 4, timeout=60), "storage calls never started"
        others = [
            setup.client.post("/api/projects", json={"name": "during-hang"}),
            setup.client.get(f"/api/images/{setup.image_id}"),
            setup.client.get(f"/api/analyses/{analysis}"),
        ]
        switch.set("up")
        completed = [future.result() for future in hung]
    switch.close()
    assert [r.status_code for r in others] == [201, 200, 200], [r.text for r in others]
    assert [r.status_code for r in completed] == [201, 200, 200, 201], [r.text for r in completed]
    record(
        f"hung object storage vs other requests ({setup.lookout.backend})",
        requests_waiting_on_storage=len(hung),
        storage_connections_held=switch.held,
        other_requests_during_hang=len(others),
        answered_ok=sum(r.status_code < 300 for r in others),
        completed_after_storage_returned=sum(r.status_code < 300 for r in completed),
    )
