"""Import from the fake platform with 20 ms added to every platform answer.

    uv run python -m bench import            # a day (45 sequences) and a busy week (1,960)
    uv run python -m bench import --quick    # a day, and a week of 140 sequences
    uv run python -m bench import --scenario day   # one of them
    uv run python -m bench import --storage s3     # objects in S3 (moto on loopback)

Scenarios, 10 detections (frames) a sequence:
- `day`: one organization, 9 cameras, 5 sequences a camera, one day: 45 sequences;
- `week`: two organizations of 10 cameras, 14 sequences a camera a day, 7 days: 1,960
  sequences (`--quick`: 5 cameras, 2 a day: 140).
The fake platform may add sibling sequences (a second object in a frame, as the 2026 platform
does); the figures count what was imported.

The fake platform runs in a process of its own with every frame rendered beforehand (it
stands in for a remote service: its own work should not weigh on the machine under test),
`lookout serve` runs on PostgreSQL, and `lookout import-platform` runs as a user runs it, a
process of its own (default `--concurrency 8`, frames fetched by the server from the
platform's presigned URLs): its time runs from starting the process to its exit. Each round
imports into a fresh database. Objects go to a local folder, or with `--storage s3` to an S3
API server on loopback (moto, on the same cores; its figures are named
`s3.<scenario>.import_time`): a frame's object is then a PUT.

Reference: the lower bound, platform requests x latency / concurrency (every request the
platform answered during the run, counted by the platform). Target: lower bound / import
time >= 0.8. Frames/s is reported, and the CPU time the server (its processes) and PostgreSQL
spent per frame, read from /proc: what the import costs beside the platform's latency.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

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
FIRST_DAY = date(2024, 1, 1)  # the fake platform's first day


@dataclass(frozen=True)
class Scenario:
    name: str
    organizations: int
    cameras_per_org: int
    days: int
    per_camera_day: int

    @property
    def sequences(self) -> int:
        return self.organizations * self.cameras_per_org * self.days * self.per_camera_day


def scenarios(quick: bool) -> list[Scenario]:
    week = Scenario("week", 2, 5, 7, 2) if quick else Scenario("week", 2, 10, 7, 14)
    return [Scenario("day", 1, 9, 1, 5), week]


class Platform:
    """`python -m bench.platform` in a subprocess."""

    def __init__(self, scenario: Scenario) -> None:
        self.port = free_port()
        self.args = [
            "--port",
            str(self.port),
            "--latency",
            str(LATENCY),
            "--organizations",
            str(scenario.organizations),
            "--cameras-per-org",
            str(scenario.cameras_per_org),
            "--num-days",
            str(scenario.days),
            "--sequences-per-camera-per-day",
            str(scenario.per_camera_day),
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

    def requests(self) -> tuple[int, int]:
        """Requests since the last reset (the benchmark's own left out), and the most that
        were in progress at once (the importer promises at most its --concurrency)."""
        stats = httpx.get(f"{self.url}/__bench__/stats", timeout=10).json()
        counts = stats["requests"]
        total = sum(n for path, n in counts.items() if not path.startswith("/__bench__"))
        return total, stats["peak_in_progress"]

    def reset(self) -> None:
        httpx.post(f"{self.url}/__bench__/reset", timeout=10).raise_for_status()

    def __exit__(self, *_exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def lookout_command() -> list[str]:
    """The `lookout` script of this environment, as `uv run lookout` starts it."""
    script = Path(sys.executable).parent / "lookout"
    return [str(script)] if script.exists() else [sys.executable, "-m", "lookout"]


def import_once(platform: Platform, server: LookoutServer, scenario: Scenario) -> float:
    """Seconds from starting `lookout import-platform` to its exit (status 0 required)."""
    logins = [f"org{i}-user:org{i}-pass" for i in range(1, scenario.organizations + 1)]
    env = {
        **os.environ,
        "PLATFORM_LOGIN": "org1-user",
        "PLATFORM_PASSWORD": "org1-pass",
        "PLATFORM_EXTRA_CREDENTIALS": ",".join(logins[1:]),
        "PLATFORM_ADMIN_LOGIN": "admin",
        "PLATFORM_ADMIN_PASSWORD": "admin-pass",
    }
    last_day = FIRST_DAY + timedelta(days=scenario.days - 1)
    command = [
        *lookout_command(),
        "import-platform",
        f"--date-from={FIRST_DAY}",
        f"--date-end={last_day}",
        f"--url-api-platform={platform.url}",
        f"--url-api-annotation={server.url}",
        f"--concurrency={CONCURRENCY}",
        "--loglevel=warning",
    ]
    began = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=server.folder, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"import-platform exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def imported(database_url: str) -> tuple[int, int]:
    """Sequences and frames stored, counted in the database."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            sequences = conn.scalar(sa.text("SELECT count(*) FROM sequences"))
            frames = conn.scalar(
                sa.text("SELECT count(*) FROM images WHERE sequence_id IS NOT NULL")
            )
    finally:
        engine.dispose()
    return int(sequences or 0), int(frames or 0)


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) of a process and its descendants, those that ended and were
    waited for included (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue  # ended meanwhile: its time is in its parent's
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        pending.extend(int(c) for c in children)
    return total / tick


def postmaster_pid() -> int:
    """The benchmark's PostgreSQL server (started in a lookout-bench-pg- folder)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"postgres" in command and b"lookout-bench-pg-" in command:
                return int(entry.name)
    raise RuntimeError("the benchmark's PostgreSQL server was not found")


@contextmanager
def s3_storage() -> Iterator[dict[str, str]]:
    """moto's S3 API server on loopback, and the settings that make `lookout serve` store in
    it. Its threads run in this process, which only waits while an import runs."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    log("starting an S3 API server (moto)")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield {
            "STORAGE_BACKEND": "s3",
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "S3_ACCESS_KEY_ID": "bench",
            "S3_SECRET_ACCESS_KEY": "bench",
            "S3_CREATE_BUCKET": "true",
        }
    finally:
        server.stop()


def measure(
    report: Report,
    scenario: Scenario,
    rounds: int,
    workers: int,
    storage: dict[str, str] | None = None,
) -> None:
    """Import the scenario `rounds` times; `storage` is the server's S3 settings, if any."""
    times, bounds, requests, server_cpu, database_cpu = [], [], [], [], []
    peaks = []
    counts = (0, 0)
    with Platform(scenario) as platform, postgres() as pg:
        postmaster = postmaster_pid()
        for round_ in range(rounds):
            database = pg.database(f"import_{scenario.name}_{round_}")
            with LookoutServer(database, workers=workers, env=storage) as server:
                assert server.process is not None
                platform.reset()
                cpu = tree_cpu_seconds(server.process.pid), tree_cpu_seconds(postmaster)
                seconds = import_once(platform, server, scenario)
                server_cpu.append(tree_cpu_seconds(server.process.pid) - cpu[0])
                database_cpu.append(tree_cpu_seconds(postmaster) - cpu[1])
                count, peak = platform.requests()
            counts = imported(database)
            assert counts[0] >= scenario.sequences and counts[1] > 0, counts
            bound = count * LATENCY / CONCURRENCY
            times.append(seconds)
            bounds.append(bound)
            requests.append(count)
            peaks.append(peak)
            log(
                f"{scenario.name} round {round_ + 1}: {counts[0]} sequences, {counts[1]} frames "
                f"in {seconds:.1f} s ({counts[1] / seconds:.0f} frames/s); {count} platform "
                f"requests ({peak} at most at once), lower bound {bound:.1f} s; CPU: server "
                f"{server_cpu[-1]:.1f} s, PostgreSQL {database_cpu[-1]:.1f} s"
            )
    ratios = [b / t for b, t in zip(bounds, times, strict=True)]
    report.figure(
        f"{'s3.' if storage else ''}{scenario.name}.import_time",
        median(times),
        "s",
        reference=median(bounds),
        ratio=median(ratios),
        target=at_least(0.8),
        sequences=counts[0],
        frames=counts[1],
        frames_per_s=counts[1] / median(times),
        platform_requests=median(requests),
        latency_s=LATENCY,
        concurrency=CONCURRENCY,
        platform_peak_in_progress=max(peaks),
        workers=workers,
        rounds=times,
        round_ratios=ratios,
        # What the time goes to on this machine: CPU per frame of the server and the database.
        server_cpu_ms_per_frame=1000 * median(server_cpu) / max(counts[1], 1),
        postgres_cpu_ms_per_frame=1000 * median(database_cpu) / max(counts[1], 1),
        cpus=os.cpu_count(),
        load=os.getloadavg()[0],
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--scenario", choices=("day", "week", "both"), default="both")
    extra.add_argument("--storage", choices=("local", "s3"), default="local")
    known, rest = extra.parse_known_args(argv)
    args = standard_args(__doc__.split("\n\n")[0], rest)
    report = Report("import")
    with s3_storage() if known.storage == "s3" else nullcontext() as storage:
        for scenario in scenarios(args.quick):
            if known.scenario in ("both", scenario.name):
                measure(report, scenario, args.rounds, args.workers, storage)
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
