"""The cost of authentication, each in the same run against a reference without it.

    uv run python -m bench auth            # 3 rounds, PostgreSQL
    uv run python -m bench auth --quick

1. API key vs local mode: `GET /api/images/{id}` (one image's metadata, a typical small read)
   sent with an admin's `X-API-Key` and without credentials (local mode acts as the local
   admin), to the same server, one at a time, in alternating half-second batches. Both callers
   have the same rights, so the requests differ by the key check alone (one indexed query, one
   hash). Target: median time of a request with the key <= 1.3x local mode.
2. Signed vs unsigned bulk post: the same 1,000-box `annotations:bulk` post (v1 signature,
   as the SDK sends it) to `lookout serve`, and unsigned to a benchmark-only server whose
   signature dependency is replaced by one that accepts the body as it is (`bench/apps.py`).
   Both servers share the PostgreSQL database and run side by side; posts alternate between
   them one at a time, each to a fresh analysis. Target: signed <= 1.1x unsigned (median).

Times are medians (lower is better); each ratio (key/local, signed/unsigned) is the median of
the ratios of neighbouring batches or posts, which the other load of a shared machine touches
alike.
"""

from __future__ import annotations

import json
import time

import httpx

from bench.common import (
    LookoutServer,
    ReadFixture,
    Report,
    at_most,
    bulk_body,
    create_analysis,
    http_request,
    load,
    log,
    median,
    postgres,
    read_fixture,
    signed_bulk_headers,
    standard_args,
)


def key_vs_local(
    report: Report, server: LookoutServer, fixture: ReadFixture, rounds: int, batch: float
) -> None:
    path = f"/api/images/{fixture.image_id}"
    with_key = http_request("GET", path, headers={"X-API-Key": fixture.admin_key})
    local = http_request("GET", path)
    for request in (with_key, local):
        load(server.url, request, connections=4, duration=0.5)
    key_ms, local_ms, ratios = [], [], []
    for _ in range(rounds):
        for _ in range(4):  # alternating batches of sequential requests; p50 of each
            k = load(server.url, with_key, connections=1, duration=batch)
            loc = load(server.url, local, connections=1, duration=batch)
            key_ms.append(k.ms(50))
            local_ms.append(loc.ms(50))
            ratios.append(k.ms(50) / loc.ms(50))
    assert json.loads(k.sample)["id"] == fixture.image_id
    log(f"API key {median(key_ms):.3f} ms, local mode {median(local_ms):.3f} ms per request")
    report.figure(
        "api_key_request_time",
        median(key_ms),
        "ms/request",
        reference=median(local_ms),
        ratio=median(ratios),
        target=at_most(1.3),
        request=f"GET {path.replace(fixture.image_id, '{id}')}",
        connections=1,
        workers=server.workers,
    )


def signed_vs_unsigned(
    report: Report,
    signed: LookoutServer,
    unsigned: LookoutServer,
    fixture: ReadFixture,
    posts: int,
) -> None:
    headers = {"X-API-Key": fixture.admin_key}
    client = httpx.Client(base_url=signed.url, headers=headers, timeout=60)
    image = fixture.image_id
    body = bulk_body(1000)
    times: dict[str, list[float]] = {"signed": [], "unsigned": []}
    pairs: list[float] = []
    http = {
        "signed": httpx.Client(base_url=signed.url, timeout=60),
        "unsigned": httpx.Client(base_url=unsigned.url, timeout=60),
    }
    for i in range(posts + 4):  # the first 2 of each are warm-up
        for kind in ("signed", "unsigned") if i % 2 == 0 else ("unsigned", "signed"):
            analysis = create_analysis(client, image)
            path = f"/api/analyses/{analysis}/annotations:bulk"
            headers = signed_bulk_headers(analysis, body)
            if kind == "unsigned":
                headers = {k: v for k, v in headers.items() if not k.startswith("X-ML-")}
            began = time.perf_counter()
            response = http[kind].post(path, content=body, headers=headers)
            elapsed = time.perf_counter() - began
            assert response.status_code == 201, (kind, response.status_code, response.text[:300])
            if i >= 4:
                times[kind].append(elapsed * 1000)
        if i >= 4:
            pairs.append(times["signed"][-1] / times["unsigned"][-1])
    for each in (client, *http.values()):
        each.close()
    s, u = median(times["signed"]), median(times["unsigned"])
    log(f"bulk post signed {s:.1f} ms, unsigned {u:.1f} ms")
    report.figure(
        "signed_bulk_post_time",
        s,
        "ms/request",
        reference=u,
        ratio=median(pairs),
        target=at_most(1.1),
        posts=posts,
        boxes_per_post=1000,
        scheme="v1",
    )


def main(argv: list[str] | None = None) -> int:
    args = standard_args(__doc__.split("\n\n")[0], argv)
    report = Report("auth")
    batch = 0.5 if args.quick else 1.0
    posts = 20 if args.quick else 60
    with postgres() as pg:
        database = pg.database()
        with (
            LookoutServer(database, workers=args.workers) as server,
            LookoutServer(
                database,
                workers=args.workers,
                app="bench.apps:unsigned_app",
                name="lookout (unsigned, benchmark only)",
            ) as unsigned,
        ):
            fixture = read_fixture(server, images=10, annotations=10)
            key_vs_local(report, server, fixture, args.rounds, batch)
            signed_vs_unsigned(report, server, unsigned, fixture, posts)
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
