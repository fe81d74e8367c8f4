"""Sequence groups: recurring objects of one camera, labelled once.

A group holds the tracks of one camera (and pose or heading) that sit at the same place in
the image across sequences; its members are (sequence, track) pairs. Projects gain
`auto_apply_group_decisions` (off): whether a track joining a decided group takes the
group's decision without a person.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sequence_groups",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("camera_id", sa.Uuid(), nullable=False),
        sa.Column("pose", sa.String(length=100), nullable=True),
        sa.Column("camera_azimuth", sa.Double(), nullable=True),
        sa.Column("x1", sa.Double(), nullable=False),
        sa.Column("y1", sa.Double(), nullable=False),
        sa.Column("x2", sa.Double(), nullable=False),
        sa.Column("y2", sa.Double(), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision", sa.String(length=30), nullable=True),
        sa.Column("smoke_type", sa.String(length=30), nullable=True),
        sa.Column("false_positive_types", JSON, nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_sequence_groups_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name=op.f("fk_sequence_groups_camera_id_cameras"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_sequence_groups_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequence_groups")),
    )
    with op.batch_alter_table("sequence_groups") as batch:
        batch.create_index("ix_sequence_groups_project_camera", ["project_id", "camera_id"])
        batch.create_index("ix_sequence_groups_decision", ["decision"])

    op.create_table(
        "sequence_group_members",
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("sequence_id", sa.Uuid(), nullable=False),
        sa.Column("track_index", sa.Integer(), nullable=False),
        sa.Column("x1", sa.Double(), nullable=False),
        sa.Column("y1", sa.Double(), nullable=False),
        sa.Column("x2", sa.Double(), nullable=False),
        sa.Column("y2", sa.Double(), nullable=False),
        sa.Column("iou", sa.Double(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["sequence_groups.id"],
            name=op.f("fk_sequence_group_members_group_id_sequence_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sequence_id"],
            ["sequences.id"],
            name=op.f("fk_sequence_group_members_sequence_id_sequences"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequence_group_members")),
        sa.UniqueConstraint(
            "sequence_id",
            "track_index",
            name=op.f("uq_sequence_group_members_sequence_id_track_index"),
        ),
    )
    with op.batch_alter_table("sequence_group_members") as batch:
        batch.create_index("ix_sequence_group_members_group_id", ["group_id"])

    # A plain ALTER TABLE (not a batch): SQLite's batch mode would copy the table, and
    # dropping the old `projects` would cascade to everything in them.
    op.add_column(
        "projects",
        sa.Column(
            "auto_apply_group_decisions", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
    )


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place; a batch copy would cascade from `projects`.
    op.drop_column("projects", "auto_apply_group_decisions")
    op.drop_table("sequence_group_members")
    op.drop_table("sequence_groups")
