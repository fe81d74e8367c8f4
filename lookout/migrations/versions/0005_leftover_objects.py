"""Note objects that may be in storage without a row, so a sweep can delete them.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leftover_objects",
        sa.Column("object_key", sa.String(length=500), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("object_key", name=op.f("pk_leftover_objects")),
    )


def downgrade() -> None:
    op.drop_table("leftover_objects")
