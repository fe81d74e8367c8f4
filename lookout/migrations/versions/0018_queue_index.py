"""The review queue's own index: each review gets a copy of its sequence's `started_at`
(`sequence_started_at`; a sequence's start never changes), and a partial index holds the
reviews waiting for a person in that order. A claim walked a project's sequences in time
order past its reviewed history, or read every waiting review and joined the project's
sequences (a 100,000-row scan); it now reads the first waiting entries of this index.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# The queue's condition as each database's compiler writes it in the queue's queries (a
# partial index serves a query only when its condition is implied by the query's).
WAITING = {
    "postgresql": "processing_stage = 'ready_to_annotate' AND is_unsure IS false",
    "sqlite": "processing_stage = 'ready_to_annotate' AND is_unsure IS 0",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    sqlite = dialect == "sqlite"
    # A plain ADD COLUMN, no batch copy: on SQLite, copying `sequence_reviews` would drop and
    # recreate it, and the drop cascades to its saved versions. SQLite adds a NOT NULL column
    # only with a default (replaced just below; Lookout always gives the time); PostgreSQL
    # adds it empty and makes it NOT NULL once filled.
    op.add_column(
        "sequence_reviews",
        sa.Column(
            "sequence_started_at",
            sa.DateTime(timezone=True),
            server_default="1970-01-01 00:00:00.000000" if sqlite else None,
            nullable=not sqlite,
        ),
    )
    op.execute(
        "UPDATE sequence_reviews SET sequence_started_at = ("
        "SELECT s.started_at FROM sequences AS s WHERE s.id = sequence_reviews.sequence_id)"
    )
    if not sqlite:
        op.alter_column("sequence_reviews", "sequence_started_at", nullable=False)
    op.create_index(
        "ix_sequence_reviews_waiting",
        "sequence_reviews",
        ["sequence_started_at", "sequence_id"],
        postgresql_where=sa.text(WAITING["postgresql"]),
        sqlite_where=sa.text(WAITING["sqlite"]),
    )


def downgrade() -> None:
    op.drop_index("ix_sequence_reviews_waiting", table_name="sequence_reviews")
    # SQLite (3.35+) drops a column in place; a batch copy would cascade.
    op.drop_column("sequence_reviews", "sequence_started_at")
