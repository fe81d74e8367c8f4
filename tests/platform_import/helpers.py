"""Helpers for the platform import tests: small platform configs, credentials, a runner."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner

from lookout.fake_platform import FakePlatformConfig
from lookout.platform_import.cli import app

DAYS = ["2024-01-01", "2024-01-02"]
# Short pauses so retries do not slow the tests down.
FAST = ["--backoff-base", "0.01", "--backoff-max", "0.05", "--timeout", "5"]
ENV_NAMES = (
    "PLATFORM_LOGIN",
    "PLATFORM_PASSWORD",
    "PLATFORM_ADMIN_LOGIN",
    "PLATFORM_ADMIN_PASSWORD",
    "PLATFORM_EXTRA_CREDENTIALS",
    "LOOKOUT_API_KEY",
)


def small_config(**changes: Any) -> FakePlatformConfig:
    """Two organizations, one camera each, two days, two sequences a day: 8 sequences."""
    values: dict[str, Any] = {
        "seed": 3,
        "organizations": 2,
        "cameras_per_org": 1,
        "days": list(DAYS),
        "sequences_per_camera_per_day": 2,
        "detections_per_sequence": 3,
        "image_size": (160, 120),
    }
    return FakePlatformConfig(**(values | changes))


def org1_env(**extra: str | None) -> dict[str, str | None]:
    """Credentials of organization 1 and the admin (every other importer variable unset)."""
    env: dict[str, str | None] = dict.fromkeys(ENV_NAMES)
    env |= {
        "PLATFORM_LOGIN": "org1-user",
        "PLATFORM_PASSWORD": "org1-pass",
        "PLATFORM_ADMIN_LOGIN": "admin",
        "PLATFORM_ADMIN_PASSWORD": "admin-pass",
    }
    return env | extra


def both_orgs_env() -> dict[str, str | None]:
    """Organization 1 plus organization 2 through PLATFORM_EXTRA_CREDENTIALS."""
    return org1_env(PLATFORM_EXTRA_CREDENTIALS="org2-user:org2-pass")


@dataclass
class Run:
    """The outcome of one command run."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Both streams."""
        return self.stdout + self.stderr

    def stat(self, name: str) -> int:
        """A number from the statistics block, e.g. ``stat("Total sequences")``."""
        match = re.search(rf"^  {re.escape(name)}: (\d+)", self.stdout, re.MULTILINE)
        assert match, f"{name!r} not in output:\n{self.output}"
        return int(match.group(1))


def run_import(
    platform_url: str,
    lookout_url: str,
    *args: str,
    env: dict[str, str | None] | None = None,
) -> Run:
    """Run the command in-process with fast retries; returns its exit code and output."""
    argv = ["--url-api-platform", platform_url, "--url-api-annotation", lookout_url, *FAST]
    result = CliRunner().invoke(
        app, [*argv, *args], env=env if env is not None else org1_env(), catch_exceptions=False
    )
    return Run(result.exit_code, result.stdout, result.stderr)


def objects_match_rows(lookout: Any) -> bool:
    """Every stored object belongs to an image row and every row's objects exist."""
    import sqlalchemy as sa

    from tests.support import stored_files

    root = lookout.settings.resolved_storage_path
    files = {p.relative_to(root).as_posix() for p in stored_files(root)} if root.exists() else set()
    with lookout.sessions() as session:
        rows = session.execute(sa.text("SELECT object_key, thumbnail_key FROM images")).all()
    keys = {k for row in rows for k in row if k}
    return files == keys
