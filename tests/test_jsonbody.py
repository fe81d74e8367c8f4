"""A request body reads as the standard library reads it, whichever parser did the work."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lookout.errors import InvalidInput
from lookout.jsonbody import loads, parse_json_object

# JSON values as clients send them: big integers, floats of every size, any text.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text(max_size=8).filter(lambda k: "\x00" not in k), children, max_size=5
        )
    ),
    max_leaves=30,
)


def _same(a: Any, b: Any) -> bool:
    """Equal, with the type of every number kept (1 is not 1.0) and -0.0 told from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_any_body_reads_as_the_standard_library_reads_it(value: Any, spaced: bool) -> None:
    text = json.dumps(value, ensure_ascii=not spaced, indent=1 if spaced else None)
    body = text.encode("utf-8")
    assert _same(loads(body), json.loads(body))


@pytest.mark.parametrize(
    "body",
    [
        b'{"n": 123456789012345678901234567890}',  # orjson would read a float
        b'{"n": -9999999999999999999, "m": 18446744073709551616}',
        b'{"id": "camera-1234567890123456789012"}',  # long digit runs in text are fine too
        b'{"a": 1, "a": 2}',
        b'\xef\xbb\xbf{"bom": true}',
        b'{"f": 1E5, "g": -0.0, "h": 5e-324}',
    ],
)
def test_bodies_orjson_would_read_otherwise_read_as_the_standard_library_reads_them(
    body: bytes,
) -> None:
    assert _same(loads(body), json.loads(body))


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b'{"a": [1, NaN]}', "body", "NaN is not valid JSON"),
        (b'{"a": [1, 1e400]}', "a[1]", "out of range"),
        (b'{"a": {"b": "x\\u0000"}}', "a.b", "NUL"),
        (b'{"a": "\\ud800"}', "a", "surrogate"),
        (b'{"a": 1', "body", "not valid JSON"),
        (b'{"k\\u0000": 1}', "body", "NUL"),
        (b'{"a": ' + b"[" * 65 + b"]" * 65 + b"}", "body", "nested deeper than 64"),
        (b'{"a": ' + b'{"b": ' * 65 + b"1" + b"}" * 65 + b"}", "body", "nested deeper than 64"),
    ],
)
def test_what_cannot_be_stored_is_named_as_before(body: bytes, field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_json_object(body)
    assert refused.value.field == field and words in refused.value.message


def test_nesting_up_to_the_limit_is_read() -> None:
    body = b'{"a": ' + b"[" * 63 + b"1" + b"]" * 63 + b"}"
    assert _same(loads(body), json.loads(body))
