"""`lookout purge-trash`: remove the images and sequences whose time in the trash has passed.

At the top level rather than in a domain: purging a sequence takes its tracks out of their
groups (lookout.grouping), which sits above lookout.sequences.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lookout.cli_support import cli_session, console, progress_bar


def purge_trash(
    older_than_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Purge what has been in the trash for longer than this many days "
            "(default: LOOKOUT_TRASH_RETENTION_DAYS).",
        ),
    ] = None,
) -> None:
    """Purge images and sequences whose retention in the trash has passed, in every project.

    An image goes with its analyses and its stored objects (those no other image holds), a
    sequence with its frames, review and their objects, as an immediate delete does; the
    deletion-events log keeps a purge entry. What was deleted more recently stays
    restorable. Run it daily (cron, a Kubernetes CronJob).
    """
    from lookout.config import Settings
    from lookout.grouping.service import leave_groups
    from lookout.images import trash as image_trash
    from lookout.sequences import trash as sequence_trash
    from lookout.storage import make_storage

    settings = Settings()
    days = settings.trash_retention_days if older_than_days is None else older_than_days
    storage = make_storage(settings)
    with cli_session() as session:
        sequence_ids = sequence_trash.expired(session, older_than_days=days)
        image_ids = image_trash.expired(session, older_than_days=days)
        session.commit()
        with progress_bar() as bar:
            task = bar.add_task("purging the trash", total=len(sequence_ids) + len(image_ids))
            sequences = sequence_trash.purge_sequences(
                session,
                storage,
                sequence_ids,
                before_purge=leave_groups,
                on_purged=lambda _id: bar.advance(task),
            )
            images = image_trash.purge_images(
                session, storage, image_ids, on_purged=lambda _id: bar.advance(task)
            )
    console.print(
        f"purged {images} images and {sequences} sequences in the trash for more than {days} days"
    )
