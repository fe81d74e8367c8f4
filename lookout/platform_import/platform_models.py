"""Validated shapes of the platform's answers, for the 2025 schema and the later one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from lookout.platform_import.boxes import ParsedBox, parse_bboxes

# The later platform's labels; the 2025 platform sends a bool or null instead.
WILDFIRE_LABELS = ("wildfire_smoke", "other_smoke", "other")


def _utc(value: datetime | None) -> datetime | None:
    """The platform writes naive UTC timestamps: make them explicit."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class _Item(BaseModel):
    """Unknown fields are kept (they go to ``extra``), known ones are checked."""

    model_config = ConfigDict(extra="allow", frozen=True)

    def unknown_fields(self) -> dict[str, Any]:
        """Fields this model does not declare."""
        return dict(self.model_extra or {})


class PlatformOrganization(_Item):
    """An organization (admin listing)."""

    id: int
    name: str


class PlatformCamera(_Item):
    """A camera."""

    id: int
    organization_id: int
    name: str
    angle_of_view: float | None = None
    elevation: float | None = None
    lat: float | None = None
    lon: float | None = None
    is_trustable: bool | None = None
    last_active_at: datetime | None = None
    last_image: str | None = None
    created_at: datetime | None = None
    last_image_url: str | None = None


class PlatformSequence(_Item):
    """A sequence, in either schema."""

    id: int
    camera_id: int
    started_at: datetime
    last_seen_at: datetime | None = None
    azimuth: float | None = None
    is_wildfire: bool | str | None = None
    cone_azimuth: float | None = None
    cone_angle: float | None = None
    # Later schema.
    camera_azimuth: float | None = None
    sequence_azimuth: float | None = None
    pose_id: int | None = None
    max_conf: float | None = None
    temporal_model_score: float | None = None
    detections_count: int | None = None
    is_validated: bool | None = None

    _utc_times = field_validator("started_at", "last_seen_at", mode="after")(_utc)

    @field_validator("is_wildfire", mode="before")
    @classmethod
    def _known_label(cls, value: Any) -> Any:
        """A bool, null or one of the later enum values (in any case)."""
        if isinstance(value, str):
            label = value.strip().lower()
            if label not in WILDFIRE_LABELS:
                raise ValueError(f"unknown is_wildfire value {value!r}")
            return label
        return value

    @model_validator(mode="after")
    def _has_azimuth(self) -> PlatformSequence:
        """Some azimuth must be present (``azimuth`` or a later-schema one)."""
        if self.best_azimuth is None:
            raise ValueError("no azimuth (azimuth, sequence_azimuth or camera_azimuth)")
        return self

    @property
    def best_azimuth(self) -> float | None:
        """``azimuth``, else the later schema's sequence or camera azimuth."""
        for value in (self.azimuth, self.sequence_azimuth, self.camera_azimuth):
            if value is not None:
                return value
        return None

    @property
    def camera_heading(self) -> float | None:
        """Where the camera looks: 2026 ``camera_azimuth``, 2025 ``azimuth``."""
        return self.camera_azimuth if self.camera_azimuth is not None else self.azimuth

    @property
    def smoke_direction(self) -> float | None:
        """Where the smoke is: 2026 ``sequence_azimuth``, 2025 ``cone_azimuth``."""
        if self.sequence_azimuth is not None:
            return self.sequence_azimuth
        return self.cone_azimuth

    @property
    def source_label(self) -> str | None:
        """What the platform said: ``"True"``/``"False"`` (2025) or the enum (later)."""
        return None if self.is_wildfire is None else str(self.is_wildfire)


class PlatformDetection(_Item):
    """A detection (one frame), in either schema; its box strings are parsed on validation."""

    id: int
    sequence_id: int | None = None
    camera_id: int | None = None
    created_at: datetime
    recorded_at: datetime | None = None
    azimuth: float | None = None
    bucket_key: str | None = None
    url: str | None = None
    # 2025 schema: every box of the frame.
    bboxes: Any = None
    # Later schema: the tracked box and the frame's other boxes.
    bbox: Any = None
    others_bboxes: Any = None
    _boxes: tuple[ParsedBox, ...] = PrivateAttr(default=())
    _tracked: int | None = PrivateAttr(default=None)

    _utc_times = field_validator("created_at", "recorded_at", mode="after")(_utc)

    @model_validator(mode="after")
    def _parse_boxes(self) -> PlatformDetection:
        """Parse whichever box fields the schema has; a detection with neither is malformed."""
        if self.bboxes is None and self.bbox is None:
            raise ValueError("no boxes field (expected bboxes, or bbox and others_bboxes)")
        try:
            if self.bboxes is not None:
                boxes = parse_bboxes(self.bboxes)
            else:
                own = parse_bboxes(self.bbox)
                boxes = own + parse_bboxes(self.others_bboxes)
                self._tracked = len(own)
        except ValueError as exc:
            raise ValueError(f"bad boxes: {exc}") from exc
        self._boxes = tuple(boxes)
        return self

    def is_tracked(self, index: int) -> bool | None:
        """Whether box `index` is the sequence's own object (later schema); None in 2025,
        where every box of a frame belongs to its one sequence."""
        return None if self._tracked is None else index < self._tracked

    @property
    def boxes(self) -> tuple[ParsedBox, ...]:
        """Every box of the frame (for the later schema, the tracked box first)."""
        return self._boxes

    @property
    def captured_at(self) -> datetime:
        """When the frame was taken: ``recorded_at`` when known, else ``created_at``."""
        return self.recorded_at or self.created_at


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ShapeProblem:
    """One platform item that did not have the expected shape."""

    resource: str
    item_id: Any
    message: str

    def __str__(self) -> str:
        """One line for logs."""
        return f"{self.resource} {self.item_id}: {self.message}"


@dataclass
class Validated(Generic[M]):
    """The items of a list answer that validated, and a problem for each one that did not."""

    items: list[M]
    problems: list[ShapeProblem]
    # More items exist than were asked for (only detections are fetched with a limit).
    truncated: bool = False


def summarize(error: ValidationError, limit: int = 3) -> str:
    """A short, readable account of what was wrong with an item."""
    parts = []
    for err in error.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "item"
        parts.append(f"{where}: {err['msg']}")
    more = len(error.errors()) - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def validate_list(model: type[M], resource: str, payload: Any) -> Validated[M]:
    """Validate each item of a list answer on its own, so one bad item never hides the others."""
    if not isinstance(payload, list):
        raise ValueError(f"expected a list of {resource}, got {type(payload).__name__}")
    items: list[M] = []
    problems: list[ShapeProblem] = []
    for raw in payload:
        item_id = raw.get("id", "?") if isinstance(raw, dict) else "?"
        try:
            items.append(model.model_validate(raw))
        except ValidationError as exc:
            problems.append(ShapeProblem(resource, item_id, summarize(exc)))
    return Validated(items, problems)
