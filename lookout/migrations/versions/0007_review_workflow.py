"""The review workflow: explicit track decisions, unsure reviews, claims, skips and history.

Every stored track gets a `decision`. A track of an annotated review counts as decided as it
was (smoke, or false positive); elsewhere a smoke track without a smoke type is a draft's and
becomes undecided. Every review gets its current state as version one of its history.

Revision ID: 0007
Revises: 0006
"""

import json
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "review_claims",
        sa.Column("sequence_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sequence_id"],
            ["sequences.id"],
            name=op.f("fk_review_claims_sequence_id_sequences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_review_claims_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sequence_id", name=op.f("pk_review_claims")),
    )
    with op.batch_alter_table("review_claims", schema=None) as batch_op:
        batch_op.create_index("ix_review_claims_user", ["user_id"], unique=False)

    op.create_table(
        "review_skips",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("sequence_id", sa.Uuid(), nullable=False),
        sa.Column("skipped_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sequence_id"],
            ["sequences.id"],
            name=op.f("fk_review_skips_sequence_id_sequences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_review_skips_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "sequence_id", name=op.f("pk_review_skips")),
    )
    op.create_table(
        "review_versions",
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("sequence_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("saved_by_id", sa.Uuid(), nullable=True),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("state", JSON, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["sequence_reviews.id"],
            name=op.f("fk_review_versions_review_id_sequence_reviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["saved_by_id"],
            ["users.id"],
            name=op.f("fk_review_versions_saved_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sequence_id"],
            ["sequences.id"],
            name=op.f("fk_review_versions_sequence_id_sequences"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_versions")),
        sa.UniqueConstraint(
            "review_id", "version", name=op.f("uq_review_versions_review_id_version")
        ),
    )
    with op.batch_alter_table("review_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_versions_saved_at"), ["saved_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_review_versions_saved_by_id"), ["saved_by_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_review_versions_sequence_id"), ["sequence_id"], unique=False
        )

    with op.batch_alter_table("sequence_reviews", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_unsure", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("returned_reason", sa.Text(), nullable=True))
    _decide_tracks_and_start_histories()


def downgrade() -> None:
    with op.batch_alter_table("sequence_reviews", schema=None) as batch_op:
        batch_op.drop_column("returned_reason")
        batch_op.drop_column("is_unsure")

    with op.batch_alter_table("review_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_versions_sequence_id"))
        batch_op.drop_index(batch_op.f("ix_review_versions_saved_by_id"))
        batch_op.drop_index(batch_op.f("ix_review_versions_saved_at"))

    op.drop_table("review_versions")
    op.drop_table("review_skips")
    with op.batch_alter_table("review_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_review_claims_user")

    op.drop_table("review_claims")


def _decision(track: dict, annotated: bool) -> str:
    if track.get("decision"):
        return str(track["decision"])
    if track.get("is_smoke", True) is False:
        return "false_positive"
    if annotated or track.get("smoke_type"):
        return "smoke"
    return "undecided"


def _decide_tracks_and_start_histories() -> None:
    connection = op.get_bind()
    reviews = sa.table(
        "sequence_reviews",
        sa.column("id", sa.Uuid()),
        sa.column("sequence_id", sa.Uuid()),
        sa.column("tracks", JSON),
        sa.column("has_smoke", sa.Boolean()),
        sa.column("has_false_positives", sa.Boolean()),
        sa.column("false_positive_types", JSON),
        sa.column("smoke_types", JSON),
        sa.column("has_missed_smoke", sa.Boolean()),
        sa.column("processing_stage", sa.String()),
        sa.column("reviewed_by_id", sa.Uuid()),
        sa.column("reviewed_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("version", sa.Integer()),
    )
    versions = sa.table(
        "review_versions",
        sa.column("id", sa.Uuid()),
        sa.column("review_id", sa.Uuid()),
        sa.column("sequence_id", sa.Uuid()),
        sa.column("version", sa.Integer()),
        sa.column("action", sa.String()),
        sa.column("saved_by_id", sa.Uuid()),
        sa.column("saved_at", sa.DateTime(timezone=True)),
        sa.column("state", JSON),
    )
    for row in connection.execute(sa.select(reviews)).mappings().all():
        tracks = row["tracks"]
        if isinstance(tracks, str):
            tracks = json.loads(tracks)
        annotated = row["processing_stage"] == "annotated"
        decided = [
            {**t, "decision": _decision(t, annotated)} if isinstance(t, dict) else t
            for t in tracks or []
        ]
        connection.execute(reviews.update().where(reviews.c.id == row["id"]).values(tracks=decided))
        state = {
            "tracks": decided,
            "has_smoke": row["has_smoke"],
            "has_false_positives": row["has_false_positives"],
            "false_positive_types": row["false_positive_types"],
            "smoke_types": row["smoke_types"],
            "has_missed_smoke": row["has_missed_smoke"],
            "is_unsure": False,
            "processing_stage": row["processing_stage"],
        }
        connection.execute(
            versions.insert().values(
                id=uuid.uuid4(),
                review_id=row["id"],
                sequence_id=row["sequence_id"],
                version=row["version"],
                action="migrated",
                saved_by_id=row["reviewed_by_id"],
                saved_at=row["reviewed_at"] or row["updated_at"] or datetime.now(UTC),
                state=state,
            )
        )
