"""JSON answers rendered once, by the standard library's C encoder.

A route that returns a model makes FastAPI validate it again against `response_model` and
serialize it through pydantic: for a page of 100 images or 1,000 annotations that is most of
the request. Hot read routes build plain dicts of JSON values instead (or take JSON text that
PostgreSQL built) and answer with `json_response`; their `response_model` still documents the
shape in OpenAPI. The text is the same JSON pydantic would send (UTC times end in `Z`).
"""

from __future__ import annotations

import json
import operator
import threading
import types
import typing
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from pydantic import BaseModel
from starlette.responses import Response

from lookout.db import json_key, pg_json_time

MEDIA_TYPE = "application/json"


def render_json(body: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """JSON bytes exactly as Starlette's JSONResponse renders them (`default` as json's)."""
    return json.dumps(
        body,
        ensure_ascii=False,
        allow_nan=False,
        indent=None,
        separators=(",", ":"),
        default=default,
    ).encode("utf-8")


def encode_json(value: Any) -> bytes:
    """Compact JSON of `value` (UUIDs as their text) by orjson, for large batches.

    A tenth of the standard library's time for a 1,000-box batch. The same JSON values as
    `render_json`, though a number may be spelled otherwise (`1e-7` for `1e-07`): it serves
    what goes to PostgreSQL or is read as JSON, not where bytes are compared. Non-finite
    numbers are refused before this (the body's walk in `jsonbody`, `validate_annotations`);
    an integer orjson cannot hold (over 64 bits) goes through the standard library instead.
    """
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return render_json(value, default=_uuid_text)


def _uuid_text(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(render_json(body), status_code, headers, media_type=MEDIA_TYPE)


def raw_json_response(
    content: bytes, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """An answer whose JSON text is already rendered."""
    return Response(content, status_code, headers, media_type=MEDIA_TYPE)


def splice(body: dict[str, Any], name: str, json_text: str | bytes) -> bytes:
    """`body` rendered with one more member, `name`, whose value is JSON text made elsewhere
    (e.g. by PostgreSQL), without parsing it."""
    head = render_json(body)
    value = json_text.encode("utf-8") if isinstance(json_text, str) else json_text
    member = json.dumps(name).encode("utf-8") + b":" + value
    if head == b"{}":
        return b"{" + member + b"}"
    return b"".join((head[:-1], b",", member, b"}"))


def iso(value: datetime | None) -> str | None:
    """A datetime as pydantic writes it: ISO 8601, `Z` for UTC, no fraction when it is 0."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def uuid_str(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


class RenderedCache:
    """Rendered JSON by key, each valid for one version of what it shows; the least recently
    used go first beyond `max_bytes`. Thread-safe (requests run in a thread pool)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Any, tuple[Any, bytes, Any]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def resize(self, max_bytes: int) -> None:
        """Hold at most `max_bytes` from now on (the least recently used go first)."""
        with self._lock:
            self.max_bytes = max_bytes
            self._trim()

    def _trim(self) -> None:
        while self._bytes > self.max_bytes:
            _, (_, dropped, _) = self._items.popitem(last=False)
            self._bytes -= len(dropped)

    def get(self, key: Any, version: Any) -> Any:
        """What was `put` under this key for this version (else None)."""
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] != version:
                return None
            self._items.move_to_end(key)
            return found[2]

    def put(self, key: Any, version: Any, content: bytes, value: Any = None) -> None:
        """Keep `value` (by default `content`, whose size is what counts) for this version."""
        if len(content) > self.max_bytes // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._items[key] = (version, content, content if value is None else value)
            self._bytes += len(content)
            self._trim()


# --- One definition per resource: its pydantic response model ------------------------------

Computed = Callable[[Any], Any]


class SchemaRenderer:
    """A response model's JSON values, built straight from a row or an ORM object.

    The model is the one definition of the resource's JSON: its fields, in its order, read as
    attributes of the same name unless `computed` says how, and converted by the field's type
    (UUIDs as strings, times as pydantic writes them). The result equals
    `model.model_validate(...).model_dump(mode="json")` without pydantic's cost per object,
    which is most of a page of hundreds. `pg_object` builds the same JSON in PostgreSQL.
    """

    def __init__(self, model: type[BaseModel], computed: Mapping[str, Computed] | None = None):
        self.model = model
        self.computed = dict(computed or {})
        unknown = set(self.computed) - set(model.model_fields)
        if unknown:
            raise ValueError(f"{model.__name__} has no fields {sorted(unknown)}")
        self._readers = [
            (name, self.computed.get(name) or _reader(name, info.annotation))
            for name, info in model.model_fields.items()
        ]

    def __call__(self, obj: Any) -> dict[str, Any]:
        return {name: read(obj) for name, read in self._readers}

    def pg_object(self, columns: Any, computed: Mapping[str, Any]) -> Any:
        """json_build_object of one row of `columns`, field for field as `__call__`
        (`computed` gives the SQL of the fields that are no column)."""
        arguments: list[Any] = []
        for name, info in self.model.model_fields.items():
            if name in computed:
                value = computed[name]
            elif datetime in _types(info.annotation):
                value = pg_json_time(getattr(columns, name))
            else:
                value = getattr(columns, name)
            arguments += [json_key(name), value]
        return sa.func.json_build_object(*arguments)


def _types(annotation: Any) -> tuple[Any, ...]:
    return (
        typing.get_args(annotation) if typing.get_origin(annotation) in _UNIONS else (annotation,)
    )


_UNIONS = (typing.Union, types.UnionType)


def _reader(name: str, annotation: Any) -> Computed:
    kinds = _types(annotation)
    get = operator.attrgetter(name)
    if uuid.UUID in kinds:
        return lambda obj: uuid_str(get(obj))
    if datetime in kinds:
        return lambda obj: iso(get(obj))
    return get
