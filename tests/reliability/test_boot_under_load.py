"""Boot on a busy machine: `lookout serve --workers 4` while other processes keep the CPUs busy.

uvicorn's supervisor pings each worker and kills one that does not answer within 5 s, then
starts another. A worker answers once it has run the `lookout` script again (multiprocessing's
spawn), so a heavy import there made the workers of a loaded machine crash-loop (issue 20: 57
restarts in 5 minutes). Here every worker must start once and never be replaced while 2
CPU-burning processes run, from the start until the end of the observation window.

CI: observed for 30 s; `LOOKOUT_RELIABILITY_FULL=1`: 60 s. Nothing is asserted on time: the
figures are the worker processes (from the supervisor's children and the log).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.reliability.record import record, size
from tests.reliability.server_support import STARTED, ServeProcess, started_pids, worker_pids

WORKERS = 4
BURNERS = 2
STARTUP_BOUND = 120.0  # seconds for every worker to start on the loaded machine
TROUBLE = ("died", "was not ready", "failed to start")

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


@contextmanager
def burning_cpus(count: int) -> Iterator[None]:
    """`count` processes spinning on a CPU each, for as long as the block runs."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait(timeout=10)


def test_every_worker_starts_once_on_a_busy_machine(sqlite_template: Path, tmp_path: Path) -> None:
    database = tmp_path / "lookout.db"
    shutil.copy(sqlite_template, database)
    window = size(30, 60)
    server = ServeProcess(
        f"sqlite:///{database}", tmp_path / "data", workers=WORKERS, log_level="info"
    )
    seen: set[int] = set()
    health: list[int] = []
    with burning_cpus(BURNERS):
        began = time.monotonic()
        try:
            server.start(timeout=STARTUP_BOUND)
            assert server.process is not None
            supervisor = server.process.pid
            while len(started_pids(server)) < WORKERS:
                assert time.monotonic() - began < STARTUP_BOUND, server.log_text()[-3000:]
                seen |= worker_pids(supervisor)
                time.sleep(0.2)
            all_started = time.monotonic() - began
            while time.monotonic() - began < window:
                seen |= worker_pids(supervisor)
                health.append(httpx.get(f"{server.url}/api/health", timeout=30).status_code)
                time.sleep(0.25)
            seen |= worker_pids(supervisor)
            log = server.log_text()  # before the stop, whose shutdown lines are no concern
        finally:
            server.stop()
    started = {int(pid) for pid in STARTED.findall(log)}
    record(
        "boot_under_load",
        workers=WORKERS,
        burners=BURNERS,
        window_s=window,
        worker_processes=len(seen | started),
        restarts=len(seen | started) - WORKERS,
        seconds_to_all_workers=round(all_started, 1),
        health_checks=len(health),
    )
    assert [line for line in log.splitlines() if any(t in line for t in TROUBLE)] == []
    assert len(started) == WORKERS
    assert seen == started, "a worker was replaced"
    assert health and set(health) == {200}
