"""The review changes feed: what changed since a cursor, page by page, nothing missed twice.

Live servers on SQLite and PostgreSQL (settle window 0 so a test need not wait).
"""

from __future__ import annotations

from typing import Any

from tests.exports.builders import make_world, smoke

BOX = {0: [0.1, 0.2, 0.3, 0.5], 1: [0.12, 0.2, 0.35, 0.55]}


def _pull(client: Any, since: str | None, **params: Any) -> tuple[list[dict[str, Any]], str]:
    query = {"limit": 2, **params, **({"since": since} if since else {})}
    response = client.get("/api/reviews/changes", params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["items"], body["next_cursor"]


def _drain(client: Any, since: str | None, **params: Any) -> tuple[list[str], str | None]:
    """Every page until an empty one: the changed sequences' source ids, and the cursor."""
    seen: list[str] = []
    while True:
        items, cursor = _pull(client, since, **params)
        if not items:
            return seen, cursor
        seen += [item["sequence"]["source_id"] for item in items]
        since = cursor


def test_changes_come_once_in_order_and_again_when_changed(lookout_factory: Any) -> None:
    lookout = lookout_factory(LOOKOUT_CHANGES_SETTLE_SECONDS=0)
    world = make_world(lookout, email="alice@example.org", group="team", name="feed")
    seqs = [world.add_sequence(f"s{i}", frames=2) for i in range(5)]
    for seq in seqs:
        world.review(seq, [smoke(seq, BOX)])

    seen, cursor = _drain(world.client, None)
    assert seen == [s.source_id for s in seqs]  # oldest change first, each once, over 3 pages
    assert _drain(world.client, cursor) == ([], cursor)  # nothing new: the same cursor back

    path = f"/api/sequences/{seqs[1].id}/review"
    version = world.client.get(path).json()["version"]
    body = {"tracks": [smoke(seqs[1], BOX)], "processing_stage": "needs_check", "version": version}
    assert world.client.put(path, json=body).status_code == 200
    items, _ = _pull(world.client, cursor)
    assert [i["sequence"]["source_id"] for i in items] == ["s1"]
    change = items[0]
    assert change["review"]["processing_stage"] == "needs_check"
    assert [f["id"] for f in change["frames"]] == seqs[1].frames
    content = world.client.get(change["frames"][0]["content_url"])
    assert content.status_code == 200 and content.content[:2] == b"\xff\xd8"

    # A date works as a starting point; a filter narrows the feed.
    everything, _ = _drain(world.client, "2000-01-01T00:00:00Z")
    assert sorted(everything) == sorted(s.source_id for s in seqs)
    checked, _ = _drain(world.client, None, processing_stage="needs_check")
    assert checked == ["s1"]


def test_feed_is_scoped_and_checks_its_input(lookout_factory: Any) -> None:
    lookout = lookout_factory(LOOKOUT_CHANGES_SETTLE_SECONDS=0)
    world = make_world(lookout, email="alice@example.org", group="team", name="mine")
    seq = world.add_sequence("private", frames=1)
    world.review(seq, [smoke(seq, {0: [0.1, 0.2, 0.3, 0.5]})])
    outsider = lookout.keyed_client("mallory@example.org", "others")
    assert _drain(outsider, None)[0] == []
    for params, field in (
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"processing_stage": "done"}, "processing_stage"),
    ):
        response = world.client.get("/api/reviews/changes", params=params)
        assert response.status_code == 400 and response.json()["field"] == field, response.text


def test_recent_changes_wait_for_the_settle_window(lookout_factory: Any) -> None:
    """With the default window, a save of this instant is not listed yet (it will be)."""
    lookout = lookout_factory()
    world = make_world(lookout, email="alice@example.org", group="team", name="settle")
    seq = world.add_sequence("fresh", frames=1)
    world.review(seq, [smoke(seq, {0: [0.1, 0.2, 0.3, 0.5]})])
    items, cursor = _pull(world.client, None)
    assert items == [] and cursor is None
