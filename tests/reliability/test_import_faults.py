"""The platform import under faults: killed, on a failing platform, without storage, twice at once.

Real pieces on loopback: the fake Pyronear platform and Lookout (uvicorn, local mode) behind
gates that count and can hold requests, and the importer as a subprocess. Each scenario ends
by comparing Lookout's whole state (projects, cameras, sequences, frames by (source,
source_id), predictions, drafts, the stored objects' bytes) with a clean import of the same
platform into a fresh database, and by checking storage against the rows both ways.
"""

from __future__ import annotations

import math
import re
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from lookout.accounts.models import Group
from lookout.fake_platform import FakePlatformConfig
from lookout.sequences.models import SequenceReview
from tests.conftest import new_postgres_database
from tests.platform_import.helpers import small_config
from tests.reliability.import_support import (
    GatedLookout,
    ImporterRun,
    Platform,
    Snapshot,
    new_sqlite_url,
    run_importer,
    running,
    snapshot,
    spawn_importer,
    start_lookout,
    start_platform,
)
from tests.reliability.record import record, size
from tests.support import TcpProxy

DAYS = ("2024-01-01", "2024-01-02")
THREE_DAYS = ("2024-01-01", "2024-01-03")
PLATFORM, LOOKOUT = "platform", "lookout"
FRAMES = "POST /api/sequences/{id}/frames"  # one frame (uploaded, or alone by URL)
FRAME_BATCHES = "POST /api/sequences/{id}/frames:batch"  # a sequence's frames by URL
DRAFTS = "POST /api/sequences/{id}/draft"
HIT_TIMEOUT_S = 120
CLIENT_CLOSED_REQUEST = 499
BACKENDS = [pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"]


def platform_config(days: tuple[str, str] = DAYS, **changes: Any) -> FakePlatformConfig:
    """Two organizations; a few sequences a day in CI, more at full size."""
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[1])
    values: dict[str, Any] = {
        "days": [(first + timedelta(d)).isoformat() for d in range((last - first).days + 1)],
        "cameras_per_org": size(1, 2),
        "sequences_per_camera_per_day": size(2, 4),
        "detections_per_sequence": size(3, 8),
    }
    return small_config(**(values | changes))


@dataclass
class Reference:
    """A clean import: its final state and the requests it took."""

    snapshot: Snapshot
    platform_requests: Counter[str]
    lookout_requests: Counter[str]


@pytest.fixture(scope="module")
def reference(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Callable[[str, tuple[str, str]], Reference]:
    """A clean import per (backend, date range), made once per module."""
    made: dict[tuple[str, tuple[str, str]], Reference] = {}

    def get(backend: str, days: tuple[str, str]) -> Reference:
        if (backend, days) not in made:
            folder = tmp_path_factory.mktemp(f"reference-{backend}")
            made[backend, days] = clean_import(request, backend, days, folder, sqlite_template)
        return made[backend, days]

    return get


def database(request: pytest.FixtureRequest, backend: str, folder: Path, template: Path) -> str:
    """A fresh migrated database of this backend."""
    if backend == "postgres":
        return new_postgres_database(request.getfixturevalue("postgres_server"))
    return new_sqlite_url(template, folder / "db")


def clean_import(
    request: pytest.FixtureRequest,
    backend: str,
    days: tuple[str, str],
    folder: Path,
    template: Path,
) -> Reference:
    platform = start_platform(platform_config(days))
    lookout = start_lookout(database(request, backend, folder, template), folder / "lookout")
    with running(platform, lookout):
        run = run_importer(platform.url, lookout.url, days, folder / "importer")
        assert run.process.returncode == 0, run.output
        state = snapshot(lookout.lookout)
        assert_consistent(state)
        return Reference(state, Counter(platform.gate.requests), Counter(lookout.gate.requests))


def assert_consistent(state: Snapshot, where: str = "", *, storage_failing: bool = False) -> None:
    """No object without its row, no row without its object, one row per key.

    While storage is failing, an upload whose answer was lost may have left its object: that
    is allowed only if Lookout noted the key, so the sweep deletes it once storage is back.
    """
    if storage_failing:
        unnoted = sorted(set(state.orphan_objects) - set(state.leftovers))
        assert unnoted == [], f"{where}objects without a row, not noted for deletion: {unnoted}"
    else:
        assert state.orphan_objects == [], f"{where}objects without a row: {state.orphan_objects}"
        assert state.leftovers == [], f"{where}noted leftovers not swept: {state.leftovers}"
    assert state.missing_objects == [], f"{where}rows without an object: {state.missing_objects}"
    for table, keyed in (
        ("cameras", state.cameras),
        ("sequences", state.sequences),
        ("images", state.images),
    ):
        assert state.rows[table] == len(keyed), f"{where}duplicate {table}"


def lost_items(state: Snapshot, ref: Snapshot) -> int:
    """Cameras, sequences and frames of the reference missing from `state`."""
    return sum(
        len(set(getattr(ref, part)) - set(getattr(state, part)))
        for part in ("cameras", "sequences", "images")
    )


# ---------------------------------------------------------------- 1. killed importer


@dataclass(frozen=True)
class KillPoint:
    """Where to SIGKILL: while the `nth` request of a route is held on one side.

    `share` picks the request as a share of what a clean import sends on that route.
    "before": the server has not seen the request; "after": the server did the work and
    committed, the answer is not sent yet (the importer dies without knowing).
    """

    name: str
    side: str
    route: str
    nth: int = 1
    share: float | None = None
    when: str = "before"
    # via-server: Lookout fetches each frame by URL; via-importer: the importer uploads it.
    transfer: str = "via-server"

    def number(self, ref: Reference) -> int:
        counts = ref.platform_requests if self.side == PLATFORM else ref.lookout_requests
        total = counts[self.route]
        if self.transfer == "via-importer" and self.route == FRAMES:
            total = len(ref.snapshot.images)  # the reference went via the server
        assert total > 0, f"a clean import sends no {self.route}"
        wanted = self.nth if self.share is None else math.ceil(total * self.share)
        return max(1, min(total, wanted))


# Spread over a run, in the order a run meets them.
KILL_POINTS = (
    KillPoint("during the admin login", PLATFORM, "POST /api/v1/login/creds"),
    KillPoint("listing sequences", PLATFORM, "GET /api/v1/sequences/all/fromdate", nth=2),
    KillPoint("project stored, answer lost", LOOKOUT, "POST /api/projects", when="after"),
    KillPoint(
        "reading a sequence's detections",
        PLATFORM,
        "GET /api/v1/sequences/{id}/detections",
        share=0.75,
    ),
    KillPoint(
        "sequence stored, answer lost", LOOKOUT, "POST /api/sequences", share=0.5, when="after"
    ),
    KillPoint("mid-frame: Lookout fetching the image", PLATFORM, "GET /storage/*", share=0.25),
    KillPoint("frames stored, answer lost", LOOKOUT, FRAME_BATCHES, share=0.5, when="after"),
    KillPoint("mid-upload of a frame", LOOKOUT, FRAMES, share=0.75, transfer="via-importer"),
    KillPoint("before drafting", LOOKOUT, DRAFTS, share=0.5),
    KillPoint("last draft stored, answer lost", LOOKOUT, DRAFTS, share=1.0, when="after"),
)


def review_by_a_person(client: httpx.Client) -> tuple[str, str, dict[str, Any]] | None:
    """Save a person's review of the least complete sequence: (source_id, id, saved review)."""
    params = {"source": "pyronear", "limit": 500}
    items = client.get("/api/sequences", params=params).json()["items"]
    if not items:
        return None
    item = min(items, key=lambda i: (i["frame_count"], i["source_id"]))
    detail = client.get(f"/api/sequences/{item['id']}").json()
    frames = detail["frames"]
    box = {"frame_id": frames[0]["id"], "xyxyn": [0.1, 0.2, 0.3, 0.4]} if frames else None
    body = {
        "tracks": [{"is_smoke": True, "smoke_type": "wildfire", "boxes": [box]}] if box else [],
        "has_missed_smoke": True,
        "processing_stage": "annotated",
        "version": detail["review"]["version"] if detail["review"] else None,
    }
    saved = client.put(f"/api/sequences/{item['id']}/review", json=body)
    assert saved.status_code == 200, saved.text
    return item["source_id"], item["id"], saved.json()


@dataclass
class KillFigures:
    """What the kill scenario measured, over all points."""

    kills: int = 0
    points: set[str] = field(default_factory=set)
    importer_runs: int = 0
    platform_requests: int = 0
    lookout_requests: int = 0
    reviews_saved_between: int = 0
    reviews_untouched: int = 0
    sequences: int = 0
    frames: int = 0
    lost: int = 0
    duplicates: int = 0
    orphans: int = 0
    rows_without_object: int = 0
    frames_at_kill: list[int] = field(default_factory=list)
    lookout_5xx: int = 0


def kill_and_resume(
    point: KillPoint,
    ref: Reference,
    platform: Platform,
    lookout: GatedLookout,
    folder: Path,
    figures: KillFigures,
) -> None:
    """Kill the importer at `point`, let a person review, run again: equal to a clean import."""
    gate = platform.gate if point.side == PLATFORM else lookout.gate
    hold = gate.arm(point.route, point.number(ref), point.when)
    killed = spawn_importer(platform.url, lookout.url, DAYS, folder, "--transfer", point.transfer)
    reached = hold.hit.wait(HIT_TIMEOUT_S)
    killed.kill()
    hold.release.set()
    assert reached, f"{point.name}: never reached\n{killed.output}"
    assert killed.process.returncode == -9, f"{point.name}: not killed\n{killed.output}"
    # A request the dead importer left in flight is finished by the server, as in real life.
    assert lookout.gate.wait_idle(), f"{point.name}: Lookout still busy"
    figures.kills += 1
    figures.points.add(point.name)
    at_kill = snapshot(lookout.lookout)
    assert_consistent(at_kill, f"{point.name}, at the kill: ")
    figures.frames_at_kill.append(len(at_kill.images))
    client = lookout.lookout.client()
    person = review_by_a_person(client)
    figures.reviews_saved_between += person is not None

    resumed = run_importer(platform.url, lookout.url, DAYS, folder)
    figures.importer_runs += 2
    assert resumed.process.returncode == 0, f"{point.name}: re-run failed\n{resumed.output}"
    state = snapshot(lookout.lookout)
    assert_consistent(state, f"{point.name}: ")
    skip = person[0] if person else None
    assert state.differences(ref.snapshot, skip_review=skip) == [], point.name
    if person is not None:
        source_id, sequence_id, saved = person
        now = client.get(f"/api/sequences/{sequence_id}/review").json()
        assert now == saved, f"{point.name}: the person's review of {source_id} was changed"
        assert resumed.stat("Annotations skipped (review started by a person)") == 1
        figures.reviews_untouched += 1
    figures.lost += lost_items(state, ref.snapshot)
    figures.duplicates += sum(
        state.rows[t] - len(getattr(state, t)) for t in ("cameras", "sequences", "images")
    )
    figures.orphans += len(state.orphan_objects)
    figures.rows_without_object += len(state.missing_objects)
    figures.sequences += len(state.sequences)
    figures.frames += len(state.images)


@pytest.mark.parametrize("backend", BACKENDS)
def test_importer_killed_at_ten_points_then_rerun(
    backend: str,
    reference: Callable[[str, tuple[str, str]], Reference],
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    tmp_path: Path,
) -> None:
    """SIGKILL at 10 points of a run, then a re-run: the state of a clean import, reviews kept."""
    ref = reference(backend, DAYS)
    points = KILL_POINTS
    assert len({p.name for p in points}) == len(points) == 10
    figures = KillFigures()
    platform = start_platform(platform_config(DAYS))
    with running(platform):
        for index, point in enumerate(points):
            folder = tmp_path / f"point-{index}"
            url = database(request, backend, folder, sqlite_template)
            lookout = start_lookout(url, folder / "lookout")
            with running(lookout):
                kill_and_resume(point, ref, platform, lookout, folder, figures)
                figures.lookout_requests += lookout.gate.requests.total()
                figures.lookout_5xx += lookout.gate.server_errors()
        figures.platform_requests = platform.gate.requests.total()
    assert figures.kills == len(points)
    assert figures.reviews_untouched == figures.reviews_saved_between > 0
    # A request a killed importer left half-sent is no server error either.
    assert figures.lookout_5xx == 0
    record(
        f"importer killed (SIGKILL) then re-run, {backend}",
        kills=figures.kills,
        distinct_kill_points=len(figures.points),
        importer_runs=figures.importer_runs,
        platform_requests=figures.platform_requests,
        lookout_requests=figures.lookout_requests,
        reviews_saved_between_kill_and_rerun=figures.reviews_saved_between,
        reviews_untouched=figures.reviews_untouched,
        sequences_stored_over_all_points=figures.sequences,
        frames_stored_over_all_points=figures.frames,
        frames_present_at_each_kill=figures.frames_at_kill,
        lost=figures.lost,
        duplicates=figures.duplicates,
        orphan_objects=figures.orphans,
        rows_without_object=figures.rows_without_object,
        lookout_5xx=figures.lookout_5xx,
    )


# ---------------------------------------------------------------- 2. failing platform


def retries_logged(run: ImporterRun) -> int:
    return len(re.findall(r"failed \(.*\); retry \d+/\d+", run.stderr))


def test_platform_faults_import_completes(
    reference: Callable[[str, tuple[str, str]], Reference],
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    tmp_path: Path,
) -> None:
    """20 % 5xx, 5 % timeouts, 2 % dropped connections, one token expiry: all imported, exit 0."""
    ref = reference("sqlite", DAYS)
    clean_requests = ref.platform_requests.total()
    config = platform_config(
        DAYS,
        error_rate=0.20,
        timeout_rate=0.05,
        drop_rate=0.02,
        # Longer than the importer waits (--timeout 1), short enough not to slow Lookout's
        # own fetches of the frames much (it waits for the answer).
        timeout_hang_s=2.0,
        faults_on_login=True,
        expire_tokens_at_request=clean_requests // 2,
    )
    platform = start_platform(config)
    lookout = start_lookout(database(request, "sqlite", tmp_path, sqlite_template), tmp_path)
    with running(platform, lookout):
        run = run_importer(
            platform.url,
            lookout.url,
            DAYS,
            tmp_path / "importer",
            "--timeout",
            "1",
            "--retries",
            "12",
        )
        assert run.process.returncode == 0, run.output
        state = snapshot(lookout.lookout)
    faults = platform.state.stats.snapshot()["faults"]
    assert_consistent(state)
    assert state.differences(ref.snapshot) == []
    assert run.stat("Failed sequences") == 0
    assert run.stat("Frames created") == len(ref.snapshot.images)
    # Every kind of fault was really injected, and the token expired exactly once.
    assert faults.get("error", 0) > 0 and faults.get("timeout", 0) > 0, faults
    assert faults.get("drop", 0) > 0, faults
    assert faults.get("token_expiry") == 1 and faults.get("expired_token", 0) >= 1, faults
    assert "logging in again" in run.stderr
    record(
        "platform faults (20% 5xx, 5% timeouts, 2% drops, token expiry)",
        exit_code=run.process.returncode,
        platform_requests=platform.gate.requests.total(),
        clean_import_platform_requests=clean_requests,
        faults_5xx=faults.get("error", 0),
        faults_500=faults.get("error_500", 0),
        faults_502=faults.get("error_502", 0),
        faults_503=faults.get("error_503", 0),
        faults_timeout=faults.get("timeout", 0),
        faults_dropped_connection=faults.get("drop", 0),
        token_expiries=faults.get("token_expiry", 0),
        requests_refused_expired_token=faults.get("expired_token", 0),
        importer_retries=retries_logged(run),
        importer_uploaded_instead=run.stderr.count("downloading it here instead"),
        sequences_stored=len(state.sequences),
        frames_stored=len(state.images),
        lost=lost_items(state, ref.snapshot),
        orphan_objects=len(state.orphan_objects),
    )


# ---------------------------------------------------------------- 3. storage outage

# Batches of frames posted after object storage goes down (the end of the run).
OUTAGE_BATCHES = size(2, 4)


@pytest.fixture
def storage_proxy(s3_endpoint: str) -> Iterator[TcpProxy]:
    """A cuttable TCP path from Lookout to the S3 server."""
    proxy = TcpProxy(s3_endpoint).start()
    yield proxy
    proxy.close()


@pytest.mark.s3
def test_storage_outage_fails_clearly_then_rerun_completes(
    reference: Callable[[str, tuple[str, str]], Reference],
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    s3_endpoint: str,
    storage_proxy: TcpProxy,
    tmp_path: Path,
) -> None:
    """Storage gone at the end of a run: exit 1 naming it, no row without its object; re-run."""
    ref = reference("sqlite", DAYS)
    batches_total = ref.lookout_requests[FRAME_BATCHES]
    platform = start_platform(platform_config(DAYS))
    lookout = start_lookout(
        database(request, "sqlite", tmp_path, sqlite_template),
        tmp_path / "lookout",
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL=storage_proxy.url,
        S3_BUCKET=f"import-outage-{uuid.uuid4().hex[:12]}",
        S3_ACCESS_KEY_ID="test",
        S3_SECRET_ACCESS_KEY="test",
        S3_CREATE_BUCKET=True,
    )
    with running(platform, lookout):
        outage = lookout.gate.arm(FRAME_BATCHES, batches_total - OUTAGE_BATCHES + 1)
        broken = spawn_importer(
            platform.url, lookout.url, DAYS, tmp_path / "importer", "--retries", "2"
        )
        reached = outage.hit.wait(HIT_TIMEOUT_S)
        storage_proxy.cut()
        outage.release.set()
        assert reached, broken.output
        assert broken.wait() == 1, broken.output
        assert lookout.gate.wait_idle()
        # Read the bucket past the cut: every row has its object, every object its row.
        during = snapshot(lookout.lookout, s3_endpoint=s3_endpoint)
        assert_consistent(during, "during the outage: ", storage_failing=True)
        frames_failed = broken.stat("Frames failed")
        assert frames_failed > 0 and broken.stat("Failed sequences") > 0, broken.output
        assert "object storage is unavailable" in broken.stderr, broken.output
        assert len(during.images) == len(ref.snapshot.images) - frames_failed
        storage_proxy.restore()
        rerun = run_importer(platform.url, lookout.url, DAYS, tmp_path / "importer")
        assert rerun.process.returncode == 0, rerun.output
        assert rerun.stat("Frames created") == frames_failed
        state = snapshot(lookout.lookout)
    assert_consistent(state, "after the re-run: ")
    assert state.differences(ref.snapshot) == []
    record(
        "object storage down during an import, then re-run",
        first_run_exit_code=broken.process.returncode,
        storage_cut_at_batch_post=batches_total - OUTAGE_BATCHES + 1,
        batch_posts_in_a_clean_import=batches_total,
        frames_failed=frames_failed,
        sequences_failed=broken.stat("Failed sequences"),
        storage_connections_reset=storage_proxy.refused,
        rows_without_object_during_outage=len(during.missing_objects),
        objects_without_row_during_outage=len(during.orphan_objects),
        keys_noted_for_the_sweep=len(during.leftovers),
        rerun_exit_code=rerun.process.returncode,
        frames_created_by_rerun=rerun.stat("Frames created"),
        sequences_stored=len(state.sequences),
        frames_stored=len(state.images),
        lost=lost_items(state, ref.snapshot),
        orphan_objects=len(state.orphan_objects),
    )


# ---------------------------------------------------------------- 4. two importers at once


@pytest.mark.postgres
def test_two_importers_over_overlapping_dates(
    reference: Callable[[str, tuple[str, str]], Reference],
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    tmp_path: Path,
) -> None:
    """Days 1-2 and days 1-3 at the same time on PostgreSQL: the union, once, nothing lost."""
    ref = reference("postgres", THREE_DAYS)
    rounds = size(1, 3)
    platform = start_platform(platform_config(THREE_DAYS))
    present = lookout_5xx = 0
    with running(platform):
        for number in range(rounds):
            folder = tmp_path / f"round-{number}"
            url = database(request, "postgres", folder, sqlite_template)
            lookout = start_lookout(url, folder / "lookout")
            with running(lookout):
                # Both start together: their first writes meet at the same project.
                barrier = lookout.gate.arm("POST /api/projects", 1, parties=2)
                first = spawn_importer(platform.url, lookout.url, DAYS, folder / "a")
                second = spawn_importer(platform.url, lookout.url, THREE_DAYS, folder / "b")
                codes = first.wait(), second.wait()
                assert barrier.hit.is_set()
                assert codes == (0, 0), first.output + second.output
                state = snapshot(lookout.lookout)
                lookout_5xx += lookout.gate.server_errors()
            assert_consistent(state)
            # A sequence both importers added frames to is drafted twice (version 2).
            assert state.differences(ref.snapshot, versions=False) == []
            present += sum(r.stat("Frames already present") for r in (first, second))
    assert lookout_5xx == 0
    record(
        "two importers at once over overlapping dates, PostgreSQL",
        rounds=rounds,
        importers=2 * rounds,
        platform_requests=platform.gate.requests.total(),
        frames_found_already_present=present,
        sequences_stored=len(state.sequences),
        frames_stored=len(state.images),
        duplicates=sum(state.rows[t] - len(getattr(state, t)) for t in ("sequences", "images")),
        lost=lost_items(state, ref.snapshot),
        lookout_5xx=lookout_5xx,
    )


# ---------------------------------------------------------------- regressions


def test_lookout_calls_wait_longer_than_platform_timeout(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> None:
    """--timeout is for the platform; a frame post (Lookout fetching it) gets at least 60 s.

    Regression: the per-call timeout was never applied, so every call used the pool's
    --timeout and a slow frame fetch made the importer post the frame again and again.
    """
    # Each frame download by Lookout hangs 1.5 s, then is served; the importer waits 1 s.
    config = small_config(
        days=[DAYS[0]],
        sequences_per_camera_per_day=1,
        detections_per_sequence=2,
        timeout_rate=1.0,
        timeout_hang_s=1.5,
        fault_paths=("/storage/",),
    )
    platform = start_platform(config)
    lookout = start_lookout(database(request, "sqlite", tmp_path, sqlite_template), tmp_path)
    with running(platform, lookout):
        run = run_importer(
            platform.url,
            lookout.url,
            (DAYS[0], DAYS[0]),
            tmp_path / "importer",
            "--timeout",
            "1",
            "--concurrency",
            "1",
        )
    assert run.process.returncode == 0, run.output
    frames = run.stat("Frames created")
    assert frames == 4, run.output
    # Each sequence's two frames went in one batch, none posted again.
    assert lookout.gate.requests[FRAME_BATCHES] == 2, run.output
    assert lookout.gate.requests[FRAMES] == 0, run.output
    assert "ReadTimeout" not in run.stderr, run.output


def wait_for_lock_waiter(lookout: GatedLookout) -> bool:
    """Whether a statement of another connection ends up waiting on a row lock."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with lookout.lookout.sessions() as probe:
            if probe.execute(query).scalar_one() > 0:
                return True
        time.sleep(0.02)
    return False


def answer_while_inserted_meanwhile(
    lookout: GatedLookout, row: Any, method: str, path: str, body: dict[str, Any]
) -> httpx.Response:
    """Send a request while another transaction inserts `row`, committed once it waits on it.

    The request looks first (sees nothing: the row is not committed), then inserts and waits
    on the unique key; the other transaction commits: the request's insert fails, as when two
    importers write the same thing at the same moment.
    """
    with lookout.lookout.sessions() as other:
        other.add(row)
        other.flush()
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(lookout.lookout.client().request, method, path, json=body)
            assert wait_for_lock_waiter(lookout), "the request never met the other insert"
            other.commit()
            return answer.result(timeout=60)


@pytest.mark.postgres
def test_group_created_meanwhile_is_reused(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> None:
    """Regression: two importers creating an organization's group at once got a 500."""
    lookout = start_lookout(database(request, "postgres", tmp_path, sqlite_template), tmp_path)
    with running(lookout):
        body = {"name": "sdis-07", "group": "sdis-07", "create_group": True, "exist_ok": True}
        answer = answer_while_inserted_meanwhile(
            lookout, Group(name="sdis-07"), "POST", "/api/projects", body
        )
        assert answer.status_code == 201, answer.text
        with lookout.lookout.sessions() as session:
            groups = session.scalars(sa.select(Group).where(Group.name == "sdis-07")).all()
            assert len(groups) == 1
            assert str(groups[0].id) == answer.json()["group_id"]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("stage", "reviewed", "outcome"),
    [("ready_to_annotate", False, "updated"), ("annotated", True, "skipped")],
)
def test_draft_meets_review_created_meanwhile(
    stage: str,
    reviewed: bool,
    outcome: str,
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    tmp_path: Path,
) -> None:
    """Regression: two importers drafting one sequence at once failed it with a 409.

    A draft created meanwhile is drafted over; a person's review created meanwhile is kept.
    """
    lookout = start_lookout(database(request, "postgres", tmp_path, sqlite_template), tmp_path)
    with running(lookout):
        client = lookout.lookout.client()
        project = client.post(
            "/api/projects", json={"name": "p", "group": "g", "create_group": True}
        )
        sequence = client.post(
            "/api/sequences",
            json={
                "project_id": project.json()["id"],
                "source": "test",
                "source_id": "1",
                "started_at": "2024-01-01T00:00:00Z",
            },
        ).json()
        meanwhile = SequenceReview(
            sequence_id=uuid.UUID(sequence["id"]),
            sequence_started_at=datetime(2024, 1, 1, tzinfo=UTC),
            processing_stage=stage,
            has_missed_smoke=reviewed,
            reviewed_at=datetime.now(UTC) if reviewed else None,
        )
        path = f"/api/sequences/{sequence['id']}/draft"
        answer = answer_while_inserted_meanwhile(lookout, meanwhile, "POST", path, {})
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == outcome
        review = client.get(f"/api/sequences/{sequence['id']}/review").json()
        assert review["processing_stage"] == ("ready_to_annotate" if not reviewed else stage)
        assert review["has_missed_smoke"] is reviewed


def test_client_gone_mid_body_is_no_server_error(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> None:
    """Regression: an importer killed while sending a frame left a 500 and a traceback.

    The client is gone, so nobody reads the answer; the server must not call it a crash.
    """
    lookout = start_lookout(database(request, "sqlite", tmp_path, sqlite_template), tmp_path)
    with running(lookout):
        path = f"/api/sequences/{uuid.uuid4()}/frames"
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n"
        )
        port = lookout.lookout.server.port
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(head.encode() + b'{"source": "pyronear", ')
            # Only close once the server is waiting for the rest of the body.
            assert wait_for(lambda: lookout.gate.requests[FRAMES] == 1)
        assert lookout.gate.wait_idle()
    assert lookout.gate.server_errors() == 0, lookout.gate.errors
    assert lookout.gate.statuses[CLIENT_CLOSED_REQUEST] == 1, lookout.gate.statuses


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_both_transfers_store_the_same_frames(
    reference: Callable[[str, tuple[str, str]], Reference],
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    tmp_path: Path,
) -> None:
    """A frame the importer uploads is stored as one Lookout fetched by URL (its fallback).

    Regression: a fetched frame had no filename and an uploaded one its object's name, so a
    run whose fetches had fallen back to uploads differed from a clean import.
    """
    ref = reference("sqlite", DAYS)
    platform = start_platform(platform_config(DAYS))
    lookout = start_lookout(database(request, "sqlite", tmp_path, sqlite_template), tmp_path)
    with running(platform, lookout):
        run = run_importer(
            platform.url, lookout.url, DAYS, tmp_path / "importer", "--transfer", "via-importer"
        )
        assert run.process.returncode == 0, run.output
        state = snapshot(lookout.lookout)
    assert state.differences(ref.snapshot) == []
