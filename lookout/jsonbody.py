"""JSON request bodies: parsed once, refused (400 naming the field) when a value cannot be
stored, whether the route reads its raw body (signed callbacks) or FastAPI parses it.

What a database refuses and JSON allows: NUL characters (PostgreSQL text), numbers too large
for a float (`1e999` parses as infinity), lone UTF-16 surrogates (`"\\ud800"` decodes to a
Python string that cannot be encoded as UTF-8), and absurd nesting.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, TypeVar

import orjson
from fastapi import HTTPException, Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.responses import StreamingResponse

from lookout.db import finish_read_only
from lookout.errors import InvalidInput

T = TypeVar("T", bound=BaseModel)
MAX_JSON_DEPTH = 64
# The JSON escape of a UTF-16 surrogate: the only way a body that is valid UTF-8 can carry a
# lone one. Rare in real bodies, so when it is absent the search for one is skipped.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SCALARS = frozenset({str, float, int, bool, type(None)})
# The only way JSON text holds a NUL character (a raw one is not valid JSON).
_NUL_ESCAPE = b"\\u0000"


class UnstorableValue(ValueError):
    """A value of the body that cannot be stored, with the path to it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.message = message
        self.field = field


def loads(body: bytes) -> Any:
    """The parsed body; ValueError when it is not JSON, UnstorableValue naming the field."""
    data, by_orjson = _parse(body)
    try:
        if by_orjson and _NUL_ESCAPE not in body:
            # orjson refuses non-finite numbers, and JSON text can spell NUL only as an escape:
            # only the depth is left to check.
            _check_depth(data)
        else:
            _check_values(data)
    except ValueError as exc:
        raise _located(data, _scalar_problem) or UnstorableValue(str(exc), "body") from None
    if _SURROGATE_ESCAPE.search(body) and (error := _located(data, _surrogate_problem)):
        raise error
    return data


# Each digit read as "0": a body with 19 digits in a row may hold an integer orjson cannot keep.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGIT_RUN = b"0" * 19


def _parse(body: bytes) -> tuple[Any, bool]:
    """orjson's parse (half the standard library's time for a 1,000-box post), where it gives
    exactly what `json.loads` would: it reads integers past 64 bits as floats, so a body with
    such a number is read by the standard library, as is any body orjson refuses (which then
    fails in the standard library's words, or holds what the checks below refuse by name: NaN,
    lone surrogates; or a byte-order mark, which both take). Also whether orjson read it."""
    if _LONG_DIGIT_RUN not in body.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(body), True
        except orjson.JSONDecodeError:
            pass
    return json.loads(body, parse_constant=_reject_constant), False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check_values(value: Any, depth: int = 0) -> None:
    """The fast check of every value (a Python call per container, not per number: a
    `parse_float` hook would cost 5,000 calls in a 1,000-box post)."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise ValueError("strings must not contain NUL characters")
            if type(item) in _SCALARS:
                _check_scalar(item)
            else:
                _check_values(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            if type(item) in _SCALARS:
                _check_scalar(item)
            else:
                _check_values(item, depth + 1)
    else:
        _check_scalar(value)


def _check_depth(value: Any, depth: int = 0) -> None:
    """The nesting limit alone: a Python call per container, none per value."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    for item in value.values() if type(value) is dict else value if type(value) is list else ():
        if type(item) is dict or type(item) is list:
            _check_depth(item, depth + 1)


def _check_scalar(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("strings must not contain NUL characters")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"number {value} is out of range")


def _scalar_problem(value: Any) -> str | None:
    try:
        _check_scalar(value)
    except ValueError as exc:
        return str(exc)
    return None


def _surrogate_problem(value: Any) -> str | None:
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "text must be valid Unicode (it holds a lone UTF-16 surrogate)"
    return None


def _located(
    value: Any, problem: Callable[[Any], str | None], path: tuple[int | str, ...] = ()
) -> UnstorableValue | None:
    """The first key or value (depth first) with a problem, as an error naming its path."""
    if len(path) > MAX_JSON_DEPTH:
        return UnstorableValue(f"JSON is nested deeper than {MAX_JSON_DEPTH} levels", "body")
    if isinstance(value, dict):
        for key, item in value.items():
            if message := problem(key):
                return UnstorableValue(f"a key {message[0].lower()}{message[1:]}", field(path))
            if error := _located(item, problem, (*path, key)):
                return error
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            if error := _located(item, problem, (*path, index)):
                return error
        return None
    message = problem(value)
    return UnstorableValue(message, field(path)) if message else None


def field(loc: tuple[int | str, ...]) -> str:
    """A path as clients name fields: `annotations[3].class_name`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def parse_json_object(body: bytes, *, empty: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body as a JSON object, or InvalidInput (400) saying what is wrong and where."""
    if not body.strip():
        if empty is not None:
            return empty
        raise InvalidInput("the request body must be a JSON object", field="body")
    try:
        data = loads(body)
    except UnstorableValue as exc:
        raise InvalidInput(str(exc), field=exc.field) from None
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}", field="body") from None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object", field="body")
    return data


def parse_model(model: type[T], body: bytes, *, empty: dict[str, Any] | None = None) -> T:
    """Validate the body against `model`; the first error answers 400 naming its field."""
    data = parse_json_object(body, empty=empty)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        name = field(tuple(error["loc"]))
        raise InvalidInput(f"{name}: {error['msg']}", field=name) from None


def openapi_body(model: type[BaseModel], *, required: bool = True) -> Callable[[], dict[str, Any]]:
    """OpenAPI description of a body the route reads itself (nested models inlined), made
    when the route is built (`route_table.deferred`), not when its module is imported."""

    def describe() -> dict[str, Any]:
        schema = model.model_json_schema()
        schema = _inline_refs(schema, schema.pop("$defs", {}))
        content = {"application/json": {"schema": schema}}
        return {"requestBody": {"required": required, "content": content}}

    return describe


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref.rsplit("/", 1)[-1]], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


class UnstorableBody(HTTPException):
    """Raised from inside FastAPI's body parsing, which lets only HTTP exceptions through."""

    def __init__(self, error: UnstorableValue) -> None:
        super().__init__(400, str(error))
        self.field = error.field


class _CheckedRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = loads(body)
            except UnstorableValue as exc:
                raise UnstorableBody(exc) from None
        return self._json


@dataclass
class _Rendering:
    """How FastAPI would answer a route's returned value (read from the route once built)."""

    field: Any = None  # the route's response field; None: FastAPI answers as before
    status_code: int | None = None
    options: dict[str, Any] = dataclass_field(default_factory=dict)

    def render(self, value: Any) -> Any:
        """`value` validated and serialized as FastAPI's fast path does (`serialize_response`
        with `dump_json`), as a Response; `value` itself when FastAPI must answer it."""
        if self.field is None or isinstance(value, Response):
            return value
        validated, errors = self.field.validate(value, {}, loc=("response",))
        if errors:
            return value  # FastAPI raises its ResponseValidationError as before
        content = self.field.serialize_json(validated, **self.options)
        if self.status_code is None:
            return Response(content, media_type="application/json")
        return Response(content, status_code=self.status_code, media_type="application/json")


def _in_one_trip(endpoint: Callable[..., Any], rendering: _Rendering) -> Callable[..., Any]:
    """A sync endpoint whose answer is rendered, and whose read-only transaction is ended, in
    the endpoint's own thread.

    FastAPI runs a sync endpoint in the thread pool, then goes back there twice: to validate
    the returned model against `response_model`, and (`lookout.deps.get_session`) to end the
    request's transaction. Each trip costs more than a short query: the GIL handed between
    the event loop and the pool. Here the value is validated and serialized exactly as
    FastAPI would (same field, same options, pydantic's JSON), and a request that only read
    commits, before the thread is left. A write not committed, an error or a streamed answer
    (which may still read) is left to `get_session` as before; so is a value FastAPI must
    handle itself (a route that sets its answer's status or headers through a `Response`
    parameter, or answers without a body).
    """

    @functools.wraps(endpoint)
    def call(*args: Any, **kwargs: Any) -> Any:
        result = rendering.render(endpoint(*args, **kwargs))
        if not isinstance(result, StreamingResponse):
            for value in kwargs.values():
                if isinstance(value, Session):
                    finish_read_only(value)
        return result

    return call


def _sets_response(dependant: Any) -> bool:
    """Whether the endpoint or any of its dependencies takes FastAPI's `Response` parameter."""
    if getattr(dependant, "response_param_name", None):
        return True
    return any(_sets_response(sub) for sub in getattr(dependant, "dependencies", ()))


class CheckedJSONRoute(APIRoute):
    """A route whose JSON body FastAPI parses with the checks above; a sync endpoint renders
    its answer and ends its read-only transaction in its own thread (`_in_one_trip`)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        rendering = _Rendering()
        if not inspect.iscoroutinefunction(inspect.unwrap(endpoint)):
            endpoint = _in_one_trip(endpoint, rendering)
        super().__init__(path, endpoint, **kwargs)
        status = self.status_code
        if (
            self.response_field is not None
            and isinstance(self.response_class, DefaultPlaceholder)
            and not _sets_response(self.dependant)
            and (status is None or is_body_allowed_for_status_code(status))
        ):
            rendering.status_code = status
            rendering.options = {
                "include": self.response_model_include,
                "exclude": self.response_model_exclude,
                "by_alias": self.response_model_by_alias,
                "exclude_unset": self.response_model_exclude_unset,
                "exclude_defaults": self.response_model_exclude_defaults,
                "exclude_none": self.response_model_exclude_none,
            }
            rendering.field = self.response_field

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            return await handler(_CheckedRequest(request.scope, request.receive))

        return checked
