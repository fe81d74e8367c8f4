"""A sequence in the trash leaves its groups' member lists, comes back with a restore, and
leaves its groups for good (box and count) when purged; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.grouping.conftest import ANTENNA, Camera


def test_trash_hides_a_member_and_a_purge_takes_it_out_of_its_group(
    camera: Camera, lookout: Any
) -> None:
    for day in (1, 2, 3):
        camera.sequence(f"day-{day}", day, [ANTENNA])
    group_id = camera.groups()[0]["id"]

    def members() -> list[str]:
        return [m["sequence_id"] for m in camera.group(group_id)["members"]]

    gone = camera.sequences["day-2"]
    assert members() == [camera.sequences[f"day-{d}"] for d in (1, 2, 3)]
    trashed = camera.client.request(
        "DELETE", f"/api/sequences/{gone}", json={"reason": "a duplicate import"}
    )
    assert trashed.status_code == 200, trashed.text
    assert gone not in members() and len(members()) == 2
    assert camera.client.post(f"/api/sequences/{gone}/restore").status_code == 200
    assert gone in members()

    admin = lookout.keyed_client("boss@example.org", None, admin=True)
    purged = admin.request("DELETE", f"/api/sequences/{gone}", json={"force": True})
    assert purged.status_code == 204, purged.text
    detail = camera.group(group_id)
    assert detail["member_count"] == 2 and gone not in members()
