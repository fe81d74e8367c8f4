"""Dataset import: COCO and YOLO, as analyses or reviews; round trips; bad input."""

from __future__ import annotations

import hashlib
import json
import uuid
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

from lookout.datasets import service
from lookout.errors import InvalidInput
from lookout.formats.registry import detect_format, read_dataset
from lookout.storage import StorageError
from tests.exports.builders import distinct_jpeg, make_world, read_zip, standard_world
from tests.support import stored_files


def export(world, project_id=None, **params):
    response = world.client.get(
        "/api/exports", params={"project_id": project_id or world.project_id, **params}
    )
    return read_zip(response)


def unpack(archive: zipfile.ZipFile, folder: Path) -> Path:
    archive.extractall(folder)
    return folder


def coco_annotations(archive: zipfile.ZipFile) -> dict[str, list]:
    """Per image content (sha256): sorted (class, rounded bbox, score) plus negative flags."""
    doc = json.loads(archive.read("annotations.json"))
    names = {c["id"]: c["name"] for c in doc["categories"]}
    by_image = {i["id"]: i for i in doc["images"]}
    out: dict[str, list] = {i["sha256"]: [] for i in doc["images"]}
    for ann in doc["annotations"]:
        image = by_image[ann["image_id"]]
        out[image["sha256"]].append(
            (names[ann["category_id"]], [round(v, 2) for v in ann["bbox"]], ann.get("score"))
        )
    for image in doc["images"]:
        fps = sorted(tuple(fp["types"]) for fp in image.get("false_positives", []))
        out[image["sha256"]] = [sorted(out[image["sha256"]]), image["negative"], fps]
    return out


def new_project(world, name):
    return world.lookout.create_project(world.client, name)["id"]


def run_import(world, path, project_id, **options):
    fmt = options.pop("fmt", None)
    dataset = read_dataset(Path(path), fmt)
    with world.lookout.sessions() as session:
        return service.import_dataset(
            session,
            world.storage(),
            principal=world.principal(),
            dataset=dataset,
            options=service.ImportOptions(project_id=uuid.UUID(project_id), **options),
        )


def test_coco_round_trip_through_reviews(lookout, tmp_path):
    world = standard_world(lookout)
    params = {"format": "coco", "negatives": "true", "class_from": "smoke_type"}
    first = export(world, **params)
    folder = unpack(first, tmp_path / "first")
    target = new_project(world, "copy")
    report = run_import(world, folder / "annotations.json", target, import_as="reviews")
    assert report.images_created == 7 and report.reviews == 3 and report.sequences == 3
    second = export(world, target, **params)
    assert coco_annotations(second) == coco_annotations(first)
    # Frames of one sequence stay one sequence, in the same order.
    doc = json.loads(second.read("annotations.json"))
    frames = defaultdict(list)
    for image in doc["images"]:
        frames[image["sequence_id"]].append((image["frame_index"], image["frame_time"]))
    assert sorted(len(f) for f in frames.values()) == [2, 2, 3]
    # Importing again adds nothing.
    again = run_import(world, folder / "annotations.json", target, import_as="reviews")
    assert again.images_created == 0 and again.reviews == 0 and len(again.skipped) == 3


def test_coco_round_trip_of_a_model_through_an_analysis(lookout, tmp_path):
    world = standard_world(lookout)
    s1, s2 = world.sequences[0], world.sequences[1]
    world.predict(
        s1.frames[0],
        [("smoke", [0.1, 0.1, 0.25, 0.3], 0.91), ("cloud", [0.5, 0.5, 0.7, 0.6], 0.42)],
    )
    world.predict(s2.frames[1], [("smoke", [0.2, 0.3, 0.4, 0.5], 0.66)])
    world.predict(s2.frames[0], [])
    params = {"format": "coco", "source": "model:yolo", "negatives": "true"}
    first = export(world, **params)
    folder = unpack(first, tmp_path / "model")
    target = new_project(world, "other")
    report = run_import(
        world, folder / "annotations.json", target, model_name="yolo-copy", model_version="1"
    )
    assert (report.images_created, report.analyses, report.predictions) == (3, 3, 3)
    second = export(world, target, **{**params, "source": "model:yolo-copy@1"})
    assert coco_annotations(second) == coco_annotations(first)
    scores = sorted(a["score"] for a in json.loads(second.read("annotations.json"))["annotations"])
    assert scores == [0.42, 0.66, 0.91]


def test_yolo_round_trip_within_rounding(lookout, tmp_path):
    world = standard_world(lookout)
    first = export(world, format="yolo", negatives="true", split="1,0,0")
    folder = unpack(first, tmp_path / "yolo")
    target = new_project(world, "yolo-copy")
    report = run_import(world, folder, target, model_name="truth")
    assert report.images_created == 7 and report.predictions == 5
    second = export(
        world, target, format="yolo", negatives="true", split="1,0,0", source="model:truth"
    )

    def labels(archive):
        out = {}
        for name in archive.namelist():
            if name.startswith("images/"):
                stem = name.rsplit("/", 1)[1].rsplit(".", 1)[0]
                label = archive.read(f"labels/train/{stem}.txt").decode().split("\n")
                rows = sorted([float(v) for v in line.split()] for line in label if line)
                out[hashlib.sha256(archive.read(name)).hexdigest()] = rows
        return out

    before, after = labels(first), labels(second)
    assert before.keys() == after.keys()
    for key, rows in before.items():
        assert len(rows) == len(after[key])
        for a, b in zip(rows, after[key], strict=True):
            assert a == pytest.approx(b, abs=2e-6)


def test_predictions_of_another_tool_land_on_the_same_images(lookout, tmp_path):
    """A COCO results file on exported images is attached to the images already there."""
    world = standard_world(lookout)
    folder = unpack(export(world, format="coco"), tmp_path / "truth")
    doc = json.loads((folder / "annotations.json").read_text())
    for ann in doc["annotations"]:
        ann["score"] = 0.8
    (folder / "annotations.json").write_text(json.dumps(doc))
    report = run_import(
        world, folder / "annotations.json", world.project_id, model_name="other-tool"
    )
    assert report.images_created == 0 and report.images_reused == 4 and report.analyses == 4
    response = world.client.post(
        "/api/evaluations",
        json={
            "project_id": world.project_id,
            "model_name": "other-tool",
            "store": False,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["overall"]["ap50"] == pytest.approx(1.0)


def _coco_folder(tmp_path: Path, *, images=2, annotations=None, categories=None, drop_file=None):
    folder = tmp_path / "coco"
    (folder / "images").mkdir(parents=True)
    doc = {
        "images": [],
        "annotations": annotations or [],
        "categories": categories or [{"id": 1, "name": "smoke"}],
    }
    for i in range(1, images + 1):
        name = f"img{i}.jpg"
        if name != drop_file:
            (folder / "images" / name).write_bytes(distinct_jpeg(100, 80))
        doc["images"].append({"id": i, "file_name": name, "width": 100, "height": 80})
    (folder / "annotations.json").write_text(json.dumps(doc))
    return folder / "annotations.json"


def _ann(i, image_id=1, category_id=1, bbox=(10, 10, 20, 20)):
    return {"id": i, "image_id": image_id, "category_id": category_id, "bbox": list(bbox)}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"annotations": [_ann(1), _ann(2, image_id=9)]}, "image_id 9 is not among the images"),
        ({"annotations": [_ann(1, category_id=4)]}, "category_id 4 is not among the categories"),
        ({"annotations": [_ann(1, bbox=(90, 10, 20, 20))]}, "lies outside its image img1.jpg"),
        ({"annotations": [_ann(1, bbox=(10, 10, 0, 5))]}, "has no area"),
        ({"annotations": [_ann(1), _ann(1)]}, "id 1 is used twice"),
        ({"drop_file": "img2.jpg"}, "img2.jpg does not exist"),
        ({"categories": [{"id": 1}]}, "categories[0].name"),
    ],
)
def test_bad_coco_is_refused_naming_the_problem(lookout, tmp_path, kwargs, words):
    world = make_world(lookout)
    path = _coco_folder(tmp_path, **kwargs)
    with pytest.raises(InvalidInput) as caught:
        run_import(world, path, world.project_id)
    assert words in caught.value.message
    assert lookout.count("images") == 0 and lookout.count("analyses") == 0


def test_unknown_format_and_broken_files(lookout, tmp_path):
    world = make_world(lookout)
    text = tmp_path / "data.txt"
    text.write_text("hello")
    with pytest.raises(InvalidInput, match="cannot tell the dataset format"):
        read_dataset(text)
    with pytest.raises(InvalidInput, match="unknown dataset format 'pascal'"):
        read_dataset(text, "pascal")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        read_dataset(broken)
    path = _coco_folder(tmp_path)
    (path.parent / "images" / "img1.jpg").write_bytes(b"not an image")
    with pytest.raises(InvalidInput, match="not a readable image"):
        run_import(world, path, world.project_id)
    with pytest.raises(InvalidInput, match="reviews hold smoke boxes"):
        path = _coco_folder(
            tmp_path / "cars", annotations=[_ann(1)], categories=[{"id": 1, "name": "car"}]
        )
        run_import(world, path, world.project_id, import_as="reviews")
    assert lookout.count("images") == 0


def _yolo_folder(tmp_path: Path, label: str, names=("smoke",)) -> Path:
    folder = tmp_path / "yolo"
    (folder / "images" / "train").mkdir(parents=True)
    (folder / "labels" / "train").mkdir(parents=True)
    (folder / "data.yaml").write_text(
        "train: images/train\nval: images/train\nnames:\n"
        + "".join(f"  {i}: {n}\n" for i, n in enumerate(names))
    )
    for i in range(2):
        (folder / "images" / "train" / f"a{i}.jpg").write_bytes(distinct_jpeg(100, 80))
    (folder / "labels" / "train" / "a0.txt").write_text("0 0.5 0.5 0.2 0.2 0.9\n")
    (folder / "labels" / "train" / "a1.txt").write_text(label)
    return folder


@pytest.mark.parametrize(
    ("label", "words"),
    [
        ("3 0.5 0.5 0.2 0.2\n", "a1.txt:1: class 3 is not in names"),
        ("0 0.5 0.5 0.2\n", "a1.txt:1: expected `class cx cy w h [confidence]`"),
        ("0 0.5 0.5 0.2 0.2\n0 0.95 0.5 0.2 0.2\n", "a1.txt:2: box"),
        ("0 0.5 x 0.2 0.2\n", "not numbers"),
    ],
)
def test_bad_yolo_is_refused_naming_file_and_line(lookout, tmp_path, label, words):
    world = make_world(lookout)
    folder = _yolo_folder(tmp_path, label)
    with pytest.raises(InvalidInput) as caught:
        run_import(world, folder, world.project_id)
    assert words in caught.value.message
    assert lookout.count("images") == 0


def test_yolo_confidences_and_negatives(lookout, tmp_path):
    world = make_world(lookout)
    folder = _yolo_folder(tmp_path, "")
    report = run_import(world, folder, world.project_id, model_name="det")
    assert (report.images_created, report.analyses, report.predictions) == (2, 2, 1)
    archive = export(world, format="jsonl", source="model:det", negatives="true")
    lines = [json.loads(x) for x in archive.read("annotations.jsonl").splitlines()]
    assert sorted(len(x["boxes"]) for x in lines) == [0, 1]
    box = next(x for x in lines if x["boxes"])["boxes"][0]
    assert box["confidence"] == 0.9
    assert box["xyxyn"] == pytest.approx([0.4, 0.4, 0.6, 0.6], abs=1e-9)


class FailingStorage:
    """Real storage that fails on the n-th stored object."""

    def __init__(self, inner, fail_at: int) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.calls = 0

    def put_file(self, key, source, content_type, **kwargs):
        self.calls += 1
        if self.calls == self.fail_at:
            raise StorageError("disk full")
        return self.inner.put_file(key, source, content_type, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.parametrize("import_as", ["analysis", "reviews"])
def test_a_failure_while_storing_leaves_nothing_behind(lookout, tmp_path, import_as):
    world = make_world(lookout)
    path = _coco_folder(tmp_path, images=4, annotations=[_ann(1), _ann(2, image_id=3)])
    dataset = read_dataset(path)
    before = stored_files(Path(lookout.settings.resolved_storage_path))
    storage = FailingStorage(world.storage(), fail_at=3)
    with pytest.raises(StorageError), lookout.sessions() as session:
        service.import_dataset(
            session,
            storage,
            principal=world.principal(),
            dataset=dataset,
            options=service.ImportOptions(
                project_id=uuid.UUID(world.project_id), import_as=import_as
            ),
        )
    assert storage.calls == 3
    for table in ("images", "analyses", "predictions", "sequences", "sequence_reviews"):
        assert lookout.count(table) == 0, table
    assert stored_files(Path(lookout.settings.resolved_storage_path)) == before
    # The same dataset imports whole once storage works.
    report = run_import(world, path, world.project_id, import_as=import_as)
    assert report.images_created == 4


def test_zip_of_coco_folder_layout_is_found(lookout, tmp_path):
    """A folder holding annotations.json and images/ is read as COCO."""
    world = standard_world(lookout)
    folder = unpack(export(world, format="coco"), tmp_path / "export")
    assert detect_format(folder) == "coco"
    dataset = read_dataset(folder)
    assert len(dataset.images) == 4 and dataset.classes == ["smoke"]


@pytest.mark.parametrize("linked", ["image", "label", "coco image"])
def test_links_out_of_the_dataset_folder_are_refused(lookout, tmp_path, linked):
    """A dataset whose files link elsewhere (`images/a.jpg -> /elsewhere/secret.jpg`) could
    make the server read and store any file it can open: refused, naming the file."""
    world = make_world(lookout)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(distinct_jpeg(100, 80))
    (outside / "secret.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    if linked == "coco image":
        path = _coco_folder(tmp_path, images=2, annotations=[_ann(1)])
        target = path.parent / "images" / "img2.jpg"
        shown = target.name
    else:
        path = _yolo_folder(tmp_path, "")
        folder = "images" if linked == "image" else "labels"
        suffix = ".jpg" if linked == "image" else ".txt"
        target = path / folder / "train" / f"a1{suffix}"
        shown = target.name
    target.unlink()
    target.symlink_to(outside / ("secret.txt" if linked == "label" else "secret.jpg"))
    with pytest.raises(InvalidInput) as caught:
        run_import(world, path, world.project_id)
    assert shown in caught.value.message and "outside" in caught.value.message
    assert lookout.count("images") == 0
