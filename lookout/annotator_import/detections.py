"""Detection annotations: the boxes people drew on a frame in pyro-annotator, stored as an
analysis `pyro-annotator` of that frame (replaced when changed there, never duplicated)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.analyses import bulk
from lookout.analyses import service as analyses
from lookout.analyses.models import Analysis
from lookout.annotator_import.client import AnnotatorClient
from lookout.annotator_import.mapping import DETECTION_DONE, SOURCE, Frame
from lookout.annotator_import.report import (
    AnnotatorImportOptions,
    AnnotatorStats,
    SequenceFailed,
    log,
)
from lookout.annotator_import.shapes import AnnotatorDetectionAnnotation, AnnotatorSequence
from lookout.auth.principal import Principal
from lookout.images.models import Image
from lookout.storage import ObjectStorage

# The analysis holding the boxes people drew on a frame in pyro-annotator.
DETECTION_MODEL = "pyro-annotator"
DETECTION_MODEL_VERSION = "human"


@dataclass
class DetectionAnnotations:
    """Writes one sequence's detection annotations within an import run."""

    session: Session
    storage: ObjectStorage
    principal: Principal
    stats: AnnotatorStats
    options: AnnotatorImportOptions

    def import_for(
        self, client: AnnotatorClient, seq: AnnotatorSequence, frames: dict[int, Frame]
    ) -> None:
        """Each finished detection annotation as an analysis `pyro-annotator` of its frame."""
        listed = client.detection_annotations(seq.id)
        if listed.problems:
            self.stats.add(invalid_items=len(listed.problems))
            raise SequenceFailed(
                f"{len(listed.problems)} detection annotation(s) with an unexpected shape "
                f"(first: {listed.problems[0]})"
            )
        for ann in listed.items:
            frame = frames.get(ann.detection_id)
            if ann.processing_stage != DETECTION_DONE:
                self.stats.add(detection_annotations_unfinished=1)
                continue
            if frame is None:
                self.stats.add(boxes_left_out=len(ann.annotation.annotation))
                log.warning(
                    "detection annotation %d: detection %d is not in sequence %d; left out",
                    ann.id,
                    ann.detection_id,
                    seq.id,
                )
                continue
            image_id = uuid.UUID(frame.frame_id)
            present = sa.select(Analysis).where(
                Analysis.image_id == image_id, Analysis.model_name == DETECTION_MODEL
            )
            stored = list(self.session.scalars(present))
            changed_at = (ann.updated_at or ann.created_at).isoformat()
            if any(
                a.provenance.get("detection_annotation_id") == ann.id
                and a.provenance.get("changed_at") == changed_at
                for a in stored
            ):
                self.stats.add(detection_annotations_present=1)
                continue
            # New, or changed in pyro-annotator since: the import owns these analyses (nobody
            # edits a model's boxes in Lookout), so the older one is replaced.
            self.stats.add(
                detection_annotations_updated=int(bool(stored)),
                detection_annotations_created=int(not stored),
            )
            if self.options.dry_run or self.session.get(Image, image_id) is None:
                continue
            for old in stored:
                analyses.delete_analysis(
                    self.session, self.storage, principal=self.principal, analysis_id=old.id
                )
            self._store(ann, image_id, changed_at)

    def _store(
        self, ann: AnnotatorDetectionAnnotation, image_id: uuid.UUID, changed_at: str
    ) -> None:
        """The boxes of one detection annotation (those with an area) as an analysis."""
        image = self.session.get_one(Image, image_id)
        boxes = ann.annotation.annotation
        kept = [b for b in boxes if b.xyxyn[2] > b.xyxyn[0] and b.xyxyn[3] > b.xyxyn[1]]
        self.stats.add(boxes_left_out=len(boxes) - len(kept))
        names = [c.username for c in ann.contributors or []]
        analysis = analyses.create_analysis_row(
            self.session,
            image=image,
            model_name=DETECTION_MODEL,
            model_version=DETECTION_MODEL_VERSION,
            status="completed",
            description="Boxes a person drew on this frame in pyro-annotator",
            provenance={
                "source": SOURCE,
                "server": self.options.url,
                "detection_annotation_id": ann.id,
                "detection_id": ann.detection_id,
                "processing_stage": ann.processing_stage,
                "created_at": ann.created_at.isoformat(),
                "updated_at": ann.updated_at.isoformat() if ann.updated_at else None,
                "changed_at": changed_at,
                "contributors": names,
            },
        )
        bulk.insert_annotations(
            self.session,
            analysis=analysis,
            image=image,
            annotations=[
                {
                    "annotation_type": "bounding_box",
                    "class_name": box.class_name or "smoke",
                    "data": {"bbox": box.xyxyn, "format": "xyxyn", "smoke_type": box.smoke_type},
                }
                for box in kept
            ],
        )
        self.session.commit()
