"""End to end over real HTTP: fake platform → importer → Lookout (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from lookout.fake_platform import RunningFakePlatform, expected, generate
from lookout.fake_platform.data import iso
from tests.platform_import.helpers import (
    DAYS,
    ENV_NAMES,
    both_orgs_env,
    objects_match_rows,
    run_import,
    small_config,
)
from tests.support import stored_files

NO_CREDENTIALS: dict[str, str | None] = dict.fromkeys(ENV_NAMES)


def _dates() -> list[str]:
    return ["--date-from", DAYS[0], "--date-end", DAYS[-1]]


def _by_source_id(lookout: Any) -> dict[str, dict[str, Any]]:
    """Stored pyronear sequences by platform id."""
    client = lookout.client()
    body = client.get("/api/sequences", params={"source": "pyronear", "limit": 500}).json()
    return {item["source_id"]: item for item in body["items"]}


def test_import_counts_and_mapping(platform: RunningFakePlatform, local_lookout: Any) -> None:
    """Both organizations' sequences, frames, boxes and drafts arrive, every field mapped."""
    run = run_import(platform.url, local_lookout.url, *_dates(), env=both_orgs_env())
    assert run.exit_code == 0, run.output
    want = expected(platform.config)
    assert local_lookout.count("sequences") == want.sequences_total
    assert local_lookout.count("images") == want.detections_total
    # Lookout refuses zero-area boxes, so the importer leaves them out (and says so).
    assert local_lookout.count("predictions") == want.boxes_total - want.zero_area_boxes
    assert local_lookout.count("sequence_reviews") == want.sequences_total
    assert local_lookout.count("cameras") == sum(want.cameras_per_org.values())
    assert local_lookout.count("projects") == want.organizations
    assert "Processing completed!\nFinal Statistics:\n" in run.stdout
    assert run.stat("Total sequences") == want.sequences_total
    assert run.stat("Successful sequences") == want.sequences_total
    assert run.stat("Failed sequences") == 0
    assert run.stat("Annotations created") == want.sequences_total
    assert run.stat("Frames created") == want.detections_total
    assert run.stat("Sequences already present") == 0
    assert run.stat("Zero-area boxes left out") == want.zero_area_boxes
    _check_mapping(platform, local_lookout)


def _check_mapping(platform: RunningFakePlatform, lookout: Any) -> None:
    """Every mapped field of one sequence with an empty frame and one with several boxes."""
    data = generate(platform.config)
    stored = _by_source_id(lookout)
    client = lookout.client()
    for seq in data.sequences.values():
        detail = client.get(f"/api/sequences/{stored[str(seq.id)]['id']}").json()
        cam = data.cameras[seq.camera_id]
        org = data.organizations[cam.organization_id]
        assert detail["source"] == "pyronear"
        assert detail["azimuth"] == seq.camera_azimuth
        assert detail["started_at"].startswith(iso(seq.started_at)[:19])
        assert detail["last_seen_at"].startswith(iso(seq.last_seen_at)[:19])
        label = None if seq.label is None else str(seq.label == "wildfire_smoke")
        assert detail["source_label"] == label
        assert (detail["lat"], detail["lon"]) == (cam.lat, cam.lon)
        assert detail["camera_name"] == cam.name
        assert detail["organization_name"] == org.name
        assert detail["extra"]["cone_azimuth"] == seq.cone_azimuth
        assert detail["extra"]["cone_angle"] == seq.cone_angle
        assert detail["extra"]["organisation_name"] == org.name
        assert detail["review"]["processing_stage"] == "ready_to_annotate"
        frames = detail["frames"]
        assert [f["source_id"] for f in frames] == [str(i) for i in seq.detection_ids]
        for frame, det_id in zip(frames, seq.detection_ids, strict=True):
            det = data.detections[det_id]
            assert frame["captured_at"].startswith(iso(det.created_at)[:19])
            assert (frame["width"], frame["height"]) == platform.config.image_size
            got = [(p["bbox_xyxyn"], p["confidence"]) for p in frame["predictions"]]
            want = [(list(b[:4]), b[4]) for b in det.boxes if b[2] > b[0] and b[3] > b[1]]
            assert sorted(got) == sorted(want)
            assert all(p["model_name"] == "platform" for p in frame["predictions"])
            assert all(p["model_version"] == "pyronear-alert-api" for p in frame["predictions"])
    cameras = client.get("/api/sequences", params={"limit": 1}).json()["items"]
    assert cameras


def test_rerun_creates_nothing(platform: RunningFakePlatform, local_lookout: Any) -> None:
    """A second run reports everything as already present and exits 0."""
    first = run_import(platform.url, local_lookout.url, *_dates())
    assert first.exit_code == 0, first.output
    tables = ("sequences", "images", "predictions", "analyses", "sequence_reviews", "cameras")
    before = {t: local_lookout.count(t) for t in tables}
    objects = len(stored_files(local_lookout.settings.resolved_storage_path))
    second = run_import(platform.url, local_lookout.url, *_dates())
    assert second.exit_code == 0, second.output
    assert {t: local_lookout.count(t) for t in tables} == before
    assert len(stored_files(local_lookout.settings.resolved_storage_path)) == objects
    want = expected(platform.config).sequences_per_org[1]
    assert second.stat("Total sequences") == want
    assert second.stat("Sequences already present") == want
    assert second.stat("Sequences created") == 0
    assert second.stat("Frames created") == 0
    assert second.stat("Frames already present") == before["images"]
    assert second.stat("Annotations created") == 0
    assert second.stat("Annotations already drafted (nothing new)") == want


def test_faults_and_timeouts_end_complete(start_platform: Any, local_lookout: Any) -> None:
    """20 % 5xx answers and some hanging requests: retries bring every item in."""
    fp = start_platform(error_rate=0.2, timeout_rate=0.05, timeout_hang_s=1.5)
    run = run_import(fp.url, local_lookout.url, *_dates(), "--timeout", "0.5", "--retries", "8")
    assert run.exit_code == 0, run.output
    want = expected(fp.config)
    assert local_lookout.count("sequences") == want.sequences_per_org[1]
    assert local_lookout.count("images") == want.detections_per_org[1]
    assert local_lookout.count("sequence_reviews") == want.sequences_per_org[1]
    assert run.stat("Failed sequences") == 0
    faults = fp.stats.snapshot()["faults"]
    assert faults.get("error", 0) > 0 and faults.get("timeout", 0) > 0
    assert "retry" in run.stderr
    assert objects_match_rows(local_lookout)


def test_broken_frame_fails_its_sequence_only(start_platform: Any, local_lookout: Any) -> None:
    """A frame the platform cannot serve: its sequence fails, nothing half-written, others done."""
    data = generate(small_config())
    victim = data.sequences_on(date.fromisoformat(DAYS[0]), 1)[0]
    broken = victim.detection_ids[1]
    fp = start_platform(broken_image_detection_ids={broken})
    run = run_import(fp.url, local_lookout.url, *_dates())
    assert run.exit_code == 1, run.output
    want = expected(fp.config)
    assert run.stat("Failed sequences") == 1
    assert run.stat("Successful sequences") == want.sequences_per_org[1] - 1
    assert run.stat("Frames failed") == 1
    assert f"sequence {victim.id} failed" in run.stderr
    # Lookout could not fetch it (502), so the importer tried itself, with a fresh URL too.
    assert "downloading it here instead" in run.stderr
    # Lookout's own 502 is a verdict (it retried the platform already): not retried here.
    assert "/frames failed (HTTP 502)" not in run.stderr
    assert local_lookout.count("images") == want.detections_per_org[1] - 1
    assert local_lookout.count("sequence_reviews") == want.sequences_per_org[1] - 1
    stored = _by_source_id(local_lookout)[str(victim.id)]
    detail = local_lookout.client().get(f"/api/sequences/{stored['id']}").json()
    assert str(broken) not in [f["source_id"] for f in detail["frames"]]
    assert len(detail["frames"]) == len(victim.detection_ids) - 1
    assert detail["review"] is None
    assert objects_match_rows(local_lookout)
    # Once the platform serves the frame again, a re-run completes the sequence.
    fp.config.broken_image_detection_ids = set()
    again = run_import(fp.url, local_lookout.url, *_dates())
    assert again.exit_code == 0, again.output
    assert again.stat("Frames created") == 1
    assert again.stat("Annotations created") == 1
    assert local_lookout.count("sequence_reviews") == want.sequences_per_org[1]


def test_review_started_by_a_person_is_kept(
    platform: RunningFakePlatform, local_lookout: Any
) -> None:
    """Neither a re-run nor --skip-platform-fetch overwrites a review a person has started."""
    assert run_import(platform.url, local_lookout.url, *_dates()).exit_code == 0
    client = local_lookout.client()
    target = next(iter(_by_source_id(local_lookout).values()))
    review = client.get(f"/api/sequences/{target['id']}").json()["review"]
    body = {"tracks": [], "processing_stage": "in_review", "version": review["version"]}
    saved = client.put(f"/api/sequences/{target['id']}/review", json=body)
    assert saved.status_code == 200, saved.text
    kept = saved.json()
    rerun = run_import(platform.url, local_lookout.url, *_dates())
    assert rerun.exit_code == 0, rerun.output
    assert rerun.stat("Annotations skipped (review started by a person)") == 1
    redraft = run_import(
        platform.url,
        local_lookout.url,
        *_dates(),
        "--skip-platform-fetch",
        "--confidence-threshold",
        "0.9",
    )
    assert redraft.exit_code == 0, redraft.output
    total = expected(platform.config).sequences_per_org[1]
    assert redraft.stat("Annotations created") == total - 1
    assert redraft.stat("Annotations skipped (review started by a person)") == 1
    after = client.get(f"/api/sequences/{target['id']}").json()["review"]
    assert (after["processing_stage"], after["version"]) == ("in_review", kept["version"])
    assert after["tracks"] == []
    others = [s for s in _by_source_id(local_lookout).values() if s["id"] != target["id"]]
    drafted = client.get(f"/api/sequences/{others[0]['id']}").json()["review"]
    assert drafted["draft_params"]["confidence_threshold"] == 0.9


def test_one_organization_per_login(platform: RunningFakePlatform, local_lookout: Any) -> None:
    """Only the login's organization comes without PLATFORM_EXTRA_CREDENTIALS; both with it."""
    want = expected(platform.config)
    only_one = run_import(platform.url, local_lookout.url, *_dates())
    assert only_one.exit_code == 0, only_one.output
    assert local_lookout.count("sequences") == want.sequences_per_org[1]
    both = run_import(platform.url, local_lookout.url, *_dates(), env=both_orgs_env())
    assert both.exit_code == 0, both.output
    assert local_lookout.count("sequences") == want.sequences_total
    assert both.stat("Sequences already present") == want.sequences_per_org[1]
    assert both.stat("Sequences created") == want.sequences_per_org[2]
    projects = {p["name"] for p in local_lookout.client().get("/api/projects").json()}
    assert projects == {"sdis-07", "sdis-77"}


def test_later_schema(start_platform: Any, local_lookout: Any) -> None:
    """bbox + others_bboxes, recorded_at and the is_wildfire enum are read."""
    fp = start_platform(schema="later")
    run = run_import(fp.url, local_lookout.url, *_dates(), env=both_orgs_env())
    assert run.exit_code == 0, run.output
    want = expected(fp.config)
    assert local_lookout.count("sequences") == want.sequences_total
    assert local_lookout.count("images") == want.detections_total
    assert local_lookout.count("predictions") == want.boxes_total - want.zero_area_boxes
    assert local_lookout.count("sequence_reviews") == want.sequences_total
    data = generate(fp.config)
    client = local_lookout.client()
    stored = _by_source_id(local_lookout)
    for source_id, item in stored.items():
        seq = data.sequence(int(source_id), "later")
        assert seq is not None
        detail = client.get(f"/api/sequences/{item['id']}").json()
        assert detail["source_label"] == seq.label
        assert detail["extra"]["pose_id"] == seq.pose_id
        assert detail["extra"]["sequence_azimuth"] == seq.cone_azimuth
        for frame in detail["frames"]:
            det = data.detection(int(frame["source_id"]), "later")
            assert det is not None
            assert frame["captured_at"].startswith(iso(det.recorded_at)[:19])

    # Each picture is stored once, however many sequences hold a row of it.
    pictures = {
        d.bucket_key
        for s in data.all_sequences("later")
        for d in data.visible_detections(s, "later")
    }
    with local_lookout.sessions() as session:
        objects = session.execute(sa.text("SELECT DISTINCT object_key FROM images")).scalars().all()
    assert len(objects) == len(pictures) < want.detections_total
    # A sibling (the second object of the same frames) is listed beside its sequence.
    for sibling in data.siblings.values():
        parent = stored[str(sibling.sibling_of)]["id"]
        listed = client.get("/api/sequences", params={"sibling_of": parent}).json()["items"]
        assert str(sibling.id) in {i["source_id"] for i in listed}


def test_dry_run_writes_nothing(platform: RunningFakePlatform, local_lookout: Any) -> None:
    run = run_import(platform.url, local_lookout.url, *_dates(), "--dry-run", "--loglevel", "debug")
    assert run.exit_code == 0, run.output
    for table in ("projects", "cameras", "sequences", "images", "predictions"):
        assert local_lookout.count(table) == 0
    want = expected(platform.config)
    assert "Dry run: nothing was written." in run.stdout
    n = want.sequences_per_org[1]
    assert f"Sequences: {n} (new: {n}, already present: 0)" in run.stdout
    assert f"Frames: {want.detections_per_org[1]} " in run.stdout
    assert "would import sequence" in run.stderr


def test_skip_platform_fetch_drafts_stored_sequences(
    platform: RunningFakePlatform, local_lookout: Any
) -> None:
    assert run_import(platform.url, local_lookout.url, *_dates()).exit_code == 0
    requests = sum(platform.stats.snapshot()["requests"].values())
    # No platform credentials are needed to draft what is stored.
    run = run_import(
        platform.url,
        local_lookout.url,
        *_dates(),
        "--skip-platform-fetch",
        "--min-cluster-size",
        "2",
        env=NO_CREDENTIALS,
    )
    assert run.exit_code == 0, run.output
    n = expected(platform.config).sequences_per_org[1]
    assert run.stat("Total sequences") == n
    assert run.stat("Annotations created") == n
    assert sum(platform.stats.snapshot()["requests"].values()) == requests
    dry = run_import(
        platform.url,
        local_lookout.url,
        *_dates(),
        "--skip-platform-fetch",
        "--dry-run",
        env=NO_CREDENTIALS,
    )
    assert dry.exit_code == 0 and f"Drafts: {n} " in dry.stdout


def test_malformed_platform_items_fail_loudly(start_platform: Any, local_lookout: Any) -> None:
    """Renamed box fields: every sequence fails before any write, each one named."""
    fp = start_platform(rename_fields={"detections": {"bboxes": "boxes"}})
    run = run_import(fp.url, local_lookout.url, *_dates())
    n = expected(fp.config).sequences_per_org[1]
    assert run.exit_code == 1
    assert run.stat("Failed sequences") == n
    assert run.stat("Invalid platform items") == expected(fp.config).detections_per_org[1]
    assert run.stderr.count("unexpected shape from the platform: detection") >= n
    assert local_lookout.count("sequences") == 0


def test_transfer_via_importer(platform: RunningFakePlatform, local_lookout: Any) -> None:
    """The importer downloads and uploads each frame itself, one at a time."""
    run = run_import(
        platform.url,
        local_lookout.url,
        *_dates(),
        "--transfer",
        "via-importer",
        "--concurrency",
        "1",
    )
    assert run.exit_code == 0, run.output
    want = expected(platform.config)
    assert local_lookout.count("images") == want.detections_per_org[1]
    assert local_lookout.count("sequence_reviews") == want.sequences_per_org[1]
    assert objects_match_rows(local_lookout)
    # The server never fetched a frame: every storage request came from the importer.
    assert (
        platform.stats.snapshot()["requests"]["/storage/{bucket}/{bucket_key}"]
        == (want.detections_per_org[1])
    )


@pytest.mark.parametrize("transfer", ["via-server", "via-importer"])
def test_the_platform_sees_at_most_concurrency_calls(
    start_platform: Any, local_lookout: Any, transfer: str
) -> None:
    """More sequences are worked on than --concurrency (some are being stored and drafted in
    Lookout), but calls to the platform (detections, and frames downloaded by the importer or
    fetched by Lookout) never outnumber it, and the import keeps that many busy."""
    fp = start_platform(latency_s=0.03, cameras_per_org=2, sequences_per_camera_per_day=4)
    run = run_import(
        fp.url, local_lookout.url, *_dates(), "--concurrency", "2", "--transfer", transfer
    )
    assert run.exit_code == 0, run.output
    assert run.stat("Successful sequences") == expected(fp.config).sequences_per_org[1] == 16
    assert fp.stats.snapshot()["peak_in_progress"] == 2
