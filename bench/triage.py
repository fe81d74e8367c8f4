"""Triage at scale: grouping recurring objects as imports arrive, one day at a time.

    uv run python -m bench triage            # 20,000 sequences, 100 cameras, 30 import days
    uv run python -m bench triage --quick    # 2,000 sequences, 20 cameras, 10 import days

Grouping (lookout.grouping): each day's sequences are stored as the import stores them (rows
and drafted reviews, inserted with SQL, not timed), then grouped one by one as the draft
endpoint does after each draft (`join_after_draft`, one transaction per sequence, timed), on
PostgreSQL. Every camera sees a few recurring objects (the same place, a little jitter) and
one-off ones, so its groups keep growing. Figure: milliseconds per 1,000 sequences grouped on
the last day against the first (each day timed in chunks of 50 sequences, the median chunk
kept, so a busy machine's pauses do not decide the figure). Target: <= 1.5x (joining compares
a track with the groups of its camera only, one stored box each; no recomputation as the
store grows).
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bench.common import Report, analyze, at_most, log, median, postgres, standard_args

RECURRING_PER_CAMERA = 5
RECURRING_SHARE = 0.7  # of tracks: a camera's recurring objects, the rest one-off
BOXES_PER_TRACK = 6
START = datetime(2025, 6, 1, tzinfo=UTC)
CHUNK = 50  # sequences timed together


def _track(rng: random.Random, place: tuple[float, float, float, float]) -> dict[str, Any]:
    x1, y1, x2, y2 = place
    boxes = []
    for index in range(BOXES_PER_TRACK):
        j = [rng.uniform(-0.004, 0.004) for _ in range(4)]
        box = [round(min(1, max(0, v + d)), 6) for v, d in zip((x1, y1, x2, y2), j, strict=True)]
        boxes.append({"frame_id": str(uuid.uuid4()), "frame_index": index, "xyxyn": box})
    return {
        "decision": "undecided",
        "is_smoke": True,
        "smoke_type": None,
        "false_positive_types": [],
        "confidence": 0.5,
        "boxes": boxes,
    }


def _place(rng: random.Random) -> tuple[float, float, float, float]:
    w, h = rng.uniform(0.03, 0.12), rng.uniform(0.04, 0.15)
    x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
    return x, y, x + w, y + h


def _insert_day(
    conn: sa.Connection,
    rng: random.Random,
    project_id: uuid.UUID,
    cameras: list[tuple[uuid.UUID, list[tuple[float, float, float, float]]]],
    day: int,
    count: int,
) -> list[uuid.UUID]:
    """`count` sequences of one import day spread over the cameras, with drafted reviews."""
    from lookout.sequences.models import Sequence, SequenceReview

    now = datetime.now(UTC)
    sequences, reviews = [], []
    for n in range(count):
        camera_id, recurring = cameras[n % len(cameras)]
        started = START + timedelta(days=day, minutes=rng.randrange(0, 1440))
        sequence_id = uuid.uuid4()
        tracks = []
        for _ in range(rng.choice((1, 1, 2))):
            recurs = rng.random() < RECURRING_SHARE
            tracks.append(_track(rng, rng.choice(recurring) if recurs else _place(rng)))
        sequences.append(
            {
                "id": sequence_id,
                "project_id": project_id,
                "camera_id": camera_id,
                "source": "bench",
                "source_id": f"d{day}-{n}",
                "started_at": started,
                "last_seen_at": started + timedelta(minutes=3),
                "extra": {},
                "created_at": now,
                "updated_at": now,
            }
        )
        reviews.append(
            {
                "id": uuid.uuid4(),
                "sequence_id": sequence_id,
                "sequence_started_at": started,
                "tracks": tracks,
                "has_smoke": True,
                "has_false_positives": False,
                "false_positive_types": [],
                "smoke_types": [],
                "has_missed_smoke": False,
                "is_unsure": False,
                "processing_stage": "ready_to_annotate",
                "draft_params": {"model_name": "platform"},
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    conn.execute(sa.insert(Sequence.__table__), sequences)
    conn.execute(sa.insert(SequenceReview.__table__), reviews)
    return [row["id"] for row in sequences]


def grouping(report: Report, *, sequences: int, cameras: int, days: int) -> None:
    from lookout.accounts import service as accounts
    from lookout.config import Settings
    from lookout.db import make_engine, make_session_factory
    from lookout.grouping.models import SequenceGroup
    from lookout.grouping.service import join_after_draft
    from lookout.projects.models import Project
    from lookout.sequences.models import Camera

    iou = Settings(_env_file=None).group_iou
    rng = random.Random(18)
    per_day = sequences // days
    with postgres() as pg:
        url = pg.database()
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with sessions() as session:
            group = accounts.get_or_create_group(session, name="bench")
            project = Project(id=uuid.uuid4(), group_id=group.id, name="bench")
            session.add(project)
            session.flush()
            made = []
            for c in range(cameras):
                camera = Camera(
                    id=uuid.uuid4(),
                    project_id=project.id,
                    source="bench",
                    source_id=f"cam-{c}",
                    name=f"camera {c}",
                    extra={},
                )
                session.add(camera)
                made.append((camera.id, [_place(rng) for _ in range(RECURRING_PER_CAMERA)]))
            session.commit()
            project_id = project.id
        per_1000: list[float] = []
        for day in range(days):
            with engine.begin() as conn:
                ids = _insert_day(conn, rng, project_id, made, day, per_day)
            if day in (0, days - 1):
                analyze(url)
            # Timed in chunks, the median kept: a busy machine's pauses hit a chunk, not a day.
            chunks: list[float] = []
            joined = 0
            with sessions() as session:
                for start in range(0, len(ids), CHUNK):
                    chunk = ids[start : start + CHUNK]
                    began = time.perf_counter()
                    joined += sum(join_after_draft(session, s, iou_threshold=iou) for s in chunk)
                    chunks.append((time.perf_counter() - began) / len(chunk))
            per_1000.append(1_000_000 * median(chunks))
            if day in (0, days - 1) or day % 5 == 4:
                log(
                    f"day {day + 1}: {len(ids)} sequences, {joined} tracks grouped, "
                    f"{per_1000[-1]:.0f} ms per 1,000 sequences"
                )
        with sessions() as session:
            groups = session.scalar(sa.select(sa.func.count()).select_from(SequenceGroup))
            recurring = session.scalar(
                sa.select(sa.func.count())
                .select_from(SequenceGroup)
                .where(SequenceGroup.member_count >= 2)
            )
        engine.dispose()
    first, last = per_1000[0], per_1000[-1]
    log(
        f"groups: {groups} ({recurring} seen more than once); day 1 {first:.0f} ms, "
        f"day {days} {last:.0f} ms per 1,000 sequences"
    )
    report.figure(
        f"grouping_day_{days}_per_1000",
        last,
        "ms",
        reference=first,
        ratio=last / first,
        target=at_most(1.5),
        sequences=per_day * days,
        cameras=cameras,
        days=days,
        day_1_ms_per_1000=first,
        groups=groups,
        recurring_groups=recurring,
        backend="postgres",
    )


def main(argv: list[str] | None = None) -> int:
    args = standard_args(__doc__.split("\n\n")[0], argv)
    report = Report("triage")
    if args.quick:
        grouping(report, sequences=2_000, cameras=20, days=10)
    else:
        grouping(report, sequences=20_000, cameras=100, days=30)
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
