"""Splits and image ids through export → import-dataset → export, in COCO and YOLO."""

from __future__ import annotations

import json

from tests.datasets.test_import import export, new_project, run_import, unpack
from tests.exports.builders import make_world, smoke


def _world(lookout):
    """Eight reviewed sequences of two frames, split over train, val and test by the draw."""
    world = make_world(lookout)
    for i in range(8):
        seq = world.add_sequence(f"s{i}", frames=2, started_at=f"2024-07-{i + 1:02d}T08:00:00")
        world.review(seq, [smoke(seq, {0: [0.1, 0.1, 0.4, 0.4], 1: [0.2, 0.2, 0.5, 0.5]})])
    return world


def coco_splits(archive) -> dict[str, tuple[str, int]]:
    """Image content (sha256) to (split, COCO image id)."""
    doc = json.loads(archive.read("annotations.json"))
    return {i["sha256"]: (i["split"], i["id"]) for i in doc["images"]}


def test_coco_round_trip_keeps_splits_and_ids(lookout, tmp_path):
    world = _world(lookout)
    params = {"format": "coco", "negatives": "true", "split": "0.4,0.3,0.3", "seed": 3}
    first = export(world, **params)
    before = coco_splits(first)
    assert {split for split, _ in before.values()} == {"train", "val", "test"}
    folder = unpack(first, tmp_path / "first")
    target = new_project(world, "copy")
    run_import(world, folder / "annotations.json", target, import_as="reviews")
    # Another seed and other fractions: stored splits do not move.
    second = export(world, target, format="coco", negatives="true", split="1,0,0", seed=9)
    assert coco_splits(second) == before
    folder = unpack(second, tmp_path / "second")
    third_project = new_project(world, "copy-of-copy")
    run_import(world, folder / "annotations.json", third_project, import_as="reviews")
    assert coco_splits(export(world, third_project, format="coco", negatives="true")) == before


def yolo_splits(archive, sha_of: dict[str, str]) -> dict[str, str]:
    """Image content (sha256) to split, from the images/<split>/ folders of a YOLO export."""
    out = {}
    for name in archive.namelist():
        if name.startswith("images/") and not name.endswith("/"):
            _, split, file = name.split("/")
            out[sha_of.get(file.rsplit(".", 1)[0], file)] = split
    return out


def test_yolo_round_trip_keeps_splits(lookout, tmp_path):
    world = _world(lookout)
    params = {"format": "yolo", "negatives": "true", "split": "0.4,0.3,0.3", "seed": 3}
    first = export(world, **params)
    folder = unpack(first, tmp_path / "first")
    target = new_project(world, "copy")
    run_import(world, folder, target, import_as="reviews")
    second = export(world, target, format="yolo", negatives="true", split="1,0,0")
    # Files are named by image uuid: compare by content through each project's COCO export.
    first_ids = {
        sha: lookout_id
        for sha, lookout_id in _sha_to_id(export(world, format="coco", negatives="true")).items()
    }
    second_ids = _sha_to_id(export(world, target, format="coco", negatives="true"))
    before = yolo_splits(first, {v: k for k, v in first_ids.items()})
    after = yolo_splits(second, {v: k for k, v in second_ids.items()})
    assert set(before.values()) == {"train", "val", "test"}
    assert after == before


def _sha_to_id(archive) -> dict[str, str]:
    doc = json.loads(archive.read("annotations.json"))
    return {i["sha256"]: i["lookout_id"] for i in doc["images"]}
