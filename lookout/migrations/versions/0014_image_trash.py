"""A trash for images: deleted images are hidden, kept for a retention period, restorable, and
logged (who, when, what, why) in image_deletion_events.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, no batch copy of `images`: on SQLite, copying the table would drop
    # and recreate it, and the drop cascades to every row that references an image.
    op.add_column("images", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in one statement (alembic cannot ALTER a
        # constraint there); its type is how SQLAlchemy stores a Uuid on SQLite.
        op.execute(
            "ALTER TABLE images ADD COLUMN deleted_by_id CHAR(32) "
            "CONSTRAINT fk_images_deleted_by_id_users REFERENCES users (id) ON DELETE SET NULL"
        )
    else:
        op.add_column("images", sa.Column("deleted_by_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f("fk_images_deleted_by_id_users"),
            "images",
            "users",
            ["deleted_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.add_column("images", sa.Column("delete_reason", sa.Text(), nullable=True))
    op.create_table(
        "image_deletion_events",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("image_id", sa.Uuid(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_image_deletion_events_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_image_deletion_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_deletion_events")),
    )
    op.create_index(
        op.f("ix_image_deletion_events_image_id"),
        "image_deletion_events",
        ["image_id"],
        unique=False,
    )
    op.create_index(
        "ix_image_deletion_events_project_created",
        "image_deletion_events",
        ["project_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_image_deletion_events_project_created", table_name="image_deletion_events")
    op.drop_index(op.f("ix_image_deletion_events_image_id"), table_name="image_deletion_events")
    op.drop_table("image_deletion_events")
    op.drop_column("images", "delete_reason")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("fk_images_deleted_by_id_users"), "images", type_="foreignkey")
    op.drop_column("images", "deleted_by_id")
    op.drop_column("images", "deleted_at")
