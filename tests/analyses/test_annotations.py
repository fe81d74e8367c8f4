"""Bulk annotations: per-type validation, canonical geometry, idempotent retries, replace."""

from __future__ import annotations

import json

import pytest

from tests.analyses.ml_support import Setup, box

W, H = 640, 480  # the test image


def _bulk(s: Setup, analysis_id: str, annotations, **kw):
    return s.v1(
        "POST", f"/api/analyses/{analysis_id}/annotations:bulk", {"annotations": annotations}, **kw
    )


def _stored(s: Setup, analysis_id: str) -> list[dict]:
    body = s.client.get(f"/api/analyses/{analysis_id}").json()
    assert body["annotations_total"] == len(body["annotations"])
    return body["annotations"]


def _seg(data):
    return {
        "annotation_type": "segmentation",
        "class_name": "person",
        "confidence": 0.9,
        "data": data,
    }


def _kp(keypoints):
    return {
        "annotation_type": "keypoint",
        "class_name": "person",
        "confidence": 0.93,
        "data": {"keypoints": keypoints},
    }


def _cls(data, **kw):
    return {
        "annotation_type": "classification",
        "class_name": "dog",
        "confidence": 0.96,
        "data": data,
        **kw,
    }


POLYGON = [[100, 150], [120, 140], [150, 160], [140, 180], [100, 175]]
RLE = {"counts": [12, 5, 8, 3, 15, 2], "size": [5, 9]}

INVALID = {
    "not_an_object": ("person", "annotations[1]"),
    "missing_type": ({**box(), "annotation_type": None}, "annotations[1].annotation_type"),
    "unknown_type": ({**box(), "annotation_type": "polygon"}, "annotations[1].annotation_type"),
    "missing_class": (
        {k: v for k, v in box().items() if k != "class_name"},
        "annotations[1].class_name",
    ),
    "blank_class": (box(class_name="  "), "annotations[1].class_name"),
    "long_class": (box(class_name="c" * 201), "annotations[1].class_name"),
    "confidence_above_1": (box(confidence=1.5), "annotations[1].confidence"),
    "confidence_negative": (box(confidence=-0.1), "annotations[1].confidence"),
    "confidence_text": ({**box(), "confidence": "high"}, "annotations[1].confidence"),
    "confidence_bool": ({**box(), "confidence": True}, "annotations[1].confidence"),
    "box_without_data": ({**box(), "data": None}, "annotations[1].data"),
    "bbox_three_values": ({**box(), "data": {"bbox": [1, 2, 3]}}, "annotations[1].data.bbox"),
    "bbox_text": ({**box(), "data": {"bbox": ["1", 2, 3, 4]}}, "annotations[1].data.bbox"),
    "bbox_null_value": ({**box(), "data": {"bbox": [1, None, 3, 4]}}, "annotations[1].data.bbox"),
    "unknown_format": (box(fmt="cxcywh"), "annotations[1].data.format"),
    "xyxy_inverted": (box(150, 150, 100, 250, fmt="xyxy"), "annotations[1].data.bbox"),
    "xywh_negative_width": (box(100, 150, -5, 10), "annotations[1].data.bbox"),
    "xywh_zero_height": (box(100, 150, 5, 0), "annotations[1].data.bbox"),
    "box_outside_image": (box(700, 150, 50, 50), "annotations[1].data.bbox"),
    "xyxyn_not_normalized": (box(0.1, 0.2, 2.0, 0.4, fmt="xyxyn"), "annotations[1].data.bbox"),
    "polygon_two_points": (
        _seg({"points": [[1, 2], [3, 4]], "format": "polygon"}),
        "annotations[1].data.points",
    ),
    "polygon_bad_point": (
        _seg({"points": [[1, 2], [3, 4, 5], [6, 7]]}),
        "annotations[1].data.points[1]",
    ),
    "polygon_odd_flat_list": (
        _seg({"points": [1, 2, 3, 4, 5, 6, 7]}),
        "annotations[1].data.points",
    ),
    "polygon_collinear": (_seg({"points": [[1, 2], [3, 2], [9, 2]]}), "annotations[1].data.points"),
    "segmentation_unknown_format": (
        _seg({"format": "mask", "mask": "..."}),
        "annotations[1].data.format",
    ),
    "rle_sum_mismatch": (
        _seg({"rle": {"counts": [1, 2], "size": [480, 640]}, "format": "rle"}),
        "annotations[1].data.rle.counts",
    ),
    "rle_bad_size": (
        _seg({"rle": {"counts": [1], "size": [0, 1]}}),
        "annotations[1].data.rle.size",
    ),
    "rle_negative_count": (
        _seg({"rle": {"counts": [3, -1, 1], "size": [1, 3]}}),
        "annotations[1].data.rle.counts[1]",
    ),
    "rle_compressed_string": (
        _seg({"rle": {"counts": "PPY1", "size": [2, 2]}}),
        "annotations[1].data.rle.counts",
    ),
    "keypoints_empty": (_kp([]), "annotations[1].data.keypoints"),
    "keypoint_missing_y": (_kp([{"name": "nose", "x": 1}]), "annotations[1].data.keypoints[0].y"),
    "keypoint_confidence": (
        _kp([{"x": 1, "y": 2, "confidence": 2}]),
        "annotations[1].data.keypoints[0].confidence",
    ),
    "classification_score_above_1": (
        _cls({"scores": {"dog": 1.2}}),
        "annotations[1].data.scores.dog",
    ),
    "classification_scores_list": (_cls({"scores": [0.9]}), "annotations[1].data.scores"),
    "heatmap_unknown_artifact": (
        {
            "annotation_type": "heatmap",
            "class_name": "attention",
            "data": {"artifact_name": "nope.png"},
        },
        "annotations[1].data.artifact_name",
    ),
    "heatmap_without_artifact": (
        {"annotation_type": "heatmap", "class_name": "attention", "data": {}},
        "annotations[1].data.artifact_name",
    ),
    "client_id_with_space": (box(id="a b"), "annotations[1].id"),
    "client_id_number": (box(id=12), "annotations[1].id"),
    "duplicate_client_id": (box(id="same"), "annotations[1].id"),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_a_bad_item_rejects_the_whole_request(shared_sqlite: Setup, name: str):
    bad, field = INVALID[name]
    analysis_id = shared_sqlite.create_analysis()["id"]
    first = box(id="same") if name == "duplicate_client_id" else box()
    response = _bulk(shared_sqlite, analysis_id, [first, bad, box()])
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] == field
    assert body["detail"].startswith(field + ":")
    assert _stored(shared_sqlite, analysis_id) == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"annotations": {"a": 1}}, "annotations"),
        ({"items": []}, "annotations"),
        ([box()], "body"),
    ],
)
def test_body_shape_errors(shared_sqlite: Setup, payload, field):
    analysis_id = shared_sqlite.create_analysis()["id"]
    response = shared_sqlite.v1("POST", f"/api/analyses/{analysis_id}/annotations:bulk", payload)
    assert response.status_code == 400 and response.json()["field"] == field


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"annotations": [NaN]}', "body"),
        (b'{"annotations": [1e999]}', "annotations[0]"),
        (b'{"annotations": ["\\u0000"]}', "annotations[0]"),
        (b'{"annotations": [{"class_name": "\\ud800"}]}', "annotations[0].class_name"),
        (b"\xff\xfe", "body"),
    ],
)
def test_unstorable_json_is_400_not_500(shared_sqlite: Setup, raw: bytes, field: str):
    analysis_id = shared_sqlite.create_analysis()["id"]
    response = shared_sqlite.v1("POST", f"/api/analyses/{analysis_id}/annotations:bulk", body=raw)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field  # where the value is, when there is one


DOC_BOX = [100 / W, 150 / H, 150 / W, 250 / H]  # the document's [100, 150, 50, 100] xywh box
VALID = {
    "xywh_pixels": (box(100, 150, 50, 100), DOC_BOX),
    "format_defaults_to_xywh": (box(100, 150, 50, 100, fmt=None), DOC_BOX),
    "xyxy_pixels": (box(100, 150, 150, 250, fmt="xyxy"), DOC_BOX),
    "xyxyn": (box(0.1, 0.2, 0.3, 0.4, fmt="xyxyn"), [0.1, 0.2, 0.3, 0.4]),
    "xywhn": (box(0.1, 0.2, 0.3, 0.4, fmt="xywhn"), [0.1, 0.2, 0.4, 0.6]),
    "box_clipped_to_image": (box(600, 400, 100, 100), [600 / W, 400 / H, 1.0, 1.0]),
    "polygon": (
        _seg({"points": POLYGON, "format": "polygon"}),
        [100 / W, 140 / H, 150 / W, 180 / H],
    ),
    "polygon_flat": (
        _seg({"points": [100, 150, 120, 140, 150, 160]}),
        [100 / W, 140 / H, 150 / W, 160 / H],
    ),
    "rle": (_seg({"rle": RLE, "format": "rle"}), None),
    "keypoints": (
        _kp(
            [
                {"name": "nose", "x": 125, "y": 160, "confidence": 0.95},
                {"name": "left_eye", "x": 120, "y": 155, "confidence": 0.92},
                {"name": "right_eye", "x": 130, "y": 155, "confidence": 0.91},
            ]
        ),
        [120 / W, 155 / H, 130 / W, 160 / H],
    ),
    "classification": (_cls({"scores": {"dog": 0.96, "cat": 0.03, "bird": 0.01}}), None),
    "classification_without_data": (_cls(None), None),
    "confidence_null": (box(confidence=None), DOC_BOX),
}


@pytest.mark.parametrize("name", list(VALID))
def test_valid_items_and_their_canonical_geometry(shared_sqlite: Setup, name: str):
    item, expected = VALID[name]
    analysis_id = shared_sqlite.create_analysis()["id"]
    response = _bulk(shared_sqlite, analysis_id, [item])
    assert response.status_code == 201, response.text
    [stored] = _stored(shared_sqlite, analysis_id)
    assert stored["annotation_type"] == item["annotation_type"]
    assert stored["data"] == (item["data"] or {})
    if expected is None:
        assert stored["bbox_xyxyn"] is None
    else:
        assert stored["bbox_xyxyn"] == pytest.approx(expected)


def test_heatmap_refers_to_an_artifact_of_the_same_analysis(shared_sqlite: Setup):
    s = shared_sqlite
    analysis_id, other_id = s.create_analysis()["id"], s.create_analysis()["id"]
    presign = s.v1(
        "POST",
        f"/api/analyses/{analysis_id}/artifacts/presign",
        {"artifacts": [{"artifact_name": "heatmap.png", "content_type": "image/png"}]},
    )
    assert presign.status_code == 200
    heatmap = {
        "annotation_type": "heatmap",
        "class_name": "attention",
        "confidence": 0.7,
        "data": {"artifact_name": "heatmap.png", "colormap": "jet"},
    }
    assert _bulk(s, analysis_id, [heatmap]).status_code == 201
    elsewhere = _bulk(s, other_id, [heatmap])
    assert elsewhere.status_code == 400
    assert elsewhere.json()["field"] == "annotations[0].data.artifact_name"


def test_idempotency_key_retry_answers_as_the_first_time(ml: Setup):
    analysis_id = ml.create_analysis()["id"]
    annotations = [box(), box(300, 200, 120, 80, class_name="car", confidence=0.87)]
    first = _bulk(ml, analysis_id, annotations, headers={"Idempotency-Key": "batch-1"})
    assert first.status_code == 201
    retry = _bulk(ml, analysis_id, annotations, headers={"Idempotency-Key": "batch-1"})
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert len(_stored(ml, analysis_id)) == 2
    changed = _bulk(ml, analysis_id, annotations[:1], headers={"Idempotency-Key": "batch-1"})
    assert changed.status_code == 409 and changed.json()["field"] == "Idempotency-Key"
    # Even once final, a retry of a stored request gets its answer back.
    ml.v1("POST", f"/api/analyses/{analysis_id}/finalize", {"status": "completed"})
    late = _bulk(ml, analysis_id, annotations, headers={"Idempotency-Key": "batch-1"})
    assert late.status_code == 201 and late.json() == first.json()
    assert len(_stored(ml, analysis_id)) == 2
    # The same key on another analysis is another request.
    other = ml.create_analysis()["id"]
    assert (
        _bulk(ml, other, annotations, headers={"Idempotency-Key": "batch-1"}).json()[
            "created_count"
        ]
        == 2
    )


def test_client_ids_make_retries_create_nothing_new(ml: Setup):
    analysis_id = ml.create_analysis()["id"]
    annotations = [box(id="det-1"), box(10, 10, 5, 5, id="det-2", class_name="car")]
    first = _bulk(ml, analysis_id, annotations).json()
    assert first["created_count"] == 2
    retry = _bulk(ml, analysis_id, annotations).json()
    assert retry["created_count"] == 0 and retry["already_present_count"] == 2
    assert retry["annotations"] == first["annotations"]
    more = _bulk(ml, analysis_id, [annotations[0], box(1, 1, 5, 5, id="det-3")]).json()
    assert more["created_count"] == 1
    assert more["annotations"][0]["id"] == first["annotations"][0]["id"]
    stored = _stored(ml, analysis_id)
    assert [a["client_id"] for a in stored] == ["det-1", "det-2", "det-3"]


def test_replace_mode_swaps_all_annotations_atomically(ml: Setup):
    analysis_id = ml.create_analysis()["id"]
    path = f"/api/analyses/{analysis_id}/annotations:bulk?mode=replace"
    _bulk(ml, analysis_id, [box(), box(class_name="car"), box(class_name="dog")])
    broken = ml.v1("POST", path, {"annotations": [box(class_name="new"), box(confidence=7)]})
    assert broken.status_code == 400
    assert len(_stored(ml, analysis_id)) == 3  # nothing deleted
    replaced = ml.v1("POST", path, {"annotations": [box(class_name="new")]})
    assert replaced.status_code == 201, replaced.text
    assert replaced.json()["replaced_count"] == 3
    assert [a["class_name"] for a in _stored(ml, analysis_id)] == ["new"]
    unknown = ml.v1(
        "POST", f"/api/analyses/{analysis_id}/annotations:bulk?mode=merge", {"annotations": []}
    )
    assert unknown.status_code == 422


def test_legacy_clients_cannot_resend_the_identical_bulk_post(shared_sqlite: Setup):
    """Documented limit: use the SDK (fresh nonce, Idempotency-Key) to retry safely."""
    analysis_id = shared_sqlite.create_analysis()["id"]
    path = f"/api/analyses/{analysis_id}/annotations:bulk"
    payload = {"annotations": [box()]}
    assert shared_sqlite.legacy("POST", path, payload).status_code == 201
    assert shared_sqlite.legacy("POST", path, payload).status_code == 401
    assert len(_stored(shared_sqlite, analysis_id)) == 1


def test_thousand_boxes_in_one_request(ml: Setup):
    analysis_id = ml.create_analysis()["id"]
    annotations = [
        box(i % 600, (i * 7) % 400, 20, 30, class_name=f"c{i % 5}", confidence=(i % 100) / 100)
        for i in range(1000)
    ]
    response = _bulk(ml, analysis_id, annotations)  # its speed is measured in bench/
    assert response.status_code == 201, response.text
    assert response.json()["created_count"] == 1000
    page = ml.client.get(
        f"/api/analyses/{analysis_id}", params={"annotations_limit": 10, "annotations_offset": 995}
    ).json()
    assert page["annotations_total"] == 1000
    assert [a["data"]["bbox"][0] for a in page["annotations"]] == [
        i % 600 for i in range(995, 1000)
    ]


def test_posted_data_is_kept_as_sent(shared_sqlite: Setup):
    analysis_id = shared_sqlite.create_analysis()["id"]
    item = box(fmt=None)
    item["data"]["extra"] = {"track_id": 7, "tags": ["a", "b"]}
    assert _bulk(shared_sqlite, analysis_id, [item]).status_code == 201
    [stored] = _stored(shared_sqlite, analysis_id)
    assert stored["data"] == json.loads(json.dumps(item["data"]))
    assert "format" not in stored["data"]
