"""Helpers of the import fault scenarios: gated servers, importer subprocesses, state snapshots.

Every server is real (uvicorn on loopback). A `Gate` wraps an ASGI app to count its requests
and to hold one chosen request (before the app sees it, or after the app answered but before
the answer leaves), so a test can SIGKILL the importer at an exact point of its run. The
importer runs as the command people run, in a subprocess. `snapshot` reads everything an
import leaves behind, keyed by (source, source_id) so two databases can be compared.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import sqlalchemy as sa
from botocore.config import Config

from lookout.accounts.models import Group
from lookout.analyses.models import Analysis, Artifact, Prediction
from lookout.app import create_app as create_lookout_app
from lookout.db import make_engine, make_session_factory
from lookout.fake_platform import FakePlatformConfig, FakePlatformState
from lookout.fake_platform import create_app as create_platform_app
from lookout.images.models import Image
from lookout.projects.models import Project
from lookout.sequences.models import Camera, Sequence, SequenceReview
from lookout.storage.models import LeftoverObject
from tests.conftest import make_settings
from tests.platform_import.helpers import ENV_NAMES, FAST
from tests.support import LiveServer, Lookout, stored_files

REPO = Path(__file__).resolve().parents[2]
BOTH_ORGS = {
    "PLATFORM_LOGIN": "org1-user",
    "PLATFORM_PASSWORD": "org1-pass",
    "PLATFORM_ADMIN_LOGIN": "admin",
    "PLATFORM_ADMIN_PASSWORD": "admin-pass",
    "PLATFORM_EXTRA_CREDENTIALS": "org2-user:org2-pass",
}
HOLD_LIMIT_S = 120.0
_ID = re.compile(r"/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+)(?=/|$)")


def route_key(method: str, path: str) -> str:
    """`POST /api/sequences/{id}/frames`: ids folded so requests group by route."""
    if path.startswith("/storage/"):
        return f"{method} /storage/*"
    return f"{method} {_ID.sub('/{id}', path)}"


# ---------------------------------------------------------------- gate


@dataclass
class Hold:
    """Requests number `first`..`last` of one route are held until `release` is set.

    `hit` is set once the last of them is held: "before" the app sees it, or "after" the app
    answered (its work is committed) but before a byte of the answer is sent.
    """

    key: str
    first: int
    last: int
    when: str
    hit: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    arrived: int = 0

    def covers(self, number: int) -> bool:
        return self.first <= number <= self.last


class Gate:
    """ASGI middleware counting requests and answers by route, holding armed ones."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()  # "<status> <route>" of every 5xx answer
        self.holds: list[Hold] = []
        self.inflight = 0
        self._lock = threading.Lock()

    def arm(self, key: str, nth: int, when: str = "before", parties: int = 1) -> Hold:
        """Hold the `nth` next request of a route (and the `parties - 1` after it).

        With several parties the hold is a barrier: all go on together once all arrived.
        """
        assert when in {"before", "after"}
        with self._lock:
            start = self.requests[key] + nth
            hold = Hold(key, start, start + parties - 1, when)
            self.holds.append(hold)
        return hold

    def release_all(self) -> None:
        for hold in self.holds:
            hold.release.set()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no request is being served (e.g. one a killed client left behind)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.inflight == 0:
                return True
            time.sleep(0.02)
        return False

    def _admit(self, key: str) -> Hold | None:
        with self._lock:
            self.requests[key] += 1
            number = self.requests[key]
            for hold in self.holds:
                if hold.key == key and hold.covers(number):
                    hold.arrived += 1
                    return hold
        return None

    @staticmethod
    async def _wait(hold: Hold) -> None:
        parties = hold.last - hold.first + 1
        if hold.arrived >= parties:
            hold.hit.set()
            if parties > 1:
                hold.release.set()
        deadline = time.monotonic() + HOLD_LIMIT_S
        while not hold.release.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self._lock:
            self.inflight += 1
        try:
            await self._serve(scope, receive, send)
        finally:
            with self._lock:
                self.inflight -= 1

    async def _serve(self, scope: Any, receive: Any, send: Any) -> None:
        key = route_key(scope["method"], scope["path"])
        hold = self._admit(key)
        if hold is not None and hold.when == "before":
            await self._wait(hold)

        async def counted_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                with self._lock:
                    self.statuses[message["status"]] += 1
                    if message["status"] >= 500:
                        self.errors[f"{message['status']} {key}"] += 1
                if hold is not None and hold.when == "after":
                    await self._wait(hold)
            await send(message)

        await self.app(scope, receive, counted_send)

    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


# ---------------------------------------------------------------- servers


@dataclass
class Platform:
    """A fake platform behind a gate."""

    server: LiveServer
    gate: Gate
    state: FakePlatformState

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def config(self) -> FakePlatformConfig:
        return self.state.config

    def stop(self) -> None:
        self.gate.release_all()
        self.server.stop()


def start_platform(config: FakePlatformConfig) -> Platform:
    app = create_platform_app(config)
    gate = Gate(app)
    server = LiveServer(gate).start()
    return Platform(server, gate, app.state.platform)


@dataclass
class GatedLookout:
    """Lookout (local mode) behind a gate, with its own database and storage."""

    lookout: Lookout
    gate: Gate

    @property
    def url(self) -> str:
        return self.lookout.url

    def stop(self) -> None:
        self.gate.release_all()
        self.lookout.close()
        self.lookout.server.stop()


def start_lookout(database_url: str, folder: Path, **overrides: Any) -> GatedLookout:
    """Lookout in local mode: the importer's requests act as the local admin."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = make_settings(folder, database_url, LOOKOUT_LOCAL_MODE=True, **overrides)
    gate = Gate(create_lookout_app(settings))
    server = LiveServer(gate).start()
    engine = make_engine(settings.resolved_database_url, pool_size=2)
    backend = "sqlite" if database_url.startswith("sqlite") else "postgres"
    lookout = Lookout(settings, server, make_session_factory(engine), backend)
    return GatedLookout(lookout, gate)


@contextmanager
def running(*servers: Platform | GatedLookout) -> Iterator[None]:
    try:
        yield
    finally:
        for server in servers:
            server.stop()


def new_sqlite_url(template: Path, folder: Path) -> str:
    """A fresh migrated SQLite database (a copy of the session's template)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "lookout.db"
    shutil.copy(template, target)
    return f"sqlite:///{target}"


# ---------------------------------------------------------------- importer


@dataclass
class ImporterRun:
    """One `lookout import-platform` subprocess; output goes to files (no pipe to fill)."""

    process: subprocess.Popen[bytes]
    out_path: Path
    err_path: Path

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    @property
    def output(self) -> str:
        return f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr[-6000:]}"

    def wait(self, timeout: float = 240.0) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            message = f"importer still running after {timeout}s\n{self.output}"
            raise AssertionError(message) from None

    def kill(self) -> None:
        """SIGKILL: no handler, no flush, exactly like a crash."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)

    def stat(self, name: str) -> int:
        match = re.search(rf"^  {re.escape(name)}: (\d+)", self.stdout, re.MULTILINE)
        assert match, f"{name!r} not in the report\n{self.output}"
        return int(match.group(1))


_runs = iter(range(1_000_000))


def spawn_importer(
    platform_url: str,
    lookout_url: str,
    days: tuple[str, str],
    folder: Path,
    *extra: str,
    credentials: dict[str, str] | None = None,
) -> ImporterRun:
    """Start the importer in a subprocess: the command `lookout import-platform` runs.

    `python -m lookout.platform_import.cli` is that same Typer command without the rest of
    the `lookout` CLI to import (half the start-up time, paid 30 times here); `python -m`
    rather than `uv run` so SIGKILL reaches the importer itself, not a launcher. It runs
    from an empty folder so no developer's .env is read.
    """
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env |= (credentials or BOTH_ORGS) | {"PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    command = [
        sys.executable,
        "-m",
        "lookout.platform_import.cli",
        "--url-api-platform",
        platform_url,
        "--url-api-annotation",
        lookout_url,
        "--date-from",
        days[0],
        "--date-end",
        days[1],
        *FAST,
        *extra,
    ]
    number = next(_runs)
    out_path, err_path = folder / f"import-{number}.out", folder / f"import-{number}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=out, stderr=err, start_new_session=True
        )
    return ImporterRun(process, out_path, err_path)


def run_importer(*args: Any, **kwargs: Any) -> ImporterRun:
    run = spawn_importer(*args, **kwargs)
    run.wait()
    return run


# ---------------------------------------------------------------- state


def _time(value: datetime | None) -> str | None:
    """Instants as UTC text, whatever the backend returns."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat()


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@dataclass
class Snapshot:
    """What an import left behind, comparable across databases and storages."""

    projects: list[tuple[str, str]]
    cameras: dict[tuple[str, str], tuple[Any, ...]]
    sequences: dict[tuple[str, str], tuple[Any, ...]]
    images: dict[tuple[str, str], tuple[Any, ...]]
    predictions: dict[tuple[str, str], list[tuple[Any, ...]]]
    reviews: dict[str, tuple[Any, ...]]
    objects: list[str]  # sha256 of every stored object's bytes, sorted
    rows: dict[str, int]  # table -> row count (duplicates would show here)
    orphan_objects: list[str]
    missing_objects: list[str]
    leftovers: list[str]  # keys noted for deletion (an upload or delete storage failed)

    def comparable(self, skip_review: str | None = None, versions: bool = True) -> dict[str, Any]:
        """Everything but the row counts, without the review of `skip_review`.

        `versions=False` leaves review versions out (a draft asked twice is version 2).
        """
        reviews = {
            k: v if versions else v[:-1] for k, v in self.reviews.items() if k != skip_review
        }
        return {
            "projects": self.projects,
            "cameras": self.cameras,
            "sequences": self.sequences,
            "images": self.images,
            "predictions": self.predictions,
            "reviews": reviews,
            "objects": self.objects,
        }

    def differences(
        self, other: Snapshot, skip_review: str | None = None, versions: bool = True
    ) -> list[str]:
        """Readable differences (empty when equal)."""
        mine = self.comparable(skip_review, versions)
        theirs = other.comparable(skip_review, versions)
        out = []
        for part in mine:
            if mine[part] == theirs[part]:
                continue
            a, b = mine[part], theirs[part]
            if isinstance(a, dict):
                extra = sorted(map(str, set(a) - set(b)))[:5]
                lost = sorted(map(str, set(b) - set(a)))[:5]
                changed = sorted(str(k) for k in set(a) & set(b) if a[k] != b[k])[:5]
                out.append(f"{part}: extra {extra}, lost {lost}, changed {changed}")
            else:
                out.append(f"{part}: {len(a)} here, {len(b)} in the reference")
        return out


def _s3_client(settings: Any, endpoint: str | None) -> Any:
    secret = settings.s3_secret_access_key
    return boto3.client(
        "s3",
        endpoint_url=endpoint or settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=Config(s3={"addressing_style": "path"}),
    )


def stored_objects(lookout: Lookout, s3_endpoint: str | None = None) -> dict[str, str]:
    """Every object in the Lookout's storage (local folder or S3 bucket): key -> sha256.

    `s3_endpoint` reads the bucket somewhere else than Lookout does (past a cut proxy).
    """
    settings = lookout.settings
    if settings.storage_backend == "s3":
        client = _s3_client(settings, s3_endpoint)
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=settings.s3_bucket)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        return {
            key: hashlib.sha256(
                client.get_object(Bucket=settings.s3_bucket, Key=key)["Body"].read()
            ).hexdigest()
            for key in keys
        }
    root = settings.resolved_storage_path
    if not root.exists():
        return {}
    # Content types are kept apart; anything else (a temporary upload too) is an object.
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in stored_files(root)
    }


GROUP_MARKS = ("group_id", "decided_by_group", "suggestion")


def snapshot(lookout: Lookout, s3_endpoint: str | None = None) -> Snapshot:
    """Read the whole imported state of one Lookout, by (source, source_id)."""
    with lookout.sessions() as s:
        if s.get_bind().dialect.name == "postgresql":
            # One snapshot for every read: a request the server still finishes (for a killed
            # importer) must not land between two of them.
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        group_names = {gid: name for gid, name in s.execute(sa.select(Group.id, Group.name))}
        projects = {p.id: p for p in s.scalars(sa.select(Project))}
        project_names = {pid: p.name for pid, p in projects.items()}
        cameras_rows = list(s.scalars(sa.select(Camera)))
        camera_keys = {c.id: c.source_id for c in cameras_rows}
        sequence_rows = list(s.scalars(sa.select(Sequence)))
        sequence_keys = {q.id: q.source_id for q in sequence_rows}
        image_rows = list(s.scalars(sa.select(Image)))
        image_keys = {i.id: i.source_id for i in image_rows}
        predictions: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        query = sa.select(Analysis, Prediction).join(
            Prediction, Prediction.analysis_id == Analysis.id
        )
        for analysis, p in s.execute(query):
            image = image_keys[analysis.image_id]
            predictions.setdefault(("pyronear", image), []).append(
                (
                    analysis.model_name,
                    analysis.model_version,
                    analysis.status,
                    p.annotation_type,
                    p.class_name,
                    p.confidence,
                    _canon(p.data),
                )
            )
        review_rows = list(s.scalars(sa.select(SequenceReview)))
        artifact_keys = list(s.scalars(sa.select(Artifact.object_key)))
        leftovers = sorted(s.scalars(sa.select(LeftoverObject.object_key)))
        rows = {
            table: s.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in (
                "projects",
                "cameras",
                "sequences",
                "images",
                "analyses",
                "predictions",
                "sequence_reviews",
            )
        }

    def review(r: SequenceReview) -> tuple[Any, ...]:
        # Which recurring-object group a track joined depends on the order sequences were
        # drafted in (groups grow incrementally), which concurrent imports do not fix: the
        # group marks are left out (tests/grouping checks grouping itself).
        tracks = [
            {
                **{k: v for k, v in t.items() if k not in GROUP_MARKS},
                "boxes": [
                    {**b, "frame_id": image_keys.get(uuid.UUID(str(b["frame_id"])))}
                    for b in t.get("boxes", [])
                ],
            }
            for t in r.tracks
        ]
        params = {k: v for k, v in r.draft_params.items() if k != "generated_at"}
        return (
            r.processing_stage,
            _canon(tracks),
            r.has_smoke,
            r.has_false_positives,
            _canon(r.false_positive_types),
            _canon(r.smoke_types),
            r.has_missed_smoke,
            _canon(params),
            r.reviewed_at is None,
            r.version,
        )

    row_keys = {k for i in image_rows for k in (i.object_key, i.thumbnail_key) if k}
    row_keys |= set(artifact_keys)
    stored = stored_objects(lookout, s3_endpoint)
    return Snapshot(
        projects=sorted((p.name, group_names.get(p.group_id, "?")) for p in projects.values()),
        cameras={
            (c.source, c.source_id): (
                project_names[c.project_id],
                c.name,
                c.organization_id,
                c.organization_name,
                c.lat,
                c.lon,
                c.elevation,
                c.angle_of_view,
                c.is_trustable,
                _canon(c.extra),
            )
            for c in cameras_rows
        },
        sequences={
            (q.source, q.source_id): (
                project_names[q.project_id],
                camera_keys.get(q.camera_id),
                q.azimuth,
                _time(q.started_at),
                _time(q.last_seen_at),
                q.source_label,
                q.lat,
                q.lon,
                _canon(q.extra),
            )
            for q in sequence_rows
        },
        images={
            (i.source or "", i.source_id or ""): (
                project_names[i.project_id],
                sequence_keys.get(i.sequence_id),
                i.content_type,
                i.size_bytes,
                i.width,
                i.height,
                i.sha256,
                _time(i.captured_at),
                i.filename,
            )
            for i in image_rows
        },
        predictions={k: sorted(v, key=repr) for k, v in predictions.items()},
        reviews={sequence_keys[r.sequence_id]: review(r) for r in review_rows},
        objects=sorted(stored.values()),
        rows=rows,
        orphan_objects=sorted(set(stored) - row_keys),
        missing_objects=sorted(row_keys - set(stored)),
        leftovers=leftovers,
    )
