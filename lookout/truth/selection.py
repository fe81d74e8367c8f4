"""Which frames and boxes to take from a project: source, stages, dates, camera, classes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from lookout.errors import InvalidInput
from lookout.sequences.models import ProcessingStage

CLASS_FROM = ("smoke", "smoke_type")
REVIEWS = "reviews"


@dataclass(frozen=True)
class ModelRef:
    """A model by name, and version when given (None: the only version there is)."""

    name: str
    version: str | None = None

    @property
    def label(self) -> str:
        """`name` or `name@version`."""
        return self.name if self.version is None else f"{self.name}@{self.version}"


def parse_model(text: str, *, field: str = "model") -> ModelRef:
    """`name` or `name@version` (an empty version after @ is the version "")."""
    name, at, version = text.strip().partition("@")
    if not name.strip():
        raise InvalidInput(f"{field}: name a model, e.g. yolo_v8 or yolo_v8@1.2", field=field)
    if len(name) > 200 or len(version) > 100:
        raise InvalidInput(f"{field}: model name or version is too long", field=field)
    return ModelRef(name.strip(), version.strip() if at else None)


def parse_source(text: str | None) -> ModelRef | None:
    """`reviews` (None) or `model:<name>[@version]` (a ModelRef)."""
    value = (text or REVIEWS).strip()
    if value == REVIEWS:
        return None
    if value.startswith("model:"):
        return parse_model(value[len("model:") :], field="source")
    raise InvalidInput(
        f"source: {value!r} is not a source; use 'reviews' or 'model:<name>[@version]'",
        field="source",
    )


def _check_stage(value: str) -> None:
    """An unknown processing stage is refused, naming the ones there are."""
    if value not in ProcessingStage.ALL:
        raise InvalidInput(
            f"stage: unknown processing stage {value!r}; use any or one of "
            f"{', '.join(ProcessingStage.ALL)}",
            field="stage",
        )


def check_stages(values: list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Processing stages to keep; `any` (or nothing) keeps every stage."""
    if not values:
        return None
    stages: list[str] = []
    for raw in values:
        for value in str(raw).split(","):
            value = value.strip()
            if not value:
                continue
            if value == "any":
                return None
            _check_stage(value)
            stages.append(value)
    return tuple(dict.fromkeys(stages)) or None


@dataclass(frozen=True)
class Selection:
    """Which frames and boxes to take from a project."""

    project_id: uuid.UUID
    model: ModelRef | None = None  # None: reviewed truth; else this model's boxes
    # None: `annotated` for reviews, any stage (reviewed or not) for a model's boxes.
    stages: tuple[str, ...] | None = None
    stages_given: bool = False
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    camera_id: uuid.UUID | None = None
    classes: tuple[str, ...] = ()
    class_from: str = "smoke"
    min_confidence: float | None = None
    include_negatives: bool = False
    # Only sequences whose review changed at or after this time (a nightly pull).
    changed_since: datetime | None = None

    def __post_init__(self) -> None:
        if self.class_from not in CLASS_FROM:
            raise InvalidInput(
                f"class_from: use one of {', '.join(CLASS_FROM)}, not {self.class_from!r}",
                field="class_from",
            )
        if self.min_confidence is not None and not 0 <= self.min_confidence <= 1:
            raise InvalidInput("min_confidence: must be between 0 and 1", field="min_confidence")
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise InvalidInput("date_to: is before date_from", field="date_to")
        if self.changed_since is not None and self.changed_since.tzinfo is None:
            raise InvalidInput(
                "changed_since: give a time zone (e.g. 2026-12-01T00:00:00Z)",
                field="changed_since",
            )

    @property
    def source_label(self) -> str:
        """`reviews` or `model:<name>[@version]`."""
        return REVIEWS if self.model is None else f"model:{self.model.label}"

    @property
    def review_stages(self) -> tuple[str, ...] | None:
        """Stages a review must be in (None: a review is not required)."""
        if self.stages_given:
            return self.stages
        return (ProcessingStage.ANNOTATED,) if self.model is None else None


def _class_names(classes: list[str] | None) -> tuple[str, ...]:
    """Class names given as repeated and/or comma-separated values, once each, in order."""
    names = tuple(dict.fromkeys(c.strip() for raw in classes or [] for c in raw.split(",")))
    return tuple(c for c in names if c)


def make_selection(
    *,
    project_id: uuid.UUID,
    source: str | None = None,
    stage: list[str] | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    camera_id: uuid.UUID | None = None,
    classes: list[str] | None = None,
    class_from: str = "smoke",
    min_confidence: float | None = None,
    negatives: bool = False,
    changed_since: datetime | None = None,
) -> Selection:
    """A Selection from user-facing options (API query or command line)."""
    return Selection(
        project_id=project_id,
        model=parse_source(source),
        stages=check_stages(stage),
        # "any" given explicitly means no stage filter even for reviews (any review).
        stages_given=bool(stage),
        date_from=date_from,
        date_to=date_to,
        camera_id=camera_id,
        classes=_class_names(classes),
        class_from=class_from,
        min_confidence=min_confidence,
        include_negatives=negatives,
        changed_since=changed_since,
    )


def describe(selection: Selection) -> str:
    """The selection in words, for messages."""
    parts = [f"source {selection.source_label}"]
    stages = selection.review_stages
    parts.append(f"stage {' or '.join(stages)}" if stages else "any stage")
    if selection.date_from or selection.date_to:
        parts.append(f"dates {selection.date_from or '…'} to {selection.date_to or '…'}")
    if selection.camera_id:
        parts.append(f"camera {selection.camera_id}")
    if selection.changed_since:
        parts.append(f"reviews changed since {selection.changed_since.isoformat()}")
    return ", ".join(parts)
