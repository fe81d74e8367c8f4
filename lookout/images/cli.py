"""`lookout purge-trash`: remove the images whose time in the trash has passed."""

from __future__ import annotations

from typing import Annotated

import typer

from lookout.cli_support import cli_session, console, progress_bar


def purge_trash(
    older_than_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Purge images in the trash for longer than this many days "
            "(default: LOOKOUT_TRASH_RETENTION_DAYS).",
        ),
    ] = None,
) -> None:
    """Purge images whose retention in the trash has passed, in every project.

    Each image goes with its analyses and its stored objects (those no other image holds),
    as an immediate delete does; the deletion-events log keeps a purge entry. Images deleted
    more recently stay restorable. Run it daily (cron, a Kubernetes CronJob).
    """
    import lookout.models  # noqa: F401  (every table: a purge cascades across them)
    from lookout.config import Settings
    from lookout.images import trash
    from lookout.storage import make_storage

    settings = Settings()
    days = settings.trash_retention_days if older_than_days is None else older_than_days
    storage = make_storage(settings)
    with cli_session() as session:
        ids = trash.expired(session, older_than_days=days)
        session.commit()
        with progress_bar() as bar:
            task = bar.add_task("purging the trash", total=len(ids))
            purged = trash.purge_images(
                session, storage, ids, on_purged=lambda _id: bar.advance(task)
            )
    console.print(f"purged {purged} images in the trash for more than {days} days")
