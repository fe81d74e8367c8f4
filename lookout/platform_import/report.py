"""What a run reports: its statistics, and for a dry run the plan of what it would import."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# Review stages a person has touched: a draft never replaces them.
HUMAN_STAGES = frozenset({"in_review", "annotated", "needs_check"})
# What a draft records of how it was made; another value of any of them makes a new draft.
DRAFTING_KEYS = ("model_name", "confidence_threshold", "iou_threshold", "min_cluster_size")


def drafted_otherwise(stored: dict[str, Any] | None, params: dict[str, Any]) -> bool:
    """Whether Lookout's draft of a sequence was made with other drafting parameters.

    A draft that records none (made before drafts recorded them) counts as the same.
    """
    recorded = (stored or {}).get("draft_params") or {}
    return any(key in recorded and recorded[key] != params[key] for key in DRAFTING_KEYS)


@dataclass
class ImportStats:
    """Counters of one run (thread-safe through ``add``)."""

    total_sequences: int = 0
    successful_sequences: int = 0
    failed_sequences: int = 0
    annotations_created: int = 0
    annotations_skipped: int = 0
    annotations_unchanged: int = 0
    annotations_redrafted: int = 0
    sequences_truncated: int = 0
    sequences_created: int = 0
    sequences_already_present: int = 0
    frames_created: int = 0
    frames_already_present: int = 0
    frames_failed: int = 0
    zero_area_boxes: int = 0
    invalid_items: int = 0
    fetch_errors: int = 0
    failures: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        """Add to some counters."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def fail(self, what: str, reason: str, **counts: int) -> None:
        """Record and log one failure."""
        log.error("%s failed: %s", what, reason)
        with self._lock:
            self.failures.append(f"{what}: {reason}")
        self.add(**counts)

    @property
    def ok(self) -> bool:
        """Whether nothing failed."""
        return not (self.failed_sequences or self.invalid_items or self.fetch_errors)

    def lines(self) -> list[str]:
        """The final statistics block."""
        return [
            "Processing completed!",
            "Final Statistics:",
            f"  Total sequences: {self.total_sequences}",
            f"  Successful sequences: {self.successful_sequences}",
            f"  Failed sequences: {self.failed_sequences}",
            f"  Annotations created: {self.annotations_created}",
            f"  Annotations skipped (review started by a person): {self.annotations_skipped}",
            f"  Annotations already drafted (nothing new): {self.annotations_unchanged}",
            f"  Drafts redone (drafting parameters changed): {self.annotations_redrafted}",
            f"  Sequences created: {self.sequences_created}",
            f"  Sequences already present: {self.sequences_already_present}",
            f"  Frames created: {self.frames_created}",
            f"  Frames already present: {self.frames_already_present}",
            f"  Frames failed: {self.frames_failed}",
            f"  Sequences cut at --detections-limit: {self.sequences_truncated}",
            f"  Zero-area boxes left out: {self.zero_area_boxes}",
            f"  Invalid platform items: {self.invalid_items}",
            f"  Platform fetch errors: {self.fetch_errors}",
        ]


@dataclass(frozen=True)
class SequencePreview:
    """What a dry run read of one platform sequence (``stored``: Lookout's copy, if any)."""

    platform_id: int
    organization: str
    camera_id: int
    camera_name: str
    started_at: str | None
    frames: int
    boxes: int
    stored: dict[str, Any] | None
    redraft: bool = False  # drafted before with other parameters


@dataclass
class DryRunPlan:
    """What a real run would do (thread-safe through its ``count_`` methods)."""

    organizations: set[str] = field(default_factory=set)
    cameras: set[int] = field(default_factory=set)
    sequences: int = 0
    sequences_new: int = 0
    frames: int = 0
    boxes: int = 0
    drafts: int = 0
    drafts_skipped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_sequence(self, sequence: SequencePreview) -> None:
        """A platform sequence a run would import, logged."""
        stored = sequence.stored
        stage = stored.get("processing_stage") if stored else None
        grows = stored is None or int(stored.get("frame_count") or 0) < sequence.frames
        with self._lock:
            self.organizations.add(sequence.organization)
            self.cameras.add(sequence.camera_id)
            self.sequences += 1
            self.sequences_new += int(stored is None)
            self.frames += sequence.frames
            self.boxes += sequence.boxes
            fresh = grows or stage is None or sequence.redraft
            self.drafts += int(fresh and stage not in HUMAN_STAGES)
            self.drafts_skipped += int(stage in HUMAN_STAGES)
        log.info(
            "would import sequence %d (%s, camera %s, started %s): %d frames, %d boxes%s",
            sequence.platform_id,
            sequence.organization,
            sequence.camera_name,
            sequence.started_at,
            sequence.frames,
            sequence.boxes,
            " - already present" if stored else "",
        )

    def count_stored(self, items: list[dict[str, Any]]) -> None:
        """Sequences Lookout holds that --skip-platform-fetch would draft again, logged."""
        for item in items:
            human = item.get("processing_stage") in HUMAN_STAGES
            with self._lock:
                self.sequences += 1
                self.drafts += int(not human)
                self.drafts_skipped += int(human)
                self.frames += int(item.get("frame_count") or 0)
            log.info(
                "would draft sequence %s (stage %s)",
                item.get("source_id"),
                item.get("processing_stage"),
            )

    def lines(self) -> list[str]:
        """The dry-run report."""
        orgs = ", ".join(sorted(self.organizations)) or "none"
        present = self.sequences - self.sequences_new
        return [
            "Dry run: nothing was written.",
            "Would import:",
            f"  Organizations: {len(self.organizations)} ({orgs})",
            f"  Cameras: {len(self.cameras)}",
            f"  Sequences: {self.sequences} (new: {self.sequences_new}, "
            f"already present: {present})",
            f"  Frames: {self.frames} (predicted boxes: {self.boxes})",
            f"  Drafts: {self.drafts} (skipped, review started by a person: {self.drafts_skipped})",
        ]


def report_lines(plan: DryRunPlan | None, stats: ImportStats) -> list[str]:
    """What the command prints at the end: the plan of a dry run, else the statistics."""
    if plan is None:
        return stats.lines()
    lines = plan.lines()
    if not stats.ok:
        lines.append(f"  Problems: {len(stats.failures)} (see the log above)")
    return lines
