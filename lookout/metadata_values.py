"""Free-form metadata (VISTA's `metadata`): string keys to JSON scalar values, checked once
here for images and projects alike, so each refusal is a 400 naming the key at fault.

What is refused: a key that is empty, longer than MAX_KEY_CHARS or holds control characters;
a value that is an object or a list; text longer than MAX_TEXT_CHARS or holding NUL; numbers
that are not finite or do not fit 64 bits; more than MAX_KEYS keys or MAX_TOTAL_BYTES of JSON
in all; and, anywhere, text that is not valid Unicode (a lone UTF-16 surrogate).
"""

from __future__ import annotations

import json
import math
from typing import Any

from lookout.errors import InvalidInput
from lookout.jsonbody import UnstorableValue, loads

MAX_KEYS = 100
MAX_KEY_CHARS = 200
MAX_TEXT_CHARS = 2000
MAX_TOTAL_BYTES = 16 * 1024
_INT_LIMIT = 2**63

Scalar = str | int | float | bool | None


def _valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_key(key: Any, *, field: str = "key") -> str:
    """A metadata key as given (not stripped), or InvalidInput naming `field`."""
    if not isinstance(key, str):
        raise InvalidInput(f"{field}: a key must be text", field=field)
    if not key or not key.strip():
        raise InvalidInput(f"{field}: a key must not be empty", field=field)
    if len(key) > MAX_KEY_CHARS:
        raise InvalidInput(f"{field}: a key holds at most {MAX_KEY_CHARS} characters", field=field)
    if not _valid_unicode(key):
        raise InvalidInput(
            f"{field}: a key must be valid Unicode (it holds a lone UTF-16 surrogate)",
            field=field,
        )
    if not key.isprintable():
        raise InvalidInput(f"{field}: a key must not hold control characters", field=field)
    return key


def check_value(value: Any, *, field: str) -> Scalar:
    """A JSON scalar value, or InvalidInput naming `field`."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -_INT_LIMIT <= value < _INT_LIMIT:
            raise InvalidInput(f"{field}: a whole number must fit in 64 bits", field=field)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{field}: a number must be finite", field=field)
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT_CHARS:
            raise InvalidInput(
                f"{field}: text holds at most {MAX_TEXT_CHARS} characters", field=field
            )
        if "\x00" in value:
            raise InvalidInput(f"{field}: text must not contain NUL characters", field=field)
        if not _valid_unicode(value):
            raise InvalidInput(
                f"{field}: text must be valid Unicode (it holds a lone UTF-16 surrogate)",
                field=field,
            )
        return value
    kind = "an object" if isinstance(value, dict) else "a list" if isinstance(value, list) else ""
    raise InvalidInput(
        f"{field}: a value must be text, a number, true, false or null, not {kind or 'this'}",
        field=field,
    )


def check_metadata(data: Any, *, field: str = "metadata") -> dict[str, Scalar]:
    """A whole metadata object, checked key by key, then its count and size."""
    if not isinstance(data, dict):
        raise InvalidInput(
            f"{field}: must be a JSON object of keys to text, numbers, true, false or null",
            field=field,
        )
    checked: dict[str, Scalar] = {}
    for key, value in data.items():
        check_key(key, field=field)
        checked[key] = check_value(value, field=f"{field}.{key}")
    check_size(checked, field=field)
    return checked


def check_size(metadata: dict[str, Scalar], *, field: str = "metadata") -> None:
    """At most MAX_KEYS keys and MAX_TOTAL_BYTES of JSON (after a change is applied)."""
    if len(metadata) > MAX_KEYS:
        raise InvalidInput(f"{field}: at most {MAX_KEYS} keys", field=field)
    size = len(json.dumps(metadata, ensure_ascii=False).encode("utf-8"))
    if size > MAX_TOTAL_BYTES:
        raise InvalidInput(
            f"{field}: at most {MAX_TOTAL_BYTES // 1024} KiB of JSON in all ({size} bytes)",
            field=field,
        )


def parse_metadata_text(text: str | None, *, field: str = "metadata") -> dict[str, Scalar] | None:
    """VISTA's `metadata` form field: JSON text of an object (empty or absent: None)."""
    if text is None or not text.strip():
        return None
    if not _valid_unicode(text):
        raise InvalidInput(
            f"{field}: text must be valid Unicode (it holds a lone UTF-16 surrogate)",
            field=field,
        )
    if len(text.encode("utf-8")) > 4 * MAX_TOTAL_BYTES:
        raise InvalidInput(f"{field}: at most {MAX_TOTAL_BYTES // 1024} KiB of JSON", field=field)
    try:
        data = loads(text.encode("utf-8"))
    except UnstorableValue as exc:
        where = field if exc.field == "body" else f"{field}.{exc.field}"
        raise InvalidInput(f"{where}: {exc.message}", field=where) from None
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"{field}: not valid JSON: {exc}", field=field) from None
    return check_metadata(data, field=field)
