"""Every export format back through import-dataset (zips as exported): boxes, negatives,
false positives, splits, sequences, cameras, original file names and source ids come back."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

from lookout.datasets import service
from lookout.formats.registry import read_dataset, unpacked
from tests.datasets.test_import import new_project
from tests.exports.builders import false_positive, smoke, standard_world
from tests.exports.test_cli_commands import run

FORMATS = ("coco", "yolo", "voc", "csv", "jsonl")
PARAMS = {"negatives": "true", "class_from": "smoke_type", "split": "0.4,0.3,0.3", "seed": 5}


def export_zip(world, tmp_path: Path, fmt: str, project_id: str | None = None) -> Path:
    response = world.client.get(
        "/api/exports",
        params={"project_id": project_id or world.project_id, "format": fmt, **PARAMS},
    )
    assert response.status_code == 200, response.text
    path = tmp_path / f"{fmt}-{uuid.uuid4().hex[:6]}.zip"
    path.write_bytes(response.content)
    return path


def import_zip(world, path: Path, project_id: str):
    with unpacked(path) as folder, world.lookout.sessions() as session:
        dataset = read_dataset(folder)
        options = service.ImportOptions(project_id=uuid.UUID(project_id), import_as="reviews")
        return service.import_dataset(
            session, world.storage(), principal=world.principal(), dataset=dataset, options=options
        )


def summary(world, tmp_path: Path, project_id: str) -> dict[str, dict]:
    """Per picture (sha256), from a JSONL export: what a round trip must keep."""
    archive = zipfile.ZipFile(export_zip(world, tmp_path, "jsonl", project_id))
    out = {}
    for line in archive.read("annotations.jsonl").decode().splitlines():
        r = json.loads(line)
        out[r["sha256"]] = {
            "boxes": sorted((b["class_name"], b["xyxyn"]) for b in r["boxes"]),
            "fps": sorted((tuple(f["types"]), f["xyxyn"]) for f in r.get("false_positives", [])),
            "negative": r["negative"],
            **{
                k: r[k]
                for k in (
                    "split",
                    "sequence_source",
                    "sequence_source_id",
                    "camera_name",
                    "original_filename",
                    "image_source",
                    "image_source_id",
                    "frame_index",
                    "frame_time",
                )
            },
        }
    return out


def assert_same(before: dict, after: dict, tolerance: float) -> None:
    assert after.keys() == before.keys()
    for sha, was in before.items():
        now = after[sha]
        for key in ("boxes", "fps"):
            assert [x[0] for x in now[key]] == [x[0] for x in was[key]], (sha, key)
            for (_, a), (_, b) in zip(now[key], was[key], strict=True):
                assert a == pytest.approx(b, abs=tolerance)
        rest = {k: v for k, v in was.items() if k not in ("boxes", "fps")}
        assert {k: now[k] for k in rest} == rest, sha


def sequences_of(data: dict) -> set[frozenset]:
    groups = defaultdict(set)
    for sha, r in data.items():
        groups[r["sequence_source_id"]].add(sha)
    return {frozenset(g) for g in groups.values()}


@pytest.fixture
def world(lookout):
    world = standard_world(lookout)
    # A sequence whose frames are false positives and a negative, in a split of its own.
    s5 = world.add_sequence("seq-5", frames=2, started_at="2024-06-05T10:00:00")
    world.review(s5, [false_positive(s5, {0: [0.2, 0.2, 0.5, 0.5]}, ["antenna"])])
    s6 = world.add_sequence("seq-6", frames=2, started_at="2024-06-06T10:00:00")
    world.review(s6, [smoke(s6, {0: [0.6, 0.1, 0.9, 0.3], 1: [0.6, 0.1, 0.92, 0.3]})])
    return world


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_zip_imports_back_whole(world, tmp_path, fmt):
    before = summary(world, tmp_path, world.project_id)
    assert {r["split"] for r in before.values()} == {"train", "val", "test"}
    assert all(r["image_source"] == "test" and r["image_source_id"] for r in before.values())
    assert any(r["fps"] for r in before.values()) and any(r["negative"] for r in before.values())
    target = new_project(world, f"copy-{fmt}")
    report = import_zip(world, export_zip(world, tmp_path, fmt), target)
    assert report.sequences == 5 and report.images_created == len(before)
    after = summary(world, tmp_path, target)
    # VOC holds whole pixels (64x48 frames): half a pixel is 0.0104 of the height.
    assert_same(before, after, 0.011 if fmt == "voc" else 1e-5)
    assert sequences_of(after) == sequences_of(before)
    # A second round trip changes nothing (splits, sequences and names stay).
    third = new_project(world, f"copy2-{fmt}")
    import_zip(world, export_zip(world, tmp_path, fmt, target), third)
    assert_same(after, summary(world, tmp_path, third), 0.011 if fmt == "voc" else 1e-5)


def test_importing_an_export_into_its_own_project_adds_nothing(world, tmp_path):
    report = import_zip(world, export_zip(world, tmp_path, "yolo"), world.project_id)
    assert report.sequences == 0 and report.images_created == 0
    assert len(report.skipped) == 5  # the sequences it came from, already reviewed


def test_the_command_line_imports_a_zip(world, tmp_path):
    path = export_zip(world, tmp_path, "voc")
    target = new_project(world, "from-cli")
    result = run(world.lookout, "import-dataset", str(path), "--project", target, "--as", "reviews")
    assert result.returncode == 0, result.stderr
    assert "voc dataset" in result.stdout
    assert (
        summary(world, tmp_path, target).keys() == summary(world, tmp_path, world.project_id).keys()
    )


@pytest.mark.parametrize("fmt", ("voc", "csv", "jsonl"))
def test_a_models_export_imports_back_as_an_analysis(world, tmp_path, fmt):
    s1 = world.sequences[0]
    world.predict(s1.frames[0], [("smoke", [0.1, 0.2, 0.5, 0.6], 0.75)])
    world.predict(s1.frames[1], [])
    response = world.client.get(
        "/api/exports",
        params={"project_id": world.project_id, "format": fmt, "source": "model:yolo@v1"},
    )
    path = tmp_path / f"model.{fmt}.zip"
    path.write_bytes(response.content)
    target = new_project(world, f"model-{fmt}")
    with unpacked(path) as folder, world.lookout.sessions() as session:
        options = service.ImportOptions(project_id=uuid.UUID(target), model_name="copy")
        report = service.import_dataset(
            session,
            world.storage(),
            principal=world.principal(),
            dataset=read_dataset(folder),
            options=options,
        )
    assert report.analyses == 1 and report.predictions == 1
    back = world.client.get(
        "/api/exports",
        params={"project_id": target, "format": "jsonl", "source": "model:copy"},
    )
    (line,) = zipfile.ZipFile(io.BytesIO(back.content)).read("annotations.jsonl").splitlines()
    (box,) = json.loads(line)["boxes"]
    assert box["confidence"] == 0.75 and box["class_name"] == "smoke"
    assert box["xyxyn"] == pytest.approx([0.1, 0.2, 0.5, 0.6], abs=0.011)
