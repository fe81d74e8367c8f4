"""Stored queue scores (disagreement, uncertainty) and each project's default queue order.

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "queue_scores",
        sa.Column("sequence_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=310), nullable=False),
        sa.Column("against", sa.String(length=310), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=True),
        sa.Column("confidences", JSON, nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_queue_scores_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sequence_id"],
            ["sequences.id"],
            name=op.f("fk_queue_scores_sequence_id_sequences"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sequence_id", "kind", "model", "against", name=op.f("pk_queue_scores")),
    )
    with op.batch_alter_table("queue_scores", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queue_scores_order",
            ["project_id", "kind", "model", "against", "score", "sequence_id"],
            unique=False,
        )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("queue_order", sa.String(length=20), server_default="oldest", nullable=False)
        )
        batch_op.add_column(sa.Column("queue_model", sa.String(length=310), nullable=True))
        batch_op.add_column(sa.Column("queue_against", sa.String(length=310), nullable=True))
        batch_op.add_column(
            sa.Column("queue_threshold", sa.Double(), server_default="0.5", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("queue_threshold")
        batch_op.drop_column("queue_against")
        batch_op.drop_column("queue_model")
        batch_op.drop_column("queue_order")
    with op.batch_alter_table("queue_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_scores_order")
    op.drop_table("queue_scores")
