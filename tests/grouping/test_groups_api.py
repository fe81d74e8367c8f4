"""Recurring objects through the API, on SQLite and PostgreSQL: grouping as sequences are
drafted, labelling a group once, suggestions for later sequences, undo and access."""

from __future__ import annotations

from typing import Any

from tests.grouping.conftest import ANTENNA, CHIMNEY, Camera, new_camera


def _only_track(review: dict[str, Any]) -> dict[str, Any]:
    assert len(review["tracks"]) == 1, review["tracks"]
    return review["tracks"][0]


def _versions(camera: Camera, name: str) -> list[dict[str, Any]]:
    got = camera.client.get(f"/api/sequences/{camera.sequences[name]}/review/versions")
    assert got.status_code == 200, got.text
    return got.json()


def test_the_same_place_across_days_is_one_group(camera: Camera) -> None:
    first = camera.sequence("day-1", 1, [ANTENNA], score=0.41)
    camera.sequence("day-2", 2, [ANTENNA], score=0.52)
    camera.sequence("day-5", 5, [[v + 0.01 for v in ANTENNA]], score=0.63)

    groups = camera.groups()
    assert len(groups) == 1
    group = groups[0]
    assert group["member_count"] == 3 and group["decision"] is None
    assert group["camera_id"] == camera.camera_id and group["camera_name"] == "Ridge ridge"
    assert group["first_seen_at"].startswith("2024-06-01")
    assert group["last_seen_at"].startswith("2024-06-05")
    assert _only_track(first)["group_id"] == group["id"]

    detail = camera.group(group["id"])
    members = detail["members"]
    assert [m["sequence_id"] for m in members] == [
        camera.sequences[n] for n in ("day-1", "day-2", "day-5")
    ]
    assert [m["platform_score"] for m in members] == [0.41, 0.52, 0.63]
    for member in members:
        assert member["status"] == "undecided" and member["track_index"] == 0
        x1, y1, x2, y2 = member["crop"]
        bx1, by1, bx2, by2 = member["box"]
        assert x1 <= bx1 < bx2 <= x2 and y1 <= by1 < by2 <= y2  # the crop holds the object
        assert member["frame_url"] == f"/api/images/{member['frame_id']}/content"
        assert member["started_at"].startswith("2024-06-0")


def test_another_place_pose_or_camera_starts_a_group_of_its_own(camera: Camera) -> None:
    camera.sequence("antenna", 1, [ANTENNA], extra={"pose_id": 3})
    camera.sequence("chimney", 2, [CHIMNEY], extra={"pose_id": 3})
    camera.sequence("antenna-other-pose", 3, [ANTENNA], extra={"pose_id": 4})
    camera.sequence("antenna-again", 4, [ANTENNA], extra={"pose_id": 3})
    # Another camera of the project sees something at the same place of its image.
    other = Camera(camera.world, new_camera(camera.world, "cam-far"))
    other.sequence("far-antenna", 4, [ANTENNA], extra={"pose_id": 3})

    mine = camera.groups(camera_id=camera.camera_id)
    assert sorted(g["member_count"] for g in mine) == [1, 1, 2]
    assert {g["pose"] for g in mine} == {"3", "4"}
    assert [g["member_count"] for g in other.groups(camera_id=other.camera_id)] == [1]
    assert len(camera.groups()) == 4


def test_only_the_sequences_own_boxes_are_grouped(camera: Camera) -> None:
    """Boxes of another sequence's object on a shared frame (context) are never grouped."""
    review = camera.sequence("own-and-context", 1, [ANTENNA], context=[CHIMNEY])
    assert len(review["tracks"]) == 1
    only_context = camera.sequence("only-context", 2, [], context=[ANTENNA])
    assert only_context["tracks"] == []
    groups = camera.groups()
    assert [(g["member_count"], g["box"][0] > 0.5) for g in groups] == [(1, True)]


def test_a_decision_applies_to_undecided_members_only(camera: Camera) -> None:
    for day in (1, 2, 3):
        camera.sequence(f"day-{day}", day, [ANTENNA])
    group_id = camera.groups()[0]["id"]
    # A person decided day 3's track already: smoke.
    day3 = _only_track(camera.review("day-3"))
    camera.save("day-3", [{**day3, "decision": "smoke", "smoke_type": "industrial"}])

    result = camera.decide(
        group_id, decision="false_positive", false_positive_types=["building", "antenna"]
    )
    assert (result["applied"], result["kept"]) == (2, 1)
    assert result["group"]["decision"] == "false_positive"
    assert result["group"]["false_positive_types"] == ["antenna", "building"]
    assert result["group"]["decided_by"] == "gina@example.org"

    for name in ("day-1", "day-2"):
        review = camera.review(name)
        track = _only_track(review)
        assert track["decision"] == "false_positive" and not track["is_smoke"]
        assert track["false_positive_types"] == ["antenna", "building"]
        mark = track["decided_by_group"]
        assert mark["group_id"] == group_id and mark["by"] == "gina@example.org" and mark["at"]
        assert review["processing_stage"] == "annotated" and review["has_false_positives"]
        assert review["reviewed_by"] == "gina@example.org"
        history = _versions(camera, name)
        assert history[0]["action"] == "group" and history[1]["action"] == "draft"
    kept = camera.review("day-3")
    assert _only_track(kept)["decision"] == "smoke" and kept["smoke_types"] == ["industrial"]
    statuses = [m["status"] for m in camera.group(group_id)["members"]]
    assert statuses == ["following", "following", "own_decision"]


def test_an_override_is_kept_when_the_group_is_decided_again(camera: Camera) -> None:
    for day in (1, 2):
        camera.sequence(f"day-{day}", day, [ANTENNA])
    group_id = camera.groups()[0]["id"]
    camera.decide(group_id, decision="false_positive", false_positive_types=["antenna"])

    # Saving the review unchanged keeps the track following the group.
    camera.save("day-2", camera.review("day-2")["tracks"])
    assert _only_track(camera.review("day-2"))["decided_by_group"]["group_id"] == group_id
    # A person decides day 1 otherwise: it leaves the group's decision.
    day1 = _only_track(camera.review("day-1"))
    camera.save("day-1", [{**day1, "decision": "smoke", "smoke_type": "wildfire"}])
    overridden = _only_track(camera.review("day-1"))
    assert "decided_by_group" not in overridden and overridden["group_id"] == group_id

    result = camera.decide(group_id, decision="false_positive", false_positive_types=["cliff"])
    assert (result["applied"], result["kept"]) == (1, 1)
    assert _only_track(camera.review("day-2"))["false_positive_types"] == ["cliff"]
    assert _only_track(camera.review("day-1"))["smoke_type"] == "wildfire"
    statuses = {m["sequence_id"]: m["status"] for m in camera.group(group_id)["members"]}
    assert statuses == {
        camera.sequences["day-1"]: "own_decision",
        camera.sequences["day-2"]: "following",
    }


def test_removing_a_member_undoes_the_groups_decision_on_it(camera: Camera) -> None:
    for day in (1, 2, 3):
        camera.sequence(f"day-{day}", day, [ANTENNA])
    group_id = camera.groups()[0]["id"]
    camera.decide(group_id, decision="smoke", smoke_type="industrial")
    member = next(
        m
        for m in camera.group(group_id)["members"]
        if m["sequence_id"] == camera.sequences["day-2"]
    )

    removed = camera.client.delete(f"/api/groups/{group_id}/members/{member['id']}")
    assert removed.status_code == 204, removed.text
    review = camera.review("day-2")
    track = _only_track(review)
    assert track["decision"] == "undecided" and "group_id" not in track
    assert "decided_by_group" not in track
    assert review["processing_stage"] == "ready_to_annotate"  # back in the queue
    assert _versions(camera, "day-2")[0]["action"] == "group"
    detail = camera.group(group_id)
    assert detail["member_count"] == 2 and len(detail["members"]) == 2
    again = camera.client.delete(f"/api/groups/{group_id}/members/{member['id']}")
    assert again.status_code == 404
    # A group decided again leaves the removed track alone.
    camera.decide(group_id, decision="false_positive", false_positive_types=["dust"])
    assert _only_track(camera.review("day-2"))["decision"] == "undecided"


def test_a_later_sequence_arrives_with_the_groups_decision_as_a_suggestion(
    camera: Camera,
) -> None:
    for day in (1, 2):
        camera.sequence(f"day-{day}", day, [ANTENNA])
    group_id = camera.groups()[0]["id"]
    camera.decide(group_id, decision="false_positive", false_positive_types=["antenna"])

    later = camera.sequence("day-9", 9, [ANTENNA])
    track = _only_track(later)
    assert track["decision"] == "undecided" and track["group_id"] == group_id
    suggestion = track["suggestion"]
    assert suggestion["decision"] == "false_positive"
    assert suggestion["false_positive_types"] == ["antenna"]
    assert suggestion["by"] == "gina@example.org"
    assert later["processing_stage"] == "ready_to_annotate" and later["version"] == 1
    members = camera.group(group_id)["members"]
    assert members[-1]["status"] == "suggested"

    # A client cannot forge group marks: they are Lookout's.
    forged = {**track, "decided_by_group": {"group_id": group_id, "by": "mallory"}}
    camera.save("day-9", [forged], stage="in_review")
    stored = _only_track(camera.review("day-9"))
    assert "decided_by_group" not in stored and stored["suggestion"] == suggestion

    # Confirming the suggestion (deciding as suggested) makes the track follow the group.
    confirmed = {**stored, "decision": "false_positive", "false_positive_types": ["antenna"]}
    saved = camera.save("day-9", [confirmed])
    track = _only_track(saved)
    assert "suggestion" not in track
    assert track["decided_by_group"]["group_id"] == group_id
    assert track["decided_by_group"]["by"] == "gina@example.org"
    assert camera.group(group_id)["members"][-1]["status"] == "following"


def test_the_project_setting_applies_a_groups_decision_by_itself(camera: Camera) -> None:
    camera.sequence("day-1", 1, [ANTENNA])
    group_id = camera.groups()[0]["id"]
    camera.decide(group_id, decision="false_positive", false_positive_types=["antenna"])
    project_id = camera.world.project_id
    assert (
        camera.client.get(f"/api/projects/{project_id}").json()["auto_apply_group_decisions"]
        is False
    )

    turned = camera.client.put(
        f"/api/projects/{project_id}/group-settings", json={"auto_apply_group_decisions": True}
    )
    assert turned.status_code == 200, turned.text
    assert turned.json() == {"project_id": project_id, "auto_apply_group_decisions": True}
    assert camera.client.get(f"/api/projects/{project_id}").json()["auto_apply_group_decisions"]

    later = camera.sequence("day-4", 4, [ANTENNA])
    track = _only_track(later)
    assert track["decision"] == "false_positive" and track["false_positive_types"] == ["antenna"]
    assert track["decided_by_group"]["auto"] is True
    assert later["processing_stage"] == "annotated"
    assert later["reviewed_by"] == "gina@example.org"
    assert _versions(camera, "day-4")[0]["action"] == "group"
    # Something new on the same day is not decided by anyone.
    fresh = camera.sequence("day-4-chimney", 4, [CHIMNEY])
    assert _only_track(fresh)["decision"] == "undecided"
    assert fresh["processing_stage"] == "ready_to_annotate"


def test_another_groups_groups_are_not_found(camera: Camera, lookout: Any) -> None:
    camera.sequence("day-1", 1, [ANTENNA])
    group = camera.group(camera.groups()[0]["id"])
    member_id = group["members"][0]["id"]
    outsider = lookout.keyed_client("olaf@example.org", "elsewhere")
    assert outsider.get(f"/api/groups/{group['id']}").status_code == 404
    refused = outsider.post(
        f"/api/groups/{group['id']}/decision", json={"decision": "smoke", "smoke_type": "other"}
    )
    assert refused.status_code == 404
    assert outsider.delete(f"/api/groups/{group['id']}/members/{member_id}").status_code == 404
    settings = outsider.put(
        f"/api/projects/{camera.world.project_id}/group-settings",
        json={"auto_apply_group_decisions": True},
    )
    assert settings.status_code == 404
    listed = outsider.get("/api/groups", params={"project_id": camera.world.project_id})
    assert listed.status_code == 200 and listed.json()["items"] == []
    assert camera.group(group["id"]) == group  # nothing changed


def test_bad_input_is_refused_naming_the_field(camera: Camera) -> None:
    camera.sequence("day-1", 1, [ANTENNA])
    group_id = camera.groups()[0]["id"]
    path = f"/api/groups/{group_id}/decision"
    client = camera.client

    def field_of(response: Any) -> str:
        body = response.json()
        if isinstance(body["detail"], list):
            return str(body["detail"][0]["loc"][-1])
        return body["field"]

    cases = [
        ({"decision": "maybe"}, 422, "decision"),
        ({}, 422, "decision"),
        ({"decision": "false_positive", "false_positive_types": ["ufo"]}, 422, 0),
        ({"decision": "smoke", "smoke_type": "volcano"}, 422, "smoke_type"),
        ({"decision": "smoke", "false_positive_types": ["antenna"]}, 400, "false_positive_types"),
        ({"decision": "false_positive", "smoke_type": "wildfire"}, 400, "smoke_type"),
    ]
    for body, status, field in cases:
        response = client.post(path, json=body)
        assert response.status_code == status, (body, response.text)
        assert field_of(response) == str(field), (body, response.text)
    assert client.post(
        path, content=b"{", headers={"Content-Type": "application/json"}
    ).status_code in (400, 422)
    for params, name in (
        ({"decided": "perhaps"}, "decided"),
        ({"limit": 0}, "limit"),
        ({"project_id": "nope"}, "project_id"),
        ({"offset": -1}, "offset"),
    ):
        response = client.get("/api/groups", params=params)
        assert response.status_code == 422 and field_of(response) == name, response.text
    assert client.get("/api/groups/not-an-id").status_code == 422
    assert client.delete(f"/api/groups/{group_id}/members/{group_id}").status_code == 404
    settings = client.put(
        f"/api/projects/{camera.world.project_id}/group-settings",
        json={"auto_apply_group_decisions": "sometimes"},
    )
    assert settings.status_code == 422 and field_of(settings) == "auto_apply_group_decisions"
    assert camera.group(group_id)["decision"] is None  # nothing was stored


def test_listing_filters_by_decision_and_pages(camera: Camera) -> None:
    camera.sequence("antenna", 1, [ANTENNA])
    camera.sequence("chimney", 2, [CHIMNEY])
    antenna = next(g for g in camera.groups() if g["box"][0] > 0.5)
    camera.decide(antenna["id"], decision="false_positive", false_positive_types=["antenna"])
    assert [g["id"] for g in camera.groups(decided="true")] == [antenna["id"]]
    assert [g["box"][0] < 0.5 for g in camera.groups(decided="false")] == [True]
    page = camera.client.get(
        "/api/groups", params={"project_id": camera.world.project_id, "limit": 1, "offset": 1}
    ).json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["offset"] == 1


def test_camera_stats_give_each_cameras_share_of_sequences_in_recurring_groups(
    camera: Camera,
) -> None:
    """The project page's camera statistics: 2 of 3 sequences of the period hold a track of a
    group seen more than once (the antenna); the chimney, seen once, is not recurring."""
    camera.sequence("antenna-1", 1, [ANTENNA])
    camera.sequence("antenna-2", 2, [ANTENNA])
    camera.sequence("chimney", 2, [CHIMNEY])
    stats = camera.client.get(
        f"/api/projects/{camera.world.project_id}/camera-stats",
        params={"since": "2024-06-01", "until": "2024-06-05"},
    )
    assert stats.status_code == 200, stats.text
    (mine,) = [c for c in stats.json()["cameras"] if c["camera_id"] == camera.camera_id]
    assert mine["sequences"] == 3
    assert mine["share_in_groups"] == 2 / 3
