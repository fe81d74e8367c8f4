"""Class filters never invent labels: negatives hold no smoke at all, unknown classes fail."""

from __future__ import annotations

import json

from tests.exports.builders import read_zip, standard_world
from tests.exports.test_cli_commands import run


def export(world, **params):
    return world.client.get("/api/exports", params={"project_id": world.project_id, **params})


def test_frames_with_other_smoke_are_not_negatives(lookout):
    world = standard_world(lookout)
    s1, s2, s3 = world.sequences[:3]
    response = export(
        world, format="jsonl", negatives="true", class_from="smoke_type", **{"class": "wildfire"}
    )
    lines = read_zip(response).read("annotations.jsonl").decode().splitlines()
    records = {r["lookout_id"]: r for r in map(json.loads, lines)}
    # seq-2 holds industrial and untyped smoke only: left out, not made empty negatives.
    assert not set(s2.frames) & set(records)
    negatives = {k for k, r in records.items() if r["negative"]}
    assert negatives == {s1.frames[0], *s3.frames}
    assert all(b["class_name"] == "wildfire" for r in records.values() for b in r["boxes"])


def test_a_model_frame_with_other_classes_is_not_a_negative(lookout):
    world = standard_world(lookout)
    s1 = world.sequences[0]
    world.predict(s1.frames[0], [("smoke", [0.1, 0.1, 0.2, 0.2], 0.9)])
    world.predict(s1.frames[1], [("person", [0.1, 0.1, 0.2, 0.2], 0.9)])
    world.predict(s1.frames[2], [])
    response = export(
        world, format="jsonl", source="model:yolo@v1", negatives="true", **{"class": "smoke"}
    )
    lines = read_zip(response).read("annotations.jsonl").decode().splitlines()
    records = {r["lookout_id"]: r for r in map(json.loads, lines)}
    assert set(records) == {s1.frames[0], s1.frames[2]}
    assert records[s1.frames[2]]["negative"] is True


def test_unknown_class_is_a_400_naming_the_field(lookout):
    world = standard_world(lookout)
    response = export(world, format="coco", negatives="true", **{"class": "wildfire"})
    assert response.status_code == 400
    assert response.json()["field"] == "class" and "wildfire" in response.json()["detail"]
    typo = export(world, format="coco", class_from="smoke_type", **{"class": "wildfir"})
    assert typo.status_code == 400 and "wildfir" in typo.json()["detail"]


def test_unknown_class_exits_2_on_the_command_line(lookout, tmp_path):
    standard_world(lookout)
    out = tmp_path / "x.zip"
    args = ["export", "--project", "cams", "--out", str(out), "--negatives"]
    result = run(lookout, *args, "--class", "wildfire")
    assert result.returncode == 2, result.stderr
    assert "wildfire" in result.stderr and not out.exists()
    known = run(lookout, *args, "--class-from", "smoke_type", "--class", "wildfire")
    assert known.returncode == 0, known.stderr
