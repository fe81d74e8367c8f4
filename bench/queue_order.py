"""Queue order: claiming the next sequence by disagreement in a project of 100,000 sequences.

    uv run python -m bench queue-order            # 100,000 waiting sequences, PostgreSQL
    uv run python -m bench queue-order --quick    # 10,000

The project's sequences, their drafts (ready to review) and one disagreement score each are
inserted with SQL (generate_series), statistics refreshed, then `lookout serve` answers
`POST /api/review-queue/claim` with `{"order": "disagreement", "model": ...}`, one claim at a
time, each followed by a skip (so every claim takes a new sequence: the one with the highest
score nobody holds or skipped). Target: p99 of the claims <= 50 ms (the ratio printed is
p99 / 50 ms). The same claims oldest first are measured for reference, and the plan
PostgreSQL uses for the disagreement candidates is printed (the index it walks).

Then the project gets a long history: every sequence but the newest 2% is reviewed (as in a
project reviewed day after day), statistics are refreshed, and claims oldest first in the
project are measured the same way (same target): a claim must cost what the queue holds,
not what the project ever held.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from bench.common import (
    LookoutServer,
    Report,
    analyze,
    api_key,
    at_most,
    create_project,
    log,
    median,
    percentile,
    postgres,
    standard_args,
    timed,
)

TARGET_MS = 50.0
MODEL = "bench_model@1"


def insert_queue(database_url: str, project_id: str, count: int) -> None:
    """`count` waiting sequences with drafts and a disagreement score each (one statement
    per table, generate_series: the fastest bulk insert PostgreSQL has after COPY)."""
    engine = sa.create_engine(database_url)
    params = {"project": project_id, "n": count, "model": MODEL}
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO sequences (id, project_id, source, source_id, started_at, extra, "
                    "created_at, updated_at) SELECT md5('seq' || g)::uuid, CAST(:project AS uuid), "
                    "'bench', 'seq-' || g, t, '{}', t, t FROM generate_series(1, :n) AS g, "
                    "LATERAL (SELECT TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * interval '1 minute'"
                    " AS t) AS ts"
                ),
                params,
            )
            conn.execute(
                sa.text(
                    "INSERT INTO sequence_reviews (id, sequence_id, tracks, has_smoke, "
                    "has_false_positives, false_positive_types, smoke_types, has_missed_smoke, "
                    "is_unsure, processing_stage, draft_params, version, created_at, updated_at, "
                    "sequence_started_at) "
                    "SELECT md5('rev' || g)::uuid, md5('seq' || g)::uuid, '[]', false, false, "
                    "'[]', '[]', false, false, 'ready_to_annotate', '{}', 1, now(), now(), "
                    "TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * interval '1 minute' "
                    "FROM generate_series(1, :n) AS g"
                ),
                params,
            )
            conn.execute(
                sa.text(
                    "INSERT INTO queue_scores (sequence_id, kind, model, against, project_id, "
                    "score, count, computed_at) SELECT md5('seq' || g)::uuid, 'disagreement', "
                    ":model, '', CAST(:project AS uuid), round((random() * 3)::numeric, 6), 10, "
                    "now() FROM generate_series(1, :n) AS g"
                ),
                params,
            )
    finally:
        engine.dispose()


def claims(client: httpx.Client, body: dict[str, Any], n: int) -> list[float]:
    """Milliseconds of `n` claims, each followed by a skip of what it claimed."""
    times: list[float] = []
    for _ in range(n):
        began = time.perf_counter()
        response = client.post("/api/review-queue/claim", json=body)
        times.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
        assert response.status_code == 200, "the queue should not run dry"
        skipped = client.post(
            "/api/review-queue/skip", json={"sequence_id": response.json()["sequence"]["id"]}
        )
        skipped.raise_for_status()
    return times


def explain(database_url: str, project_id: str, order: str = "disagreement") -> dict[str, Any]:
    """PostgreSQL's plan for a claim's candidates in `order` (disagreement by the bench's
    model, or a sequence order such as `oldest`), as the claim runs them."""
    from lookout.auth.principal import Principal
    from lookout.db import make_engine, make_session_factory, utcnow
    from lookout.reviewing.repository import ReviewQueueRepository
    from lookout.scoring.repository import QueueOrder
    from lookout.sequences.service import SequenceFilters

    engine = make_engine(database_url, pool_size=1)
    try:
        with make_session_factory(engine)() as session:
            principal = Principal(user_id=uuid.uuid4(), email="bench@example.org", is_admin=True)
            repo = ReviewQueueRepository(session, principal)
            filters = SequenceFilters(project_id=uuid.UUID(project_id))
            by = QueueOrder(order, model=MODEL) if order == "disagreement" else QueueOrder(order)
            captured: list[tuple[str, Any]] = []

            @sa.event.listens_for(engine, "before_cursor_execute")
            def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
                if statement.lstrip().startswith("SELECT sequences.id"):
                    captured.append((statement, parameters))

            repo.candidates(filters, now=utcnow(), limit=20, order=by)
            statement, parameters = captured[0]
            plan = (
                session.connection()
                .exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
                .scalar()
            )
    finally:
        engine.dispose()
    top = plan[0]
    indexes: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "Index Name" in node:
            indexes.append(f"{node['Node Type']} using {node['Index Name']}")
        for child in node.get("Plans", []):
            walk(child)

    walk(top["Plan"])
    return {"plan": sorted(set(indexes)), "plan_execution_ms": top["Execution Time"]}


def measure(report: Report, url: str, size: int, n: int, rounds: int, workers: int) -> None:
    with LookoutServer(url, workers=workers) as server:
        key = api_key(url)
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as client:
            project = create_project(client, "queue")
            with timed() as took:
                insert_queue(url, project, size)
                analyze(url)
            log(f"inserted {size:,} sequences, drafts and scores in {took.seconds:.1f} s")
            by_value = {"project_id": project, "order": "disagreement", "model": MODEL}
            oldest = {"project_id": project, "order": "oldest"}
            claims(client, by_value, 10)  # warm up both paths
            claims(client, oldest, 10)
            p99s, p50s, reference = [], [], []
            for round_ in range(rounds):
                times = claims(client, by_value, n)
                p99s.append(percentile(times, 99))
                p50s.append(percentile(times, 50))
                reference.append(percentile(claims(client, oldest, n), 99))
                log(
                    f"round {round_ + 1}: disagreement p50 {p50s[-1]:.1f} ms, "
                    f"p99 {p99s[-1]:.1f} ms; oldest first p99 {reference[-1]:.1f} ms"
                )
            by_value_plan = explain(url, project)  # before the history below changes it
            history = claims_in_history(client, url, project, size, n, rounds)
    p99 = median(p99s)
    report.figure(
        f"postgres.claim_by_disagreement_in_{size}",
        p99,
        "ms (p99)",
        reference=TARGET_MS,
        ratio=p99 / TARGET_MS,
        target=at_most(1.0),
        p50_ms=median(p50s),
        oldest_first_p99_ms=median(reference),
        claims_per_round=n,
        sequences=size,
        rounds=p99s,
        **by_value_plan,
    )
    report.figure(
        f"postgres.claim_oldest_in_{size}_history",
        median(history["p99"]),
        "ms (p99)",
        reference=TARGET_MS,
        ratio=median(history["p99"]) / TARGET_MS,
        target=at_most(1.0),
        p50_ms=median(history["p50"]),
        waiting=history["waiting"],
        sequences=size,
        claims_per_round=n,
        rounds=history["p99"],
        **explain(url, project, "oldest"),
    )


def review_all_but_newest(database_url: str, project_id: str, waiting: int) -> None:
    """Mark every review of the project annotated but those of its `waiting` newest
    sequences (a project reviewed day after day), then VACUUM ANALYZE as autovacuum would."""
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(
                sa.text(
                    "UPDATE sequence_reviews SET processing_stage = 'annotated' WHERE "
                    "sequence_id IN (SELECT id FROM sequences WHERE project_id = "
                    "CAST(:project AS uuid) ORDER BY started_at DESC OFFSET :waiting)"
                ),
                {"project": project_id, "waiting": waiting},
            )
            conn.execute(sa.text("VACUUM ANALYZE"))
    finally:
        engine.dispose()


def claims_in_history(
    client: httpx.Client, url: str, project: str, size: int, n: int, rounds: int
) -> dict[str, Any]:
    """p50s and p99s of claims oldest first once all but the newest sequences are reviewed."""
    waiting = max(size // 50, n * rounds + 20)
    review_all_but_newest(url, project, waiting)
    oldest = {"project_id": project, "order": "oldest"}
    claims(client, oldest, 10)
    p50s, p99s = [], []
    for round_ in range(rounds):
        times = claims(client, oldest, n)
        p50s.append(percentile(times, 50))
        p99s.append(percentile(times, 99))
        log(
            f"history round {round_ + 1} ({waiting:,} of {size:,} waiting): oldest first "
            f"p50 {p50s[-1]:.1f} ms, p99 {p99s[-1]:.1f} ms"
        )
    return {"p50": p50s, "p99": p99s, "waiting": waiting}


def main(argv: list[str] | None = None) -> int:
    args = standard_args(__doc__.split("\n\n")[0], argv)
    size = 10_000 if args.quick else 100_000
    n = 50 if args.quick else 200
    report = Report("queue-order")
    with postgres() as pg:
        measure(report, pg.database(), size, n, args.rounds, args.workers)
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
