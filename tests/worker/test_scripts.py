"""The ML document's scripts: `scripts/run_yolov8_pipeline.sh <project_id> --install-deps
--limit 5` and `scripts/yolov8_ml_pipeline.py`, run as a user runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lookout.worker.detector import file_sha256
from tests.conftest import HMAC_SECRET, unavailable
from tests.worker.support import EXPECTED, Project

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
SHELL = SCRIPTS / "run_yolov8_pipeline.sh"
PYTHON = SCRIPTS / "yolov8_ml_pipeline.py"


def _env(project: Project, **extra: str) -> dict[str, str]:
    drop = ("ML_CALLBACK_HMAC", "API_KEY", "YOLO_MODEL_PATH", "LOOKOUT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        {
            "LOOKOUT_URL": project.url,
            "API_KEY": project.api_key,
            "ML_CALLBACK_HMAC_SECRET": HMAC_SECRET,
            **extra,
        }
    )
    return env


def _run(command: list[str], env: dict[str, str], cwd: Path = SCRIPTS):
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=180)


@pytest.fixture
def needs_uv() -> None:
    if shutil.which("uv") is None:
        unavailable("uv is not on PATH")


def test_the_documented_command_analyzes_limit_images(
    sqlite_project: Project, model: Path, needs_uv
):
    project = sqlite_project
    project.upload(2)
    env = _env(project, YOLO_MODEL_PATH=str(model))
    first = _run(["./run_yolov8_pipeline.sh", project.project_id, "--limit", "2"], env)
    assert first.returncode == 0, first.stdout + first.stderr
    version = f"tiny_yolo-{file_sha256(model)[:8]}"
    assert f"model yolo_v8 {version}" in first.stdout
    assert "queued 2 analyses (0 images already had one)" in first.stdout
    assert "done: 2 completed, 0 failed, 6 detections" in first.stdout
    analyses = project.analyses()
    assert sorted(str(a.image_id) for a in analyses) == sorted(project.image_ids[:2])
    assert all(a.status == "completed" and a.model_version == version for a in analyses)
    assert all(
        [(p.class_name, p.confidence, p.data["bbox"]) for p in project.predictions(a.id)]
        == EXPECTED
        for a in analyses
    )
    # Again, with room for more: only the image left is analyzed.
    second = _run(["./run_yolov8_pipeline.sh", project.project_id, "--limit", "5"], env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "queued 1 analyses (2 images already had one)" in second.stdout
    assert "done: 1 completed" in second.stdout
    assert sorted(str(a.image_id) for a in project.analyses()) == sorted(project.image_ids)


def test_install_deps_runs_uv_sync_first(
    sqlite_project: Project, model: Path, tmp_path: Path, needs_uv
):
    real_uv = shutil.which("uv")
    calls = tmp_path / "uv-calls.txt"
    fake = tmp_path / "bin" / "uv"
    fake.parent.mkdir()
    # Records each call; `uv sync` is recorded only (the test environment is already synced).
    fake.write_text(
        f'#!/bin/sh\necho "$@" >> "{calls}"\n[ "$1" = sync ] && exit 0\nexec "{real_uv}" "$@"\n'
    )
    fake.chmod(0o755)
    env = _env(sqlite_project, YOLO_MODEL_PATH=str(model))
    env["PATH"] = f"{fake.parent}{os.pathsep}{env['PATH']}"
    result = _run(
        ["./run_yolov8_pipeline.sh", sqlite_project.project_id, "--install-deps", "--limit", "5"],
        env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = calls.read_text().splitlines()
    assert recorded[0] == "sync" and recorded[1].startswith("run --no-sync")
    assert "installing dependencies: uv sync" in result.stdout
    assert [a.status for a in sqlite_project.analyses()] == ["completed"]


def test_a_missing_model_is_a_clear_error_and_queues_nothing(
    sqlite_project: Project, tmp_path: Path, needs_uv
):
    env = _env(sqlite_project)
    result = _run(["./run_yolov8_pipeline.sh", sqlite_project.project_id, "--limit", "5"], env)
    assert result.returncode == 2
    assert "pass --model PATH or set YOLO_MODEL_PATH" in result.stderr
    assert "never downloads" in result.stderr and "Traceback" not in result.stderr
    absent = _run(
        [
            sys.executable,
            str(PYTHON),
            sqlite_project.project_id,
            "--model",
            str(tmp_path / "absent.onnx"),
        ],
        env,
    )
    assert absent.returncode == 2 and "model file not found" in absent.stderr
    no_project = _run(["./run_yolov8_pipeline.sh"], env)
    assert no_project.returncode == 2 and "name the project" in no_project.stderr
    assert sqlite_project.analyses() == []


def test_the_python_script_reads_a_dotenv_file_and_reports_server_errors(
    sqlite_project: Project, model: Path, tmp_path: Path
):
    project = sqlite_project
    env = _env(project)
    del env["ML_CALLBACK_HMAC_SECRET"]
    # `source .env` without export does not reach the script: it reads .env itself.
    (tmp_path / ".env").write_text(
        f"ML_CALLBACK_HMAC_SECRET='{HMAC_SECRET}'\nYOLO_MODEL_PATH={model}\n"
    )
    ok = _run(
        [sys.executable, str(PYTHON), project.project_id, "--model-version", "v1"],
        env,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    [analysis] = project.analyses()
    assert (analysis.model_version, analysis.status) == ("v1", "completed")
    assert analysis.parameters == {"confidence_threshold": 0.25, "iou_threshold": 0.45}
    unknown = _run(
        [sys.executable, str(PYTHON), "00000000-0000-0000-0000-000000000000"], env, cwd=tmp_path
    )
    assert unknown.returncode == 4
    assert "could not queue the model" in unknown.stderr and "not found" in unknown.stderr
