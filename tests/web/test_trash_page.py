"""The trash page over HTTP (no browser), on SQLite and PostgreSQL: what it lists, the days
left, and the admins' "Delete now" shown to admins only."""

from __future__ import annotations

import html
import uuid
from datetime import timedelta

import sqlalchemy as sa

from lookout.db import utcnow
from lookout.sequences.models import Sequence
from tests.exports.builders import make_world
from tests.support import jpeg_bytes


def test_the_trash_page_lists_both_kinds_with_days_left_and_admin_actions(lookout):
    world = make_world(lookout, email="alice@example.org", group="team")
    client, project_id = world.client, world.project_id
    admin = lookout.keyed_client("boss@example.org", None, admin=True)
    image = lookout.upload(client, project_id, jpeg_bytes(64, 48)).json()["id"]
    sequence = world.add_sequence("s-trash", frames=1).id
    page = client.get(f"/projects/{project_id}/trash")
    assert page.status_code == 200
    assert "No images in the trash." in page.text and "Nothing deleted yet." in page.text
    assert f'href="/projects/{project_id}/trash"' in client.get(f"/projects/{project_id}").text

    trashed = client.request(
        "DELETE", f"/api/projects/{project_id}/images/{image}", json={"reason": "<b>blurry</b>"}
    )
    assert trashed.status_code == 200
    assert client.request("DELETE", f"/api/sequences/{sequence}").status_code == 200
    with lookout.sessions() as session:  # the sequence went 10 days ago
        session.execute(
            sa.update(Sequence)
            .where(Sequence.id == uuid.UUID(sequence))
            .values(deleted_at=utcnow() - timedelta(days=10, hours=1))
        )
        session.commit()

    text = client.get(f"/projects/{project_id}/trash").text
    assert f'data-id="{image}"' in text and f'data-id="{sequence}"' in text
    assert html.escape("<b>blurry</b>") in text and "<b>blurry</b>" not in text
    assert "alice@example.org" in text and "no reason given" in text
    days = lookout.settings.trash_retention_days
    assert f"<td>{days}</td>" in text and f"<td>{days - 10}</td>" in text
    assert 'data-action="restore"' in text
    assert 'data-action="purge"' not in text  # a member may not delete now
    assert 'data-action="purge"' in admin.get(f"/projects/{project_id}/trash").text
