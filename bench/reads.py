"""Reads at 16 concurrent connections, against the rate of `GET /api/health`.

    uv run python -m bench reads            # 3 rounds of 5 s per request kind, PostgreSQL
    uv run python -m bench reads --quick    # 3 rounds of 1.5 s
    uv run python -m bench reads --backend both   # PostgreSQL, then SQLite

Requests, each sent again and again over 16 keep-alive connections (an API key of a group
member, as a script or the web UI would send; health needs none):

- `GET /api/health`: the reference (liveness: no database work, answered before the framework);
- `GET /api/analyses/{id}`: one analysis with its 1,000 annotations (about 300 KB of JSON);
- `GET /api/projects/{id}/images?limit=100`: a page of 100 images of a 1,000-image project.

Targets: the analysis at >= 0.25 of the health rate, the page of images at >= 0.5; p50 and
p99 latencies are reported. The kinds are measured in interleaved half-second slices (the
other load of a shared machine then weighs on all of them alike); each round's ratio compares
its own slices, and the median over rounds is reported.
"""

from __future__ import annotations

import json

from bench.common import (
    LoadResult,
    LookoutServer,
    Report,
    at_least,
    http_request,
    load,
    log,
    median,
    merge,
    postgres,
    read_fixture,
    sqlite_database,
    standard_args,
)

CONNECTIONS = 16
SLICE = 0.5  # seconds per measurement slice


def measure(
    report: Report, server: LookoutServer, backend: str, rounds: int, seconds: float
) -> None:
    fixture = read_fixture(server)
    auth = {"X-API-Key": fixture.member_key}
    kinds = {
        "health": http_request("GET", "/api/health"),
        "analysis_1000": http_request("GET", f"/api/analyses/{fixture.analysis_id}", headers=auth),
        "images_page_100": http_request(
            "GET", f"/api/projects/{fixture.project_id}/images?limit=100", headers=auth
        ),
    }
    for request in kinds.values():  # warm up every worker and code path
        load(server.url, request, connections=CONNECTIONS, duration=0.5)
    # Short slices, kinds interleaved, so the other load on a shared machine weighs on every
    # kind alike; each round's ratios compare slices taken side by side.
    results: dict[str, list[LoadResult]] = {kind: [] for kind in kinds}
    slices = max(1, round(seconds / SLICE))
    for round_ in range(rounds):
        for _ in range(slices):
            for kind, request in kinds.items():
                results[kind].append(
                    load(server.url, request, connections=CONNECTIONS, duration=SLICE)
                )
        recent = {k: merge(v[-slices:]) for k, v in results.items()}
        log(
            f"{backend} round {round_ + 1}: "
            + ", ".join(f"{kind} {recent[kind].rate:,.0f}/s" for kind in kinds)
        )
    sample = json.loads(results["analysis_1000"][0].sample)
    assert len(sample["annotations"]) == 1000, "the analysis should carry 1,000 annotations"
    assert len(json.loads(results["images_page_100"][0].sample)["items"]) == 100
    per_round = {
        k: [merge(v[i : i + slices]) for i in range(0, len(v), slices)] for k, v in results.items()
    }
    health = per_round["health"]
    common = {"backend": backend, "connections": CONNECTIONS, "workers": server.workers}
    report.figure(
        f"{backend}.health_rate",
        median(r.rate for r in health),
        "requests/s",
        **_latencies(per_round["health"]),
        **common,
    )
    for kind, bound in (("analysis_1000", 0.25), ("images_page_100", 0.5)):
        runs = per_round[kind]
        ratios = [r.rate / h.rate for r, h in zip(runs, health, strict=True)]
        report.figure(
            f"{backend}.{kind}_rate",
            median(r.rate for r in runs),
            "requests/s",
            reference=median(h.rate for h in health),
            ratio=median(ratios),
            target=at_least(bound),
            round_ratios=ratios,
            **_latencies(runs),
            **common,
        )


def _latencies(runs: list[LoadResult]) -> dict:
    return {
        "p50_ms": median(r.ms(50) for r in runs),
        "p99_ms": median(r.ms(99) for r in runs),
        "rounds": [r.rate for r in runs],
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--backend", choices=("postgres", "sqlite", "both"), default="postgres")
    known, rest = extra.parse_known_args(argv)
    args = standard_args(__doc__.split("\n\n")[0], rest)
    seconds = 1.5 if args.quick else 5.0
    report = Report("reads")
    if known.backend in ("postgres", "both"):
        with postgres() as pg, LookoutServer(pg.database(), workers=args.workers) as server:
            measure(report, server, "postgres", args.rounds, seconds)
    if known.backend in ("sqlite", "both"):
        with sqlite_database() as url, LookoutServer(url, workers=args.workers) as server:
            measure(report, server, "sqlite", args.rounds, seconds)
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
