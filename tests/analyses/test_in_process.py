"""The in-process API other domains call inside their own transaction, and signature upkeep."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from lookout.analyses import bulk, service
from lookout.analyses.models import Analysis, Prediction
from lookout.auth import dependencies, signatures
from lookout.auth.models import SeenSignature
from lookout.errors import InvalidInput
from lookout.images.models import Image
from tests.analyses.ml_support import Setup, box


def test_create_row_and_insert_annotations_share_the_callers_transaction(ml: Setup):
    with ml.lookout.sessions() as session:
        image = session.get_one(Image, uuid.UUID(ml.image_id))
        analysis = service.create_analysis_row(
            session,
            image=image,
            model_name="platform",
            model_version="2024",
            provenance={"source": "pyronear"},
            status="completed",
        )
        assert analysis.completed_at is not None
        inserted = bulk.insert_annotations(
            session,
            analysis=analysis,
            image=image,
            annotations=[
                box(0.1, 0.2, 0.3, 0.4, fmt="xyxyn", id="det-1", class_name="smoke"),
                box(0.5, 0.5, 0.1, 0.1, fmt="xywhn", id="det-2", class_name="smoke"),
            ],
        )
        assert [p.client_id for p in inserted] == ["det-1", "det-2"]
        assert (inserted[0].x1, inserted[0].y2) == pytest.approx((0.1, 0.4))
        session.rollback()  # the caller decides: nothing was committed
    with ml.lookout.sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Analysis)) == 0
        image = session.get_one(Image, uuid.UUID(ml.image_id))
        analysis = service.create_analysis_row(
            session, image=image, model_name="platform", model_version="2024"
        )
        items = [box(id="det-1"), box(id="det-2")]
        assert (
            len(bulk.insert_annotations(session, analysis=analysis, image=image, annotations=items))
            == 2
        )
        again = bulk.insert_annotations(
            session, analysis=analysis, image=image, annotations=[*items, box(id="det-3")]
        )
        assert [p.client_id for p in again] == ["det-3"]
        with pytest.raises(InvalidInput) as error:
            bulk.insert_annotations(
                session, analysis=analysis, image=image, annotations=[box(), box(confidence=3)]
            )
        assert error.value.field == "annotations[1].confidence"
        session.commit()
        analysis_id = analysis.id
    listed = ml.client.get(f"/api/analyses/{analysis_id}").json()
    assert listed["model_name"] == "platform" and listed["annotations_total"] == 3
    with ml.lookout.sessions() as session:
        count = session.scalar(sa.select(sa.func.count()).select_from(Prediction))
        assert count == 3


def test_old_signatures_are_purged(shared_sqlite: Setup):
    s = shared_sqlite
    window = s.lookout.settings.ml_hmac_window_seconds
    old = datetime.now(UTC) - timedelta(seconds=2 * window + 5)
    with s.lookout.sessions() as session:
        session.add(SeenSignature(digest="a" * 64, seen_at=old))
        session.add(SeenSignature(digest="b" * 64, seen_at=datetime.now(UTC)))
        session.commit()
    dependencies._last_purge = 0.0  # the next callback may purge again
    analysis_id = s.create_analysis()["id"]
    assert (
        s.v1("PATCH", f"/api/analyses/{analysis_id}/status", {"status": "processing"}).status_code
        == 200
    )
    with s.lookout.sessions() as session:
        digests = set(session.scalars(sa.select(SeenSignature.digest)))
    assert "a" * 64 not in digests and "b" * 64 in digests
    with s.lookout.sessions() as session:
        assert signatures.purge(session, now=time.time() + 10 * window, window=window) >= 2
        session.commit()
