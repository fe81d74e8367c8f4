"""Exports carry what people said of whole images: their classes and their metadata (COCO
image entries, CSV columns, JSONL fields); an image with neither says so plainly."""

from __future__ import annotations

import csv
import io
import json

from tests.exports.builders import read_zip, standard_world


def test_exports_carry_image_classes_and_metadata(lookout) -> None:
    world = standard_world(lookout)
    client = world.client
    s1 = world.sequences[0]
    labelled, plain = s1.frames[1], s1.frames[2]
    classes = f"/api/projects/{world.project_id}/classes"
    fog = client.post(classes, json={"name": "fog"}).json()
    night = client.post(classes, json={"name": "night"}).json()
    for klass in (night, fog):
        given = client.post(
            f"/api/images/{labelled}/classifications", json={"class_id": klass["id"]}
        )
        assert given.status_code == 201, given.text
    metadata = {"site": "Ridge; north", "lens": 35, "ir": True}
    assert client.patch(f"/api/images/{labelled}/metadata", json=metadata).status_code == 200

    def export(fmt: str):
        response = client.get(
            "/api/exports", params={"project_id": world.project_id, "format": fmt}
        )
        assert response.status_code == 200, response.text
        return read_zip(response)

    coco = json.loads(export("coco").read("annotations.json"))
    by_id = {image["lookout_id"]: image for image in coco["images"]}
    assert by_id[labelled]["classes"] == ["fog", "night"]
    assert by_id[labelled]["metadata"] == metadata
    assert (by_id[plain]["classes"], by_id[plain]["metadata"]) == ([], {})

    archive = export("jsonl")
    name = next(n for n in archive.namelist() if n.endswith(".jsonl"))
    lines = [json.loads(line) for line in archive.read(name).decode().splitlines()]
    jsonl = {line["lookout_id"]: line for line in lines}
    assert jsonl[labelled]["classes"] == ["fog", "night"]
    assert jsonl[labelled]["metadata"] == metadata
    assert jsonl[plain]["classes"] == []

    rows = list(csv.DictReader(io.StringIO(export("csv").read("annotations.csv").decode())))
    row = next(r for r in rows if r["image_id"] == labelled)
    assert row["classes"] == "fog;night"
    assert json.loads(row["metadata"]) == metadata
    other = next(r for r in rows if r["image_id"] == plain)
    assert (other["classes"], other["metadata"]) == ("", "")
