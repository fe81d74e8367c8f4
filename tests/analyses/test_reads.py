"""User reads: listing, annotations, exports, comparison, deletion and the group boundary."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.analyses.ml_support import Setup, box


def _bulk(s: Setup, analysis_id: str, annotations) -> None:
    response = s.v1(
        "POST", f"/api/analyses/{analysis_id}/annotations:bulk", {"annotations": annotations}
    )
    assert response.status_code == 201, response.text


def test_list_filter_and_paginate_analyses(shared_sqlite: Setup):
    s = shared_sqlite
    from tests.analyses.ml_support import make_setup

    fresh = make_setup(s.lookout, email="lister@example.org", group="listers")
    ids = [fresh.create_analysis(model)["id"] for model in ("yolo", "yolo", "resnet", "yolo")]
    fresh.v1("PATCH", f"/api/analyses/{ids[0]}/status", {"status": "processing"})
    url = f"/api/images/{fresh.image_id}/analyses"
    everything = fresh.client.get(url).json()
    assert everything["total"] == 4
    assert [a["id"] for a in everything["items"]] == ids[::-1]  # newest first
    yolo = fresh.client.get(url, params={"model_name": "yolo"}).json()
    assert yolo["total"] == 3
    processing = fresh.client.get(url, params={"status": "processing"}).json()
    assert [a["id"] for a in processing["items"]] == [ids[0]]
    page = fresh.client.get(url, params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 4 and [a["id"] for a in page["items"]] == ids[1::-1]
    bad = fresh.client.get(url, params={"status": "sleeping"})
    assert bad.status_code == 400 and bad.json()["field"] == "status"
    assert fresh.client.get(url, params={"limit": 0}).status_code == 422


def test_annotation_filters(shared_sqlite: Setup):
    s = shared_sqlite
    analysis_id = s.create_analysis()["id"]
    _bulk(
        s,
        analysis_id,
        [
            box(class_name="person", confidence=0.9),
            box(class_name="person", confidence=0.4),
            box(class_name="car", confidence=0.8),
            {"annotation_type": "classification", "class_name": "person", "confidence": 0.99},
        ],
    )
    url = f"/api/analyses/{analysis_id}/annotations"

    def names(**params) -> list[tuple[str, float]]:
        body = s.client.get(url, params=params).json()
        assert body["total"] == len(body["items"])
        return [(a["class_name"], a["confidence"]) for a in body["items"]]

    assert len(names()) == 4
    assert names(annotation_type="bounding_box", class_name="person") == [
        ("person", 0.9),
        ("person", 0.4),
    ]
    assert names(min_confidence=0.85) == [("person", 0.9), ("person", 0.99)]
    assert names(annotation_type="classification") == [("person", 0.99)]
    bad = s.client.get(url, params={"annotation_type": "blob"})
    assert bad.status_code == 400 and bad.json()["field"] == "annotation_type"
    page = s.client.get(url, params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 4 and page["items"][0]["confidence"] == 0.4


def test_export_json_and_csv(ml: Setup):
    analysis_id = ml.create_analysis(description="export me")["id"]
    dangerous = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\tTAB", "\rCR", "plain"]
    _bulk(
        ml,
        analysis_id,
        [box(class_name=name) for name in dangerous]
        + [
            {
                "annotation_type": "classification",
                "class_name": "dog",
                "confidence": 0.96,
                "data": {"scores": {"dog": 0.96}},
            }
        ],
    )
    exported = ml.client.get(f"/api/analyses/{analysis_id}/export", params={"format": "json"})
    assert exported.status_code == 200
    disposition = exported.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="analysis_yolo_v8_\d{8}T\d{6}\.json"', disposition)
    body = json.loads(exported.content)
    assert body["analysis"]["id"] == analysis_id
    assert body["analysis"]["description"] == "export me"
    assert [a["class_name"] for a in body["annotations"]] == [*dangerous, "dog"]
    assert body["annotations"][0]["bbox_xyxyn"] == pytest.approx(
        [100 / 640, 150 / 480, 150 / 640, 250 / 480]
    )

    as_csv = ml.client.get(f"/api/analyses/{analysis_id}/export?format=csv")
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == [
        "id",
        "annotation_type",
        "class_name",
        "confidence",
        "x1",
        "y1",
        "x2",
        "y2",
        "data",
    ]
    classes = [row[2] for row in rows[1:]]
    assert classes == [
        '\'=HYPERLINK("http://x")',
        "'+1+1",
        "'-2",
        "'@SUM(A1)",
        "'\tTAB",
        "'\rCR",
        "plain",
        "dog",
    ]
    for row in rows[1:]:
        assert not row[2].startswith(("=", "+", "-", "@", "\t", "\r"))
    assert float(rows[1][4]) == pytest.approx(100 / 640)
    assert rows[-1][4] == "" and json.loads(rows[-1][8]) == {"scores": {"dog": 0.96}}
    assert ml.client.get(f"/api/analyses/{analysis_id}/export?format=xml").status_code == 422


def test_export_streams_many_annotations(shared_sqlite: Setup):
    s = shared_sqlite
    analysis_id = s.create_analysis()["id"]
    _bulk(s, analysis_id, [box(i % 500, 10, 5, 5, confidence=0.5) for i in range(2500)])
    body = json.loads(s.client.get(f"/api/analyses/{analysis_id}/export").content)
    assert len(body["annotations"]) == 2500
    rows = s.client.get(f"/api/analyses/{analysis_id}/export?format=csv").text.splitlines()
    assert len(rows) == 2501


def test_compare_two_models_box_by_box(ml: Setup):
    a = ml.create_analysis("yolo_v8")["id"]
    b = ml.create_analysis("detr")["id"]
    _bulk(
        ml,
        a,
        [
            box(100, 100, 100, 100, class_name="person"),  # matches b[0]
            box(400, 300, 50, 50, class_name="car"),  # class differs in b
            box(10, 10, 20, 20, class_name="person"),
        ],
    )  # nothing near in b
    _bulk(
        ml,
        b,
        [
            box(105, 105, 100, 100, class_name="person"),
            box(400, 300, 50, 50, class_name="truck"),
            {"annotation_type": "classification", "class_name": "scene"},
        ],
    )
    response = ml.client.get(
        f"/api/images/{ml.image_id}/analyses/compare", params={"analysis_id": [a, b], "iou": 0.5}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [x["id"] for x in body["analyses"]] == [a, b]
    assert body["image_width"] == 640 and len(body["analyses"][1]["annotations"]) == 3
    comparison = body["comparison"]
    a_ids = [p["id"] for p in body["analyses"][0]["annotations"]]
    b_ids = [p["id"] for p in body["analyses"][1]["annotations"]]
    assert comparison["matched_count"] == 1
    match = comparison["matches"][0]
    assert (match["a"], match["b"], match["class_name"]) == (a_ids[0], b_ids[0], "person")
    assert match["iou"] == pytest.approx((95 * 95) / (2 * 100 * 100 - 95 * 95), rel=1e-4)
    assert sorted(comparison["only_a"]) == sorted(a_ids[1:])
    assert comparison["only_b"] == [b_ids[1]]
    strict = ml.client.get(
        f"/api/images/{ml.image_id}/analyses/compare", params={"analysis_id": [a, b], "iou": 0.95}
    ).json()
    assert strict["comparison"]["matched_count"] == 0
    everything = ml.client.get(f"/api/images/{ml.image_id}/analyses/compare").json()
    assert {x["id"] for x in everything["analyses"]} == {a, b}
    unknown = ml.client.get(
        f"/api/images/{ml.image_id}/analyses/compare",
        params={"analysis_id": [a, "00000000-0000-0000-0000-000000000000"]},
    )
    assert unknown.status_code == 404 and unknown.json()["field"] == "analysis_id"


def test_another_group_sees_nothing(ml: Setup):
    analysis_id = ml.create_analysis()["id"]
    _bulk(ml, analysis_id, [box()])
    ml.v1(
        "POST",
        f"/api/analyses/{analysis_id}/artifacts/presign",
        {"artifacts": [{"artifact_name": "a.png", "content_type": "image/png"}]},
    )
    other = ml.lookout.keyed_client("mallory@example.org", "other-team")
    for path in (
        f"/api/analyses/{analysis_id}",
        f"/api/analyses/{analysis_id}/annotations",
        f"/api/analyses/{analysis_id}/export",
        f"/api/analyses/{analysis_id}/export?format=csv",
        f"/api/analyses/{analysis_id}/artifacts",
        f"/api/analyses/{analysis_id}/artifacts/a.png",
        f"/api/analyses/{analysis_id}/artifacts/a.png/url",
        f"/api/images/{ml.image_id}/analyses",
        f"/api/images/{ml.image_id}/analyses/compare",
    ):
        response = other.get(path)
        assert response.status_code == 404, path
        assert "yolo" not in response.text
    assert other.delete(f"/api/analyses/{analysis_id}").status_code == 404
    created = other.post(f"/api/images/{ml.image_id}/analyses", json={"model_name": "m"})
    assert created.status_code == 404
    assert ml.client.get(f"/api/analyses/{analysis_id}").status_code == 200


def test_local_mode_runs_the_document_client_without_an_api_key(sqlite_factory):
    from tests.analyses.seed_client import MLPipelineClient
    from tests.conftest import HMAC_SECRET

    s = sqlite_factory(LOOKOUT_LOCAL_MODE="true")
    client = MLPipelineClient(api_url=s.url, hmac_secret=HMAC_SECRET)  # api_key=None
    analysis = client.create_analysis(s.image_id, "yolo_v8", "v8.0.0")
    assert analysis["status"] == "queued"
    client.update_status(analysis["id"], "processing")
    client.submit_annotations(analysis["id"], [box()])
    assert client.finalize_analysis(analysis["id"])["status"] == "completed"
    wrong = MLPipelineClient(api_url=s.url, hmac_secret=HMAC_SECRET, api_key="your-api-key")
    with pytest.raises(Exception, match="401"):
        wrong.create_analysis(s.image_id, "yolo_v8", "v8.0.0")


def test_openapi_describes_the_ml_endpoints(shared_sqlite: Setup):
    spec = shared_sqlite.client.get("/openapi.json").json()
    bulk = spec["paths"]["/api/analyses/{analysis_id}/annotations:bulk"]["post"]
    schema = bulk["requestBody"]["content"]["application/json"]["schema"]
    assert "annotations" in schema["properties"]
    assert "HMAC" in bulk["description"]
    presign = spec["paths"]["/api/analyses/{analysis_id}/artifacts/presign"]["post"]
    items = presign["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert items["artifacts"]["items"]["required"] == ["artifact_name", "content_type"]
    for path in (
        "/api/images/{image_id}/analyses",
        "/api/analyses/{analysis_id}/status",
        "/api/analyses/{analysis_id}/finalize",
    ):
        assert path in spec["paths"]


def test_an_images_analyses_filter_by_model_and_status_and_page(ml: Setup):
    """Each filter shape and page runs the same statement with other values: the answers
    follow the values, not the first request's."""
    made = [ml.create_analysis(model_name=name)["id"] for name in ("a", "b", "a", "a")]
    done = ml.v1("PATCH", f"/api/analyses/{made[2]}/status", {"status": "completed"})
    assert done.status_code == 200, done.text

    def page(**params):
        response = ml.client.get(f"/api/images/{ml.image_id}/analyses", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        return [item["id"] for item in body["items"]], body["total"]

    newest_first = made[::-1]
    assert page() == (newest_first, 4)
    assert page(model_name="a") == ([made[3], made[2], made[0]], 3)
    assert page(model_name="b") == ([made[1]], 1)
    assert page(status="completed") == ([made[2]], 1)
    assert page(model_name="a", status="queued") == ([made[3], made[0]], 2)
    assert page(model_name="b", status="completed") == ([], 0)
    assert page(limit=2, offset=1) == (newest_first[1:3], 4)
    assert page(model_name="a", limit=1, offset=2) == ([made[0]], 3)
