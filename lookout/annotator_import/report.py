"""What a pyro-annotator import is asked to do, what it counts, and how it stops."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date

from lookout.httpretry import RetryPolicy
from lookout.platform_import.report import ImportStats

log = logging.getLogger("lookout.annotator_import")

DEFAULT_EMAIL_DOMAIN = "pyro-annotator.invalid"


class AnnotatorImportAborted(Exception):
    """A problem that stops the whole run (credentials refused, server unreachable)."""


class SequenceFailed(Exception):
    """A problem that fails one sequence only."""


@dataclass
class AnnotatorStats(ImportStats):
    """The platform import's counters (sequences, frames, failures) plus the annotations'."""

    reviews_created: int = 0
    reviews_updated: int = 0
    reviews_unchanged: int = 0
    reviews_kept: int = 0
    drafts_left: int = 0
    sequences_without_annotation: int = 0
    boxes_left_out: int = 0
    detection_annotations_created: int = 0
    detection_annotations_present: int = 0
    detection_annotations_updated: int = 0
    detection_annotations_unfinished: int = 0
    dry_run: bool = False

    def lines(self) -> list[str]:
        """The final statistics block (for a dry run: what a run would do)."""
        head = (
            ["Dry run: nothing was written. A run would do this:"]
            if self.dry_run
            else ["Processing completed!"]
        )
        return [
            *head,
            "Final Statistics:",
            f"  Total sequences: {self.total_sequences}",
            f"  Successful sequences: {self.successful_sequences}",
            f"  Failed sequences: {self.failed_sequences}",
            f"  Sequences created: {self.sequences_created}",
            f"  Sequences already present: {self.sequences_already_present}",
            f"  Frames created: {self.frames_created}",
            f"  Frames already present: {self.frames_already_present}",
            f"  Frames failed: {self.frames_failed}",
            f"  Reviews created: {self.reviews_created}",
            f"  Reviews updated (changed in pyro-annotator): {self.reviews_updated}",
            f"  Reviews unchanged (already imported): {self.reviews_unchanged}",
            f"  Reviews kept (changed or made in Lookout): {self.reviews_kept}",
            f"  Drafts not imported (Lookout has a draft): {self.drafts_left}",
            f"  Sequences without annotation: {self.sequences_without_annotation}",
            f"  Boxes left out: {self.boxes_left_out}",
            f"  Detection annotations created: {self.detection_annotations_created}",
            f"  Detection annotations already present: {self.detection_annotations_present}",
            f"  Detection annotations updated: {self.detection_annotations_updated}",
            f"  Detection annotations not finished: {self.detection_annotations_unfinished}",
            f"  Invalid pyro-annotator items: {self.invalid_items}",
        ]


@dataclass(frozen=True)
class AnnotatorImportOptions:
    """What one run reads and how it writes."""

    url: str
    username: str | None
    password: str | None
    token: str | None
    policy: RetryPolicy
    project_id: uuid.UUID | None = None
    email_domain: str = DEFAULT_EMAIL_DOMAIN
    date_from: date | None = None
    date_end: date | None = None
    dry_run: bool = False
    detection_annotations: bool = True
    concurrency: int = 4
    max_image_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 100_000_000
