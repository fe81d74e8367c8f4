"""The command line's usage errors (exit 2) and its help, without a database."""

from __future__ import annotations

import io
import subprocess
import sys
from typing import Any

import pytest
from rich.console import Console

from tests.annotator_import.helpers import run_annotator_import

NOWHERE = "http://127.0.0.1:9"


def test_a_malformed_url_is_a_usage_error() -> None:
    for url in ("ftp://example.org", "annotator.example.org", "http://"):
        run = run_annotator_import(None, url)
        assert run.exit_code == 2, url
        assert f"Invalid --url {url!r}: expected http(s)://host[:port]" in run.stderr


def test_half_credentials_are_named() -> None:
    run = run_annotator_import(None, NOWHERE, PYRO_ANNOTATOR_PASSWORD=None)
    assert run.exit_code == 2
    assert (
        "Missing pyro-annotator credentials: set PYRO_ANNOTATOR_PASSWORD (--password), "
        "or give --token"
    ) in run.stderr
    assert "PYRO_ANNOTATOR_USERNAME" not in run.stderr
    other = run_annotator_import(None, NOWHERE, PYRO_ANNOTATOR_USERNAME=None)
    assert other.exit_code == 2
    assert "set PYRO_ANNOTATOR_USERNAME (--username), or give --token" in other.stderr


def test_dates_and_source_are_checked() -> None:
    run = run_annotator_import(
        None, NOWHERE, "--date-from", "2024-02-01", "--date-end", "2024-01-01"
    )
    assert run.exit_code == 2
    assert "Invalid combination of --date-from and --date-end" in run.stderr
    bad = run_annotator_import(None, NOWHERE, "--date-from", "01/02/2024")
    assert bad.exit_code == 2
    assert "Invalid date for --date-from" in bad.stderr
    from typer.testing import CliRunner

    from lookout.cli import app

    other = CliRunner().invoke(app, ["import-annotations", "cvat", "--url", NOWHERE])
    assert other.exit_code == 2
    assert "pyro-annotator" in other.output


def test_help_explains_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lookout.cli", "import-annotations", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for words in (
        "pyro-annotator",
        "seq_annotation_done and annotated -> annotated",
        "PYRO_ANNOTATOR_USERNAME",
        "never replaced",
        "Exit status: 0 when nothing failed, 1 when something failed",
        "--dry-run",
    ):
        assert words in text, words
    listed = subprocess.run(
        [sys.executable, "-m", "lookout.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert "import-annotations" in listed.stdout


def test_progress_bars_on_a_terminal(
    local_lookout: Any, annotator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lookout.annotator_import.cli import run
    from lookout.annotator_import.report import AnnotatorImportOptions
    from lookout.httpretry import RetryPolicy

    monkeypatch.setenv("DATABASE_URL", local_lookout.settings.resolved_database_url)
    monkeypatch.setenv("LOOKOUT_DATA_DIR", str(local_lookout.settings.data_dir))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    options = AnnotatorImportOptions(
        url=annotator.url, username="admin", password="admin-pass", token=None, policy=RetryPolicy()
    )
    assert run(options, console, project=None, user=None) == 0
    drawn = screen.getvalue()
    assert "Reading pyro-annotator" in drawn
    assert "Importing sequences" in drawn
    assert "5/5" in drawn
