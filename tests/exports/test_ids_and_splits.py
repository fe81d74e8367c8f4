"""Exports that agree with each other: one COCO image id per frame, a COCO results file that
scores against the truth file as `lookout evaluate` does, stored splits, small projects."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections import defaultdict

import pytest
import yaml
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from lookout.exports.ids import candidate
from lookout.images.models import Image
from tests.exports.builders import make_world, read_zip, smoke, standard_world


def export(world, **params):
    return world.client.get("/api/exports", params={"project_id": world.project_id, **params})


def coco_doc(world, **params) -> dict:
    return json.loads(read_zip(export(world, **params)).read("annotations.json"))


def ids_by_frame(doc: dict) -> dict[str, int]:
    return {image["lookout_id"]: image["id"] for image in doc["images"]}


def yolo_splits(world, **params) -> dict[str, str]:
    """Image id to split, from a YOLO export's label files."""
    archive = read_zip(export(world, format="yolo", negatives="true", **params))
    out = {}
    for name in archive.namelist():
        if name.startswith("labels/"):
            _, split, file = name.split("/")
            out[file.removesuffix(".txt")] = split
    return out


def test_a_frame_keeps_one_id_in_every_export(lookout):
    world = standard_world(lookout)
    for seq in world.sequences:
        for frame in seq.frames:
            world.predict(frame, [("smoke", [0.1, 0.2, 0.3, 0.5], 0.7)])
    truth = ids_by_frame(coco_doc(world, format="coco", negatives="true"))
    smoke_only = ids_by_frame(coco_doc(world, format="coco"))
    model = ids_by_frame(coco_doc(world, format="coco", source="model:yolo@v1"))
    by_camera = ids_by_frame(coco_doc(world, format="coco", camera_id=world.camera["id"]))
    assert len(model) == 9 and len(truth) == 7 and len(smoke_only) == 4
    for other in (smoke_only, model, by_camera):
        assert {frame: truth[frame] for frame in other if frame in truth} == {
            frame: number for frame, number in other.items() if frame in truth
        }
    assert ids_by_frame(coco_doc(world, format="coco", source="model:yolo@v1")) == model
    # Unique, JSON-safe integers derived from the image content.
    assert len(set(model.values())) == len(model)
    assert all(0 < number < 2**53 for number in model.values())
    doc = coco_doc(world, format="coco", negatives="true")
    assert all(image["id"] == candidate(image["sha256"], 0) for image in doc["images"])
    # Ids used by annotations are the images'.
    assert {a["image_id"] for a in doc["annotations"]} <= {i["id"] for i in doc["images"]}


def test_identical_images_in_a_project_get_different_ids(lookout):
    world = make_world(lookout)
    seq = world.add_sequence("twins", frames=1)
    # The same bytes again, as another frame of another sequence.
    with world.lookout.sessions() as session:
        original = session.get(Image, uuid.UUID(seq.frames[0]))
        content = world.storage().get_bytes(original.object_key)
    other = world.add_sequence("twins-2", frames=0)
    response = world.client.post(
        f"/api/sequences/{other.id}/frames",
        files={"file": ("again.jpg", content, "image/jpeg")},
        data={"metadata": json.dumps({"captured_at": "2024-06-01T10:05:00Z"})},
    )
    assert response.status_code == 201, response.text
    other.frames.append(response.json()["id"])
    for s in (seq, other):
        world.review(s, [smoke(s, {0: [0.1, 0.1, 0.5, 0.5]})])
    doc = coco_doc(world, format="coco")
    assert len(doc["images"]) == 2 and len({i["sha256"] for i in doc["images"]}) == 1
    first, second = ids_by_frame(doc)[seq.frames[0]], ids_by_frame(doc)[other.frames[0]]
    assert first != second and first == candidate(doc["images"][0]["sha256"], 0)
    assert ids_by_frame(coco_doc(world, format="coco")) == ids_by_frame(doc)


def _scored_world(lookout):
    """Six reviewed sequences, every frame analyzed by the model: hits, misses, false alarms."""
    world = make_world(lookout)
    truth = [0.1, 0.1, 0.4, 0.5]
    detections = [
        [("smoke", [0.11, 0.1, 0.41, 0.52], 0.9), ("smoke", [0.6, 0.6, 0.8, 0.8], 0.3)],
        [("smoke", [0.2, 0.15, 0.45, 0.5], 0.55)],
        [],
        [("smoke", [0.1, 0.1, 0.39, 0.49], 0.8), ("smoke", [0.12, 0.1, 0.4, 0.5], 0.85)],
        [("smoke", [0.7, 0.7, 0.9, 0.9], 0.6)],
        [("smoke", [0.1, 0.12, 0.42, 0.5], 0.45)],
    ]
    for i, found in enumerate(detections):
        seq = world.add_sequence(f"s{i}", frames=2, started_at=f"2024-08-{i + 1:02d}T09:00:00")
        tracks = [smoke(seq, {0: truth})] if i != 4 else []  # s4 holds no smoke
        world.review(seq, tracks)
        world.predict(seq.frames[0], found)
        world.predict(seq.frames[1], [("smoke", [0.3, 0.3, 0.5, 0.6], 0.35)] if i == 2 else [])
    return world


def _cocoeval(truth: dict, results: list) -> list[float]:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = truth
        gt.createIndex()
        dt = gt.loadRes(results)
        evaluation = COCOeval(gt, dt, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return list(evaluation.stats)


def test_cocoeval_of_a_results_export_equals_lookout_evaluate(lookout):
    world = _scored_world(lookout)
    truth = coco_doc(world, format="coco", negatives="true")
    response = export(world, format="coco-results", source="model:yolo@v1", negatives="true")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert '.json"' in response.headers["content-disposition"]
    results = response.json()
    assert set(results[0]) == {"image_id", "category_id", "bbox", "score"}
    assert {r["image_id"] for r in results} <= {i["id"] for i in truth["images"]}
    stats = _cocoeval(truth, results)
    response = world.client.post(
        "/api/evaluations",
        json={"project_id": world.project_id, "model_name": "yolo", "store": False},
    )
    assert response.status_code == 200, response.text
    overall = response.json()["overall"]
    assert stats[0] == pytest.approx(overall["ap"], abs=1e-6)
    assert stats[1] == pytest.approx(overall["ap50"], abs=1e-6)
    assert 0 < stats[1] < 1  # a figure that says something


def test_frames_the_model_never_saw_are_misses_in_both(lookout):
    world = _scored_world(lookout)
    seq = world.add_sequence("unseen", frames=1, started_at="2024-08-20T09:00:00")
    world.review(seq, [smoke(seq, {0: [0.2, 0.2, 0.6, 0.6]})])  # no analysis of this frame
    truth = coco_doc(world, format="coco", negatives="true")
    results = export(world, format="coco-results", source="model:yolo", negatives="true").json()
    stats = _cocoeval(truth, results)
    body = {"project_id": world.project_id, "model_name": "yolo", "store": False}
    overall = world.client.post(
        "/api/evaluations", json={**body, "include_unanalyzed": True}
    ).json()["overall"]
    assert stats[0] == pytest.approx(overall["ap"], abs=1e-6)
    assert stats[1] == pytest.approx(overall["ap50"], abs=1e-6)
    left_out = world.client.post("/api/evaluations", json=body).json()["overall"]
    assert left_out["ap50"] > overall["ap50"]


def test_results_without_negatives_reference_the_truth_files_images_only(lookout):
    world = _scored_world(lookout)
    truth = coco_doc(world, format="coco")
    results = export(world, format="coco-results", source="model:yolo@v1").json()
    assert {r["image_id"] for r in results} <= {i["id"] for i in truth["images"]}
    _cocoeval(truth, results)  # loadRes accepts it


def test_results_need_a_model(lookout):
    world = standard_world(lookout)
    response = export(world, format="coco-results")
    assert response.status_code == 400 and response.json()["field"] == "source"


def test_truth_boxes_carry_no_score(lookout):
    world = standard_world(lookout)
    world.predict(world.sequences[0].frames[1], [("smoke", [0.1, 0.2, 0.3, 0.5], 0.9)])
    doc = coco_doc(world, format="coco", negatives="true")
    assert doc["annotations"] and not [a for a in doc["annotations"] if "score" in a]
    model = coco_doc(world, format="coco", source="model:yolo@v1")
    assert [a["score"] for a in model["annotations"]] == [0.9]


def test_splits_are_stored_and_kept_as_data_is_added(lookout):
    world = make_world(lookout)
    for i in range(10):
        seq = world.add_sequence(f"s{i}", frames=2, started_at=f"2024-07-{i + 1:02d}T08:00:00")
        world.review(seq, [smoke(seq, {0: [0.1, 0.1, 0.4, 0.4]})])
    first = yolo_splits(world)
    for i in range(10, 14):
        seq = world.add_sequence(f"s{i}", frames=1, started_at=f"2024-07-{i + 1:02d}T08:00:00")
        world.review(seq, [smoke(seq, {0: [0.1, 0.1, 0.4, 0.4]})])
    later = yolo_splits(world, seed=5, split="0.2,0.4,0.4")
    assert {k: later[k] for k in first} == first
    assert len(later) == len(first) + 4
    # Other exports agree: COCO records the same split.
    doc = coco_doc(world, format="coco", negatives="true")
    assert {i["lookout_id"]: i["split"] for i in doc["images"]} == later


def test_a_split_can_be_set_and_redrawn_on_request(lookout):
    world = make_world(lookout)
    for i in range(4):
        seq = world.add_sequence(f"s{i}", frames=1, started_at=f"2024-07-{i + 1:02d}T08:00:00")
        world.review(seq, [smoke(seq, {0: [0.1, 0.1, 0.4, 0.4]})])
    target = world.sequences[0]
    response = world.client.put(f"/api/sequences/{target.id}/split", json={"split": "test"})
    assert response.status_code == 200, response.text
    assert response.json() == {"sequence_id": target.id, "split": "test"}
    assert yolo_splits(world)[target.frames[0]] == "test"
    assert yolo_splits(world, split="1,0,0", redraw_splits="true")[target.frames[0]] == "train"
    bad = world.client.put(f"/api/sequences/{target.id}/split", json={"split": "holdout"})
    assert bad.status_code == 422 and "split" in json.dumps(bad.json())
    stranger = lookout.keyed_client("eve@example.org", "elsewhere")
    hidden = stranger.put(f"/api/sequences/{target.id}/split", json={"split": "val"})
    assert hidden.status_code == 404


@pytest.mark.parametrize("count", range(2, 8))
def test_small_projects_get_a_validation_split(lookout, count):
    world = make_world(lookout)
    for i in range(count):
        seq = world.add_sequence(f"s{i}", frames=1, started_at=f"2024-07-{i + 1:02d}T08:00:00")
        world.review(seq, [smoke(seq, {0: [0.1, 0.1, 0.4, 0.4]})])
    response = export(world, format="yolo")
    assert "x-lookout-warning" not in response.headers
    archive = read_zip(response)
    per_sequence: dict[str, set[str]] = defaultdict(set)
    sequence_of = {f: s.id for s in world.sequences for f in s.frames}
    for name in archive.namelist():
        if name.startswith("labels/"):
            _, split, file = name.split("/")
            per_sequence[split].add(sequence_of[file.removesuffix(".txt")])
    assert per_sequence["val"], "val is empty"
    assert per_sequence["train"]
    if count >= 3:
        assert per_sequence["test"]
    data = yaml.safe_load(archive.read("data.yaml"))
    assert data["val"] == "images/val" and data["train"] == "images/train"
    assert data["test"] == ("images/test" if per_sequence["test"] else None)


def test_one_sequence_is_warned_about(lookout):
    world = make_world(lookout)
    seq = world.add_sequence("only", frames=2)
    world.review(seq, [smoke(seq, {0: [0.1, 0.1, 0.4, 0.4]})])
    response = export(world, format="yolo")
    assert "val is empty" in response.headers["x-lookout-warning"]
    data = yaml.safe_load(read_zip(response).read("data.yaml"))
    assert data["val"] == "images/train" and "test" in data
