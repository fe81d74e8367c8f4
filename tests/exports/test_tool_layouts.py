"""Layouts the tools load with their defaults: COCO per split (Datumaro, FiftyOne), VOC's
labelmap.txt (Datumaro), YOLO's dataset.yaml (FiftyOne) beside data.yaml (Ultralytics)."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
import xml.etree.ElementTree as ET

import yaml
from pycocotools.coco import COCO

from lookout.formats.registry import read_dataset
from tests.exports.builders import make_world, read_zip, smoke


def world_in_three_splits(lookout):
    world = make_world(lookout)
    for i in range(6):
        seq = world.add_sequence(f"s{i}", frames=2, started_at=f"2024-07-{i + 1:02d}T08:00:00")
        world.review(seq, [smoke(seq, {0: [0.1, 0.1, 0.4, 0.4]})])
    return world


def export(world, **params):
    response = world.client.get("/api/exports", params={"project_id": world.project_id, **params})
    return read_zip(response)


def test_coco_per_split_files_load_in_pycocotools(lookout, tmp_path):
    world = world_in_three_splits(lookout)
    archive = export(world, format="coco", negatives="true", split="0.4,0.3,0.3")
    names = archive.namelist()
    whole = json.loads(archive.read("annotations.json"))
    total = 0
    for split in ("train", "val", "test"):
        path = tmp_path / f"instances_{split}.json"
        path.write_bytes(archive.read(f"annotations/instances_{split}.json"))
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(str(path))
        images = coco.loadImgs(coco.getImgIds())
        assert images and all(i["split"] == split for i in images)
        # File names are relative to images/<split>/, as Datumaro and FiftyOne look them up.
        assert all(f"images/{split}/{i['file_name']}" in names for i in images)
        assert len(coco.getAnnIds()) == sum(
            1 for a in whole["annotations"] if a["image_id"] in {i["id"] for i in images}
        )
        total += len(images)
    assert total == len(whole["images"])
    # The file over every split names images relative to images/ (and scores results files).
    assert all(f"images/{i['file_name']}" in names for i in whole["images"])
    archive.extractall(tmp_path / "coco")
    (tmp_path / "coco" / "annotations.json").unlink()  # only the tools' layout: still imports
    dataset = read_dataset(tmp_path / "coco")
    assert len(dataset.images) == total and {i.split for i in dataset.images} == {
        "train",
        "val",
        "test",
    }


def test_voc_has_datumaros_labelmap_and_zero_based_boxes(lookout):
    world = world_in_three_splits(lookout)
    archive = export(world, format="voc")
    lines = archive.read("labelmap.txt").decode().splitlines()
    assert lines[1:] == ["background:::", "smoke:::"]
    name = next(n for n in archive.namelist() if n.startswith("Annotations/"))
    box = ET.fromstring(archive.read(name)).find("object/bndbox")
    # 64x48 frames, box 0.1..0.4: pixel edges from 0 (6.4 -> 6, 25.6 -> 26).
    assert [box.findtext(k) for k in ("xmin", "ymin", "xmax", "ymax")] == ["6", "5", "26", "19"]


def test_yolo_writes_dataset_yaml_and_the_sidecar(lookout):
    world = world_in_three_splits(lookout)
    archive = export(world, format="yolo")
    assert archive.read("dataset.yaml") == archive.read("data.yaml")
    data = yaml.safe_load(archive.read("dataset.yaml"))
    assert data["names"] == {0: "smoke"} and data["train"] == "images/train"
    records = [json.loads(line) for line in archive.read("lookout.jsonl").splitlines()]
    assert {r["path"] for r in records} == {
        n for n in archive.namelist() if n.startswith("images/")
    }
    assert all(uuid.UUID(r["sequence_id"]) and r["sequence_source"] == "test" for r in records)


def test_the_readers_script_checks_what_is_installed(lookout, tmp_path, capsys):
    from scripts.check_export_readers import main

    world = world_in_three_splits(lookout)
    path = tmp_path / "coco.zip"
    response = world.client.get(
        "/api/exports", params={"project_id": world.project_id, "format": "coco"}
    )
    path.write_bytes(response.content)
    assert main([str(path), "--format", "coco"]) == 0
    out = capsys.readouterr().out
    assert "ok: pycocotools loaded 6 images, 6 boxes (Lookout: 6 images, 6 boxes)" in out
    assert "FAILED" not in out


def test_the_readers_script_fails_a_tool_that_moves_or_drops_a_box():
    from scripts.check_export_readers import compare

    lookout = {"a": [(6.0, 5.0, 26.0, 19.0)], "b": [], "c": [(1.0, 1.0, 2.0, 2.0)]}
    assert compare(lookout, lookout) == ([], 0.0)
    # Devkit-style VOC read as 0-based: one pixel off; a box dropped; an image missing.
    shifted = {"a": [(7.0, 6.0, 26.0, 19.0)], "b": [], "c": []}
    assert compare(shifted, lookout) == (["a", "c"], 1.0)
    assert compare({"a": lookout["a"], "b": []}, lookout)[0] == ["c"]
