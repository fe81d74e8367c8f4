"""Bulk ingest on PostgreSQL: signed `annotations:bulk` posts of 1,000 boxes from 4 clients.

    uv run python -m bench bulk            # 4 clients x 15 posts x 1,000 boxes, 3 rounds
    uv run python -m bench bulk --quick    # 4 clients x 4 posts

Each post is what the SDK's `submit_annotations` sends: compact JSON, a v1 signature (timestamp,
nonce, method, path, body digest) and an Idempotency-Key; each goes to its own analysis (a
pipeline posts one image's results at a time). The reference is the same rows written directly
through the database driver, the fastest way PostgreSQL takes them: psycopg 3's binary `COPY`,
1,000 rows per transaction, 4 connections at once, in the same run against the same PostgreSQL.
The driver's `executemany` (pipelined) of the same rows is measured beside it and reported as a
second ratio. Rounds alternate references and API; each ratio is the median of each round's own.
Before the rounds, 2 x clients x workers posts (not counted) warm every worker up.

Target: annotations/s >= 0.5 of binary COPY's rows/s (no target against executemany).
"""

from __future__ import annotations

import json
import os
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

COLUMNS = (
    "id, analysis_id, annotation_type, class_name, confidence, data, "
    "x1, y1, x2, y2, client_id, created_at"
)
INSERT = f"INSERT INTO predictions ({COLUMNS}) VALUES ({', '.join(['%s'] * 12)})"
COPY = f"COPY predictions ({COLUMNS}) FROM STDIN (FORMAT BINARY)"
COPY_TYPES = [
    "uuid",
    "uuid",
    "varchar",
    "varchar",
    "float8",
    "jsonb",
    "float8",
    "float8",
    "float8",
    "float8",
    "varchar",
    "timestamptz",
]


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


def _executemany(cur: Any, rows: list[tuple[Any, ...]]) -> None:
    cur.executemany(INSERT, rows)


def _copy(cur: Any, rows: list[tuple[Any, ...]]) -> None:
    with cur.copy(COPY) as copy:
        copy.set_types(COPY_TYPES)
        for row in rows:
            copy.write_row(row)


WRITERS = {"copy": _copy, "executemany": _executemany}


def driver_rate(database_url: str, batches: list[list[tuple[Any, ...]]], how: str) -> float:
    """Rows/s writing `batches` (one transaction each, `how`: copy or executemany) from
    CLIENTS connections at once."""
    import psycopg

    write = WRITERS[how]
    connections = [psycopg.connect(libpq_url(database_url)) for _ in range(CLIENTS)]
    shares = [batches[i::CLIENTS] for i in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS + 1)

    def work(conn: psycopg.Connection, share: list[list[tuple[Any, ...]]]) -> None:
        barrier.wait()
        for rows in share:
            with conn.transaction(), conn.cursor() as cur:
                write(cur, rows)

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
            # Every worker's first bulk posts load and build what later ones reuse (modules,
            # routes, validators, prepared statements): not measured, as in the other benchmarks.
            warm_up = signed_posts(client, project, 2 * CLIENTS * args.workers)
            load(server.url, from_list(warm_up), connections=CLIENTS, expect=(201,))
            api_rates, p50s, p99s = [], [], []
            ref_rates: dict[str, list[float]] = {how: [] for how in WRITERS}
            for round_ in range(args.rounds):
                # References: the same rows straight through the driver, each way.
                for how, rates in ref_rates.items():
                    # A new image each time: an image holds at most 200 analyses by default.
                    image = upload_image(client, project)["id"]
                    ref_analyses = [create_analysis(client, image) for _ in range(posts)]
                    batches = [driver_rows(a, i) for i, a in enumerate(ref_analyses)]
                    rates.append(driver_rate(database, batches, how))
                # Lookout: signed posts, one analysis each, CLIENTS at a time.
                requests = signed_posts(client, project, posts)
                result = load(server.url, from_list(requests), connections=CLIENTS, expect=(201,))
                assert json.loads(result.sample)["created_count"] == BOXES
                api_rates.append(result.count * BOXES / result.elapsed)
                p50s.append(result.ms(50))
                p99s.append(result.ms(99))
                log(
                    f"round {round_ + 1}: COPY {ref_rates['copy'][-1]:,.0f} rows/s, "
                    f"executemany {ref_rates['executemany'][-1]:,.0f} rows/s, "
                    f"Lookout {api_rates[-1]:,.0f} annotations/s"
                )
            client.close()
    api = median(api_rates)
    for how, rates in ref_rates.items():
        report.figure(
            f"driver_{how}_rate",
            median(rates),
            "rows/s",
            clients=CLIENTS,
            rows_per_batch=BOXES,
            rounds=rates,
        )
    copy_rate, many_rate = median(ref_rates["copy"]), median(ref_rates["executemany"])
    report.figure(
        "bulk_ingest_rate",
        api,
        "annotations/s",
        reference=copy_rate,
        ratio=median(_each_round(api_rates, ref_rates["copy"])),
        target=at_least(0.5),
        reference_is="binary COPY",
        ratio_to_executemany=median(_each_round(api_rates, ref_rates["executemany"])),
        executemany_rate=many_rate,
        clients=CLIENTS,
        boxes_per_post=BOXES,
        p50_ms=median(p50s),
        p99_ms=median(p99s),
        rounds=api_rates,
        workers=args.workers,
        load=os.getloadavg()[0],
    )
    return report.exit_code()


def signed_posts(client: httpx.Client, project: str, count: int) -> list[bytes]:
    """`count` signed 1,000-box posts, each to a new analysis of a new image (an image holds
    at most 200 analyses by default)."""
    image = upload_image(client, project)["id"]
    requests = []
    for i in range(count):
        analysis = create_analysis(client, image)
        body = json.dumps({"annotations": boxes(BOXES, i)}, separators=(",", ":")).encode()
        path = f"/api/analyses/{analysis}/annotations:bulk"
        headers = signed_bulk_headers(analysis, body)
        requests.append(http_request("POST", path, headers=headers, body=body))
    return requests


def _each_round(values: list[float], references: list[float]) -> list[float]:
    """Each round's own ratio (rounds alternate, so a round's figures share its machine load)."""
    return [v / r for v, r in zip(values, references, strict=True)]


if __name__ == "__main__":
    raise SystemExit(main())
