"""Helpers for the pyro-annotator import tests: a runner and reads of what Lookout holds."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from lookout.cli import app
from tests.platform_import.helpers import Run

FAST = ["--backoff-base", "0.01", "--backoff-max", "0.05", "--timeout", "5", "--retries", "2"]
ENV_NAMES = (
    "PYRO_ANNOTATOR_URL",
    "PYRO_ANNOTATOR_USERNAME",
    "PYRO_ANNOTATOR_PASSWORD",
    "PYRO_ANNOTATOR_TOKEN",
)
TABLES = (
    "projects",
    "cameras",
    "sequences",
    "images",
    "analyses",
    "predictions",
    "sequence_reviews",
    "review_versions",
)


def cli_env(lookout: Any | None, **extra: str | None) -> dict[str, str | None]:
    """Lookout's database and data folder, the fake's admin login, nothing else set."""
    env: dict[str, str | None] = dict.fromkeys(ENV_NAMES)
    env |= {"PYRO_ANNOTATOR_USERNAME": "admin", "PYRO_ANNOTATOR_PASSWORD": "admin-pass"}
    if lookout is not None:
        env |= {
            "DATABASE_URL": lookout.settings.resolved_database_url,
            "LOOKOUT_DATA_DIR": str(lookout.settings.data_dir),
        }
    return env | extra


def run_annotator_import(lookout: Any | None, url: str, *args: str, **env: str | None) -> Run:
    """The command, in-process, with fast retries; its exit code and output."""
    argv = ["import-annotations", "pyro-annotator", "--url", url, *FAST, *args]
    result = CliRunner().invoke(app, argv, env=cli_env(lookout, **env), catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def counts(lookout: Any) -> dict[str, int]:
    """Rows of each table the import writes."""
    with lookout.sessions() as session:
        return {t: session.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in TABLES}


def sequence_by_platform_id(session: Any, platform_id: int) -> Any:
    """The Lookout sequence of a platform sequence id."""
    from lookout.sequences.models import Sequence

    return session.scalars(
        sa.select(Sequence).where(
            Sequence.source == "pyronear", Sequence.source_id == str(platform_id)
        )
    ).one()


def frame_ids(session: Any, sequence_id: Any) -> dict[str, str]:
    """The sequence's frames: source id (the platform's detection id) -> Lookout frame id."""
    from lookout.images.models import Image

    rows = session.execute(
        sa.select(Image.source_id, Image.id).where(Image.sequence_id == sequence_id)
    )
    return {source_id: str(image_id) for source_id, image_id in rows}
