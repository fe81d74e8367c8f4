"""Sequences keep the camera's heading, the smoke's direction and the platform's score and
label as columns of their own.

Until now `azimuth` held the camera's heading for the platform's 2025 data and the smoke's
direction for its 2026 data. The backfill tells the schemas apart by what the importer kept
in `extra` (2026 rows have `camera_azimuth` or `sequence_azimuth` there), so afterwards
`camera_azimuth` and `azimuth` are the camera's heading and `smoke_azimuth` the smoke's
direction on every row. The 2025 platform sent no score: its highest box confidence, read
from the platform's analyses of the sequence's frames, stands for it.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Copied, not imported: a migration must keep meaning what it meant when it was written.
_LABELS = ("wildfire_smoke", "other_smoke", "other")
_PLATFORM_MODEL_VERSION = "pyronear-alert-api"
_BATCH = 500

_sequences = sa.table(
    "sequences",
    sa.column("id", sa.Uuid()),
    sa.column("source", sa.String()),
    sa.column("azimuth", sa.Double()),
    sa.column("source_label", sa.String()),
    sa.column("extra", sa.JSON()),
    sa.column("camera_azimuth", sa.Double()),
    sa.column("smoke_azimuth", sa.Double()),
    sa.column("platform_score", sa.Double()),
    sa.column("platform_label", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("sequences") as batch:
        batch.add_column(sa.Column("camera_azimuth", sa.Double(), nullable=True))
        batch.add_column(sa.Column("smoke_azimuth", sa.Double(), nullable=True))
        batch.add_column(sa.Column("platform_score", sa.Double(), nullable=True))
        batch.add_column(sa.Column("platform_label", sa.String(length=20), nullable=True))
        batch.create_index("ix_sequences_platform_score", ["platform_score"])
        batch.create_index("ix_sequences_platform_label", ["platform_label"])
    _backfill(op.get_bind())


def downgrade() -> None:
    # `azimuth` stays the camera's heading: the smoke's direction of 2026 rows is lost.
    with op.batch_alter_table("sequences") as batch:
        batch.drop_index("ix_sequences_platform_label")
        batch.drop_index("ix_sequences_platform_score")
        batch.drop_column("platform_label")
        batch.drop_column("platform_score")
        batch.drop_column("smoke_azimuth")
        batch.drop_column("camera_azimuth")


def _backfill(conn: sa.Connection) -> None:
    rows = conn.execute(
        sa.select(
            _sequences.c.id,
            _sequences.c.source,
            _sequences.c.azimuth,
            _sequences.c.source_label,
            _sequences.c.extra,
        )
    ).all()
    scores = _box_scores(conn)
    updates = [_fields(row, scores.get(row.id)) for row in rows]
    statement = (
        _sequences.update()
        .where(_sequences.c.id == sa.bindparam("row_id"))
        .values(
            azimuth=sa.bindparam("azimuth"),
            camera_azimuth=sa.bindparam("camera_azimuth"),
            smoke_azimuth=sa.bindparam("smoke_azimuth"),
            platform_score=sa.bindparam("platform_score"),
            platform_label=sa.bindparam("platform_label"),
        )
    )
    for chunk in _chunks(updates):
        conn.execute(statement, chunk)


def _chunks(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


def _box_scores(conn: sa.Connection) -> dict[Any, float]:
    """Each sequence's highest confidence among the platform's own boxes."""
    query = sa.text(
        "SELECT images.sequence_id, MAX(predictions.confidence) FROM predictions "
        "JOIN analyses ON analyses.id = predictions.analysis_id "
        "JOIN images ON images.id = analyses.image_id "
        "WHERE analyses.model_version = :version AND images.sequence_id IS NOT NULL "
        "GROUP BY images.sequence_id"
    ).columns(sa.column("sequence_id", sa.Uuid()), sa.column("score", sa.Double()))
    rows = conn.execute(query, {"version": _PLATFORM_MODEL_VERSION})
    return {sequence_id: score for sequence_id, score in rows if score is not None}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _fields(row: Any, box_score: float | None) -> dict[str, Any]:
    """The new columns of one row, from what it held."""
    extra = row.extra if isinstance(row.extra, dict) else {}
    is_2026 = "camera_azimuth" in extra or "sequence_azimuth" in extra
    if is_2026:
        camera = _number(extra.get("camera_azimuth"))
        smoke = _number(extra.get("sequence_azimuth"))
    else:
        camera = row.azimuth
        smoke = _number(extra.get("cone_azimuth"))
    score = _number(extra.get("max_conf"))
    if score is None and row.source == "pyronear":
        score = box_score
    return {
        "row_id": row.id,
        "azimuth": camera,
        "camera_azimuth": camera,
        "smoke_azimuth": smoke,
        "platform_score": score,
        "platform_label": _label(row.source_label),
    }


def _label(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in _LABELS:
        return value
    return {"true": "wildfire_smoke", "false": "other"}.get(value)
