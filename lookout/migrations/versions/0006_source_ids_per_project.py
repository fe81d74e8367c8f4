"""Source ids are unique per project, not across the whole server.

Two groups may each import the same platform sequence into their own project, and an id one
group created can no longer be found or blocked by another.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("cameras", "sequences", "images")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_source_source_id", type_="unique")
            batch.create_unique_constraint(
                f"uq_{table}_project_id_source_source_id", ["project_id", "source", "source_id"]
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_project_id_source_source_id", type_="unique")
            batch.create_unique_constraint(
                f"uq_{table}_source_source_id", ["source", "source_id"]
            )
