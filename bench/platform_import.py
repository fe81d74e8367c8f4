"""Import from the fake platform with 20 ms added to every platform answer.

    uv run python -m bench import            # 200 sequences x 10 frames, 3 rounds
    uv run python -m bench import --quick    # 40 sequences x 10 frames

The fake platform runs in a process of its own with every frame rendered beforehand (it
stands in for a remote service: its own work should not weigh on the machine under test),
`lookout serve` runs on PostgreSQL, and the importer runs here exactly as
`lookout import-platform` does (default `--concurrency 8`, frames fetched by the server from
the platform's presigned URLs). Each round imports into a fresh database.

Reference: the lower bound, platform requests x latency / concurrency (every request the
platform answered during the run, counted by the platform). Target: lower bound / import
time >= 0.5. Frames/s is reported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date

import httpx

from bench.common import (
    REPO,
    LookoutServer,
    Report,
    at_least,
    free_port,
    log,
    median,
    postgres,
    standard_args,
)

LATENCY = 0.02
CONCURRENCY = 8
DAYS = ("2024-01-01", "2024-01-02")


class Platform:
    """`python -m bench.platform` in a subprocess."""

    def __init__(self, sequences_per_camera_per_day: int) -> None:
        self.port = free_port()
        self.args = [
            "--port",
            str(self.port),
            "--latency",
            str(LATENCY),
            "--organizations",
            "2",
            "--cameras-per-org",
            "5",
            "--num-days",
            str(len(DAYS)),
            "--sequences-per-camera-per-day",
            str(sequences_per_camera_per_day),
            "--detections-per-sequence",
            "10",
        ]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Platform:
        log("starting the fake platform (rendering every frame first)")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.platform", *self.args],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the fake platform did not start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/__bench__/stats", timeout=2)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the fake platform did not answer")

    def requests(self) -> int:
        counts = httpx.get(f"{self.url}/__bench__/stats", timeout=10).json()["requests"]
        return sum(n for path, n in counts.items() if not path.startswith("/__bench__"))

    def reset(self) -> None:
        httpx.post(f"{self.url}/__bench__/reset", timeout=10).raise_for_status()

    def __exit__(self, *_exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def import_once(platform: Platform, server: LookoutServer) -> tuple[float, object]:
    from lookout.httpretry import RetryPolicy
    from lookout.platform_import.importer import Importer
    from lookout.platform_import.settings import Credential, ImportOptions

    options = ImportOptions(
        date_from=date.fromisoformat(DAYS[0]),
        date_end=date.fromisoformat(DAYS[-1]),
        url_api_platform=platform.url,
        url_api_annotation=server.url,
        credentials=[Credential("org1-user", "org1-pass"), Credential("org2-user", "org2-pass")],
        admin=Credential("admin", "admin-pass"),
        concurrency=CONCURRENCY,
        policy=RetryPolicy(),
    )
    began = time.perf_counter()
    stats = Importer(options).run()
    return time.perf_counter() - began, stats


def main(argv: list[str] | None = None) -> int:
    args = standard_args(__doc__.split("\n\n")[0], argv)
    per_camera_day = 2 if args.quick else 10  # x 5 cameras x 2 organizations x 2 days
    report = Report("import")
    times, bounds, rates, requests = [], [], [], []
    with Platform(per_camera_day) as platform, postgres() as pg:
        for round_ in range(args.rounds):
            database = pg.database(f"import_{round_}")
            with LookoutServer(database, workers=args.workers) as server:
                platform.reset()
                seconds, stats = import_once(platform, server)
                count = platform.requests()
            frames = stats.frames_created  # type: ignore[attr-defined]
            assert stats.failed_sequences == 0 and frames > 0, stats.lines()  # type: ignore[attr-defined]
            bound = count * LATENCY / CONCURRENCY
            times.append(seconds)
            bounds.append(bound)
            rates.append(frames / seconds)
            requests.append(count)
            log(
                f"round {round_ + 1}: {stats.successful_sequences} sequences, {frames} frames "  # type: ignore[attr-defined]
                f"in {seconds:.1f} s ({frames / seconds:.0f} frames/s); {count} platform "
                f"requests, lower bound {bound:.1f} s"
            )
    ratios = [b / t for b, t in zip(bounds, times, strict=True)]
    report.figure(
        "import_time",
        median(times),
        "s",
        reference=median(bounds),
        ratio=median(ratios),
        target=at_least(0.5),
        frames_per_s=median(rates),
        frames=frames,
        platform_requests=median(requests),
        latency_s=LATENCY,
        concurrency=CONCURRENCY,
        workers=args.workers,
        rounds=times,
    )
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
