"""The pyro-annotator import end to end, against the fake pyro-annotator, on SQLite and PostgreSQL.

The fake serves the demo data (`lookout.fake_annotator.data.demo_data`): five sequences, four
annotated (annotated by alice; seq_annotation_done by bob then alice with missed smoke; an
automatic draft; annotated unsure by bob) and one without annotation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lookout.accounts.models import User
from lookout.analyses.models import Analysis, Prediction
from lookout.fake_annotator import RunningFakeAnnotator, demo_data_2025, start_fake_annotator
from lookout.images.models import Image
from lookout.projects.models import Project
from lookout.sequences.models import ReviewVersion, SequenceReview
from tests.annotator_import.helpers import counts, frame_ids, sequence_by_platform_id
from tests.platform_import.helpers import Run, objects_match_rows
from tests.support import http_post, http_put

RunImport = Callable[..., Run]


def review_of(session: Any, platform_id: int) -> SequenceReview | None:
    sequence = sequence_by_platform_id(session, platform_id)
    return session.scalars(
        sa.select(SequenceReview).where(SequenceReview.sequence_id == sequence.id)
    ).one_or_none()


def email_of(session: Any, user_id: Any) -> str | None:
    return session.get(User, user_id).email if user_id else None


def test_import_brings_reviews_in_exactly(run_import: RunImport, local_lookout: Any) -> None:
    run = run_import()
    assert run.exit_code == 0, run.output
    assert run.stat("Total sequences") == 5
    assert run.stat("Sequences created") == 5
    assert run.stat("Frames created") == 9
    assert run.stat("Reviews created") == 4
    assert run.stat("Sequences without annotation") == 1
    assert run.stat("Detection annotations created") == 3
    assert run.stat("Failed sequences") == 0
    with local_lookout.sessions() as session:
        # Annotated by alice: a wildfire track on three frames, a false positive on two.
        seq = sequence_by_platform_id(session, 9001)
        assert session.get(Project, seq.project_id).name == "org1"
        assert seq.source_label == "wildfire_smoke"
        frames = frame_ids(session, seq.id)
        assert sorted(frames) == ["90010", "90011", "90012"]
        review = review_of(session, 9001)
        assert review is not None
        assert review.processing_stage == "annotated"
        assert email_of(session, review.reviewed_by_id) == "alice@pyro-annotator.invalid"
        assert review.reviewed_at == datetime(2024, 1, 2, 8, 5, tzinfo=UTC)
        assert review.tracks == [
            {
                "decision": "smoke",
                "is_smoke": True,
                "smoke_type": "wildfire",
                "false_positive_types": [],
                "confidence": None,
                "boxes": [
                    {
                        "frame_id": frames["90010"],
                        "xyxyn": [0.1, 0.2, 0.3, 0.4],
                        "confidence": None,
                    },
                    {
                        "frame_id": frames["90011"],
                        "xyxyn": [0.12, 0.2, 0.32, 0.42],
                        "confidence": None,
                    },
                    {
                        "frame_id": frames["90012"],
                        "xyxyn": [0.14, 0.2, 0.34, 0.44],
                        "confidence": None,
                    },
                ],
            },
            {
                "decision": "false_positive",
                "is_smoke": False,
                "smoke_type": None,
                "false_positive_types": ["antenna", "building"],
                "confidence": None,
                "boxes": [
                    {
                        "frame_id": frames["90010"],
                        "xyxyn": [0.6, 0.6, 0.7, 0.8],
                        "confidence": None,
                    },
                    {
                        "frame_id": frames["90011"],
                        "xyxyn": [0.6, 0.6, 0.7, 0.8],
                        "confidence": None,
                    },
                ],
            },
        ]
        assert (review.has_smoke, review.has_false_positives, review.has_missed_smoke) == (
            True,
            True,
            False,
        )
        assert review.smoke_types == ["wildfire"]
        assert review.false_positive_types == ["antenna", "building"]
        assert review.is_unsure is False
        history = session.scalars(
            sa.select(ReviewVersion).where(ReviewVersion.review_id == review.id)
        ).all()
        assert [(v.action, v.version) for v in history] == [("import", 1)]
        assert history[0].saved_at == datetime(2024, 1, 2, 8, 5, tzinfo=UTC)
        assert email_of(session, history[0].saved_by_id) == "alice@pyro-annotator.invalid"

        # seq_annotation_done by bob then alice: annotated, industrial, missed smoke.
        review = review_of(session, 9002)
        assert review is not None
        seq2 = sequence_by_platform_id(session, 9002)
        assert session.get(Project, seq2.project_id).name == "org2"
        assert review.processing_stage == "annotated"
        assert [(t["decision"], t["smoke_type"], len(t["boxes"])) for t in review.tracks] == [
            ("smoke", "industrial", 2)
        ]
        assert review.has_missed_smoke is True
        assert email_of(session, review.reviewed_by_id) == "alice@pyro-annotator.invalid"
        assert review.draft_params["contributors"] == ["bob", "alice"]

        # An automatic draft stays a draft: undecided, nobody's.
        review = review_of(session, 9003)
        assert review is not None
        assert review.processing_stage == "ready_to_annotate"
        assert [t["decision"] for t in review.tracks] == ["undecided"]
        assert review.reviewed_by_id is None and review.reviewed_at is None

        # No annotation: frames, no review.
        assert review_of(session, 9004) is None
        assert len(frame_ids(session, sequence_by_platform_id(session, 9004).id)) == 1

        # Unsure, a false positive without boxes, by bob.
        review = review_of(session, 9005)
        assert review is not None
        assert review.is_unsure is True
        assert review.tracks[0]["decision"] == "false_positive"
        assert review.tracks[0]["false_positive_types"] == ["high_cloud"]
        assert review.tracks[0]["boxes"] == []
        assert email_of(session, review.reviewed_by_id) == "bob@pyro-annotator.invalid"

        # The platform's boxes on every frame, people's boxes on the three annotated frames.
        models = session.execute(
            sa.select(Analysis.model_name, sa.func.count()).group_by(Analysis.model_name)
        ).all()
        assert dict(models) == {"platform": 9, "pyro-annotator": 3}
        drawn = session.execute(
            sa.select(Image.source_id, Prediction.x1, Prediction.x2, Prediction.data)
            .join(Analysis, Analysis.id == Prediction.analysis_id)
            .join(Image, Image.id == Analysis.image_id)
            .where(Analysis.model_name == "pyro-annotator")
            .order_by(Image.source_id)
        ).all()
        assert [(r.source_id, round(r.x1, 6), round(r.x2, 6)) for r in drawn] == [
            ("90010", 0.1, 0.3),
            ("90011", 0.12, 0.32),
            ("90012", 0.14, 0.34),
        ]
        assert {r.data["smoke_type"] for r in drawn} == {"wildfire"}
    assert objects_match_rows(local_lookout)


def test_a_rerun_creates_nothing(run_import: RunImport, local_lookout: Any) -> None:
    first = run_import()
    assert first.exit_code == 0, first.output
    before = counts(local_lookout)
    assert before["sequence_reviews"] == 4 and before["images"] == 9
    second = run_import()
    assert second.exit_code == 0, second.output
    assert counts(local_lookout) == before
    assert second.stat("Sequences created") == 0
    assert second.stat("Sequences already present") == 5
    assert second.stat("Frames created") == 0
    assert second.stat("Frames already present") == 9
    assert second.stat("Reviews created") == 0
    assert second.stat("Reviews unchanged (already imported)") == 4
    assert second.stat("Detection annotations already present") == 3
    with local_lookout.sessions() as session:
        assert {r.version for r in session.scalars(sa.select(SequenceReview))} == {1}


def test_a_review_changed_in_lookout_is_kept(
    run_import: RunImport, local_lookout: Any, annotator: RunningFakeAnnotator
) -> None:
    assert run_import().exit_code == 0
    with local_lookout.sessions() as session:
        seq1 = sequence_by_platform_id(session, 9001)
        review = review_of(session, 9001)
        assert review is not None
        tracks, version = review.tracks, review.version
    # A person in Lookout decides the false positive was smoke after all.
    changed = [tracks[0], {**tracks[1], "decision": "smoke", "smoke_type": "other"}]
    answer = http_put(
        f"{local_lookout.url}/api/sequences/{seq1.id}/review",
        json={"tracks": changed, "processing_stage": "annotated", "version": version},
    )
    assert answer.status_code == 200, answer.text
    # Meanwhile both sequences change in pyro-annotator.
    data = annotator.data
    for ann in data.sequence_annotations.values():
        if ann["sequence_id"] in (1, 2):
            ann["annotation"]["sequences_bbox"][0]["smoke_type"] = "other"
            ann["updated_at"] = "2024-02-01T10:00:00Z"
    run = run_import()
    assert run.exit_code == 0, run.output
    assert run.stat("Reviews kept (changed or made in Lookout)") == 1
    assert run.stat("Reviews updated (changed in pyro-annotator)") == 1
    assert run.stat("Reviews unchanged (already imported)") == 2
    with local_lookout.sessions() as session:
        kept = review_of(session, 9001)
        assert kept is not None
        assert kept.version == version + 1
        assert [t["smoke_type"] for t in kept.tracks] == ["wildfire", "other"]
        assert email_of(session, kept.reviewed_by_id) == "local-admin@localhost"
        updated = review_of(session, 9002)
        assert updated is not None
        assert updated.version == 2
        assert updated.tracks[0]["smoke_type"] == "other"
        assert updated.reviewed_at == datetime(2024, 2, 1, 10, 0, tzinfo=UTC)
        actions = session.scalars(
            sa.select(ReviewVersion.action)
            .where(ReviewVersion.review_id == updated.id)
            .order_by(ReviewVersion.version)
        ).all()
        assert actions == ["import", "import"]
    # Kept means kept: a third run changes nothing either.
    again = run_import()
    assert again.stat("Reviews kept (changed or made in Lookout)") == 1
    assert again.stat("Reviews updated (changed in pyro-annotator)") == 0


def test_a_review_made_in_lookout_first_is_kept(
    run_import: RunImport, local_lookout: Any, annotator: RunningFakeAnnotator
) -> None:
    # Only sequence 4 (no annotation) exists in pyro-annotator's list at first.
    data = annotator.data
    hidden = {k: v for k, v in data.sequence_annotations.items() if v["sequence_id"] == 5}
    for key in hidden:
        del data.sequence_annotations[key]
    assert run_import().exit_code == 0
    with local_lookout.sessions() as session:
        seq5 = sequence_by_platform_id(session, 9005)
        assert review_of(session, 9005) is None
    answer = http_put(
        f"{local_lookout.url}/api/sequences/{seq5.id}/review",
        json={"tracks": [], "processing_stage": "annotated"},
    )
    assert answer.status_code == 200, answer.text
    data.sequence_annotations.update(hidden)
    run = run_import()
    assert run.exit_code == 0, run.output
    assert run.stat("Reviews kept (changed or made in Lookout)") == 1
    with local_lookout.sessions() as session:
        review = review_of(session, 9005)
        assert review is not None
        assert review.tracks == [] and review.is_unsure is False


def test_dry_run_writes_nothing(run_import: RunImport, local_lookout: Any) -> None:
    before = counts(local_lookout)
    run = run_import("--dry-run")
    assert run.exit_code == 0, run.output
    assert "Dry run: nothing was written" in run.stdout
    assert run.stat("Sequences created") == 5
    assert run.stat("Frames created") == 9
    assert run.stat("Reviews created") == 4
    assert run.stat("Detection annotations created") == 3
    assert counts(local_lookout) == before
    assert before["sequences"] == 0
    assert objects_match_rows(local_lookout)
    # After a real run, a dry run finds everything present.
    assert run_import().exit_code == 0
    after = counts(local_lookout)
    again = run_import("--dry-run")
    assert again.stat("Sequences created") == 0
    assert again.stat("Reviews unchanged (already imported)") == 4
    assert counts(local_lookout) == after


def test_sequences_of_the_platform_import_are_matched(
    run_import: RunImport, local_lookout: Any
) -> None:
    """A sequence the platform import stored (same source ids) gains its review, not a twin."""
    from lookout.accounts import service as accounts
    from lookout.projects import service as projects
    from lookout.sequences import service as sequences
    from tests.support import jpeg_bytes

    with local_lookout.sessions() as session:
        admin = accounts.get_or_create_user(session, email="local-admin@localhost", is_admin=True)
        session.commit()
        principal = accounts.principal_for(session, admin, via="local")
        project, _ = projects.create_project(
            session, principal=principal, name="org1", group="org1", create_group=True
        )
        seq, _ = sequences.get_or_create_sequence(
            session,
            principal=principal,
            values={
                "project_id": project.id,
                "source": "pyronear",
                "source_id": "9001",
                "started_at": datetime(2024, 1, 1, 8, 0, tzinfo=UTC),
            },
        )
        seq_id = seq.id
    frame = http_post(
        f"{local_lookout.url}/api/sequences/{seq_id}/frames",
        files={"file": ("f.jpg", jpeg_bytes(), "image/jpeg")},
        data={"metadata": '{"source": "pyronear", "source_id": "90010"}'},
    )
    assert frame.status_code == 201, frame.text
    run = run_import()
    assert run.exit_code == 0, run.output
    assert run.stat("Sequences already present") == 1
    assert run.stat("Sequences created") == 4
    assert run.stat("Frames already present") == 1
    assert run.stat("Frames created") == 8
    with local_lookout.sessions() as session:
        assert sequence_by_platform_id(session, 9001).id == seq_id
        frames = frame_ids(session, seq_id)
        assert frames["90010"] == frame.json()["id"]
        review = review_of(session, 9001)
        assert review is not None
        assert review.tracks[0]["boxes"][0]["frame_id"] == frame.json()["id"]


def test_a_malformed_annotation_fails_its_sequence_only(
    run_import: RunImport, local_lookout: Any, annotator: RunningFakeAnnotator
) -> None:
    for ann in annotator.data.sequence_annotations.values():
        if ann["sequence_id"] == 2:
            ann["annotation"]["sequences_bbox"][0]["bboxes"][0]["xyxyn"] = [0.9, 0.1, 0.2, 0.3]
    run = run_import()
    assert run.exit_code == 1
    assert run.stat("Invalid pyro-annotator items") == 1
    assert run.stat("Failed sequences") == 1
    assert run.stat("Successful sequences") == 4
    assert run.stat("Sequences without annotation") == 1
    assert "sequence annotation 2" in run.output
    assert "x1 <= x2" in run.output
    assert "its annotation has an unexpected shape, so no review" in run.output
    # The malformed annotation is not written (its sequence and frames are); the others are.
    assert run.stat("Reviews created") == 3
    with local_lookout.sessions() as session:
        assert review_of(session, 9002) is None
        assert len(frame_ids(session, sequence_by_platform_id(session, 9002).id)) == 2
        assert review_of(session, 9001) is not None


def test_bad_credentials_stop_with_exit_1(run_import: RunImport, local_lookout: Any) -> None:
    run = run_import(PYRO_ANNOTATOR_PASSWORD="wrong")
    assert run.exit_code == 1
    assert (
        "Processing failed: Failed to log in to pyro-annotator as 'admin': HTTP 401: "
        "Incorrect username or password"
    ) in run.stderr
    assert counts(local_lookout)["sequences"] == 0
    token = run_import(PYRO_ANNOTATOR_USERNAME=None, PYRO_ANNOTATOR_TOKEN="not-a-token")
    assert token.exit_code == 1
    assert "Could not validate credentials" in token.stderr


def test_unreachable_server_stops_with_exit_1(run_import: RunImport, local_lookout: Any) -> None:
    run = run_import(url="http://127.0.0.1:9")
    assert run.exit_code == 1
    assert "Cannot reach pyro-annotator at http://127.0.0.1:9" in run.stderr
    assert counts(local_lookout)["sequences"] == 0


def test_the_2025_api_without_accounts(run_import: RunImport, local_lookout: Any) -> None:
    with start_fake_annotator(demo_data_2025()) as old:
        run = run_import(url=old.url, PYRO_ANNOTATOR_USERNAME=None, PYRO_ANNOTATOR_PASSWORD=None)
        assert run.exit_code == 0, run.output
        assert run.stat("Reviews created") == 4
        with local_lookout.sessions() as session:
            assert sequence_by_platform_id(session, 9001).source_label == "True"
            assert sequence_by_platform_id(session, 9004).source_label == "False"
            review = review_of(session, 9001)
            assert review is not None
            assert [(t["decision"], t["smoke_type"]) for t in review.tracks] == [
                ("smoke", None),
                ("false_positive", None),
            ]
            assert review.tracks[1]["false_positive_types"] == ["antenna", "building"]
            assert review.reviewed_by_id is None
            assert review.reviewed_at == datetime(2024, 1, 2, 8, 5, tzinfo=UTC)
            seq2 = review_of(session, 9002)
            assert seq2 is not None and seq2.processing_stage == "annotated"
        # Credentials for a server without accounts: said, then read without them.
        again = run_import(url=old.url)
        assert again.exit_code == 0, again.output
        assert "has no login" in again.stderr
        assert again.stat("Reviews unchanged (already imported)") == 4


def test_no_credentials_for_a_server_with_accounts(
    run_import: RunImport, local_lookout: Any
) -> None:
    run = run_import(PYRO_ANNOTATOR_USERNAME=None, PYRO_ANNOTATOR_PASSWORD=None)
    assert run.exit_code == 1
    assert "HTTP 401: Not authenticated" in run.stderr
    assert "set PYRO_ANNOTATOR_USERNAME and PYRO_ANNOTATOR_PASSWORD" in run.stderr
    assert counts(local_lookout)["sequences"] == 0


def test_transient_errors_are_retried(
    run_import: RunImport, local_lookout: Any, annotator: RunningFakeAnnotator
) -> None:
    annotator.state.fail_next("/api/v1/auth/login", 1)
    annotator.state.fail_next("/api/v1/sequences/", 1)
    annotator.state.fail_next("/api/v1/detections/1/url", 1)
    annotator.state.fail_next("/fake-bucket/sequences/1/detections/2.jpg", 1)
    run = run_import()
    assert run.exit_code == 0, run.output
    assert run.stat("Reviews created") == 4
    assert run.stat("Frames created") == 9
    requests = annotator.state.requests
    assert requests["/api/v1/auth/login"] == 2
    assert requests["/api/v1/detections/1/url"] == 2
    assert requests["/fake-bucket/sequences/1/detections/2.jpg"] == 2


def test_a_frame_that_cannot_be_fetched_fails_its_sequence_only(
    run_import: RunImport, local_lookout: Any, annotator: RunningFakeAnnotator
) -> None:
    key = "sequences/1/detections/2.jpg"
    image = annotator.data.images.pop(key)
    run = run_import()
    assert run.exit_code == 1
    assert run.stat("Failed sequences") == 1
    assert run.stat("Frames failed") == 1
    assert run.stat("Reviews created") == 3
    assert "1 of 3 frames could not be stored, so no review" in run.output
    with local_lookout.sessions() as session:
        assert review_of(session, 9001) is None
        assert sorted(frame_ids(session, sequence_by_platform_id(session, 9001).id)) == [
            "90010",
            "90012",
        ]
    assert objects_match_rows(local_lookout)
    # Once the image is back, the next run adds the frame and the review.
    annotator.data.images[key] = image
    again = run_import()
    assert again.exit_code == 0, again.output
    assert again.stat("Frames created") == 1
    assert again.stat("Reviews created") == 1
    with local_lookout.sessions() as session:
        review = review_of(session, 9001)
        assert review is not None
        assert [len(t["boxes"]) for t in review.tracks] == [3, 2]


def test_other_origins_keep_their_own_ids(
    run_import: RunImport, local_lookout: Any, annotator: RunningFakeAnnotator
) -> None:
    """An AlertWildfire sequence's ids are not the Pyronear platform's: kept apart."""
    annotator.data.sequences[4]["source_api"] = "alert_wildfire"
    run = run_import()
    assert run.exit_code == 0, run.output
    with local_lookout.sessions() as session:
        from lookout.sequences.models import Sequence

        seq = session.scalars(sa.select(Sequence).where(Sequence.source_id == "9004")).one()
        assert seq.source == "alert_wildfire"
        frame = session.scalars(sa.select(Image).where(Image.sequence_id == seq.id)).one()
        assert (frame.source, frame.source_id) == ("alert_wildfire", "90040")
        versions = session.scalars(
            sa.select(Analysis.model_version).where(Analysis.image_id == frame.id)
        ).all()
        assert versions == ["alert_wildfire"]


def test_a_detection_annotation_changed_in_pyro_annotator_replaces_its_analysis(
    run_import: RunImport, local_lookout: Any, annotator: RunningFakeAnnotator
) -> None:
    assert run_import().exit_code == 0
    row = next(a for a in annotator.data.detection_annotations.values() if a["detection_id"] == 2)
    row["annotation"]["annotation"].append(
        {"xyxyn": [0.5, 0.5, 0.6, 0.7], "class_name": "smoke", "smoke_type": "other"}
    )
    row["updated_at"] = "2024-03-01T09:00:00Z"
    run = run_import()
    assert run.exit_code == 0, run.output
    assert run.stat("Detection annotations updated") == 1
    assert run.stat("Detection annotations already present") == 2
    with local_lookout.sessions() as session:
        boxes = session.execute(
            sa.select(Prediction.x1, Prediction.data)
            .join(Analysis, Analysis.id == Prediction.analysis_id)
            .join(Image, Image.id == Analysis.image_id)
            .where(Analysis.model_name == "pyro-annotator", Image.source_id == "90011")
            .order_by(Prediction.x1)
        ).all()
        assert [(round(b.x1, 6), b.data["smoke_type"]) for b in boxes] == [
            (0.12, "wildfire"),
            (0.5, "other"),
        ]
        assert (
            session.scalar(
                sa.select(sa.func.count()).where(Analysis.model_name == "pyro-annotator")
            )
            == 3
        )
    assert run_import().stat("Detection annotations already present") == 3


def test_a_lane_split_off_an_alert_is_a_sequence_of_its_own(
    run_import: RunImport, local_lookout: Any, annotator: RunningFakeAnnotator
) -> None:
    """pyro-annotator splits an alert into object lanes: a sibling's alert_api_id is synthetic
    (its platform_alert_id is the platform's), and it shares the platform's detections."""
    from lookout.fake_annotator.data import START, add_sequence, add_sequence_annotation, box, track

    data = annotator.data
    lane_id = 1_000_000_000 + 9001 * 1000 + 1
    dets = add_sequence(
        data,
        6,
        alert_api_id=lane_id,
        camera=(11, "cam-a"),
        organisation=(1, "org1"),
        recorded_at=START,
        frames=2,
    )
    data.sequences[6]["platform_alert_id"] = 9001
    for index, det in enumerate(dets):
        data.detections[det]["alert_api_id"] = 90010 + index  # the primary lane's detections
    add_sequence_annotation(
        data,
        6,
        [track(False, [box(dets[0], [0.7, 0.1, 0.8, 0.2])], false_positive_types=["sky"])],
        stage="annotated",
        contributors=["bob"],
        at=START,
    )
    run = run_import()
    assert run.exit_code == 0, run.output
    assert run.stat("Sequences created") == 6
    assert run.stat("Reviews created") == 5
    with local_lookout.sessions() as session:
        from lookout.sequences.models import Sequence

        lane = session.scalars(sa.select(Sequence).where(Sequence.source_id == str(lane_id))).one()
        assert lane.source == "pyro-annotator"
        assert lane.extra["pyro_annotator"]["platform_alert_id"] == 9001
        assert sorted(frame_ids(session, lane.id)) == [str(d) for d in dets]
        assert sorted(frame_ids(session, sequence_by_platform_id(session, 9001).id)) == [
            "90010",
            "90011",
            "90012",
        ]
        review = session.scalars(
            sa.select(SequenceReview).where(SequenceReview.sequence_id == lane.id)
        ).one()
        assert review.tracks[0]["false_positive_types"] == ["sky"]
        assert review.tracks[0]["boxes"][0]["frame_id"] == frame_ids(session, lane.id)[str(dets[0])]
    again = run_import()
    assert again.stat("Sequences created") == 0
    assert again.stat("Frames created") == 0
    assert again.stat("Reviews unchanged (already imported)") == 5


def test_every_page_is_read(
    run_import: RunImport, local_lookout: Any, annotator: RunningFakeAnnotator
) -> None:
    """More sequences and annotations than one page (100) holds."""
    from datetime import timedelta

    from lookout.fake_annotator.data import START, add_sequence, add_sequence_annotation, box, track

    data = annotator.data
    for number in range(100, 205):
        dets = add_sequence(
            data,
            number,
            alert_api_id=20_000 + number,
            camera=(13, "cam-c"),
            organisation=(1, "org1"),
            recorded_at=START + timedelta(days=1, minutes=number),
            frames=1,
        )
        add_sequence_annotation(
            data,
            number,
            [track(True, [box(dets[0], [0.3, 0.3, 0.5, 0.5])], smoke_type="other")],
            stage="annotated",
            contributors=["alice"],
            at=START + timedelta(days=2),
        )
    run = run_import("--no-detection-annotations")
    assert run.exit_code == 0, run.output
    assert run.stat("Total sequences") == 110
    assert run.stat("Reviews created") == 109
    assert run.stat("Detection annotations created") == 0
    assert annotator.state.requests["/api/v1/sequences/"] == 2
    assert annotator.state.requests["/api/v1/annotations/sequences/"] == 2
    with local_lookout.sessions() as session:
        review = review_of(session, 20_204)
        assert review is not None and review.smoke_types == ["other"]


def test_dates_choose_the_sequences(run_import: RunImport, local_lookout: Any) -> None:
    later = run_import("--date-from", "2024-01-02")
    assert later.exit_code == 0, later.output
    assert later.stat("Total sequences") == 0
    assert counts(local_lookout)["sequences"] == 0
    day = run_import("--date-from", "2024-01-01", "--date-end", "2024-01-01")
    assert day.exit_code == 0, day.output
    assert day.stat("Total sequences") == 5
