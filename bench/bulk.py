"""Bulk ingest on PostgreSQL: signed `annotations:bulk` posts of 1,000 boxes from 4 clients.

    uv run python -m bench bulk            # 4 clients x 15 posts x 1,000 boxes, 3 rounds
    uv run python -m bench bulk --quick    # 4 clients x 4 posts

Each post is what the SDK's `submit_annotations` sends: compact JSON, a v1 signature (timestamp,
nonce, method, path, body digest) and an Idempotency-Key; each goes to its own analysis (a
pipeline posts one image's results at a time). The reference is the same rows inserted directly
through the database driver: psycopg 3 `executemany` (pipelined), 1,000 rows per transaction,
4 connections at once, in the same run against the same PostgreSQL. Rounds alternate reference
and API; the ratio is the median of each round's own ratio.

Targets: annotations/s >= 0.3 of the driver's rate, and >= 20x the 1,100 annotations/s a
comparable FastAPI service reached (100-box posts, 8 clients) on this class of machine.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.common import (
    LookoutServer,
    Report,
    api_key,
    at_least,
    boxes,
    create_analysis,
    create_project,
    from_list,
    http_request,
    libpq_url,
    load,
    log,
    median,
    postgres,
    signed_bulk_headers,
    standard_args,
    upload_image,
)
from lookout.geometry import to_xyxyn

BOXES = 1000
CLIENTS = 4
FIELD_RATE = 1100.0  # annotations/s of the comparable service (100-box posts, 8 clients)

INSERT = (
    "INSERT INTO predictions (id, analysis_id, annotation_type, class_name, confidence, data, "
    "x1, y1, x2, y2, client_id, created_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def driver_rows(analysis_id: str, seed: int) -> list[tuple[Any, ...]]:
    """The rows the API would store for one post, as driver parameters."""
    from psycopg.types.json import Jsonb

    base = datetime.now(UTC)
    rows = []
    for i, box in enumerate(boxes(BOXES, seed)):
        x1, y1, x2, y2 = to_xyxyn(box["data"]["bbox"], "xywh", 640, 480)
        rows.append(
            (
                uuid.uuid4(),
                uuid.UUID(analysis_id),
                box["annotation_type"],
                box["class_name"],
                box["confidence"],
                Jsonb(box["data"]),
                x1,
                y1,
                x2,
                y2,
                None,
                base + timedelta(microseconds=i),
            )
        )
    return rows


def driver_rate(database_url: str, batches: list[list[tuple[Any, ...]]]) -> float:
    """Rows/s inserting `batches` (one transaction each) from CLIENTS connections at once."""
    import psycopg

    connections = [psycopg.connect(libpq_url(database_url)) for _ in range(CLIENTS)]
    shares = [batches[i::CLIENTS] for i in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS + 1)

    def work(conn: psycopg.Connection, share: list[list[tuple[Any, ...]]]) -> None:
        barrier.wait()
        for rows in share:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(INSERT, rows)

    threads = [
        threading.Thread(target=work, args=(c, s)) for c, s in zip(connections, shares, strict=True)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    for conn in connections:
        conn.close()
    return sum(len(b) for b in batches) / elapsed


def main(argv: list[str] | None = None) -> int:
    args = standard_args(__doc__.split("\n\n")[0], argv)
    posts_per_client = 4 if args.quick else 15
    posts = posts_per_client * CLIENTS
    report = Report("bulk")
    with postgres() as pg:
        database = pg.database()
        token = api_key(database)
        with LookoutServer(database, workers=args.workers) as server:
            client = httpx.Client(base_url=server.url, headers={"X-API-Key": token}, timeout=60)
            project = create_project(client)
            api_rates, ref_rates, p50s, p99s = [], [], [], []
            for round_ in range(args.rounds):
                # A new image each round: an image holds at most 200 analyses by default.
                image = upload_image(client, project)["id"]
                # Reference: the same rows straight through the driver.
                ref_analyses = [create_analysis(client, image) for _ in range(posts)]
                batches = [driver_rows(a, i) for i, a in enumerate(ref_analyses)]
                ref_rates.append(driver_rate(database, batches))
                # Lookout: signed posts, one analysis each, CLIENTS at a time.
                analyses = [create_analysis(client, image) for _ in range(posts)]
                requests = []
                for i, analysis in enumerate(analyses):
                    body = json.dumps(
                        {"annotations": boxes(BOXES, i)}, separators=(",", ":")
                    ).encode()
                    path = f"/api/analyses/{analysis}/annotations:bulk"
                    headers = signed_bulk_headers(analysis, body)
                    requests.append(http_request("POST", path, headers=headers, body=body))
                result = load(server.url, from_list(requests), connections=CLIENTS, expect=(201,))
                assert json.loads(result.sample)["created_count"] == BOXES
                api_rates.append(result.count * BOXES / result.elapsed)
                p50s.append(result.ms(50))
                p99s.append(result.ms(99))
                log(
                    f"round {round_ + 1}: driver {ref_rates[-1]:,.0f} rows/s, "
                    f"Lookout {api_rates[-1]:,.0f} annotations/s"
                )
            client.close()
    api, ref = median(api_rates), median(ref_rates)
    ratios = [a / r for a, r in zip(api_rates, ref_rates, strict=True)]  # each round's own
    report.figure(
        "driver_insert_rate", ref, "rows/s", clients=CLIENTS, rows_per_batch=BOXES, rounds=ref_rates
    )
    report.figure(
        "bulk_ingest_rate",
        api,
        "annotations/s",
        reference=ref,
        ratio=median(ratios),
        target=at_least(0.3),
        clients=CLIENTS,
        boxes_per_post=BOXES,
        p50_ms=median(p50s),
        p99_ms=median(p99s),
        rounds=api_rates,
        workers=args.workers,
    )
    report.figure(
        "bulk_ingest_vs_field",
        api,
        "annotations/s",
        reference=FIELD_RATE,
        ratio=api / FIELD_RATE,
        target=at_least(20),
    )
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
