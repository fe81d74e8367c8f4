"""`lookout export`, `lookout import-dataset` and `lookout evaluate`, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import yaml

from tests.exports.builders import smoke, standard_world


def run(lookout, *args, **settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOKOUT_", "DATABASE_URL"))}
    env.update(
        LOOKOUT_DATA_DIR=str(lookout.settings.data_dir),
        DATABASE_URL=lookout.settings.resolved_database_url,
        LOOKOUT_SECRET_KEY="test-signing-key",
        COLUMNS="200",
        **settings,
    )
    return subprocess.run(
        [sys.executable, "-m", "lookout.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_export_import_and_evaluate_from_the_command_line(lookout, tmp_path):
    world = standard_world(lookout)
    s1 = world.sequences[0]
    world.predict(s1.frames[1], [("smoke", [0.1, 0.2, 0.3, 0.5], 0.9)])
    world.predict(s1.frames[2], [("smoke", [0.7, 0.7, 0.8, 0.8], 0.8)])

    out = tmp_path / "cams.zip"
    result = run(
        lookout,
        "export",
        "--project",
        "cams",
        "--format",
        "yolo",
        "--out",
        str(out),
        "--negatives",
        "--split",
        "1,0,0",
    )
    assert result.returncode == 0, result.stderr
    archive = zipfile.ZipFile(out)
    assert archive.testzip() is None
    assert yaml.safe_load(archive.read("data.yaml"))["names"] == {0: "smoke"}
    assert len([n for n in archive.namelist() if n.startswith("labels/train/")]) == 7
    assert "images" in result.stdout and "7" in result.stdout

    again = run(lookout, "export", "--project", "cams", "--out", str(out))
    assert again.returncode == 1 and "already exists" in again.stderr
    folder = tmp_path / "coco"
    result = run(lookout, "export", "--project", world.project_id, "--out", str(folder))
    assert result.returncode == 0, result.stderr
    doc = json.loads((folder / "annotations.json").read_text())
    assert len(doc["images"]) == 4 and len(list((folder / "images").rglob("*.jpg"))) == 4

    lookout.create_project(world.client, "copy")
    result = run(
        lookout,
        "import-dataset",
        str(folder / "annotations.json"),
        "--project",
        "copy",
        "--as",
        "reviews",
    )
    assert result.returncode == 0, result.stderr
    assert "coco dataset annotations: 4 images, 5 boxes" in result.stdout

    result = run(lookout, "evaluate", "--project", "cams", "--model", "yolo@v1", "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["overall"]["tp"] == 1 and metrics["overall"]["fp"] == 1
    # Only the two frames the model analyzed are judged: it missed the box on the second.
    assert metrics["overall"]["fn"] == 1 and metrics["images"] == 2 and metrics["id"]

    world.predict(s1.frames[1], [("smoke", [0.1, 0.2, 0.3, 0.5], 0.9)], model="other")
    result = run(
        lookout,
        "evaluate",
        "--project",
        "cams",
        "--model",
        "yolo",
        "--model",
        "other",
        "--no-store",
    )
    assert result.returncode == 0, result.stderr
    assert "models side by side" in result.stdout and "smoke sequences caught" in result.stdout
    assert "yolo@v1" in result.stdout


def test_command_line_errors_name_the_problem(lookout, tmp_path):
    standard_world(lookout)
    result = run(
        lookout, "export", "--project", "cams", "--format", "pascal", "--out", str(tmp_path / "x")
    )
    assert result.returncode == 1 and "unknown export format 'pascal'" in result.stderr
    assert not (tmp_path / "x").exists()
    result = run(lookout, "export", "--project", "nowhere", "--out", str(tmp_path / "y"))
    assert result.returncode == 1 and "no project named 'nowhere'" in result.stderr
    result = run(lookout, "evaluate", "--project", "cams", "--model", "nobody")
    assert result.returncode == 1 and "no completed analyses" in result.stderr
    missing = tmp_path / "missing.json"
    missing.write_text(
        json.dumps(
            {
                "images": [],
                "categories": [],
                "annotations": [{"id": 1, "image_id": 5, "category_id": 1, "bbox": [0, 0, 1, 1]}],
            }
        )
    )
    result = run(lookout, "import-dataset", str(missing), "--project", "cams")
    assert result.returncode == 1 and "image_id 5 is not among the images" in result.stderr


def test_export_refuses_an_existing_out_file_without_force(lookout, tmp_path):
    standard_world(lookout)
    out = tmp_path / "existing.zip"
    out.write_bytes(b"an earlier export")
    result = run(lookout, "export", "--project", "cams", "--out", str(out))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"out: {out} already exists; pass --force to replace it" in result.stderr
    assert "Traceback" not in output and "TypeError" not in output
    assert out.read_bytes() == b"an earlier export"


def _next_since(result):
    """The value the export printed for the next --changed-since."""
    marker = "--changed-since "
    return result.stdout[result.stdout.rindex(marker) + len(marker) :].split()[0]


def _sequences_in(out, world):
    doc = json.loads(zipfile.ZipFile(out).read("annotations.json"))
    names = {seq.id: f"seq-{number}" for number, seq in enumerate(world.sequences, start=1)}
    return {names[ann["sequence_id"]] for ann in doc["annotations"]}


def test_export_changed_since_pulls_only_what_changed(lookout, tmp_path):
    """A nightly pull: the first export takes every annotated review and prints where the next
    one starts; the next takes only the review saved since; with nothing new it writes nothing
    and exits 0; a time without a zone is a usage error (exit 2)."""
    world = standard_world(lookout)
    no_settling = {"LOOKOUT_CHANGES_SETTLE_SECONDS": "0"}
    common = ("export", "--project", "cams", "--format", "coco")
    first = run(
        lookout,
        *common,
        "--out",
        str(tmp_path / "1.zip"),
        "--changed-since",
        "2000-01-01T00:00:00Z",
        **no_settling,
    )
    assert first.returncode == 0, first.stderr
    assert _sequences_in(tmp_path / "1.zip", world) == {"seq-1", "seq-2"}  # seq-3: no smoke
    since = _next_since(first)

    s4 = world.sequences[3]
    version = world.client.get(f"/api/sequences/{s4.id}/review").json()["version"]
    body = {"tracks": [smoke(s4, {0: [0.3, 0.3, 0.4, 0.4]})], "version": version}
    saved = world.client.put(f"/api/sequences/{s4.id}/review", json=body)  # seq-4 annotated now
    assert saved.status_code == 200, saved.text
    second = run(
        lookout, *common, "--out", str(tmp_path / "2.zip"), "--changed-since", since, **no_settling
    )
    assert second.returncode == 0, second.stderr
    assert _sequences_in(tmp_path / "2.zip", world) == {"seq-4"}

    third = run(
        lookout,
        *common,
        "--out",
        str(tmp_path / "3.zip"),
        "--changed-since",
        _next_since(second),
        **no_settling,
    )
    assert third.returncode == 0, third.stderr
    assert "nothing changed since" in third.stdout
    assert not (tmp_path / "3.zip").exists()

    naive = run(
        lookout, *common, "--out", str(tmp_path / "4.zip"), "--changed-since", "2026-12-01T00:00:00"
    )
    assert naive.returncode == 2 and "--changed-since" in naive.stderr
