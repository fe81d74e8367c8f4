"""`lookout worker` end to end against a live server (SQLite and PostgreSQL).

In-process workers (`Worker.run()` in the test's thread) for the results themselves; separate
processes for what needs them: two workers racing, a worker killed with SIGKILL, SIGTERM, and
the command line's exit codes.
"""

from __future__ import annotations

import io
import signal
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from rich.console import Console

from lookout.pipeline.queue import QueueClient
from lookout.storage import make_storage
from lookout.worker.runner import (
    EXIT_CONFIG,
    EXIT_FAILURES,
    EXIT_NO_MODEL,
    EXIT_OK,
    EXIT_SERVER,
    ModelSpec,
    Worker,
    WorkerConfig,
)
from tests.conftest import HMAC_SECRET
from tests.support import wait_until
from tests.worker.support import (
    EXPECTED,
    IMAGE_H,
    IMAGE_W,
    Project,
    make_project,
    start_worker,
    tiny_yolo,
    worker_command,
    worker_env,
)


def _config(project: Project, *models: ModelSpec, **settings: Any) -> WorkerConfig:
    values: dict[str, Any] = {
        "drain": True,
        "progress": False,
        "poll_seconds": 0.1,
        "max_poll_seconds": 0.5,
        "retries": 1,
    }
    values.update(settings)
    return WorkerConfig(project.url, HMAC_SECRET, list(models), **values)


def _run(project: Project, *models: ModelSpec, **settings: Any) -> tuple[int, Worker]:
    worker = Worker(_config(project, *models, **settings))
    try:
        return worker.run(), worker
    finally:
        worker.close()


def _boxes(project: Project, analysis_id: Any) -> list[tuple[str, float, list[float]]]:
    return [(p.class_name, p.confidence, p.data["bbox"]) for p in project.predictions(analysis_id)]


def _log(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_the_worker_posts_the_known_boxes_with_overlay_and_summary(project: Project, model: Path):
    project.upload(2)
    assert project.queue(model_version="v8.0.0")["queued"] == 3
    code, worker = _run(
        project, ModelSpec("yolo_v8", model), concurrency=2, batch_size=2, worker_id="worker-1"
    )
    assert code == EXIT_OK
    assert (worker.stats.completed, worker.stats.failed, worker.stats.detections) == (3, 0, 9)
    for analysis in project.analyses():
        read = project.client.get(f"/api/analyses/{analysis.id}").json()
        assert read["status"] == "completed" and read["error_message"] is None
        assert [
            (a["class_name"], a["confidence"], a["data"]["bbox"], a["data"]["format"])
            for a in read["annotations"]
        ] == [(*e, "xyxy") for e in EXPECTED]
        assert read["annotations"][0]["bbox_xyxyn"] == pytest.approx(
            [48 / IMAGE_W, 32 / IMAGE_H, 80 / IMAGE_W, 64 / IMAGE_H]
        )
        summary = read["summary"]
        assert summary["total_detections"] == 3
        assert summary["classes"] == {"fire": 2, "smoke": 1}
        assert isinstance(summary["processing_time_ms"], float)
        assert isinstance(summary["inference_time_ms"], float)
        assert summary["model"]["name"] == "yolo_v8" and summary["model"]["version"] == "v8.0.0"
        assert summary["model"]["file"] == "tiny_yolo.onnx"
        assert summary["worker_id"] == "worker-1" and summary["attempt"] == 1
        stored = project.analyses()
        assert all(a.worker_id == "worker-1" and a.attempts == 1 for a in stored)
        [artifact] = project.client.get(f"/api/analyses/{analysis.id}/artifacts").json()[
            "artifacts"
        ]
        assert (artifact["name"], artifact["state"]) == ("detections.png", "uploaded")
        png = project.client.get(f"/api/analyses/{analysis.id}/artifacts/detections.png")
        with Image.open(io.BytesIO(png.content)) as overlay:
            assert overlay.format == "PNG" and overlay.size == (IMAGE_W, IMAGE_H)


def test_analysis_parameters_override_the_thresholds(sqlite_project: Project, model: Path):
    project = sqlite_project  # SQLite only: nothing here depends on the database
    project.queue(parameters={"confidence_threshold": 0.65})
    code, _ = _run(project, ModelSpec("yolo_v8", model), overlay=False)
    assert code == EXIT_OK
    [analysis] = project.analyses()
    assert [b[1] for b in _boxes(project, analysis.id)] == [0.9, 0.7]
    assert analysis.summary["confidence_threshold"] == 0.65 and analysis.summary["overlay"] is None
    assert project.client.get(f"/api/analyses/{analysis.id}/artifacts").json()["artifacts"] == []


def test_limit_and_model_version_bound_what_the_worker_takes(project: Project, model: Path):
    project.upload(2)
    project.queue(model_version="v1")
    project.queue(model_version="v2")
    code, worker = _run(project, ModelSpec("yolo_v8", model, "v2"), limit=2, batch_size=4)
    assert code == EXIT_OK and worker.stats.claimed == 2
    statuses = sorted((a.model_version, a.status) for a in project.analyses())
    assert statuses == [("v1", "queued")] * 3 + [("v2", "completed")] * 2 + [("v2", "queued")]


def test_a_corrupt_image_fails_with_its_reason_and_the_worker_carries_on(
    project: Project, model: Path
):
    project.upload(2)
    project.queue()
    broken_image = project.image_ids[1]
    with project.lookout.sessions() as session:
        from lookout.images.models import Image as ImageRow

        row = session.get_one(ImageRow, uuid.UUID(broken_image))
    # Same size as recorded, so the download itself succeeds; the bytes are not an image.
    garbage = bytes(i % 251 for i in range(row.size_bytes))
    make_storage(project.lookout.settings).put_bytes(row.object_key, garbage, "image/jpeg")
    code, worker = _run(project, ModelSpec("yolo_v8", model), batch_size=1)
    assert code == EXIT_FAILURES
    assert (worker.stats.completed, worker.stats.failed) == (2, 1)
    by_image = {str(a.image_id): a for a in project.analyses()}
    failed = by_image.pop(broken_image)
    assert failed.status == "failed"
    assert failed.error_message == "could not decode the image: not a known image format"
    assert failed.summary["error"] == failed.error_message
    assert project.predictions(failed.id) == []
    assert all(
        a.status == "completed" and len(_boxes(project, a.id)) == 3 for a in by_image.values()
    )


def test_a_corrupt_model_fails_its_analyses_and_the_worker_serves_the_others(
    sqlite_project: Project, model: Path, tmp_path: Path
):
    project = sqlite_project  # SQLite only: nothing here depends on the database
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07 definitely not protobuf")
    project.upload(1)
    project.queue("yolo_v8")
    project.queue("broken_model")
    code, worker = _run(
        project, ModelSpec("yolo_v8", model), ModelSpec("broken_model", broken), batch_size=4
    )
    assert code == EXIT_FAILURES
    assert (worker.stats.completed, worker.stats.failed) == (2, 2)
    for analysis in project.analyses("broken_model"):
        assert analysis.status == "failed"
        assert analysis.error_message.startswith(
            "model broken_model could not be loaded: could not load model broken.onnx"
        )
    assert all(a.status == "completed" for a in project.analyses("yolo_v8"))


def test_with_no_usable_model_the_worker_says_so(sqlite_project: Project, tmp_path: Path):
    project = sqlite_project  # SQLite only: nothing here depends on the database
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"garbage")
    project.queue()
    code, _ = _run(project, ModelSpec("yolo_v8", broken))
    assert code == EXIT_NO_MODEL
    [analysis] = project.analyses()
    assert analysis.status == "failed" and "could not be loaded" in analysis.error_message


def test_a_model_with_a_non_yolo_output_fails_each_analysis_clearly(
    sqlite_project: Project, tmp_path: Path
):
    project = sqlite_project  # SQLite only: nothing here depends on the database
    import numpy as np

    odd = tiny_yolo(tmp_path / "odd.onnx", np.zeros((1, 3), dtype=np.float32), names=None)
    project.queue()
    code, worker = _run(project, ModelSpec("yolo_v8", odd))
    assert code == EXIT_FAILURES and worker.stats.failed == 1
    [analysis] = project.analyses()
    assert analysis.status == "failed" and "YOLOv8/YOLO11" in analysis.error_message


def test_a_worker_that_lost_its_lease_writes_nothing(project: Project, model: Path):
    """The fence: an analysis taken over by another worker is dropped, never overwritten."""
    project.queue()
    claimed, go_on = threading.Event(), threading.Event()

    class Paused(Worker):
        def after_claim(self, analysis: dict[str, Any]) -> None:
            claimed.set()
            go_on.wait(30)

    worker = Paused(
        _config(
            project,
            ModelSpec("yolo_v8", model),
            worker_id="worker-a",
            heartbeat_seconds=3600,
            lease_seconds=60,
        )
    )
    outcome: list[int] = []
    thread = threading.Thread(target=lambda: outcome.append(worker.run()))
    thread.start()
    try:
        assert claimed.wait(30)
        [held] = project.analyses()
        from datetime import timedelta

        import sqlalchemy as sa

        from lookout.analyses.models import Analysis
        from lookout.db import utcnow

        with project.lookout.sessions() as session:
            session.execute(
                sa.update(Analysis)
                .where(Analysis.id == held.id)
                .values(lease_expires_at=utcnow() - timedelta(seconds=1))
            )
            session.commit()
        with QueueClient(project.url, HMAC_SECRET) as other:
            [taken] = other.claim("worker-b", "yolo_v8")["analyses"]
        assert taken["id"] == str(held.id)
    finally:
        go_on.set()
        thread.join(60)
        worker.close()
    assert outcome == [EXIT_OK] and worker.stats.lost == 1 and worker.stats.completed == 0
    [after] = project.analyses()
    assert after.status == "processing" and after.worker_id == "worker-b"
    assert project.predictions(after.id) == []


def test_the_progress_bar_counts_analyses(sqlite_project: Project, model: Path):
    project = sqlite_project  # SQLite only: nothing here depends on the database
    project.upload(1)
    project.queue()
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    worker = Worker(_config(project, ModelSpec("yolo_v8", model), progress=True), console=console)
    try:
        assert worker.run() == EXIT_OK
    finally:
        worker.close()
    assert "2/2" in buffer.getvalue()


# --- several processes ----------------------------------------------------------------------


def test_two_workers_racing_process_each_analysis_exactly_once(lookout, model: Path, tmp_path):
    project = make_project(lookout, images=10)
    assert project.queue()["queued"] == 10
    args = ("--drain", "--batch-size", "2", "--poll-seconds", "0.1", "--max-poll-seconds", "0.3")
    workers = [
        start_worker(project.url, model, *args, "--worker-id", name, log=tmp_path / f"{name}.log")
        for name in ("racer-a", "racer-b")
    ]
    codes = [w.wait(timeout=120) for w in workers]
    logs = {name: _log(tmp_path / f"{name}.log") for name in ("racer-a", "racer-b")}
    assert codes == [EXIT_OK, EXIT_OK], logs
    analyses = project.analyses()
    assert len(analyses) == 10
    assert all(a.status == "completed" and a.attempts == 1 for a in analyses)
    assert all(_boxes(project, a.id) == EXPECTED for a in analyses)
    assert {a.worker_id for a in analyses} <= {"racer-a", "racer-b"}
    assert sum(log.count("detections") for log in logs.values()) >= 10


def test_a_killed_worker_s_analysis_is_requeued_after_its_lease_and_completed_by_another(
    project: Project, model: Path, tmp_path: Path
):
    project.queue()
    [analysis] = project.analyses()
    victim = start_worker(
        project.url,
        model,
        "--worker-id",
        "victim",
        "--lease-seconds",
        "2",
        log=tmp_path / "victim.log",
        LOOKOUT_WORKER_PAUSE_AFTER_CLAIM="600",
    )
    try:
        assert wait_until(lambda: project.analyses()[0].worker_id == "victim", timeout=60), _log(
            tmp_path / "victim.log"
        )
        assert wait_until(lambda: "pausing" in _log(tmp_path / "victim.log"), timeout=30)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    assert project.analyses()[0].status == "processing"
    rescuer = subprocess.run(
        worker_command(
            project.url,
            model,
            "--worker-id",
            "rescuer",
            "--limit",
            "1",
            "--poll-seconds",
            "0.2",
            "--max-poll-seconds",
            "0.5",
        ),
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rescuer.returncode == EXIT_OK, rescuer.stdout + rescuer.stderr
    [done] = project.analyses()
    assert done.id == analysis.id
    assert (done.status, done.worker_id, done.attempts) == ("completed", "rescuer", 2)
    assert done.summary["attempt"] == 2
    assert _boxes(project, done.id) == EXPECTED


def test_sigterm_releases_claimed_analyses_and_exits_cleanly(
    project: Project, model: Path, tmp_path: Path
):
    project.upload(1)
    project.queue()
    log = tmp_path / "worker.log"
    process = start_worker(
        project.url,
        model,
        "--worker-id",
        "polite",
        "--batch-size",
        "2",
        "--concurrency",
        "2",
        log=log,
        LOOKOUT_WORKER_PAUSE_AFTER_CLAIM="600",
    )
    try:
        assert wait_until(lambda: _log(log).count("pausing") == 2, timeout=60), _log(log)
        assert all(a.status == "processing" for a in project.analyses())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == EXIT_OK, _log(log)
    finally:
        if process.poll() is None:
            process.kill()
    assert "SIGTERM" in _log(log)
    analyses = project.analyses()
    assert all(a.status == "queued" and a.attempts == 0 and a.worker_id is None for a in analyses)


def test_the_command_line_explains_bad_settings_with_exit_codes(
    sqlite_project: Project, model: Path, tmp_path: Path
):
    project = sqlite_project  # SQLite only: nothing here depends on the database
    missing = subprocess.run(
        worker_command(project.url, tmp_path / "nope.onnx"),
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == EXIT_CONFIG
    assert "model file not found" in missing.stderr and "Traceback" not in missing.stderr
    env = worker_env()
    del env["ML_CALLBACK_HMAC_SECRET"]
    no_secret = subprocess.run(
        worker_command(project.url, model), env=env, capture_output=True, text=True, timeout=60
    )
    assert no_secret.returncode == EXIT_CONFIG and "ML_CALLBACK_HMAC_SECRET" in no_secret.stderr
    wrong = subprocess.run(
        worker_command(project.url, model, "--drain"),
        env=worker_env(ML_CALLBACK_HMAC_SECRET="wrong"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode == EXIT_SERVER
    assert "refused the claim" in wrong.stderr and "Invalid HMAC signature" in wrong.stderr
    bad_serve = subprocess.run(
        worker_command(project.url, model, "--serve", "nopath"),
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad_serve.returncode == EXIT_CONFIG and "NAME=PATH" in bad_serve.stderr


def test_the_queue_command_queues_like_the_api(project: Project):
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOKOUT_", "DATABASE_URL"))}
    env["DATABASE_URL"] = project.lookout.settings.resolved_database_url
    env["LOOKOUT_DATA_DIR"] = str(project.lookout.settings.data_dir)
    command = [
        sys.executable,
        "-m",
        "lookout.cli",
        "queue",
        project.project_id,
        "--model-name",
        "yolo_v8",
        "--model-version",
        "v1",
        "--parameters",
        '{"confidence_threshold": 0.5}',
    ]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "queued 1 analyses of yolo_v8 v1; 0 images already had one" in first.stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert "queued 0 analyses" in again.stdout and "1 images already had one" in again.stdout
    [analysis] = project.analyses()
    assert analysis.parameters == {"confidence_threshold": 0.5} and analysis.created_by_id is None
    as_owner = subprocess.run(
        [*command, "--as", "worker-owner@example.org"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert as_owner.returncode == 0 and "queued 0" in as_owner.stdout
    unknown = subprocess.run(
        [sys.executable, "-m", "lookout.cli", "queue", str(uuid.uuid4())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 1 and "not found" in unknown.stderr
