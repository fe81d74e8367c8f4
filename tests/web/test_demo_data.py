"""The demo dataset: loaded through the services, complete, idempotent, on both databases."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from PIL import Image as PILImage

from lookout.demo.loader import ALL_TYPES_SOURCE_ID, PIPELINE_SEQUENCES, REVIEWED, load_demo
from lookout.demo.scenes import SEQUENCES
from tests.web.web_support import image_id, sequence_id

TABLES = (
    "cameras",
    "sequences",
    "images",
    "analyses",
    "predictions",
    "sequence_reviews",
    "artifacts",
    "projects",
)


def test_demo_loads_everything_once(lookout_factory):
    lookout = lookout_factory(LOOKOUT_LOCAL_MODE=True)
    first = load_demo(lookout.settings)
    counts = {table: lookout.count(table) for table in TABLES}
    second = load_demo(lookout.settings)
    assert {table: lookout.count(table) for table in TABLES} == counts
    assert not any(second.created.values()), second.created
    assert first.created["frames"] == first.frames

    assert (first.cameras, first.sequences, first.reviews_annotated) == (2, 16, 2)
    assert counts["projects"] == 1
    expected_frames = sum(spec.frames for spec in SEQUENCES)
    assert first.frames == expected_frames and 80 <= expected_frames <= 120
    assert counts["images"] == expected_frames + 1  # plus the image with every type
    pipeline_frames = sum(s.frames for s in SEQUENCES if s.key in PIPELINE_SEQUENCES)
    assert counts["analyses"] == expected_frames + 2 * pipeline_frames + 1
    assert counts["artifacts"] == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools.*")
def test_demo_through_the_api(lookout_factory):
    lookout = lookout_factory(LOOKOUT_LOCAL_MODE=True)
    summary = load_demo(lookout.settings)
    api = lookout.client()  # local mode: the local admin

    sequences = api.get("/api/sequences", params={"limit": 50}).json()
    assert sequences["total"] == 16
    stages = Counter(s["processing_stage"] for s in sequences["items"])
    assert stages == {"annotated": 2, "ready_to_annotate": 14}
    assert {s["camera_name"] for s in sequences["items"]} == {"North ridge", "Valley tower"}
    for item in sequences["items"]:
        assert 5 <= item["frame_count"] <= 10

    # Recurring false alarms on both cameras: one group each, seen on four days.
    recurring = api.get("/api/groups", params={"min_members": 2}).json()["items"]
    assert sorted((g["camera_name"], g["member_count"]) for g in recurring) == [
        ("North ridge", 4),
        ("Valley tower", 4),
    ]
    assert all(g["decision"] is None for g in recurring)

    for key, verdict in REVIEWED.items():
        review = api.get(f"/api/sequences/{sequence_id(lookout, key)}/review").json()
        assert review["processing_stage"] == "annotated"
        assert review["reviewed_by"] == "camille.reviewer@example.org"
        assert verdict in review["smoke_types"] + review["false_positive_types"]

    queue = api.get(
        "/api/sequences", params={"processing_stage": "ready_to_annotate", "order": "oldest"}
    ).json()
    draft = api.get(f"/api/sequences/{queue['items'][0]['id']}").json()
    assert draft["review"]["tracks"], "drafts hold tracks clustered from the platform's boxes"
    assert [f["captured_at"] for f in draft["frames"]] == sorted(
        f["captured_at"] for f in draft["frames"]
    )
    models = {p["model_name"] for f in draft["frames"] for p in f["predictions"]}
    assert models == {"platform", "yolo_v8", "yolo_v11"}  # demo-seq-03 was analysed by both
    platform = api.get(
        f"/api/sequences/{queue['items'][0]['id']}", params={"model_name": "platform"}
    ).json()
    assert sum(len(f["predictions"]) for f in platform["frames"]) >= len(platform["frames"]) - 1

    # Two pipeline models that partly agree, on the frames of a few sequences.
    agreement = Counter()
    detail = api.get(f"/api/sequences/{sequence_id(lookout, 'demo-seq-01')}").json()
    for frame in detail["frames"]:
        analyses = api.get(f"/api/images/{frame['id']}/analyses").json()["items"]
        by_model = {a["model_name"]: a for a in analyses}
        assert by_model["yolo_v8"]["model_version"] == "v8.0.0"
        assert by_model["yolo_v11"]["model_version"] == "v11.0.0"
        assert {a["status"] for a in analyses} == {"completed"}
        compared = api.get(
            f"/api/images/{frame['id']}/analyses/compare",
            params=[
                ("analysis_id", by_model["yolo_v8"]["id"]),
                ("analysis_id", by_model["yolo_v11"]["id"]),
            ],
        ).json()["comparison"]
        agreement.update(
            matched=compared["matched_count"],
            only_a=compared["only_a_count"],
            only_b=compared["only_b_count"],
        )
    assert agreement["matched"] >= 5 and agreement["only_a"] >= 3 and agreement["only_b"] >= 2

    # One image with every annotation type, its heatmap artifact in storage.
    image = image_id(lookout, ALL_TYPES_SOURCE_ID)
    assert image == str(summary.all_types_image_id)
    (analysis,) = api.get(f"/api/images/{image}/analyses").json()["items"]
    annotations = api.get(f"/api/analyses/{analysis['id']}").json()["annotations"]
    kinds = Counter(
        (a["annotation_type"], a["data"].get("format"))
        if a["annotation_type"] == "segmentation"
        else a["annotation_type"]
        for a in annotations
    )
    assert kinds == {
        "bounding_box": 2,
        ("segmentation", "polygon"): 1,
        ("segmentation", "rle"): 1,
        "keypoint": 1,
        "classification": 1,
        "heatmap": 1,
    }
    heatmap = api.get(f"/api/analyses/{analysis['id']}/artifacts/heatmap.png")
    assert heatmap.status_code == 200
    with PILImage.open(io.BytesIO(heatmap.content)) as picture:
        assert picture.mode == "RGBA" and picture.getextrema()[3][1] > 100

    # The RLE mask is COCO's uncompressed RLE and covers the plume's box.
    from pycocotools import mask as coco

    rle = next(a for a in annotations if a["data"].get("format") == "rle")["data"]["rle"]
    height, width = rle["size"]
    decoded = coco.decode(
        coco.frPyObjects({"counts": rle["counts"], "size": [height, width]}, height, width)
    )
    ys, xs = np.nonzero(decoded)
    smoke = next(
        a
        for a in annotations
        if a["annotation_type"] == "bounding_box" and a["class_name"] == "smoke"
    )["bbox_xyxyn"]
    centre = ((xs.mean() + 0.5) / width, (ys.mean() + 0.5) / height)
    assert smoke[0] < centre[0] < smoke[2] and smoke[1] < centre[1] < smoke[3]


def test_next_in_queue_follows_the_oldest_first_order(lookout_factory):
    lookout = lookout_factory(LOOKOUT_LOCAL_MODE=True)
    load_demo(lookout.settings)
    client = lookout.client()
    queue = [
        s.key for s in sorted(SEQUENCES, key=lambda s: (s.day, s.minute)) if s.key not in REVIEWED
    ]
    after = sequence_id(lookout, queue[0])
    for expected in [*queue[1:], queue[0]]:  # wraps around at the end
        response = client.get(f"/sequences/next?after={after}", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/sequences/{sequence_id(lookout, expected)}"
        after = sequence_id(lookout, expected)


def test_lookout_demo_command(tmp_path):
    private = ("LOOKOUT_", "DATABASE_URL", "PROXY_", "STORAGE_", "S3_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(private)}
    env["LOOKOUT_DATA_DIR"] = str(tmp_path / "data")

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lookout.cli", "demo"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    first = run()
    assert first.returncode == 0, first.stderr
    assert "16 sequences" in first.stdout and "created" in first.stdout
    assert (tmp_path / "data" / "lookout.db").exists()
    second = run()
    assert second.returncode == 0, second.stderr
    assert "created nothing new" in second.stdout.replace("\n", " ")
    help_text = subprocess.run(
        [sys.executable, "-m", "lookout.cli", "serve", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "--demo" in help_text
