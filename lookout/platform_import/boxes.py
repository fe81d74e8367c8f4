"""Parse the platform's ``bboxes`` strings as data (a strict grammar, never ``eval``)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

# The platform writes at most 5 boxes of 5 short numbers; anything this long is not a box list.
MAX_TEXT_LENGTH = 10_000
MAX_BOXES = 100
# Rounding on the platform side may push a coordinate a hair outside [0, 1].
TOLERANCE = 1e-6

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_VALUES = rf"{_NUM}(?:\s*,\s*{_NUM})*"
# One tuple "(a,b,c,d,e)" or one list "[a,b,c,d,e]", optionally followed by a comma.
_ITEM = re.compile(rf"\s*(?:\(\s*({_VALUES})\s*,?\s*\)|\[\s*({_VALUES})\s*,?\s*\])\s*(,|$)")


class BoxParseError(ValueError):
    """A ``bboxes`` value that is not a list of (xmin, ymin, xmax, ymax, confidence)."""


class ParsedBox(NamedTuple):
    """One normalized box with its confidence."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float
    confidence: float

    @property
    def has_area(self) -> bool:
        """Whether the box covers anything (the platform sometimes reports a line)."""
        return self.xmax > self.xmin and self.ymax > self.ymin

    @property
    def xyxyn(self) -> list[float]:
        """The corners as ``[x1, y1, x2, y2]``."""
        return [self.xmin, self.ymin, self.xmax, self.ymax]


def parse_bboxes(value: Any) -> list[ParsedBox]:
    """Parse ``"[(x1,y1,x2,y2,conf),...]"`` (or an already decoded list) into boxes."""
    if value is None:
        return []
    if isinstance(value, str):
        return _parse_text(value)
    if isinstance(value, (list, tuple)):
        return [_check_box(list(item), i) for i, item in enumerate(_as_items(value))]
    raise BoxParseError(f"expected a string or a list of boxes, got {type(value).__name__}")


def _as_items(value: Sequence[Any]) -> Sequence[Any]:
    """A decoded list of boxes, or one bare box, as a list of boxes."""
    if value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return [value]
    for item in value:
        if not isinstance(item, (list, tuple)):
            raise BoxParseError(f"expected a list of boxes, found {type(item).__name__}")
    return value


def _parse_text(text: str) -> list[ParsedBox]:
    """Match the whole string against the box-list grammar."""
    if len(text) > MAX_TEXT_LENGTH:
        raise BoxParseError(f"bboxes string is too long ({len(text)} characters)")
    stripped = text.strip()
    if len(stripped) < 2 or stripped[0] != "[" or stripped[-1] != "]":
        raise BoxParseError(f"not a list of boxes: {_preview(text)}")
    inner = stripped[1:-1]
    if not inner.strip():
        return []
    boxes: list[ParsedBox] = []
    pos = 0
    while inner[pos:].strip():
        match = _ITEM.match(inner, pos)
        if match is None or match.end() == pos:
            raise BoxParseError(f"unexpected text at {_preview(inner[pos:])} in {_preview(text)}")
        raw = match.group(1) or match.group(2)
        boxes.append(_check_box([float(v) for v in raw.split(",")], len(boxes)))
        if len(boxes) > MAX_BOXES:
            raise BoxParseError(f"more than {MAX_BOXES} boxes")
        pos = match.end()
    return boxes


def _check_box(values: list[Any], index: int) -> ParsedBox:
    """Five finite numbers in [0, 1] with xmin <= xmax and ymin <= ymax."""
    if len(values) != 5:
        raise BoxParseError(f"box {index} has {len(values)} values, expected 5")
    floats: list[float] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise BoxParseError(f"box {index} holds a value that is not a finite number: {v!r}")
        if not -TOLERANCE <= v <= 1 + TOLERANCE:
            raise BoxParseError(f"box {index} holds {v}, outside [0, 1]")
        floats.append(min(1.0, max(0.0, float(v))))
    box = ParsedBox(*floats)
    if box.xmin > box.xmax or box.ymin > box.ymax:
        raise BoxParseError(f"box {index} has its corners swapped: {tuple(values)}")
    return box


def _preview(text: str, size: int = 40) -> str:
    """A short quoted excerpt for error messages."""
    return repr(text if len(text) <= size else text[:size] + "...")
