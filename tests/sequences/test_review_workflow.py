"""Track decisions, unsure reviews, history, restore and send-back through the API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.exports.builders import read_zip
from tests.sequences.test_sequences_api import _box
from tests.support import jpeg_bytes


@pytest.fixture
def drafted(lookout):
    """A sequence of three frames whose draft has two tracks (a plume and a far object)."""
    client = lookout.keyed_client()
    project = lookout.create_project(client, "org-a")
    sequence = client.post(
        "/api/sequences",
        json={
            "project_id": project["id"],
            "source": "pyronear",
            "source_id": "seq-1",
            "started_at": "2024-01-01T10:00:00Z",
        },
    ).json()
    for index in range(3):
        metadata = {
            "captured_at": f"2024-01-01T10:0{index}:00Z",
            "source": "pyronear",
            "source_id": f"det-{index}",
            "predictions": {
                "model_name": "platform",
                "annotations": [_box(0.1, 0.1, 0.2, 0.2), _box(0.7, 0.7, 0.8, 0.8, 0.5)],
            },
        }
        stored = client.post(
            f"/api/sequences/{sequence['id']}/frames",
            files={"file": ("f.jpg", jpeg_bytes(), "image/jpeg")},
            data={"metadata": json.dumps(metadata)},
        )
        assert stored.status_code == 201, stored.text
    draft = client.post(f"/api/sequences/{sequence['id']}/draft", json={})
    assert draft.status_code == 200 and draft.json()["track_count"] == 2, draft.text
    return lookout, client, project, sequence, draft.json()["review"]


def _url(sequence: dict[str, Any], tail: str = "") -> str:
    return f"/api/sequences/{sequence['id']}/review{tail}"


def _decide(track: dict[str, Any], decision: str, **fields: Any) -> dict[str, Any]:
    return {**track, "decision": decision, **fields}


def test_a_draft_starts_undecided_and_cannot_be_marked_annotated(drafted):
    lookout, client, _, sequence, review = drafted
    assert [t["decision"] for t in review["tracks"]] == ["undecided", "undecided"]
    versions_before = lookout.count("review_versions")

    # The old bug: the draft saved unchanged as "annotated" used to become smoke.
    body = {"tracks": review["tracks"], "processing_stage": "annotated", "version": 1}
    refused = client.put(_url(sequence), json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "tracks[0]"
    assert "2 track(s) still undecided" in refused.json()["detail"]

    # Only the second undecided: named as such.
    body["tracks"] = [
        _decide(review["tracks"][0], "smoke", smoke_type="wildfire"),
        review["tracks"][1],
    ]
    refused = client.put(_url(sequence), json=body)
    assert refused.status_code == 422 and refused.json()["field"] == "tracks[1]"

    # Nothing stored by either refusal.
    stored = client.get(_url(sequence)).json()
    assert stored["version"] == 1 and stored["processing_stage"] == "ready_to_annotate"
    assert lookout.count("review_versions") == versions_before

    # Work in progress may keep undecided tracks.
    body["processing_stage"] = "in_review"
    assert client.put(_url(sequence), json=body).status_code == 200


def test_older_clients_without_decisions_are_read_by_their_fields(drafted):
    _, client, _, sequence, review = drafted
    plume, far = review["tracks"]
    legacy = [
        {"is_smoke": True, "smoke_type": "wildfire", "boxes": plume["boxes"]},
        {"is_smoke": False, "false_positive_types": ["antenna"], "boxes": far["boxes"]},
    ]
    saved = client.put(_url(sequence), json={"tracks": legacy, "version": 1})
    assert saved.status_code == 200, saved.text
    got = saved.json()
    assert [t["decision"] for t in got["tracks"]] == ["smoke", "false_positive"]
    assert got["has_smoke"] and got["has_false_positives"]
    assert got["false_positive_types"] == ["antenna"] and got["smoke_types"] == ["wildfire"]

    # A smoke track without its type, in the old shape, is a draft's: undecided.
    legacy[0] = {"is_smoke": True, "boxes": plume["boxes"]}
    refused = client.put(_url(sequence), json={"tracks": legacy, "version": got["version"]})
    assert refused.status_code == 422 and refused.json()["field"] == "tracks[0]"


def test_decision_wins_over_contradicting_fields(drafted):
    _, client, _, sequence, review = drafted
    plume, far = review["tracks"]
    tracks = [
        _decide(
            plume,
            "false_positive",
            is_smoke=True,
            smoke_type="wildfire",
            false_positive_types=["combine_harvester"],
        ),
        _decide(
            far,
            "smoke",
            is_smoke=False,
            smoke_type="industrial",
            false_positive_types=["unlabeled"],
        ),
    ]
    got = client.put(_url(sequence), json={"tracks": tracks, "version": 1}).json()
    first, second = got["tracks"]
    assert (first["is_smoke"], first["smoke_type"], first["false_positive_types"]) == (
        False,
        None,
        ["combine_harvester"],
    )
    assert (second["is_smoke"], second["smoke_type"], second["false_positive_types"]) == (
        True,
        "industrial",
        [],
    )


def test_unknown_decision_names_the_field(drafted):
    _, client, _, sequence, review = drafted
    tracks = [_decide(review["tracks"][0], "maybe")]
    refused = client.put(_url(sequence), json={"tracks": tracks, "version": 1})
    assert refused.status_code in (400, 422)
    assert "decision" in refused.text


def test_unsure_sequences_wait_for_a_second_opinion_and_are_no_truth(drafted):
    lookout, client, project, sequence, review = drafted
    plume, far = review["tracks"]
    tracks = [
        _decide(plume, "unsure"),
        _decide(far, "false_positive", false_positive_types=["antenna"]),
    ]
    saved = client.put(_url(sequence), json={"tracks": tracks, "version": 1})
    assert saved.status_code == 200, saved.text
    assert saved.json()["is_unsure"] is True and saved.json()["processing_stage"] == "annotated"

    listed = client.get("/api/sequences", params={"project_id": project["id"], "is_unsure": True})
    assert [s["id"] for s in listed.json()["items"]] == [sequence["id"]]
    assert listed.json()["items"][0]["is_unsure"] is True
    sure = client.get("/api/sequences", params={"project_id": project["id"], "is_unsure": False})
    assert sure.json()["total"] == 0

    # Not in a training export while unsure...
    assert _coco_annotations(client, project) == 0

    # ...and in it once a second reviewer resolves it.
    tracks[0] = _decide(plume, "smoke", smoke_type="wildfire")
    resolved = client.put(
        _url(sequence), json={"tracks": tracks, "version": saved.json()["version"]}
    )
    assert resolved.json()["is_unsure"] is False
    assert _coco_annotations(client, project) == 3  # the plume on each of the three frames


def _coco_annotations(client: Any, project: dict[str, Any]) -> int:
    """Boxes in a COCO export of the project's reviewed truth."""
    export = client.get("/api/exports", params={"project_id": project["id"], "format": "coco"})
    if export.status_code == 400 and "selection is empty" in export.text:
        return 0
    assert export.status_code == 200, export.text
    return len(json.loads(read_zip(export).read("annotations.json"))["annotations"])


def test_whole_sequence_unsure_without_an_unsure_track(drafted):
    _, client, _, sequence, review = drafted
    tracks = [_decide(t, "smoke", smoke_type="other") for t in review["tracks"]]
    saved = client.put(_url(sequence), json={"tracks": tracks, "is_unsure": True, "version": 1})
    assert saved.json()["is_unsure"] is True


def test_every_save_is_kept_and_an_old_version_can_be_restored(drafted):
    _, client, _, sequence, review = drafted
    plume, far = review["tracks"]
    first = [
        _decide(plume, "smoke", smoke_type="wildfire"),
        _decide(far, "false_positive", false_positive_types=["antenna"]),
    ]
    v2 = client.put(_url(sequence), json={"tracks": first, "version": 1}).json()
    second = [_decide(plume, "smoke", smoke_type="industrial")]
    v3 = client.put(_url(sequence), json={"tracks": second, "version": v2["version"]}).json()
    assert v3["version"] == 3

    history = client.get(_url(sequence, "/versions"))
    assert history.status_code == 200, history.text
    versions = history.json()
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert [v["action"] for v in versions] == ["save", "save", "draft"]
    assert versions[0]["saved_by"] == "alice@example.org"
    assert "track 1: smoke (wildfire) → smoke (industrial)" in versions[0]["changes"]
    assert "1 track(s) removed" in versions[0]["changes"]
    assert "track 1: undecided → smoke (wildfire)" in versions[1]["changes"]

    old = client.get(_url(sequence, "/versions/2")).json()
    assert [t["decision"] for t in old["tracks"]] == ["smoke", "false_positive"]
    assert client.get(_url(sequence, "/versions/9")).status_code == 404

    stale = client.post(_url(sequence, "/versions/2/restore"), json={"version": 2})
    assert stale.status_code == 409 and "version 3" in stale.json()["detail"]
    restored = client.post(_url(sequence, "/versions/2/restore"), json={"version": 3})
    assert restored.status_code == 200, restored.text
    now = restored.json()
    assert now["version"] == 4 and len(now["tracks"]) == 2
    assert now["tracks"][0]["smoke_type"] == "wildfire"
    after = client.get(_url(sequence, "/versions")).json()
    assert [v["version"] for v in after] == [4, 3, 2, 1]
    assert after[0]["action"] == "restore" and after[0]["reason"] == "restored version 2"


def test_a_conflict_says_who_saved_and_when(lookout, drafted):
    _, alice, _, sequence, review = drafted
    bob = lookout.keyed_client("bob@example.org")
    tracks = [_decide(t, "smoke", smoke_type="wildfire") for t in review["tracks"]]
    assert bob.put(_url(sequence), json={"tracks": tracks, "version": 1}).status_code == 200
    late = alice.put(_url(sequence), json={"tracks": tracks, "version": 1})
    assert late.status_code == 409
    detail = late.json()["detail"]
    assert "bob@example.org saved version 2" in detail and "UTC" in detail


def test_send_back_returns_an_annotated_sequence_to_the_queue_with_its_history(drafted):
    lookout, client, project, sequence, review = drafted
    tracks = [
        _decide(t, "false_positive", false_positive_types=["cliff"]) for t in review["tracks"]
    ]
    saved = client.put(_url(sequence), json={"tracks": tracks, "version": 1}).json()

    missing = client.post(_url(sequence, "/send-back"), json={})
    assert missing.status_code in (400, 422) and "reason" in missing.text
    back = client.post(_url(sequence, "/send-back"), json={"reason": "the cliff is smoke"})
    assert back.status_code == 200, back.text
    now = back.json()
    assert now["processing_stage"] == "ready_to_annotate"
    assert now["returned_reason"] == "the cliff is smoke"
    assert now["tracks"] == saved["tracks"]  # the decisions stay for the next reviewer
    again = client.post(_url(sequence, "/send-back"), json={"reason": "twice"})
    assert again.status_code == 409

    # A new draft (an import run again) never overwrites a person's review sent back.
    redraft = client.post(f"/api/sequences/{sequence['id']}/draft", json={}).json()
    assert redraft["status"] == "skipped"

    versions = client.get(_url(sequence, "/versions")).json()
    assert versions[0]["action"] == "send_back" and versions[0]["reason"] == "the cliff is smoke"
    assert "stage: annotated → ready_to_annotate" in versions[0]["changes"]

    queued = client.get(
        "/api/sequences",
        params={"project_id": project["id"], "processing_stage": "ready_to_annotate"},
    )
    assert [s["id"] for s in queued.json()["items"]] == [sequence["id"]]

    # Saving again clears the reason.
    resaved = client.put(_url(sequence), json={"tracks": tracks, "version": now["version"]})
    assert resaved.json()["returned_reason"] is None


def test_history_and_send_back_are_scoped_to_the_callers_groups(lookout, drafted):
    _, _, _, sequence, _ = drafted
    outsider = lookout.keyed_client("eve@example.org", group="others")
    assert outsider.get(_url(sequence, "/versions")).status_code == 404
    assert outsider.get(_url(sequence, "/versions/1")).status_code == 404
    assert outsider.post(_url(sequence, "/send-back"), json={"reason": "x"}).status_code == 404
    assert outsider.post(_url(sequence, "/versions/1/restore"), json={}).status_code == 404
