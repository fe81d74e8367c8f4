"""The review queue ordered by value: disagreement between a model and the platform's boxes (or
two models) and uncertainty near a threshold, from stored scores, on both databases.

The sequences are built by hand so every score is known (computed by hand in the comments):
a frame costs its unmatched boxes' confidences (1 for a platform box without one) plus the
confidence gaps of its matched pairs (IoU >= 0.5); a sequence's score is the frames' sum over
the frames compared.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from lookout.pipeline.signing import sign_request
from lookout.scoring.models import QueueScore
from lookout.scoring.service import (
    ScoredBox,
    disagreement,
    frame_disagreement,
    track_confidences,
    uncertainty,
)
from tests.conftest import HMAC_SECRET
from tests.exports.test_cli_commands import run
from tests.reviewing.test_review_queue_api import CLAIM
from tests.support import Lookout, jpeg_bytes

LEFT = [0.1, 0.1, 0.3, 0.3]
RIGHT = [0.6, 0.6, 0.8, 0.8]
MIDDLE = [0.5, 0.5, 0.7, 0.7]
CENTER = [0.2, 0.2, 0.4, 0.4]
LEFT_SHIFTED = [0.12, 0.1, 0.3, 0.3]  # IoU with LEFT: 0.036 / 0.04 = 0.9

YOLO = ("yolo_v8", "v8.0.0")
SSD = ("ssd", "1")


def _box(xyxyn: list[float], confidence: float | None) -> dict[str, Any]:
    box: dict[str, Any] = {
        "annotation_type": "bounding_box",
        "class_name": "smoke",
        "data": {"bbox": xyxyn, "format": "xyxyn"},
    }
    if confidence is not None:
        box["confidence"] = confidence
    return box


def _signed(raw: httpx.Client, path: str, payload: Any) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **sign_request(HMAC_SECRET, "POST", path, body)}
    return raw.post(path, content=body, headers=headers)


def run_model(
    client: httpx.Client,
    raw: httpx.Client,
    frame_id: str,
    model: tuple[str, str],
    boxes: list[dict[str, Any]],
    *,
    finalize: bool = True,
) -> str:
    """A pipeline's analysis of one frame: created, its boxes posted, finalized."""
    created = client.post(
        f"/api/images/{frame_id}/analyses",
        json={"model_name": model[0], "model_version": model[1]},
    )
    assert created.status_code == 201, created.text
    analysis_id = created.json()["id"]
    if boxes:
        posted = _signed(
            raw, f"/api/analyses/{analysis_id}/annotations:bulk", {"annotations": boxes}
        )
        assert posted.status_code in (200, 201), posted.text
    if finalize:
        done = _signed(raw, f"/api/analyses/{analysis_id}/finalize", {"status": "completed"})
        assert done.status_code == 200, done.text
    return analysis_id


def add_sequence(
    client: httpx.Client,
    project_id: str,
    name: str,
    day: int,
    platform_frames: list[list[dict[str, Any]]],
    camera_id: str | None = None,
) -> tuple[str, list[str]]:
    """A drafted sequence whose frames carry the platform's boxes: (id, frame ids)."""
    created = client.post(
        "/api/sequences",
        json={
            "project_id": project_id,
            "source": "test",
            "source_id": name,
            "started_at": f"2024-01-{day:02d}T10:00:00Z",
            **({"camera_id": camera_id} if camera_id else {}),
        },
    )
    assert created.status_code == 201, created.text
    sequence_id = created.json()["id"]
    frames = []
    for index, boxes in enumerate(platform_frames):
        metadata = {
            "source": "test",
            "source_id": f"{name}-f{index}",
            "captured_at": f"2024-01-{day:02d}T10:00:{index:02d}Z",
            "predictions": {
                "model_name": "platform",
                "model_version": "test",
                "annotations": boxes,
            },
        }
        frame = client.post(
            f"/api/sequences/{sequence_id}/frames",
            files={
                "file": ("f.jpg", jpeg_bytes(color=(10 + 20 * index, 100, 30 * day)), "image/jpeg")
            },
            data={"metadata": json.dumps(metadata)},
        )
        assert frame.status_code == 201, frame.text
        frames.append(frame.json()["id"])
    drafted = client.post(f"/api/sequences/{sequence_id}/draft", json={})
    assert drafted.status_code == 200, drafted.text
    return sequence_id, frames


@pytest.fixture
def scene(lookout: Lookout) -> dict[str, Any]:
    """Four waiting sequences (oldest first: A, B, C, D) with known scores."""
    client = lookout.keyed_client("alice@example.org", "team")
    raw = lookout.client()
    project = lookout.create_project(client, "cams")["id"]
    # A: frame 1, platform LEFT 0.9; yolo LEFT 0.6 (matched: gap 0.3) and RIGHT 0.8 (unmatched:
    # 0.8). Frame 2, platform MIDDLE without a confidence (unmatched: 1); yolo saw nothing.
    # Disagreement (0.3 + 0.8 + 1) / 2 frames = 1.05. Yolo's tracks: 0.8 and 0.6.
    a, a_frames = add_sequence(client, project, "A", 1, [[_box(LEFT, 0.9)], [_box(MIDDLE, None)]])
    run_model(client, raw, a_frames[0], YOLO, [_box(LEFT, 0.6), _box(RIGHT, 0.8)])
    run_model(client, raw, a_frames[1], YOLO, [])
    # B: platform LEFT 0.7, yolo LEFT_SHIFTED 0.7 (IoU 0.9, gap 0): 0. Track: 0.7.
    b, b_frames = add_sequence(client, project, "B", 2, [[_box(LEFT, 0.7)]])
    run_model(client, raw, b_frames[0], YOLO, [_box(LEFT_SHIFTED, 0.7)])
    # C: no platform box, yolo CENTER 0.5 (unmatched): 0.5. Track: 0.5.
    # ssd CENTER 0.9 there too: ssd against yolo, matched, gap 0.4.
    c, c_frames = add_sequence(client, project, "C", 3, [[]])
    run_model(client, raw, c_frames[0], YOLO, [_box(CENTER, 0.5)])
    run_model(client, raw, c_frames[0], SSD, [_box(CENTER, 0.9)])
    # D: no model ran on it: no score.
    d, d_frames = add_sequence(client, project, "D", 4, [[_box(LEFT, 0.4)]])
    return {
        "lookout": lookout,
        "client": client,
        "raw": raw,
        "project": project,
        "ids": {"A": a, "B": b, "C": c, "D": d},
        "frames": {"A": a_frames, "B": b_frames, "C": c_frames, "D": d_frames},
    }


def _claim_all(client: httpx.Client, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Claim then skip until the queue is empty: (sequence id, why) in the queue's order."""
    found = []
    while (response := client.post(CLAIM, json=body)).status_code == 200:
        answer = response.json()
        found.append((answer["sequence"]["id"], answer["why"]))
        skipped = client.post(
            "/api/review-queue/skip", json={"sequence_id": answer["sequence"]["id"]}
        )
        assert skipped.status_code == 204, skipped.text
    assert response.status_code == 204, response.text
    return found


def _names(scene: dict[str, Any], found: list[tuple[str, Any]]) -> list[str]:
    by_id = {v: k for k, v in scene["ids"].items()}
    return [by_id[sequence_id] for sequence_id, _ in found]


def _stored(lookout: Lookout, kind: str, model: str, against: str = "") -> dict[str, float]:
    with lookout.sessions() as session:
        rows = session.execute(
            sa.select(QueueScore.sequence_id, QueueScore.score).where(
                QueueScore.kind == kind, QueueScore.model == model, QueueScore.against == against
            )
        )
        return {str(sequence_id): score for sequence_id, score in rows}


# --- the rules, by hand ----------------------------------------------------------------------


def test_frame_disagreement_by_hand() -> None:
    left, right = (0.1, 0.1, 0.3, 0.3), (0.6, 0.6, 0.8, 0.8)
    platform = [ScoredBox(left, 0.9)]
    model = [ScoredBox(left, 0.6), ScoredBox(right, 0.8)]
    assert frame_disagreement(model, platform) == pytest.approx(0.3 + 0.8)
    assert frame_disagreement([], [ScoredBox(left, None)]) == 1.0  # no confidence: counts 1
    assert frame_disagreement([], []) == 0.0
    assert disagreement([(model, platform), ([], [ScoredBox(left, None)])]) == pytest.approx(1.05)
    # Greedy by confidence: the surer box takes the match, the other is left over.
    twins = [ScoredBox(left, 0.95), ScoredBox(left, 0.5)]
    assert frame_disagreement(twins, [ScoredBox(left, 0.9)]) == pytest.approx(0.05 + 0.5)


def test_tracks_and_uncertainty_by_hand() -> None:
    left, right = (0.1, 0.1, 0.3, 0.3), (0.6, 0.6, 0.8, 0.8)
    frames = [[ScoredBox(left, 0.4), ScoredBox(right, 0.9)], [ScoredBox(left, 0.6)], []]
    assert track_confidences(frames) == pytest.approx([0.9, 0.5])  # left: (0.4 + 0.6) / 2
    assert uncertainty([0.9, 0.5], 0.5) == pytest.approx(0.0)
    assert uncertainty([0.9, 0.5], 0.8) == pytest.approx(0.1)
    assert uncertainty([], 0.5) is None


# --- stored scores and claims ----------------------------------------------------------------


def test_disagreement_scores_are_stored_as_computed_by_hand(scene: dict[str, Any]) -> None:
    ids = scene["ids"]
    stored = _stored(scene["lookout"], "disagreement", "yolo_v8@v8.0.0")
    assert stored == {
        ids["A"]: pytest.approx(1.05),
        ids["B"]: pytest.approx(0.0),
        ids["C"]: pytest.approx(0.5),
    }
    pair = _stored(scene["lookout"], "disagreement", "ssd@1", "yolo_v8@v8.0.0")
    assert pair == {ids["C"]: pytest.approx(0.4)}


def test_claims_by_disagreement_come_most_disagreeing_first(scene: dict[str, Any]) -> None:
    found = _claim_all(scene["client"], {"order": "disagreement", "model": "yolo_v8"})
    assert _names(scene, found) == ["A", "C", "B", "D"]
    why = found[0][1]
    assert why["order"] == "disagreement"
    assert why["model"] == "yolo_v8@v8.0.0" and why["against_model"] is None
    assert why["score"] == pytest.approx(1.05)
    assert "disagree" in why["detail"]
    assert found[3][1]["score"] is None  # D has no score: after the scored ones


def test_two_model_disagreement(scene: dict[str, Any]) -> None:
    body = {"order": "disagreement", "model": "yolo_v8@v8.0.0", "against_model": "ssd"}
    found = _claim_all(scene["client"], body)
    assert _names(scene, found)[0] == "C"
    assert found[0][1]["score"] == pytest.approx(0.4)
    assert found[0][1]["against_model"] == "ssd@1"


def test_uncertainty_orders_by_distance_to_the_threshold(scene: dict[str, Any]) -> None:
    client = scene["client"]
    # The project's threshold (0.5, stored): C 0, A 0.1 (track 0.6), B 0.2.
    found = _claim_all(client, {"order": "uncertainty", "model": "yolo_v8"})
    assert _names(scene, found) == ["C", "A", "B", "D"]
    assert [w["score"] for _, w in found[:3]] == pytest.approx([0.0, 0.1, 0.2])
    for sequence_id in scene["ids"].values():
        client.delete(f"/api/review-queue/skipped/{sequence_id}")
    # Another threshold, computed by the database: A 0 (track 0.8), B 0.1, C 0.3.
    found = _claim_all(client, {"order": "uncertainty", "model": "yolo_v8", "threshold": 0.8})
    assert _names(scene, found) == ["A", "B", "C", "D"]
    assert [w["score"] for _, w in found[:3]] == pytest.approx([0.0, 0.1, 0.3])
    assert found[0][1]["threshold"] == 0.8


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"order": "disagreement"}, "model"),
        ({"order": "uncertainty"}, "model"),
        ({"order": "disagreement", "model": "nope"}, "model"),
        ({"order": "disagreement", "model": "yolo_v8@9"}, "model"),
        ({"order": "disagreement", "model": "yolo_v8", "against_model": "nope"}, "against_model"),
        ({"order": "loudest"}, "order"),
        ({"order": "uncertainty", "model": "yolo_v8", "threshold": 2}, "threshold"),
    ],
)
def test_a_missing_or_unknown_model_is_refused_naming_the_field(
    scene: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = scene["client"].post(CLAIM, json={"project_id": scene["project"], **body})
    assert response.status_code in (400, 422), response.text
    assert response.json()["field"] == field


def test_a_project_default_order(scene: dict[str, Any]) -> None:
    client, project = scene["client"], scene["project"]
    path = f"/api/projects/{project}"
    refused = client.patch(path, json={"queue_order": "disagreement"})
    assert refused.status_code == 400 and refused.json()["field"] == "queue_model"
    bad = client.patch(path, json={"queue_order": "random"})
    assert bad.status_code in (400, 422) and bad.json()["field"] == "queue_order"
    changed = client.patch(path, json={"queue_order": "disagreement", "queue_model": "yolo_v8"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["queue_order"] == "disagreement"
    assert client.get(path).json()["queue_model"] == "yolo_v8"
    found = _claim_all(client, {"project_id": project})
    assert _names(scene, found) == ["A", "C", "B", "D"]
    assert found[0][1]["order"] == "disagreement"
    # A claim that names an order still gets it.
    for sequence_id in scene["ids"].values():
        client.delete(f"/api/review-queue/skipped/{sequence_id}")
    oldest = _claim_all(client, {"project_id": project, "order": "oldest"})
    assert _names(scene, oldest) == ["A", "B", "C", "D"]
    assert oldest[0][1]["order"] == "oldest"


def test_a_finalized_analysis_updates_the_score(scene: dict[str, Any]) -> None:
    client, raw, lookout = scene["client"], scene["raw"], scene["lookout"]
    d = scene["ids"]["D"]
    assert d not in _stored(lookout, "disagreement", "yolo_v8@v8.0.0")
    # Queued, not finalized: the boxes do not count yet.
    analysis = run_model(
        client, raw, scene["frames"]["D"][0], YOLO, [_box(RIGHT, 0.9)], finalize=False
    )
    assert d not in _stored(lookout, "disagreement", "yolo_v8@v8.0.0")
    done = _signed(raw, f"/api/analyses/{analysis}/finalize", {"status": "completed"})
    assert done.status_code == 200, done.text
    # D: platform LEFT 0.4 unmatched, yolo RIGHT 0.9 unmatched: 1.3, now the most disagreeing.
    assert _stored(lookout, "disagreement", "yolo_v8@v8.0.0")[d] == pytest.approx(1.3)
    found = _claim_all(client, {"order": "disagreement", "model": "yolo_v8"})
    assert _names(scene, found) == ["D", "A", "C", "B"]
    # A newer analysis of the model on the frame replaces the older one's boxes.
    run_model(client, raw, scene["frames"]["D"][0], YOLO, [_box(LEFT, 0.4)])
    assert _stored(lookout, "disagreement", "yolo_v8@v8.0.0")[d] == pytest.approx(0.0)


def test_the_queue_lists_scores_and_why(scene: dict[str, Any]) -> None:
    client, ids = scene["client"], scene["ids"]
    params = {"project_id": scene["project"], "order": "disagreement", "model": "yolo_v8"}
    listed = client.get("/api/review-queue", params=params)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["order"] == "disagreement" and body["remaining"] == 4
    assert [i["sequence"]["id"] for i in body["items"]] == [ids["A"], ids["C"], ids["B"], ids["D"]]
    assert [i["why"]["score"] for i in body["items"]] == pytest.approx([1.05, 0.5, 0.0, None])
    page = client.get("/api/review-queue", params={**params, "limit": 2, "offset": 2}).json()
    assert [i["sequence"]["id"] for i in page["items"]] == [ids["B"], ids["D"]]
    beyond = client.get("/api/review-queue", params={**params, "limit": 2, "offset": 3}).json()
    assert [i["sequence"]["id"] for i in beyond["items"]] == [ids["D"]]
    missing = client.get("/api/review-queue", params={**params, "model": None})
    assert missing.status_code == 400 and missing.json()["field"] == "model"
    oldest = client.get("/api/review-queue", params={"project_id": scene["project"]}).json()
    assert oldest["order"] == "oldest"
    assert [i["sequence"]["id"] for i in oldest["items"]] == [ids[k] for k in "ABCD"]


def test_another_groups_scores_stay_hidden(scene: dict[str, Any]) -> None:
    mallory = scene["lookout"].keyed_client("mallory@example.org", "other")
    response = mallory.post(CLAIM, json={"order": "disagreement", "model": "yolo_v8"})
    assert response.status_code == 400 and response.json()["field"] == "model"
    assert "yolo_v8" not in response.json()["detail"].split("models with scores:")[1]
    hidden = mallory.post(
        CLAIM, json={"project_id": scene["project"], "order": "disagreement", "model": "yolo_v8"}
    )
    assert hidden.status_code == 404


def test_the_command_line_rescores_a_project(scene: dict[str, Any]) -> None:
    lookout = scene["lookout"]
    with lookout.sessions() as session:
        session.execute(sa.delete(QueueScore))
        session.commit()
    result = run(lookout, "rescore-queue", "--project", scene["project"], "--model", "ssd@1")
    assert result.returncode == 0, result.stderr
    # ssd on C: against the platform, against yolo_v8, and its one track.
    assert "rescored 4 sequences: 3 scores stored" in result.stdout
    assert _stored(lookout, "disagreement", "yolo_v8@v8.0.0") == {}
    result = run(lookout, "rescore-queue", "--project", "cams")
    assert result.returncode == 0, result.stderr
    ids = scene["ids"]
    assert _stored(lookout, "disagreement", "yolo_v8@v8.0.0") == {
        ids["A"]: pytest.approx(1.05),
        ids["B"]: pytest.approx(0.0),
        ids["C"]: pytest.approx(0.5),
    }
