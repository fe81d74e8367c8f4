"""Reads of an analysis's annotations: rendered pages are reused only while nothing changed."""

from __future__ import annotations

from tests.analyses.ml_support import Setup, box


def _bulk(ml: Setup, analysis_id: str, boxes: list, mode: str | None = None) -> None:
    path = f"/api/analyses/{analysis_id}/annotations:bulk" + (f"?mode={mode}" if mode else "")
    response = ml.v1("POST", path, {"annotations": boxes})
    assert response.status_code == 201, response.text


def test_pages_follow_appends_and_replacements(ml: Setup):
    analysis = ml.create_analysis()["id"]

    def read(**params):
        response = ml.client.get(f"/api/analyses/{analysis}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    assert read()["annotations"] == [] and read()["annotations_total"] == 0
    _bulk(ml, analysis, [box(x=10, class_name="a"), box(x=20, class_name="b")])
    first = read()
    assert [a["class_name"] for a in first["annotations"]] == ["a", "b"]
    assert read() == first  # the same answer again (from the rendered page)
    _bulk(ml, analysis, [box(x=30, class_name="c")])
    assert [a["class_name"] for a in read()["annotations"]] == ["a", "b", "c"]
    assert [
        a["class_name"] for a in read(annotations_limit=1, annotations_offset=1)["annotations"]
    ] == ["b"]
    _bulk(
        ml,
        analysis,
        [box(x=1, class_name="x"), box(x=2, class_name="y"), box(x=3, class_name="z")],
        mode="replace",
    )
    replaced = read()
    assert [a["class_name"] for a in replaced["annotations"]] == ["x", "y", "z"]
    assert replaced["annotations_total"] == 3
    filtered = ml.client.get(
        f"/api/analyses/{analysis}/annotations", params={"class_name": "y"}
    ).json()
    assert [a["class_name"] for a in filtered["items"]] == ["y"] and filtered["total"] == 1
    one = replaced["annotations"][0]
    assert one["bbox_xyxyn"] == [1 / 640, 150 / 480, 51 / 640, 250 / 480]
    assert one["created_at"].endswith("Z") and one["data"] == {
        "bbox": [1, 150, 50, 100],
        "format": "xywh",
    }
