"""A page of a large project walks the keyset index on PostgreSQL, whatever the trash holds."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from bench.common import analyze, insert_images
from bench.scale import explain

POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@POSTGRES
def test_a_deep_page_walks_the_index_not_the_whole_project(lookout: Any, database_url: str) -> None:
    """Hiding frames of trashed sequences once read as an anti-join PostgreSQL estimated at one
    row: it then read and sorted every image of the project for each page (47 ms at 100,000)."""
    client = lookout.keyed_client("alice@example.org")
    project = lookout.create_project(client)["id"]
    insert_images(database_url, project, 20_000)
    body = {
        "project_id": project,
        "source": "test",
        "source_id": "s1",
        "started_at": "2024-01-01T00:00:00Z",
    }
    sequence = client.post("/api/sequences", json=body).json()["id"]
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:  # some of the frames belong to it
        conn.execute(
            sa.text(
                "UPDATE images SET sequence_id = :s WHERE id IN "
                "(SELECT id FROM images WHERE project_id = :p LIMIT 50)"
            ),
            {"s": sequence, "p": project},
        )
    engine.dispose()
    assert client.request("DELETE", f"/api/sequences/{sequence}").status_code == 200  # the trash
    analyze(database_url)

    plan = explain(database_url, project, 20_000, 0)
    walked = [node for node in plan["plan"] if node.endswith("using ix_images_project_created")]
    assert walked, plan
