"""Names and shapes of exports: formats, sources, options."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from lookout.errors import InvalidInput
from lookout.sequences.models import ProcessingStage

FORMATS = ("coco", "yolo", "voc", "csv", "jsonl")
IMAGE_MODES = ("copy", "reference")
CLASS_FROM = ("smoke", "smoke_type")
SPLITS = ("train", "val", "test")
DEFAULT_SPLIT = (0.8, 0.1, 0.1)
REVIEWS = "reviews"


@dataclass(frozen=True)
class ModelRef:
    """A model by name, and version when given (None: the only version there is)."""

    name: str
    version: str | None = None

    @property
    def label(self) -> str:
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


def check_format(value: str) -> str:
    if value not in FORMATS:
        raise InvalidInput(
            f"format: unknown export format {value!r}; use one of {', '.join(FORMATS)}",
            field="format",
        )
    return value


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
            if value not in ProcessingStage.ALL:
                raise InvalidInput(
                    f"stage: unknown processing stage {value!r}; use any or one of "
                    f"{', '.join(ProcessingStage.ALL)}",
                    field="stage",
                )
            stages.append(value)
    return tuple(dict.fromkeys(stages)) or None


def parse_split(text: str | None) -> tuple[float, float, float]:
    """`train,val,test` fractions such as `0.8,0.1,0.1` (normalized to sum to 1)."""
    if text is None or not str(text).strip():
        return DEFAULT_SPLIT
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3 or any(v < 0 or v != v for v in values) or sum(values) <= 0:
        raise InvalidInput(
            f"split: {text!r} must be three non-negative numbers train,val,test, e.g. 0.8,0.1,0.1",
            field="split",
        )
    total = sum(values)
    return (values[0] / total, values[1] / total, values[2] / total)


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

    @property
    def source_label(self) -> str:
        return REVIEWS if self.model is None else f"model:{self.model.label}"

    @property
    def review_stages(self) -> tuple[str, ...] | None:
        """Stages a review must be in (None: a review is not required)."""
        if self.stages_given:
            return self.stages
        return (ProcessingStage.ANNOTATED,) if self.model is None else None


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
) -> Selection:
    """A Selection from user-facing options (API query or command line)."""
    stages = check_stages(stage)
    # "any" given explicitly means no stage filter even for reviews (any review).
    given = bool(stage)
    names = tuple(dict.fromkeys(c.strip() for raw in classes or [] for c in raw.split(",")))
    names = tuple(c for c in names if c)
    return Selection(
        project_id=project_id,
        model=parse_source(source),
        stages=stages,
        stages_given=given,
        date_from=date_from,
        date_to=date_to,
        camera_id=camera_id,
        classes=names,
        class_from=class_from,
        min_confidence=min_confidence,
        include_negatives=negatives,
    )


@dataclass(frozen=True)
class ExportOptions:
    format: str = "coco"
    images: str = "copy"  # copy the bytes, or reference them (manifest + URLs)
    split: tuple[float, float, float] = DEFAULT_SPLIT
    seed: int = 0
    base_url: str | None = None  # for image URLs in reference mode

    def __post_init__(self) -> None:
        check_format(self.format)
        if self.images not in IMAGE_MODES:
            raise InvalidInput(
                f"images: use copy or reference, not {self.images!r}", field="images"
            )


@dataclass(frozen=True)
class ExportSummary:
    images: int
    boxes: int
    negatives: int
    skipped: int
    classes: list[str]
    splits: dict[str, int]
