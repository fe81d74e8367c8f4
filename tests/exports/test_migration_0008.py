"""Migration 0008 on data written before it: ids and splits start empty, the first export's
assignment fills them (identical images in one project apart), and the migration goes back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from lookout.db import UTCDateTime, make_engine, make_session_factory
from lookout.exports.ids import assign_image_ids, candidate
from lookout.images.models import Image
from lookout.migrate import alembic_config, upgrade
from lookout.sequences.models import Sequence
from tests.test_migrations import _table, empty_database_url  # noqa: F401 (fixture)

WHEN = datetime(2025, 1, 1, 10, tzinfo=UTC)
STAMPS = {"created_at": WHEN, "updated_at": WHEN}
SHA = "ab" * 32


def _seed(url: str) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    """A project at revision 0007 with a sequence and two images of the same bytes."""
    group, project, sequence = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    images = [uuid.uuid4(), uuid.uuid4()]
    image_table = sa.table(
        "images",
        sa.column("id", sa.Uuid()),
        sa.column("project_id", sa.Uuid()),
        sa.column("sequence_id", sa.Uuid()),
        *(sa.column(c, sa.String()) for c in ("object_key", "content_type", "sha256")),
        *(sa.column(c, sa.Integer()) for c in ("size_bytes", "width", "height")),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(_table("groups", "name").insert(), {"id": group, "name": "g", **STAMPS})
        conn.execute(
            _table("projects", "name", "group_id").insert(),
            {"id": project, "name": "p", "group_id": group, **STAMPS},
        )
        conn.execute(
            _table(
                "sequences", "project_id", "source", "source_id", "started_at", "extra"
            ).insert(),
            {
                "id": sequence,
                "project_id": project,
                "source": "s",
                "source_id": "one",
                "started_at": WHEN,
                "extra": {},
                **STAMPS,
            },
        )
        for n, image_id in enumerate(images):
            conn.execute(
                image_table.insert(),
                {
                    "id": image_id,
                    "project_id": project,
                    "sequence_id": sequence,
                    "object_key": f"k/{n}.jpg",
                    "content_type": "image/jpeg",
                    "size_bytes": 10,
                    "width": 4,
                    "height": 3,
                    "sha256": SHA,
                    "created_at": WHEN.replace(minute=n),
                    "updated_at": WHEN,
                },
            )
    engine.dispose()
    return project, sequence, images


def test_ids_and_splits_start_empty_and_are_assigned_once(empty_database_url: str) -> None:  # noqa: F811
    upgrade(empty_database_url, "0007")
    project, sequence, images = _seed(empty_database_url)
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    sessions = make_session_factory(engine)
    with sessions() as session:
        assert session.get(Sequence, sequence).split is None
        assert [session.get(Image, i).coco_id for i in images] == [None, None]
        assert assign_image_ids(session, project_id=project) == 2
        numbers = [session.get(Image, i).coco_id for i in images]
        # The older image takes the content's id, its twin the next candidate.
        assert numbers == [candidate(SHA, 0), candidate(SHA, 1)]
        assert assign_image_ids(session, project_id=project) == 0
    engine.dispose()
    command.downgrade(alembic_config(empty_database_url), "0007")
    engine = make_engine(empty_database_url)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("images")}
    engine.dispose()
    assert "coco_id" not in columns
