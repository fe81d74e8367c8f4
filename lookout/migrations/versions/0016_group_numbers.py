"""Group numbers: each group of recurring objects gets a number within its project (1, 2, 3...
in creation order), shown as "Group 12". Existing groups are numbered in the order they were
created (ties by id); each project counts the numbers it gave in `last_group_number`, so a
number is never given twice, even after its group is gone.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # Plain ADD COLUMNs, no batch copies: on SQLite, copying `projects` or `sequence_groups`
    # would drop and recreate it, and the drop cascades to every row that references it.
    op.add_column(
        "projects",
        sa.Column("last_group_number", sa.Integer(), server_default="0", nullable=False),
    )
    # SQLite adds a NOT NULL column only with a default (0, replaced just below; Lookout
    # always gives the number). PostgreSQL adds it empty and makes it NOT NULL once filled.
    op.add_column(
        "sequence_groups",
        sa.Column(
            "number", sa.Integer(), server_default="0" if sqlite else None, nullable=not sqlite
        ),
    )
    op.execute(
        """
        UPDATE sequence_groups SET number = numbered.n
        FROM (
            SELECT id, row_number() OVER (PARTITION BY project_id ORDER BY created_at, id) AS n
            FROM sequence_groups
        ) AS numbered
        WHERE sequence_groups.id = numbered.id
        """
    )
    op.execute(
        """
        UPDATE projects SET last_group_number = (
            SELECT max(g.number) FROM sequence_groups AS g WHERE g.project_id = projects.id
        )
        WHERE EXISTS (SELECT 1 FROM sequence_groups AS g WHERE g.project_id = projects.id)
        """
    )
    if not sqlite:
        op.alter_column("sequence_groups", "number", nullable=False)
    op.create_index(
        "uq_sequence_groups_project_id_number",
        "sequence_groups",
        ["project_id", "number"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_sequence_groups_project_id_number", table_name="sequence_groups")
    # SQLite (3.35+) drops a column in place; a batch copy would cascade.
    op.drop_column("sequence_groups", "number")
    op.drop_column("projects", "last_group_number")
