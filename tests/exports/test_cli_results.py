"""`lookout export --format coco-results`, `lookout set-split` and split warnings, run as a user
runs them: COCOeval of the command line's two exports gives `lookout evaluate`'s AP."""

from __future__ import annotations

import json
import zipfile

import pytest

from tests.exports.builders import make_world, smoke
from tests.exports.test_cli_commands import run
from tests.exports.test_ids_and_splits import _cocoeval, _scored_world


def test_cocoeval_of_command_line_exports_equals_lookout_evaluate(lookout, tmp_path):
    _scored_world(lookout)
    truth = run(lookout, "export", "--project", "cams", "--negatives", "--out", str(tmp_path / "t"))
    assert truth.returncode == 0, truth.stderr
    results = run(
        lookout,
        "export",
        "--project",
        "cams",
        "--format",
        "coco-results",
        "--source",
        "model:yolo@v1",
        "--negatives",
        "--out",
        str(tmp_path / "r.json"),
    )
    assert results.returncode == 0, results.stderr
    listed = json.loads((tmp_path / "r.json").read_text())
    stats = _cocoeval(json.loads((tmp_path / "t" / "annotations.json").read_text()), listed)
    evaluated = run(lookout, "evaluate", "--project", "cams", "--model", "yolo", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    overall = json.loads(evaluated.stdout)["overall"]
    assert stats[0] == pytest.approx(overall["ap"], abs=1e-6)
    assert stats[1] == pytest.approx(overall["ap50"], abs=1e-6)


def test_split_rule_in_help_set_split_and_warnings(lookout, tmp_path):
    world = make_world(lookout)
    seq = world.add_sequence("only", frames=2)
    world.review(seq, [smoke(seq, {0: [0.1, 0.1, 0.4, 0.4]})])
    world.predict(seq.frames[0], [("smoke", [0.1, 0.1, 0.4, 0.45], 0.8)])
    shown = run(lookout, "export", "--help")
    text = " ".join(shown.stdout.replace("│", " ").split())
    assert "nor val with 2+ sequences" in text and "--redraw-splits" in text
    out = tmp_path / "one"
    exported = run(lookout, "export", "--project", "cams", "--format", "yolo", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "warning" in exported.stderr and "val is empty" in exported.stderr
    moved = run(lookout, "set-split", seq.id, "test")
    assert moved.returncode == 0, moved.stderr
    again = run(
        lookout, "export", "--project", "cams", "--format", "yolo", "--out", str(out), "--force"
    )
    assert again.returncode == 0, again.stderr
    assert sorted(p.parent.name for p in (out / "images").rglob("*.jpg")) == ["test"]
    in_zip = run(
        lookout,
        "export",
        "--project",
        "cams",
        "--format",
        "coco-results",
        "--source",
        "model:yolo@v1",
        "--out",
        str(tmp_path / "r.zip"),
    )
    assert in_zip.returncode == 0, in_zip.stderr
    with zipfile.ZipFile(tmp_path / "r.zip") as archive:
        assert archive.namelist() == ["results.json"]
    wrong = run(lookout, "set-split", seq.id, "holdout")
    assert wrong.returncode == 1 and "split: 'holdout' is not a split" in wrong.stderr
