"""A trash for sequences: a deleted sequence is hidden with its frames, kept for the retention
period, restorable, and logged in image_deletion_events beside images (`sequence_id`).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, no batch copy of `sequences`: on SQLite, copying the table would drop
    # and recreate it, and the drop cascades to every row that references a sequence.
    op.add_column("sequences", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # As migration 0014 does for images: the column and its reference in one statement.
        op.execute(
            "ALTER TABLE sequences ADD COLUMN deleted_by_id CHAR(32) "
            "CONSTRAINT fk_sequences_deleted_by_id_users REFERENCES users (id) ON DELETE SET NULL"
        )
    else:
        op.add_column("sequences", sa.Column("deleted_by_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f("fk_sequences_deleted_by_id_users"),
            "sequences",
            "users",
            ["deleted_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.add_column("sequences", sa.Column("delete_reason", sa.Text(), nullable=True))
    # The log holds sequences' events too: image_id may be empty. Nothing references the
    # log, so SQLite's copy of the table (batch) loses nothing.
    with op.batch_alter_table("image_deletion_events") as batch:
        batch.alter_column("image_id", existing_type=sa.Uuid(), nullable=True)
        batch.add_column(sa.Column("sequence_id", sa.Uuid(), nullable=True))
        batch.create_index(
            op.f("ix_image_deletion_events_sequence_id"), ["sequence_id"], unique=False
        )


def downgrade() -> None:
    op.execute("DELETE FROM image_deletion_events WHERE image_id IS NULL")
    with op.batch_alter_table("image_deletion_events") as batch:
        batch.drop_index(op.f("ix_image_deletion_events_sequence_id"))
        batch.drop_column("sequence_id")
        batch.alter_column("image_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_column("sequences", "delete_reason")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("fk_sequences_deleted_by_id_users"), "sequences", type_="foreignkey")
    op.drop_column("sequences", "deleted_by_id")
    op.drop_column("sequences", "deleted_at")
