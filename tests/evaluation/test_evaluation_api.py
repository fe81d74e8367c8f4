"""POST /api/evaluations and friends: metrics, stored outcomes, comparison, access, bad input."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tests.exports.builders import read_zip, standard_world

A = [0.1, 0.2, 0.3, 0.5]
B = [0.12, 0.2, 0.35, 0.55]
C = [0.5, 0.5, 0.9, 0.8]
D = [0.0, 0.0, 0.2, 0.1]
E = [0.0, 0.0, 0.25, 0.1]


@pytest.fixture
def world(lookout):
    """standard_world's truth, a fair model (yolo@v1) and a perfect one (rcnn@2)."""
    world = standard_world(lookout)
    s1, s2, s3, _ = world.sequences
    world.predict(s1.frames[0], [("smoke", [0.6, 0.6, 0.7, 0.7], 0.3)])
    world.predict(s1.frames[1], [])  # misses A
    world.predict(s1.frames[2], [("smoke", B, 0.9)])
    world.predict(s2.frames[0], [("smoke", C, 0.8), ("smoke", [0.3, 0.3, 0.35, 0.35], 0.6)])
    world.predict(s2.frames[1], [("smoke", E, 0.7)])  # misses D on frame 0
    world.predict(s3.frames[0], [("smoke", [0.4, 0.4, 0.6, 0.6], 0.55)])
    world.predict(s3.frames[1], [])
    for frame, boxes in (
        (s1.frames[1], [A]),
        (s1.frames[2], [B]),
        (s2.frames[0], [C, D]),
        (s2.frames[1], [E]),
        (s3.frames[0], []),
        (s1.frames[0], []),
        (s3.frames[1], []),
    ):
        world.predict(frame, [("smoke", box, 0.95) for box in boxes], model="rcnn", version="2")
    return world


def evaluate(world, **body):
    return world.client.post(
        "/api/evaluations", json={"project_id": world.project_id, "model_name": "yolo", **body}
    )


def test_metrics_outcomes_and_sequences(world):
    response = evaluate(world)
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["model"] == {"name": "yolo", "version": "v1"}
    assert result["images"] == 7 and result["truth_boxes"] == 5 and result["detections"] == 6
    overall = result["overall"]
    assert (overall["tp"], overall["fp"], overall["fn"]) == (3, 2, 2)
    assert overall["precision"] == 0.6 and overall["recall"] == 0.6 and overall["f1"] == 0.6
    # Detections 0.9 T, 0.8 T, 0.7 T, 0.6 F, 0.55 F, 0.3 F against 5 truths: precision 1 at
    # the recall points up to 3/5, 0 after.
    expected = float(np.mean(np.linspace(0.0, 1.0, 101) <= 3 / 5))
    assert overall["ap50"] == pytest.approx(expected, abs=1e-12)
    assert overall["ap"] == pytest.approx(expected, abs=1e-12)  # boxes are exact: IoU 1
    assert overall["best_f1"]["threshold"] == 0.7 and overall["best_f1"]["f1"] == 0.75
    sweep = {row["threshold"]: row for row in overall["sweep"]}
    assert sweep[0.0]["tp"] == 3 and sweep[0.0]["fp"] == 3
    assert sweep[0.85]["tp"] == 1 and sweep[0.85]["precision"] == 1.0
    assert len(overall["pr_curve"]) == 101 and overall["pr_curve"][0] == 1.0
    assert [c["class_name"] for c in result["per_class"]] == ["smoke"]
    seq = result["sequences"]
    assert seq["smoke_sequences"] == 2 and seq["caught"] == 2 and seq["catch_rate"] == 1.0
    assert seq["frames_to_fire"]["histogram"] == {"0": 1, "2": 1}
    assert seq["frames_to_fire"]["median"] == 1.0
    assert seq["sequences_without_smoke"] == 1 and seq["false_alarm_sequences"] == 1

    # The outcome of every box is stored: misses and false alarms can be listed.
    outcomes = world.client.get(f"/api/evaluations/{result['id']}/outcomes")
    assert outcomes.json()["total"] == 7
    misses = world.client.get(f"/api/evaluations/{result['id']}/outcomes", params={"outcome": "fn"})
    s1, s2 = world.sequences[0], world.sequences[1]
    got = sorted((m["image_id"], m["xyxyn"]) for m in misses.json()["items"])
    assert got == sorted([(s1.frames[1], A), (s2.frames[0], D)])
    assert all(m["track_id"] is not None for m in misses.json()["items"])
    alarms = world.client.get(
        f"/api/evaluations/{result['id']}/outcomes", params={"outcome": "fp"}
    ).json()["items"]
    assert [a["confidence"] for a in alarms] == [0.6, 0.55]
    assert all(a["prediction_id"] for a in alarms)
    hits = world.client.get(
        f"/api/evaluations/{result['id']}/outcomes", params={"outcome": "tp"}
    ).json()["items"]
    assert sorted(h["iou"] for h in hits) == pytest.approx([1.0, 1.0, 1.0])
    bad = world.client.get(f"/api/evaluations/{result['id']}/outcomes", params={"outcome": "x"})
    assert bad.status_code == 400 and bad.json()["field"] == "outcome"


def test_threshold_iou_classes_and_unanalyzed_frames(world):
    low = evaluate(world, confidence_threshold=0.25, store=False)
    assert low.status_code == 200 and "id" not in low.json()
    assert (low.json()["overall"]["tp"], low.json()["overall"]["fp"]) == (3, 3)
    typed = evaluate(world, class_from="smoke_type", store=False).json()
    assert [c["class_name"] for c in typed["per_class"]] == ["industrial", "smoke", "wildfire"]
    # The model says "smoke" for every type: only the untyped track (E) matches.
    assert typed["overall"]["tp"] == 1
    agnostic = evaluate(world, class_from="smoke_type", class_agnostic=True, store=False).json()
    assert [c["class_name"] for c in agnostic["per_class"]] == ["any"]
    assert agnostic["overall"]["tp"] == 3
    world.predict(world.sequences[0].frames[2], [("smoke", B, 0.9)], model="partial")
    partial = world.client.post(
        "/api/evaluations",
        json={
            "project_id": world.project_id,
            "model_name": "partial",
            "store": False,
        },
    ).json()
    assert partial["images"] == 1 and partial["images_not_analyzed"] == 6
    assert partial["overall"]["recall"] == 1.0
    counted = world.client.post(
        "/api/evaluations",
        json={
            "project_id": world.project_id,
            "model_name": "partial",
            "store": False,
            "include_unanalyzed": True,
        },
    ).json()
    assert counted["images"] == 7 and counted["overall"]["recall"] == 0.2
    strict = evaluate(world, iou_threshold=0.99, store=False).json()
    assert strict["overall"]["tp"] == 3 and strict["iou_threshold"] == 0.99


def test_compare_list_get_and_delete(world):
    first = evaluate(world).json()
    second = evaluate(world, model_name="rcnn").json()
    assert second["overall"]["ap"] == pytest.approx(1.0)
    assert second["overall"]["f1"] == 1.0 and second["sequences"]["catch_rate"] == 1.0
    assert second["sequences"]["frames_to_fire"]["histogram"] == {"1": 1, "0": 1}
    rows = world.client.get(
        "/api/evaluations/compare", params={"ids": [first["id"], second["id"]]}
    ).json()
    assert [(r["model_name"], r["model_version"]) for r in rows] == [("yolo", "v1"), ("rcnn", "2")]
    assert rows[0]["f1"] == 0.6 and rows[1]["f1"] == 1.0
    listed = world.client.get("/api/evaluations", params={"project_id": world.project_id}).json()
    assert {r["id"] for r in listed} == {first["id"], second["id"]}
    assert world.client.get(f"/api/evaluations/{first['id']}").json()["overall"] == first["overall"]
    models = world.client.get("/api/evaluations/models", params={"project_id": world.project_id})
    assert {(m["model_name"], m["model_version"], m["images"]) for m in models.json()} == {
        ("yolo", "v1", 7),
        ("rcnn", "2", 7),
    }
    assert world.client.delete(f"/api/evaluations/{first['id']}").status_code == 204
    assert world.client.get(f"/api/evaluations/{first['id']}").status_code == 404
    assert world.lookout.count("evaluation_outcomes") == 5  # rcnn's five TPs remain


def test_access_and_bad_input(world, lookout):
    result = evaluate(world).json()
    stranger = lookout.keyed_client("mallory@example.org", "other")
    assert stranger.get(f"/api/evaluations/{result['id']}").status_code == 404
    assert stranger.get(f"/api/evaluations/{result['id']}/outcomes").status_code == 404
    assert (
        stranger.get("/api/evaluations/compare", params={"ids": [result["id"]]}).status_code == 404
    )
    assert stranger.get("/api/evaluations").json() == []
    assert (
        stranger.post(
            "/api/evaluations", json={"project_id": world.project_id, "model_name": "yolo"}
        ).status_code
        == 404
    )
    for body, field, words in (
        ({"model_name": "nobody"}, "model", "no completed analyses"),
        ({"model_version": "v9"}, "model", "versions: 'v1'"),
        ({"date_from": "2031-01-01"}, "selection", "selection is empty"),
        ({"stage": ["done"]}, "stage", "unknown processing stage"),
    ):
        response = evaluate(world, **body)
        assert response.status_code == 400, response.text
        assert response.json()["field"] == field and words in response.json()["detail"]
    assert evaluate(world, iou_threshold=0).status_code == 422
    assert evaluate(world, confidence_threshold=1.5).status_code == 422


def test_api_ap_agrees_with_cocoeval_on_the_exported_data(world):
    """Export the truth and the model's boxes as COCO, run COCOeval, compare with the API."""

    def coco(**params):
        params = {"project_id": world.project_id, "negatives": "true", **params}
        return json.loads(
            read_zip(world.client.get("/api/exports", params=params)).read("annotations.json")
        )

    truth, model = coco(), coco(source="model:yolo")
    image_of = {i["lookout_id"]: i["id"] for i in truth["images"]}
    model_image = {i["id"]: i["lookout_id"] for i in model["images"]}
    results = [
        {
            "image_id": image_of[model_image[a["image_id"]]],
            "category_id": 1,
            "bbox": a["bbox"],
            "score": a["score"],
        }
        for a in model["annotations"]
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = truth
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    ours = evaluate(world, store=False).json()["overall"]
    assert ours["ap"] == pytest.approx(ev.stats[0], abs=1e-6)
    assert ours["ap50"] == pytest.approx(ev.stats[1], abs=1e-6)
