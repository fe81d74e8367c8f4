"""Two API processes against one PostgreSQL (the production layout, on one machine).

    uv run python -m bench cluster            # 3 rounds
    uv run python -m bench cluster --quick

Two independent `lookout serve` processes (one worker each, as two machines behind a load
balancer would run them) share one PostgreSQL; clients spread their connections over both.
First the shared state is checked: an analysis created through one process takes a signed
bulk post through the other and reads back through the first, and a signed request replayed
to the other process is refused (the nonce is recorded in PostgreSQL, not in a process).
Then the same loads run against one process and against both: signed 1,000-box bulk posts
from 4 clients, and 16 connections reading an analysis of 1,000 annotations and a page of
100 images. Figures: rates with both processes, the reference being one process; no
target (on a 2-core machine two processes can only share the same two cores).
"""

from __future__ import annotations

import json

import httpx

from bench.common import (
    LookoutServer,
    Report,
    bulk_body,
    create_analysis,
    from_list,
    http_request,
    load,
    log,
    median,
    postgres,
    read_fixture,
    signed_bulk_headers,
    standard_args,
    upload_image,
)


def shared_state(a: LookoutServer, b: LookoutServer, key: str, image: str) -> None:
    with httpx.Client(base_url=a.url, headers={"X-API-Key": key}, timeout=60) as client:
        analysis = create_analysis(client, image)
        body = bulk_body(10)
        headers = signed_bulk_headers(analysis, body)
        path = f"/api/analyses/{analysis}/annotations:bulk"
        first = httpx.post(f"{b.url}{path}", content=body, headers=headers, timeout=60)
        assert first.status_code == 201, first.text
        replay = httpx.post(f"{a.url}{path}", content=body, headers=headers, timeout=60)
        assert replay.status_code == 401, f"replay through the other process: {replay.text}"
        read = client.get(f"/api/analyses/{analysis}").json()
        assert read["annotations_total"] == 10
    log("shared state: written through one process, read and replay-checked through the other")


def bulk_rate(urls: list[str], key: str, project: str, posts: int) -> float:
    with httpx.Client(base_url=urls[0], headers={"X-API-Key": key}, timeout=60) as client:
        image = upload_image(client, project)["id"]  # at most 200 analyses per image
        analyses = [create_analysis(client, image) for _ in range(posts)]
    requests = []
    for i, analysis in enumerate(analyses):
        body = bulk_body(1000, seed=i)
        path = f"/api/analyses/{analysis}/annotations:bulk"
        requests.append(
            http_request("POST", path, headers=signed_bulk_headers(analysis, body), body=body)
        )
    result = load(urls, from_list(requests), connections=4, expect=(201,))
    return result.count * 1000 / result.elapsed


def main(argv: list[str] | None = None) -> int:
    args = standard_args(__doc__.split("\n\n")[0], argv)
    seconds = 1.0 if args.quick else 3.0
    posts = 12 if args.quick else 40
    report = Report("cluster")
    with postgres() as pg:
        database = pg.database()
        with (
            LookoutServer(database, workers=1, name="lookout A") as a,
            LookoutServer(database, workers=1, name="lookout B") as b,
        ):
            fixture = read_fixture(a)
            shared_state(a, b, fixture.admin_key, fixture.image_id)
            auth = {"X-API-Key": fixture.member_key}
            reads = {
                "analysis_1000": http_request(
                    "GET", f"/api/analyses/{fixture.analysis_id}", headers=auth
                ),
                "images_page_100": http_request(
                    "GET", f"/api/projects/{fixture.project_id}/images?limit=100", headers=auth
                ),
            }
            layouts = {"one": [a.url], "two": [a.url, b.url]}
            rates: dict[str, dict[str, list[float]]] = {k: {} for k in layouts}
            for request in reads.values():
                load([a.url, b.url], request, connections=16, duration=0.5)
            for _ in range(args.rounds):
                for layout, urls in layouts.items():
                    rate = bulk_rate(urls, fixture.admin_key, fixture.project_id, posts)
                    rates[layout].setdefault("bulk_ingest", []).append(rate)
                    for kind, request in reads.items():
                        result = load(urls, request, connections=16, duration=seconds)
                        assert json.loads(result.sample)
                        rates[layout].setdefault(kind, []).append(result.rate)
    for kind, unit in (
        ("bulk_ingest", "annotations/s"),
        ("analysis_1000", "requests/s"),
        ("images_page_100", "requests/s"),
    ):
        two, one = median(rates["two"][kind]), median(rates["one"][kind])
        report.figure(
            f"two_processes.{kind}",
            two,
            unit,
            reference=one,
            ratio=two / one,
            reference_layout="one process, 1 worker",
            layout="two processes, 1 worker each, one PostgreSQL",
        )
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
