"""What VISTA users have beside ML results: image classes and classifications, comments on
images and sequences, and free-form metadata on projects (a table of keys) and images (a JSON
column, as VISTA keeps it).

Revision ID: 0013
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "image_classes",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_image_classes_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_classes")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_image_classes_project_id_name")),
    )
    op.create_index(
        op.f("ix_image_classes_project_id"), "image_classes", ["project_id"], unique=False
    )

    op.create_table(
        "image_classifications",
        sa.Column("image_id", sa.Uuid(), nullable=False),
        sa.Column("class_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_image_classifications_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["class_id"],
            ["image_classes.id"],
            name=op.f("fk_image_classifications_class_id_image_classes"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_image_classifications_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_classifications")),
        sa.UniqueConstraint(
            "image_id", "class_id", name=op.f("uq_image_classifications_image_id_class_id")
        ),
    )
    op.create_index(
        op.f("ix_image_classifications_class_id"),
        "image_classifications",
        ["class_id"],
        unique=False,
    )

    op.create_table(
        "comments",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("image_id", sa.Uuid(), nullable=True),
        sa.Column("sequence_id", sa.Uuid(), nullable=True),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "(image_id IS NULL) <> (sequence_id IS NULL)", name=op.f("ck_comments_one_target")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_comments_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_comments_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sequence_id"],
            ["sequences.id"],
            name=op.f("fk_comments_sequence_id_sequences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_comments_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index(op.f("ix_comments_project_id"), "comments", ["project_id"], unique=False)
    op.create_index(op.f("ix_comments_author_id"), "comments", ["author_id"], unique=False)
    op.create_index(
        "ix_comments_image_created", "comments", ["image_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_comments_sequence_created", "comments", ["sequence_id", "created_at"], unique=False
    )

    op.create_table(
        "project_metadata",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", JSON, nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_metadata_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_metadata")),
        sa.UniqueConstraint("project_id", "key", name=op.f("uq_project_metadata_project_id_key")),
    )

    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("metadata_json", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.drop_column("metadata_json")
    op.drop_table("project_metadata")
    op.drop_index("ix_comments_sequence_created", table_name="comments")
    op.drop_index("ix_comments_image_created", table_name="comments")
    op.drop_index(op.f("ix_comments_author_id"), table_name="comments")
    op.drop_index(op.f("ix_comments_project_id"), table_name="comments")
    op.drop_table("comments")
    op.drop_index(op.f("ix_image_classifications_class_id"), table_name="image_classifications")
    op.drop_table("image_classifications")
    op.drop_index(op.f("ix_image_classes_project_id"), table_name="image_classes")
    op.drop_table("image_classes")
