"""Names and shapes of exports: formats, image modes, splits, options, the summary.

Which frames and boxes an export takes (`Selection`, `make_selection`, `ModelRef`) is the
reviewed truth's business: `lookout.truth.selection`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lookout.errors import InvalidInput
from lookout.format_names import RESULTS_FORMAT, WRITE_FORMATS

__all__ = ["RESULTS_FORMAT"]

FORMATS = WRITE_FORMATS
IMAGE_MODES = ("copy", "reference")
DEFAULT_SPLIT = (0.8, 0.1, 0.1)


def check_format(value: str) -> str:
    """An export format Lookout writes."""
    if value not in FORMATS:
        raise InvalidInput(
            f"format: unknown export format {value!r}; use one of {', '.join(FORMATS)}",
            field="format",
        )
    return value


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
class ExportOptions:
    """How an export is written: format, image mode, split and its seed, base URL."""

    format: str = "coco"
    images: str = "copy"  # copy the bytes, or reference them (manifest + URLs)
    split: tuple[float, float, float] = DEFAULT_SPLIT
    seed: int = 0
    base_url: str | None = None  # for image URLs in reference mode
    redraw_splits: bool = False  # draw the selected sequences' splits again (and store them)

    def __post_init__(self) -> None:
        check_format(self.format)
        if self.images not in IMAGE_MODES:
            raise InvalidInput(
                f"images: use copy or reference, not {self.images!r}", field="images"
            )


@dataclass(frozen=True)
class ExportSummary:
    """What an export holds: counts, classes and images per split."""

    images: int
    boxes: int
    negatives: int
    skipped: int
    classes: list[str]
    splits: dict[str, int]
