"""Index the work queue: oldest queued analyses of a model first.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("analyses") as batch_op:
        batch_op.drop_index("ix_analyses_status_model")
        batch_op.create_index(
            "ix_analyses_queue", ["status", "model_name", "created_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("analyses") as batch_op:
        batch_op.drop_index("ix_analyses_queue")
        batch_op.create_index("ix_analyses_status_model", ["status", "model_name"], unique=False)
