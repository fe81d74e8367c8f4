"""Scale: a page of images in a project of 1,000,000 images vs one of 10,000.

    uv run python -m bench scale            # 10,000 vs 1,000,000 images, PostgreSQL
    uv run python -m bench scale --quick    # 10,000 vs 100,000
    uv run python -m bench scale --backend sqlite   # the same on SQLite

Both projects live in the same table; their rows are inserted with SQL (generate_series on
PostgreSQL, a recursive CTE on SQLite), statistics refreshed, then `lookout serve` answers
`GET /api/projects/{id}/images?limit=100` for the first page and for pages at random depths
(keyset cursors), each request a different page, one at a time. Target: median time in the
large project <= 2x the small one. The plan PostgreSQL uses for a deep page is printed (the
index it walks) with the figure.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
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
    http_request,
    insert_images,
    load,
    log,
    median,
    postgres,
    sqlite_database,
    standard_args,
    timed,
)

BASE = datetime(2024, 1, 1, tzinfo=UTC)
PAGE = 100


def cursor_at(position: int) -> str:
    """A keyset cursor just after image number `position` (insert_images spaces them 1 s)."""
    created = BASE + timedelta(seconds=position)
    raw = f"{created.isoformat()}|{uuid.UUID(int=2**128 - 1)}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def page_requests(project: str, first: int, count: int, n: int, key: str, seed: int) -> list[bytes]:
    """The first page and n - 1 pages at random depths (new ones every round: nothing cached)."""
    rng = random.Random(seed)
    auth = {"X-API-Key": key}
    out = [http_request("GET", f"/api/projects/{project}/images?limit={PAGE}", headers=auth)]
    for _ in range(n - 1):
        position = first + rng.randint(PAGE + 1, count)
        path = f"/api/projects/{project}/images?limit={PAGE}&cursor={cursor_at(position)}"
        out.append(http_request("GET", path, headers=auth))
    return out


def explain(database_url: str, project: str, count: int, first: int) -> dict[str, Any]:
    """PostgreSQL's plan for a deep page, as the API runs it (the JSON page statement)."""
    from lookout.auth.principal import Principal
    from lookout.images.service import ImageFilters, _page_shape, _page_statement

    principal = Principal(user_id=uuid.uuid4(), email="bench@example.org", is_admin=True)
    cursor = cursor_at(first + count // 2)
    shape, params = _page_shape(principal, uuid.UUID(project), ImageFilters(), PAGE, cursor)
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            compiled = _page_statement(shape, "json").compile(dialect=engine.dialect)
            values = compiled.construct_params(params)
            plan = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + str(compiled), values
            ).scalar()
    finally:
        engine.dispose()
    top = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
    indexes: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "Index Name" in node and node["Relation Name"] == "images":
            indexes.append(f"{node['Node Type']} using {node['Index Name']}")
        for child in node.get("Plans", []):
            walk(child)

    walk(top["Plan"])
    return {"plan": sorted(set(indexes)), "plan_execution_ms": top["Execution Time"]}


def measure(
    report: Report, url: str, backend: str, large: int, requests: int, rounds: int, workers: int
) -> None:
    with LookoutServer(url, workers=workers) as server:
        key = api_key(url)
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as client:
            small_project = create_project(client, "small")
            large_project = create_project(client, "large")
        with timed() as took:
            insert_images(url, large_project, large, start=0, prefix="large")
            insert_images(url, small_project, 10_000, start=large, prefix="small")
            analyze(url)
        log(f"{backend}: inserted {large + 10_000:,} image rows in {took.seconds:.0f} s")
        sizes = {"small": (small_project, large, 10_000), "large": (large_project, 0, large)}
        times: dict[str, list[float]] = {"small": [], "large": []}
        ratios = []
        for round_ in range(rounds + 1):  # the first round warms up
            results = {}
            for name, (project, first, count) in sizes.items():
                pages = page_requests(project, first, count, requests, key, round_)
                rng = random.Random(round_)
                rng.shuffle(pages)
                iterator = iter(pages)
                result = load(server.url, lambda it=iterator: next(it, None), connections=1)
                assert len(json.loads(result.sample)["items"]) == PAGE
                results[name] = result.ms(50)
            if round_:
                times["small"].append(results["small"])
                times["large"].append(results["large"])
                ratios.append(results["large"] / results["small"])
    small, big = median(times["small"]), median(times["large"])
    log(f"{backend}: page of {PAGE} in 10,000 images {small:.2f} ms, in {large:,} {big:.2f} ms")
    extra: dict[str, Any] = {}
    if backend == "postgres":
        extra = explain(url, large_project, large, 0)
    report.figure(
        f"{backend}.page_in_{large}_images",
        big,
        "ms",
        reference=small,
        ratio=median(ratios),
        target=at_most(2.0),
        small_project=10_000,
        large_project=large,
        page=PAGE,
        requests_per_round=requests,
        backend=backend,
        **extra,
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--backend", choices=("postgres", "sqlite", "both"), default="postgres")
    known, rest = extra.parse_known_args(argv)
    args = standard_args(__doc__.split("\n\n")[0], rest)
    large = 100_000 if args.quick else 1_000_000
    requests = 30 if args.quick else 100
    report = Report("scale")
    if known.backend in ("postgres", "both"):
        with postgres() as pg:
            measure(report, pg.database(), "postgres", large, requests, args.rounds, args.workers)
    if known.backend in ("sqlite", "both"):
        with sqlite_database() as url:
            measure(report, url, "sqlite", large, requests, args.rounds, args.workers)
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
