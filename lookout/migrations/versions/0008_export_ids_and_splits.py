"""Exports that agree with each other: a stored COCO image id per frame, a stored split per
sequence.

Both columns start empty and are filled by the first export that needs them
(`lookout.exports.ids`, `lookout.exports.splits`) and are never changed afterwards, except
that a split can be set or re-drawn on request. Nothing is backfilled: the first export with
the default split options draws the same splits the earlier (seeded hash) exports gave.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coco_id", sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_images_project_id_coco_id"), ["project_id", "coco_id"]
        )
    with op.batch_alter_table("sequences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("split", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sequences", schema=None) as batch_op:
        batch_op.drop_column("split")
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_images_project_id_coco_id"), type_="unique")
        batch_op.drop_column("coco_id")
