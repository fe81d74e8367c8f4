"""Image objects are content-addressed: frames with the same bytes share one object.

Since 2026 the alert platform puts one frame in several sequences (one per smoke object);
each sequence's frame is its own row, and the rows of one picture now hold one object. The
key stays indexed (deletion asks whether another row still holds it) but is no longer unique.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.drop_constraint("uq_images_object_key", type_="unique")
        batch.create_index("ix_images_object_key", ["object_key"])


def downgrade() -> None:
    # Fails while two rows share an object: delete the duplicates' rows first.
    with op.batch_alter_table("images") as batch:
        batch.drop_index("ix_images_object_key")
        batch.create_unique_constraint("uq_images_object_key", ["object_key"])
