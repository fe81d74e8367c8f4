"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lookout.db import JSONType, UTCDateTime, make_engine
from lookout.migrate import upgrade
from lookout.models import Base


def test_migrations_match_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
        tables = set(sa.inspect(connection).get_table_names())
        if connection.dialect.name == "sqlite":
            diff = [d for d in diff if not _sqlite_added_reference(d)]
            # ...which is there all the same, and acts as the model says.
            for table in ("images", "sequences"):
                pragma = f"PRAGMA foreign_key_list({table})"
                references = connection.exec_driver_sql(pragma).all()
                assert any(
                    r[2:5] == ("users", "deleted_by_id", "id") and r[6] == "SET NULL"
                    for r in references
                ), table
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"
    assert set(Base.metadata.tables) <= tables


def _sqlite_added_reference(change: Any) -> bool:
    """Migrations 0014 and 0015 add images.deleted_by_id and sequences.deleted_by_id with their
    reference by ALTER TABLE ADD COLUMN (a copy of the table would cascade deletes): SQLite
    keeps such a reference inline, and SQLAlchemy reflects it without its name and ON DELETE,
    so it compares as changed."""
    if change[0] not in ("add_fk", "remove_fk"):
        return False
    constraint = change[1]
    return constraint.table.name in ("images", "sequences") and list(constraint.column_keys) == [
        "deleted_by_id"
    ]


def test_unique_source_ids_are_enforced_by_the_database(database_url):
    engine = make_engine(database_url)
    inspector = sa.inspect(engine)
    for table in ("cameras", "sequences", "images"):
        uniques = [set(u["column_names"]) for u in inspector.get_unique_constraints(table)]
        assert {"project_id", "source", "source_id"} in uniques, table
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no schema yet, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    server = request.getfixturevalue("postgres_server")
    name = f"lookout_migrate_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server.get_uri(), pool_size=1)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    base = sa.engine.make_url(server.get_uri().replace("postgresql://", "postgresql+psycopg://"))
    return base.set(database=name).render_as_string(hide_password=False)


_TYPES: dict[str, Any] = {
    "id": sa.Uuid(),
    "group_id": sa.Uuid(),
    "project_id": sa.Uuid(),
    "sequence_id": sa.Uuid(),
    "created_at": UTCDateTime(),
    "updated_at": UTCDateTime(),
    "started_at": UTCDateTime(),
    "extra": JSONType,
    "tracks": JSONType,
    "false_positive_types": JSONType,
    "smoke_types": JSONType,
    "draft_params": JSONType,
    "has_smoke": sa.Boolean(),
    "has_false_positives": sa.Boolean(),
    "has_missed_smoke": sa.Boolean(),
    "version": sa.Integer(),
}


def _table(name: str, *columns: str) -> sa.TableClause:
    """A table as it was at revision 0006, with only the columns an insert needs."""
    names = ("id", *columns, "created_at", "updated_at")
    return sa.table(name, *(sa.column(c, _TYPES.get(c, sa.String())) for c in names))


def _old_track(**fields: Any) -> dict[str, Any]:
    box = {"frame_id": str(uuid.uuid4()), "xyxyn": [0.1, 0.1, 0.2, 0.2]}
    return {
        "is_smoke": True,
        "smoke_type": None,
        "false_positive_types": [],
        "boxes": [box],
        **fields,
    }


SEQUENCE_STARTS = {
    "annotated": datetime(2025, 1, 1, 9, tzinfo=UTC),
    "drafted": datetime(2025, 1, 1, 10, 0, 0, 1, tzinfo=UTC),
}


def _reviews_at_0006(
    url: str, *, annotated: list[dict[str, Any]], drafted: list[dict[str, Any]]
) -> dict[str, uuid.UUID]:
    """An annotated review and a draft of two sequences (the second started an hour and a
    microsecond later) in a database at revision 0006: the reviews' ids by stage."""
    upgrade(url, "0006")
    engine = make_engine(url)
    ids = {"annotated": uuid.uuid4(), "drafted": uuid.uuid4()}
    when = datetime(2025, 1, 1, 10, tzinfo=UTC)
    stamps = {"created_at": when, "updated_at": when}
    group, project = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(_table("groups", "name").insert(), {"id": group, "name": "g", **stamps})
        conn.execute(
            _table("projects", "name", "group_id").insert(),
            {"id": project, "name": "p", "group_id": group, **stamps},
        )
        for stage, tracks in (("annotated", annotated), ("drafted", drafted)):
            sequence = uuid.uuid4()
            conn.execute(
                _table(
                    "sequences", "project_id", "source", "source_id", "started_at", "extra"
                ).insert(),
                {
                    "id": sequence,
                    "project_id": project,
                    "source": "s",
                    "source_id": stage,
                    "started_at": SEQUENCE_STARTS[stage],
                    "extra": {},
                    **stamps,
                },
            )
            conn.execute(
                _table(
                    "sequence_reviews",
                    "sequence_id",
                    "tracks",
                    "has_smoke",
                    "has_false_positives",
                    "false_positive_types",
                    "smoke_types",
                    "has_missed_smoke",
                    "processing_stage",
                    "draft_params",
                    "version",
                ).insert(),
                {
                    "id": ids[stage],
                    "sequence_id": sequence,
                    "tracks": tracks,
                    "has_smoke": True,
                    "has_false_positives": False,
                    "false_positive_types": [],
                    "smoke_types": [],
                    "has_missed_smoke": False,
                    "processing_stage": "annotated"
                    if stage == "annotated"
                    else "ready_to_annotate",
                    "draft_params": {},
                    "version": 3,
                    **stamps,
                },
            )
    engine.dispose()
    return ids


def test_reviews_saved_before_decisions_keep_what_they_said(empty_database_url: str) -> None:
    """Migration 0007: an annotated review's tracks count as decided as they were; a draft's
    smoke without a type becomes undecided; every review starts its history."""
    annotated = [
        _old_track(),  # smoke without a type, in an annotated review: smoke, as it was saved
        _old_track(smoke_type="wildfire"),
        _old_track(is_smoke=False, false_positive_types=["antenna"]),
    ]
    drafted = [_old_track(), _old_track(is_smoke=False)]
    ids = _reviews_at_0006(empty_database_url, annotated=annotated, drafted=drafted)

    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:

        def decisions(review_id: uuid.UUID) -> list[str]:
            reviews = _table("sequence_reviews", "tracks")
            query = sa.select(reviews.c.tracks).where(reviews.c.id == review_id)
            return [t["decision"] for t in conn.execute(query).scalar_one()]

        assert decisions(ids["annotated"]) == ["smoke", "smoke", "false_positive"]
        assert decisions(ids["drafted"]) == ["undecided", "false_positive"]
        versions = sa.table(
            "review_versions",
            sa.column("review_id", sa.Uuid()),
            sa.column("version", sa.Integer()),
            sa.column("action", sa.String()),
        )
        history = conn.execute(sa.select(versions)).all()
        unsure = conn.execute(sa.text("SELECT count(*) FROM sequence_reviews WHERE is_unsure"))
        assert unsure.scalar_one() == 0
    engine.dispose()
    assert sorted((str(r[0]), r[1], r[2]) for r in history) == sorted(
        (str(i), 3, "migrated") for i in ids.values()
    )


def test_reviews_get_their_sequences_start_and_keep_their_history(
    empty_database_url: str,
) -> None:
    """Migration 0018: every review holds its sequence's start to the microsecond, the queue's
    index is there, and adding the column dropped none of the reviews' saved versions."""
    ids = _reviews_at_0006(empty_database_url, annotated=[_old_track()], drafted=[_old_track()])
    upgrade(empty_database_url, "0017")
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        versions_before = conn.execute(sa.text("SELECT count(*) FROM review_versions")).scalar()
    upgrade(empty_database_url)
    reviews = sa.table(
        "sequence_reviews",
        sa.column("id", sa.Uuid()),
        sa.column("sequence_started_at", UTCDateTime()),
    )
    with engine.connect() as conn:
        starts = dict(conn.execute(sa.select(reviews.c.id, reviews.c.sequence_started_at)).all())
        versions_after = conn.execute(sa.text("SELECT count(*) FROM review_versions")).scalar()
        indexes = {i["name"]: i for i in sa.inspect(conn).get_indexes("sequence_reviews")}
    engine.dispose()
    assert starts == {ids[stage]: SEQUENCE_STARTS[stage] for stage in ids}
    assert versions_before == versions_after == 2
    assert indexes["ix_sequence_reviews_waiting"]["column_names"] == [
        "sequence_started_at",
        "sequence_id",
    ]


def _sequence_row(project: uuid.UUID, name: str, **values: Any) -> dict[str, Any]:
    when = datetime(2025, 7, 1, 10, tzinfo=UTC)
    row = {"id": uuid.uuid4(), "project_id": project, "source": "pyronear", "source_id": name}
    return row | {"started_at": when, "created_at": when, "updated_at": when} | values


def _insert_platform_boxes(conn: sa.Connection, project: uuid.UUID, row: dict[str, Any]) -> None:
    """One frame of the sequence with the platform's analysis: boxes of 0.4 and 0.75."""
    when = row["created_at"]
    image, analysis = uuid.uuid4(), uuid.uuid4()
    images = sa.table(
        "images",
        *(sa.column(c) for c in ("object_key", "content_type", "size_bytes", "width", "height")),
        *(sa.column(c) for c in ("sha256",)),
        *(sa.column(c, _TYPES.get(c, sa.Uuid())) for c in ("id", "project_id", "sequence_id")),
        *(sa.column(c, UTCDateTime()) for c in ("created_at", "updated_at")),
    )
    conn.execute(
        images.insert(),
        {
            "id": image,
            "project_id": project,
            "sequence_id": row["id"],
            "object_key": f"k/{image}",
            "content_type": "image/jpeg",
            "size_bytes": 1,
            "width": 1,
            "height": 1,
            "sha256": "0" * 64,
            "created_at": when,
            "updated_at": when,
        },
    )
    analyses = sa.table(
        "analyses",
        *(sa.column(c, sa.Uuid()) for c in ("id", "image_id")),
        *(sa.column(c) for c in ("model_name", "model_version", "status", "attempts")),
        *(sa.column(c, JSONType) for c in ("parameters", "provenance")),
        *(sa.column(c, UTCDateTime()) for c in ("created_at", "updated_at")),
    )
    conn.execute(
        analyses.insert(),
        {
            "id": analysis,
            "image_id": image,
            "model_name": "platform",
            "model_version": "pyronear-alert-api",
            "status": "completed",
            "attempts": 0,
            "parameters": {},
            "provenance": {},
            "created_at": when,
            "updated_at": when,
        },
    )
    predictions = sa.table(
        "predictions",
        *(sa.column(c, sa.Uuid()) for c in ("id", "analysis_id")),
        *(sa.column(c) for c in ("annotation_type", "class_name")),
        sa.column("confidence", sa.Double()),
        sa.column("data", JSONType),
        sa.column("created_at", UTCDateTime()),
    )
    for confidence in (0.4, 0.75):
        conn.execute(
            predictions.insert(),
            {
                "id": uuid.uuid4(),
                "analysis_id": analysis,
                "annotation_type": "bounding_box",
                "class_name": "smoke",
                "confidence": confidence,
                "data": {"bbox": [0.1, 0.1, 0.2, 0.2], "format": "xyxyn"},
                "created_at": when,
            },
        )


def test_platform_fields_are_backfilled_from_each_schema(empty_database_url: str) -> None:
    """Migration 0010: a 2025 row's azimuth is the camera's heading and its cone_azimuth the
    smoke's direction, a 2026 row's (told by its extra) camera_azimuth and sequence_azimuth;
    scores come from max_conf or, in 2025, the platform's highest box; labels normalized."""
    upgrade(empty_database_url, "0009")
    engine = make_engine(empty_database_url)
    group, project = uuid.uuid4(), uuid.uuid4()
    when = datetime(2025, 1, 1, tzinfo=UTC)
    stamps = {"created_at": when, "updated_at": when}
    old = _sequence_row(
        project,
        "2025",
        azimuth=120.0,
        source_label="False",
        extra={"cone_azimuth": 131.5, "cone_angle": 8.0, "is_wildfire": False},
    )
    new = _sequence_row(
        project,
        "2026",
        azimuth=215.0,  # the smoke's direction, as the importer stored it then
        source_label="other_smoke",
        extra={"camera_azimuth": 200.0, "sequence_azimuth": 215.0, "max_conf": 0.66},
    )
    other = _sequence_row(project, "manual", source="test", azimuth=45.0, extra={})
    names = ("id", "project_id", "source", "source_id", "started_at", "extra", "source_label")
    sequences = sa.table(
        "sequences",
        *(sa.column(c, _TYPES.get(c, sa.String())) for c in names),
        sa.column("azimuth", sa.Double()),
        *(sa.column(c, UTCDateTime()) for c in ("created_at", "updated_at")),
    )
    with engine.begin() as conn:
        conn.execute(_table("groups", "name").insert(), {"id": group, "name": "g", **stamps})
        conn.execute(
            _table("projects", "name", "group_id").insert(),
            {"id": project, "name": "p", "group_id": group, **stamps},
        )
        for row in (old, new, other):
            conn.execute(sequences.insert(), {"source_label": None} | row)
        _insert_platform_boxes(conn, project, old)
    engine.dispose()

    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        query = sa.text(
            "SELECT source_id, azimuth, camera_azimuth, smoke_azimuth, platform_score, "
            "platform_label FROM sequences"
        )
        got = {r[0]: tuple(r[1:]) for r in conn.execute(query)}
    engine.dispose()
    assert got["2025"] == (120.0, 120.0, 131.5, pytest.approx(0.75), "other")
    assert got["2026"] == (200.0, 200.0, 215.0, pytest.approx(0.66), "other_smoke")
    assert got["manual"] == (45.0, 45.0, None, None, None)


def test_replay_answers_stored_before_compression_still_replay(empty_database_url: str) -> None:
    """Migration 0017: an Idempotency-Key answer stored as JSON is replayed as it was; new
    answers are stored compressed, with no JSON."""
    from sqlalchemy.orm import Session

    from lookout.analyses.bulk import _store_answer, _stored_answer
    from lookout.analyses.models import IdempotencyRecord

    upgrade(empty_database_url, "0016")
    engine = make_engine(empty_database_url)
    old_answer = {"created_count": 1, "annotations": [{"id": "a"}], "replaced_count": 0}
    record = sa.table(
        "idempotency_records",
        *(sa.column(c) for c in ("scope", "key", "request_hash", "status_code", "created_at")),
        sa.column("response", JSONType),
    )
    with engine.begin() as conn:
        conn.execute(
            record.insert(),
            {
                "scope": "bulk:x",
                "key": "old",
                "request_hash": "h",
                "status_code": 201,
                "response": old_answer,
                "created_at": datetime(2026, 1, 1, tzinfo=UTC),
            },
        )
    upgrade(empty_database_url)
    with Session(engine) as session:
        replayed = _stored_answer(session, "bulk:x", "old", "h")
        assert replayed is not None and replayed.replayed
        assert replayed.body == old_answer
        new_answer = b'{"created_count":2,"annotations":[]}'
        _store_answer(session, "bulk:x", "new", "h2", 201, new_answer)
        session.commit()
        stored = session.scalar(sa.select(IdempotencyRecord).filter_by(key="new"))
        assert stored is not None and stored.response is None
        assert stored.response_zlib is not None and stored.response_zlib != new_answer
        again = _stored_answer(session, "bulk:x", "new", "h2")
        assert again is not None and again.json_bytes() == new_answer
        assert again.body == {"created_count": 2, "annotations": []}
    engine.dispose()
