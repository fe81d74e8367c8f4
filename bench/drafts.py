"""Draft generation: does drafting stay linear in the length of the sequences?

    uv run python -m bench drafts            # clustering: 10,000 sequences; database: 2,000
    uv run python -m bench drafts --quick    # clustering: 2,000 sequences; database: 300

Two figures, each comparing sequences of 60 frames with sequences of 30 frames (3 predicted
boxes per frame: two smoke plumes drifting slowly and one stray box):

- clustering alone (`cluster_tracks`, in process): 10,000 sequences of each length;
- the whole server-side draft (`reviews.draft_review`: access check, frames and boxes read
  from PostgreSQL, clustering, the review stored), on sequences inserted with SQL
  (generate_series), both lengths in the same database, reviews deleted between passes.

Target: time for the 60-frame sequences <= 2.5x the time for the 30-frame ones (twice the
work; more would mean something grows faster than the data). Rounds alternate the lengths;
medians are reported.
"""

from __future__ import annotations

import gc
import random
import time
import uuid
from typing import Any

import sqlalchemy as sa

from bench.common import Report, analyze, at_most, log, median, postgres, standard_args

BOXES_PER_FRAME = 3


def synthetic_sequence(frames: int, seed: int) -> list[Any]:
    """Two drifting plumes and one stray box per frame (normalized xyxy)."""
    from lookout.sequences.drafting import FrameBox

    rng = random.Random(seed)
    plumes = [
        (rng.uniform(0.05, 0.4), rng.uniform(0.1, 0.6)),
        (rng.uniform(0.5, 0.8), rng.uniform(0.1, 0.6)),
    ]
    out = []
    for f in range(frames):
        frame_id = f"{seed}-{f}"
        for k, (x, y) in enumerate(plumes):
            dx = 0.002 * f * (1 if k == 0 else -1)
            box = (x + dx, y, x + dx + 0.12, y + 0.1)
            out.append(FrameBox(f, frame_id, box, rng.uniform(0.4, 0.95)))
        sx, sy = rng.uniform(0, 0.9), rng.uniform(0, 0.9)
        out.append(FrameBox(f, frame_id, (sx, sy, sx + 0.05, sy + 0.05), rng.uniform(0.1, 0.5)))
    return out


def clustering(report: Report, sequences: int, rounds: int) -> None:
    from lookout.sequences.drafting import DraftParams, cluster_tracks

    params = DraftParams(iou_threshold=0.3)
    data = {n: [synthetic_sequence(n, s) for s in range(sequences)] for n in (30, 60)}
    # Half a million input boxes stay alive all along: keep them out of the garbage
    # collector's full passes, which would otherwise be timed with the clustering.
    gc.collect()
    gc.freeze()
    times: dict[int, list[float]] = {30: [], 60: []}
    ratios = []
    for _ in range(rounds):
        for n in (30, 60):
            began = time.perf_counter()
            tracks = [cluster_tracks(boxes, params) for boxes in data[n]]
            times[n].append(time.perf_counter() - began)
        ratios.append(times[60][-1] / times[30][-1])
        assert all(len(t) >= 2 for t in tracks)
    t30, t60 = median(times[30]), median(times[60])
    log(f"clustering {sequences} sequences: 30 frames {t30:.2f} s, 60 frames {t60:.2f} s")
    report.figure(
        "clustering_60_frames",
        t60,
        "s",
        reference=t30,
        ratio=median(ratios),
        target=at_most(2.5),
        sequences=sequences,
        boxes_per_frame=BOXES_PER_FRAME,
        per_sequence_ms_30=1000 * t30 / sequences,
        per_sequence_ms_60=1000 * t60 / sequences,
    )


def _rand(expr: str) -> str:
    """A deterministic number in [0, 1) from an SQL expression (md5-based)."""
    return f"(('x' || substr(md5({expr}), 1, 8))::bit(32)::bigint / 4294967296.0)"


def load_sequences(url: str, project_id: uuid.UUID, frames: int, count: int) -> None:
    """`count` sequences of `frames` frames, each frame with a completed `platform` analysis
    holding 3 boxes, straight into the tables (generate_series)."""
    engine = sa.create_engine(url)
    p = {"project": project_id, "frames": frames, "count": count, "tag": f"f{frames}"}
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO sequences (id, project_id, source, source_id, started_at, extra, "
                "created_at, updated_at) SELECT gen_random_uuid(), :project, 'bench', "
                ":tag || '-' || s, TIMESTAMPTZ '2024-01-01 00:00:00+00' + s * interval '1 hour', "
                "'{}', now(), now() FROM generate_series(1, :count) AS s"
            ),
            p,
        )
        conn.execute(
            sa.text(
                "INSERT INTO images (id, project_id, sequence_id, object_key, content_type, "
                "size_bytes, width, height, sha256, captured_at, source, source_id, created_at, "
                "updated_at) SELECT gen_random_uuid(), q.project_id, q.id, "
                "'bench/' || q.source_id || '/' || f || '.jpg', 'image/jpeg', 40000, 640, 480, "
                "md5(q.source_id || f), q.started_at + f * interval '30 seconds', 'bench', "
                "q.source_id || '/' || f, now(), now() "
                "FROM sequences q, generate_series(0, :frames - 1) AS f "
                "WHERE q.source = 'bench' AND q.source_id LIKE :tag || '-%'"
            ),
            p,
        )
        conn.execute(
            sa.text(
                "INSERT INTO analyses (id, image_id, model_name, model_version, parameters, "
                "provenance, status, attempts, completed_at, created_at, updated_at) "
                "SELECT gen_random_uuid(), i.id, 'platform', 'bench', '{}', '{}', 'completed', 0, "
                "now(), now(), now() FROM images i "
                "WHERE i.source = 'bench' AND i.source_id LIKE :tag || '-%'"
            ),
            p,
        )
        frame = "split_part(i.source_id, '/', 2)::int"
        plume_x = (
            f"0.05 + 0.35 * {_rand('i.sequence_id::text || k')} "
            f"+ CASE k WHEN 0 THEN 0.002 ELSE -0.002 END * {frame}"
        )
        conn.execute(
            sa.text(
                "INSERT INTO predictions (id, analysis_id, annotation_type, class_name, "
                "confidence, data, x1, y1, x2, y2, created_at) "
                "SELECT gen_random_uuid(), a.id, 'bounding_box', 'smoke', b.conf, "
                "jsonb_build_object('bbox', jsonb_build_array(b.x, b.y, b.x + b.w, b.y + b.w), "
                "'format', 'xyxyn'), b.x, b.y, b.x + b.w, b.y + b.w, "
                "a.created_at + k * interval '1 microsecond' "
                "FROM analyses a JOIN images i ON i.id = a.image_id "
                "CROSS JOIN generate_series(0, 2) AS k CROSS JOIN LATERAL (SELECT "
                f"CASE WHEN k < 2 THEN {plume_x} "
                f"ELSE 0.9 * {_rand('a.id::text || k || 1')} END AS x, "
                f"CASE WHEN k < 2 THEN 0.1 + 0.5 * {_rand('i.sequence_id::text || k || 2')} "
                f"ELSE 0.9 * {_rand('a.id::text || k || 3')} END AS y, "
                "CASE WHEN k < 2 THEN 0.12 ELSE 0.05 END AS w, "
                f"0.4 + 0.5 * {_rand('a.id::text || k || 4')} AS conf) AS b "
                "WHERE i.source = 'bench' AND i.source_id LIKE :tag || '-%'"
            ),
            p,
        )
    engine.dispose()


def database(report: Report, sequences: int, rounds: int) -> None:
    from lookout.accounts import service as accounts
    from lookout.db import make_engine, make_session_factory
    from lookout.projects.models import Project
    from lookout.sequences import reviews
    from lookout.sequences.drafting import DraftParams
    from lookout.sequences.models import Sequence, SequenceReview

    with postgres() as pg:
        url = pg.database()
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with sessions() as session:
            admin = accounts.get_or_create_user(session, email="bench@example.org", is_admin=True)
            group = accounts.get_or_create_group(session, name="bench")
            project = Project(id=uuid.uuid4(), group_id=group.id, name="bench")
            session.add(project)
            session.commit()
            principal = accounts.principal_for(session, admin, via="api_key")
        began = time.perf_counter()
        for frames in (30, 60):
            load_sequences(url, project.id, frames, sequences)
        analyze(url)
        log(f"loaded 2 x {sequences} sequences in {time.perf_counter() - began:.0f} s")
        ids: dict[int, list[uuid.UUID]] = {}
        with sessions() as session:
            for frames in (30, 60):
                query = sa.select(Sequence.id).where(Sequence.source_id.like(f"f{frames}-%"))
                ids[frames] = list(session.scalars(query))
        params = DraftParams(iou_threshold=0.3)
        times: dict[int, list[float]] = {30: [], 60: []}
        ratios, tracks = [], 0
        for _ in range(rounds):
            for frames in (30, 60):
                with sessions() as session:
                    session.execute(sa.delete(SequenceReview))
                    session.commit()
                    began = time.perf_counter()
                    for sequence_id in ids[frames]:
                        outcome = reviews.draft_review(
                            session, principal=principal, sequence_id=sequence_id, params=params
                        )
                        tracks += len(outcome.review.tracks)
                    times[frames].append(time.perf_counter() - began)
            ratios.append(times[60][-1] / times[30][-1])
        engine.dispose()
    assert tracks > 0
    t30, t60 = median(times[30]), median(times[60])
    log(f"draft_review {sequences} sequences: 30 frames {t30:.2f} s, 60 frames {t60:.2f} s")
    report.figure(
        "draft_review_60_frames",
        t60,
        "s",
        reference=t30,
        ratio=median(ratios),
        target=at_most(2.5),
        sequences=sequences,
        boxes_per_frame=BOXES_PER_FRAME,
        per_sequence_ms_30=1000 * t30 / sequences,
        per_sequence_ms_60=1000 * t60 / sequences,
        backend="postgres",
    )


def main(argv: list[str] | None = None) -> int:
    args = standard_args(__doc__.split("\n\n")[0], argv)
    report = Report("drafts")
    clustering(report, 2_000 if args.quick else 10_000, args.rounds)
    database(report, 300 if args.quick else 2_000, args.rounds)
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
