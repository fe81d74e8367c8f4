"""Command-line behaviour: configuration errors, exit codes, and the document's command lines."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lookout.fake_platform import RunningFakePlatform, expected
from tests.conftest import unavailable
from tests.platform_import.helpers import ENV_NAMES, org1_env, run_import

REPO = Path(__file__).resolve().parents[2]
NOWHERE = "http://127.0.0.1:9"
DOC_BLOCK = (
    "Processing completed!\nFinal Statistics:\n  Total sequences: {total}\n"
    "  Successful sequences: {total}\n  Failed sequences: 0\n  Annotations created: {created}\n"
)


def test_missing_credentials_are_listed() -> None:
    run = run_import(NOWHERE, NOWHERE, "--date-from", "2024-01-01", env=dict.fromkeys(ENV_NAMES))
    assert run.exit_code == 2
    assert "Missing platform credentials" in run.stderr
    for name in ENV_NAMES[:4]:
        assert name in run.stderr
    partial = org1_env(PLATFORM_ADMIN_PASSWORD=None, PLATFORM_PASSWORD="")
    run = run_import(NOWHERE, NOWHERE, "--date-from", "2024-01-01", env=partial)
    assert run.exit_code == 2
    assert "PLATFORM_PASSWORD, PLATFORM_ADMIN_PASSWORD" in run.stderr
    assert "PLATFORM_LOGIN," not in run.stderr


def test_credentials_from_a_dotenv_file(platform: RunningFakePlatform) -> None:
    Path(".env").write_text(
        "PLATFORM_LOGIN=org1-user\nPLATFORM_PASSWORD=wrong\n"
        "PLATFORM_ADMIN_LOGIN=admin\nPLATFORM_ADMIN_PASSWORD=admin-pass\n"
    )
    run = run_import(
        platform.url,
        NOWHERE,
        "--date-from",
        "2024-01-01",
        "--date-end",
        "2024-01-01",
        env=dict.fromkeys(ENV_NAMES),
    )
    assert run.exit_code == 1
    assert "Failed to fetch access token for 'org1-user'" in run.stderr


def test_date_from_after_date_end() -> None:
    run = run_import(NOWHERE, NOWHERE, "--date-from", "2024-01-02", "--date-end", "2024-01-01")
    assert run.exit_code == 2
    assert "Invalid combination of --date-from and --date-end parameters" in run.stderr


@pytest.mark.parametrize("value", ["2024-13-01", "01/02/2024", "yesterday", "2024-1-1"])
def test_bad_date(value: str) -> None:
    run = run_import(NOWHERE, NOWHERE, "--date-from", value)
    assert run.exit_code == 2
    assert "expected YYYY-MM-DD" in run.stderr


def test_missing_date_from_and_bad_choices() -> None:
    assert run_import(NOWHERE, NOWHERE).exit_code == 2
    bad = run_import(NOWHERE, NOWHERE, "--date-from", "2024-01-01", "--detections-order-by", "up")
    assert bad.exit_code == 2
    bad = run_import(NOWHERE, NOWHERE, "--date-from", "2024-01-01", "--confidence-threshold", "2")
    assert bad.exit_code == 2
    bad = run_import(NOWHERE, NOWHERE, "--date-from", "2024-01-01", "--loglevel", "loud")
    assert bad.exit_code == 2


def test_wrong_passwords(platform: RunningFakePlatform) -> None:
    args = ("--date-from", "2024-01-01", "--date-end", "2024-01-01")
    run = run_import(platform.url, NOWHERE, *args, env=org1_env(PLATFORM_PASSWORD="nope"))
    assert run.exit_code == 1
    assert "Failed to fetch access token for 'org1-user'" in run.stderr
    run = run_import(platform.url, NOWHERE, *args, env=org1_env(PLATFORM_ADMIN_PASSWORD="nope"))
    assert run.exit_code == 1
    assert "Failed to fetch access token for 'admin'" in run.stderr
    bad_extra = org1_env(PLATFORM_EXTRA_CREDENTIALS="org2-user")
    assert run_import(platform.url, NOWHERE, *args, env=bad_extra).exit_code == 2


def test_lookout_unreachable(platform: RunningFakePlatform) -> None:
    run = run_import(
        platform.url,
        NOWHERE,
        "--date-from",
        "2024-01-01",
        "--date-end",
        "2024-01-01",
        "--retries",
        "2",
    )
    assert run.exit_code == 1
    assert "Cannot reach the annotation API" in run.stderr


def test_help_explains_several_organizations() -> None:
    run = run_import(NOWHERE, NOWHERE, "--help", env=org1_env(COLUMNS="200"))
    assert run.exit_code == 0
    text = " ".join(run.stdout.replace("│", " ").split())
    assert "PLATFORM_EXTRA_CREDENTIALS" in text
    assert "login2:password2,login3:password3" in text
    for flag in (
        "--date-from",
        "--date-end",
        "--url-api-platform",
        "--url-api-annotation",
        "--detections-limit",
        "--detections-order-by",
        "--confidence-threshold",
        "--iou-threshold",
        "--min-cluster-size",
        "--dry-run",
        "--skip-platform-fetch",
        "--loglevel",
        "--api-key",
        "--concurrency",
    ):
        assert flag in text


def test_lookout_api_key(platform: RunningFakePlatform, lookout: Any) -> None:
    """Without local mode a key is needed; with LOOKOUT_API_KEY the import goes through."""
    args = ("--date-from", "2024-01-01", "--date-end", "2024-01-02")
    refused = run_import(platform.url, lookout.url, *args)
    assert refused.exit_code == 1
    assert "LOOKOUT_API_KEY" in refused.stderr
    # A dry run only warns: it writes nothing anyway.
    dry = run_import(platform.url, lookout.url, *args, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "could not list the sequences Lookout already holds" in dry.stderr
    key = lookout.user_with_key("importer@example.org", group=None, admin=True)
    run = run_import(platform.url, lookout.url, *args, env=org1_env(LOOKOUT_API_KEY=key))
    assert run.exit_code == 0, run.output
    assert lookout.count("sequences") == expected(platform.config).sequences_per_org[1]


# ---------------------------------------------------------------- the document's command lines


def _shell(command: str, platform_url: str, lookout_url: str) -> subprocess.CompletedProcess:
    """Run a command line of the document, pointed at the fake platform and a local Lookout."""
    uv = shutil.which("uv")
    if uv is None:
        unavailable("uv is not on PATH")
    argv = shlex.split(command)
    if "--url-api-platform" not in argv:
        argv += ["--url-api-platform", platform_url, "--url-api-annotation", lookout_url]
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env |= {k: v for k, v in org1_env().items() if v is not None}
    # The test already runs in the synced environment: never re-lock or re-sync from here.
    env["UV_NO_SYNC"] = "1"
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


MODULE = "uv run python -m scripts.data_transfer.ingestion.platform.import"


def test_document_command_lines(platform: RunningFakePlatform, local_lookout: Any) -> None:
    """The development workflow of the document, run as printed."""
    url, lk = platform.url, local_lookout.url
    n = expected(platform.config).sequences_per_org[1]
    dry = _shell(
        f"{MODULE} --date-from 2024-01-01 --date-end 2024-01-02 --dry-run --loglevel debug", url, lk
    )
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: nothing was written." in dry.stdout
    assert local_lookout.count("sequences") == 0
    full = _shell(f"{MODULE} --date-from 2024-01-01 --date-end 2024-01-02 --loglevel info", url, lk)
    assert full.returncode == 0, full.stderr
    assert DOC_BLOCK.format(total=n, created=n) in full.stdout
    skip = _shell(
        f"{MODULE} --date-from 2024-01-01 --date-end 2024-01-02 "
        "--skip-platform-fetch --loglevel info",
        url,
        lk,
    )
    assert skip.returncode == 0, skip.stderr
    assert DOC_BLOCK.format(total=n, created=n) in skip.stdout
    custom = _shell(
        f'{MODULE} --url-api-platform "{url}" --url-api-annotation "{lk}" '
        "--date-from 2024-01-01 --date-end 2024-01-07 --detections-limit 50 "
        "--detections-order-by desc --loglevel info",
        url,
        lk,
    )
    assert custom.returncode == 0, custom.stderr
    assert "Sequences already present: 4" in custom.stdout
    tuned = _shell(
        f"{MODULE} --date-from 2024-01-01 --confidence-threshold 0.5 "
        "--iou-threshold 0.4 --min-cluster-size 2 --loglevel debug",
        url,
        lk,
    )
    assert tuned.returncode == 0, tuned.stderr
    assert "Processing completed!" in tuned.stdout
    lookout_cli = _shell(
        "uv run lookout import-platform --date-from 2024-01-01 "
        "--date-end 2024-01-02 --loglevel warning",
        url,
        lk,
    )
    assert lookout_cli.returncode == 0, lookout_cli.stderr
    assert lookout_cli.stderr == ""
    assert local_lookout.count("sequences") == n
