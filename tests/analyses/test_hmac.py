"""HMAC authentication of pipeline callbacks: the case matrix, replays, settings and rotation.

VISTA's scheme (`sha256=` over "{timestamp}." + body) has its own matrix: test_hmac_vista.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx
import pytest

from lookout.pipeline.signing import sign_request
from tests.analyses.ml_support import Setup, box, python_client_headers, raw_body_headers
from tests.conftest import HMAC_SECRET

PROCESSING = {"status": "processing"}
PROCESSING_BODY = json.dumps(PROCESSING).encode()


def _status(s: Setup, analysis_id: str) -> str:
    return f"/api/analyses/{analysis_id}/status"


def _send(s: Setup, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return s.raw.request(
        method, path, content=body, headers={"Content-Type": "application/json", **headers}
    )


def _v1(path: str, body: bytes = PROCESSING_BODY, method: str = "PATCH", **kw) -> dict[str, str]:
    return sign_request(HMAC_SECRET, method, path, body, **kw)


def _twice(
    s: Setup, method: str, path: str, body: bytes, make_headers: Callable[[], dict[str, str]]
) -> httpx.Response:
    first = _send(s, method, path, body, make_headers())
    assert first.status_code == 200, first.text
    return _send(s, method, path, body, make_headers())


def _legacy_hex(payload: object, secret: str = HMAC_SECRET) -> str:
    return python_client_headers(payload, secret)["X-ML-Signature"]


# Each case: (s, analysis_id, other_analysis_id) -> the response to judge.
Case = Callable[[Setup, str, str], httpx.Response]

CASES: dict[str, tuple[Case, int, str]] = {
    # --- Lookout's v1 scheme ---
    "v1_valid": (
        lambda s, a, b: _send(s, "PATCH", _status(s, a), PROCESSING_BODY, _v1(_status(s, a))),
        200,
        "",
    ),
    "v1_tampered_body": (
        lambda s, a, b: _send(
            s, "PATCH", _status(s, a), b'{"status":"failed"}', _v1(_status(s, a))
        ),
        401,
        "does not match",
    ),
    "v1_wrong_secret": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            sign_request("not-the-secret", "PATCH", _status(s, a), PROCESSING_BODY),
        ),
        401,
        "does not match",
    ),
    "v1_stale_timestamp": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            _v1(_status(s, a), timestamp=int(time.time()) - 400),
        ),
        401,
        "within 300 seconds",
    ),
    "v1_future_timestamp": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            _v1(_status(s, a), timestamp=int(time.time()) + 400),
        ),
        401,
        "in the future",
    ),
    "v1_old_but_inside_window": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            _v1(_status(s, a), timestamp=int(time.time()) - 200),
        ),
        200,
        "",
    ),
    "v1_timestamp_changed_after_signing": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            {**_v1(_status(s, a)), "X-ML-Timestamp": str(int(time.time()) - 5)},
        ),
        401,
        "does not match",
    ),
    "v1_missing_nonce": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            {k: v for k, v in _v1(_status(s, a)).items() if k != "X-ML-Nonce"},
        ),
        401,
        "missing X-ML-Nonce",
    ),
    "v1_short_nonce": (
        lambda s, a, b: _send(
            s, "PATCH", _status(s, a), PROCESSING_BODY, _v1(_status(s, a), nonce="short")
        ),
        401,
        "X-ML-Nonce must be",
    ),
    "v1_missing_timestamp": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            {k: v for k, v in _v1(_status(s, a)).items() if k != "X-ML-Timestamp"},
        ),
        401,
        "missing X-ML-Timestamp",
    ),
    "v1_non_numeric_timestamp": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            {**_v1(_status(s, a)), "X-ML-Timestamp": "yesterday"},
        ),
        401,
        "unix time",
    ),
    "v1_replayed_nonce": (
        lambda s, a, b: _twice(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            lambda: _v1(_status(s, a), nonce="fixed-nonce-" + a),
        ),
        401,
        "already used",
    ),
    "v1_cross_analysis_reuse": (
        lambda s, a, b: _send(s, "PATCH", _status(s, b), PROCESSING_BODY, _v1(_status(s, a))),
        401,
        "does not match",
    ),
    "v1_cross_endpoint_reuse": (
        lambda s, a, b: _send(
            s, "POST", f"/api/analyses/{a}/finalize", PROCESSING_BODY, _v1(_status(s, a))
        ),
        401,
        "does not match",
    ),
    "v1_query_added_after_signing": (
        lambda s, a, b: _send(
            s,
            "POST",
            f"/api/analyses/{a}/annotations:bulk?mode=replace",
            json.dumps({"annotations": [box()]}).encode(),
            _v1(
                f"/api/analyses/{a}/annotations:bulk",
                json.dumps({"annotations": [box()]}).encode(),
                method="POST",
            ),
        ),
        401,
        "does not match",
    ),
    "v1_uppercase_hex": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            {
                **(h := _v1(_status(s, a))),
                "X-ML-Signature": "v1=" + h["X-ML-Signature"][3:].upper(),
            },
        ),
        200,
        "",
    ),
    "v1_truncated_signature": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            {**(h := _v1(_status(s, a))), "X-ML-Signature": h["X-ML-Signature"][:-1]},
        ),
        401,
        "64 hexadecimal",
    ),
    "v1_known_key_id": (
        lambda s, a, b: _send(
            s, "PATCH", _status(s, a), PROCESSING_BODY, _v1(_status(s, a), key_id="default")
        ),
        200,
        "",
    ),
    "v1_unknown_key_id": (
        lambda s, a, b: _send(
            s, "PATCH", _status(s, a), PROCESSING_BODY, _v1(_status(s, a), key_id="nope")
        ),
        401,
        "unknown X-ML-Key-Id",
    ),
    "v1_signed_empty_body": (
        lambda s, a, b: _send(s, "PATCH", _status(s, a), b"", _v1(_status(s, a), body=b"")),
        400,
        "JSON object",
    ),
    "v1_empty_body_sent_for_signed_payload": (
        lambda s, a, b: _send(s, "PATCH", _status(s, a), b"", _v1(_status(s, a))),
        401,
        "does not match",
    ),
    # --- the document's legacy schemes ---
    "legacy_python_client": (lambda s, a, b: s.legacy("PATCH", _status(s, a), PROCESSING), 200, ""),
    "legacy_python_tampered_body": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            json.dumps({"status": "failed"}).encode(),
            python_client_headers(PROCESSING),
        ),
        401,
        "does not match",
    ),
    "legacy_raw_body": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            b'{"status": "processing"}',
            raw_body_headers(b'{"status": "processing"}'),
        ),
        200,
        "",
    ),
    "legacy_uppercase_hex": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            {
                **python_client_headers(PROCESSING),
                "X-ML-Signature": _legacy_hex(PROCESSING).upper(),
            },
        ),
        200,
        "",
    ),
    "legacy_sha256_prefix": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            {
                **python_client_headers(PROCESSING),
                "X-ML-Signature": "sha256=" + _legacy_hex(PROCESSING),
            },
        ),
        200,
        "",
    ),
    "legacy_wrong_secret": (
        lambda s, a, b: _send(
            s, "PATCH", _status(s, a), PROCESSING_BODY, python_client_headers(PROCESSING, "wrong")
        ),
        401,
        "does not match",
    ),
    "legacy_stale_timestamp": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            raw_body_headers(PROCESSING_BODY, timestamp=int(time.time()) - 301),
        ),
        401,
        "within 300 seconds",
    ),
    "legacy_future_timestamp": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            raw_body_headers(PROCESSING_BODY, timestamp=int(time.time()) + 301),
        ),
        401,
        "in the future",
    ),
    "legacy_missing_timestamp": (
        lambda s, a, b: _send(
            s, "PATCH", _status(s, a), PROCESSING_BODY, {"X-ML-Signature": _legacy_hex(PROCESSING)}
        ),
        401,
        "missing X-ML-Timestamp",
    ),
    "legacy_replay_same_endpoint": (
        lambda s, a, b: _twice(
            s, "PATCH", _status(s, a), PROCESSING_BODY, lambda: python_client_headers(PROCESSING)
        ),
        401,
        "already used",
    ),
    "legacy_replay_respelled_signature": (
        lambda s, a, b: (
            _send(s, "PATCH", _status(s, a), PROCESSING_BODY, python_client_headers(PROCESSING)),
            _send(
                s,
                "PATCH",
                _status(s, a),
                PROCESSING_BODY,
                {
                    **python_client_headers(PROCESSING),
                    "X-ML-Signature": "SHA256=" + _legacy_hex(PROCESSING).upper(),
                },
            ),
        )[1],
        401,
        "already used",
    ),
    "legacy_replay_respelled_path": (
        lambda s, a, b: (
            _send(s, "PATCH", _status(s, a), PROCESSING_BODY, python_client_headers(PROCESSING)),
            _send(
                s,
                "PATCH",
                _status(s, a.upper()) + "?again=1",
                PROCESSING_BODY,
                python_client_headers(PROCESSING),
            ),
        )[1],
        401,
        "already used",
    ),
    "legacy_same_payload_other_analysis": (
        lambda s, a, b: (
            _send(s, "PATCH", _status(s, a), PROCESSING_BODY, python_client_headers(PROCESSING)),
            _send(s, "PATCH", _status(s, b), PROCESSING_BODY, python_client_headers(PROCESSING)),
        )[1],
        200,
        "",
    ),
    "legacy_signed_empty_body": (
        lambda s, a, b: _send(s, "PATCH", _status(s, a), b"", raw_body_headers(b"")),
        400,
        "JSON object",
    ),
    "legacy_not_hex": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(s, a),
            PROCESSING_BODY,
            {**python_client_headers(PROCESSING), "X-ML-Signature": "z" * 64},
        ),
        401,
        "64 hexadecimal",
    ),
    # --- either ---
    "no_signature_headers": (
        lambda s, a, b: _send(s, "PATCH", _status(s, a), PROCESSING_BODY, {}),
        401,
        "missing X-ML-Signature",
    ),
    # A user may change a status (as in VISTA), but posting results needs the pipeline's secret.
    "api_key_is_not_enough": (
        lambda s, a, b: _send(
            s,
            "POST",
            f"/api/analyses/{a}/annotations:bulk",
            json.dumps({"annotations": [box()]}).encode(),
            {"X-API-Key": s.api_key},
        ),
        401,
        "missing X-ML-Signature",
    ),
    "bulk_signed_for_other_payload": (
        lambda s, a, b: _send(
            s,
            "POST",
            f"/api/analyses/{a}/annotations:bulk",
            json.dumps({"annotations": [box(), box()]}).encode(),
            python_client_headers({"annotations": [box()]}),
        ),
        401,
        "does not match",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hmac_matrix(shared_sqlite: Setup, name: str):
    case, expected_status, fragment = CASES[name]
    a = shared_sqlite.create_analysis()["id"]
    b = shared_sqlite.create_analysis()["id"]
    response = case(shared_sqlite, a, b)
    assert response.status_code == expected_status, response.text
    if expected_status == 401:
        detail = response.json()["detail"]
        assert detail.startswith("Invalid HMAC signature")
        assert fragment in detail
        # Never the signature the server expected.
        for secret_payload in (PROCESSING_BODY, json.dumps(PROCESSING).encode()):
            expected = hmac.new(HMAC_SECRET.encode(), secret_payload, hashlib.sha256).hexdigest()
            assert expected not in response.text
    elif fragment:
        assert fragment in response.text


def test_matrix_has_at_least_25_cases():
    assert len(CASES) >= 25


def test_replays_refused_on_every_database(ml: Setup):
    """The replay record commits with the request: same on SQLite and PostgreSQL."""
    analysis_id = ml.create_analysis()["id"]
    path = f"/api/analyses/{analysis_id}/status"
    headers = sign_request(HMAC_SECRET, "PATCH", path, PROCESSING_BODY)
    assert _send(ml, "PATCH", path, PROCESSING_BODY, headers).status_code == 200
    again = _send(ml, "PATCH", path, PROCESSING_BODY, headers)
    assert again.status_code == 401 and "already used" in again.json()["detail"]
    assert ml.legacy("PATCH", path, {"status": "queued"}).status_code == 200
    replay = ml.legacy("PATCH", path, {"status": "queued"})
    assert replay.status_code == 401
    assert ml.lookout.count("seen_signatures") == 2


def test_failed_request_does_not_burn_its_signature(ml: Setup):
    """A callback that failed (rolled back) may be sent again; one that took effect may not."""
    analysis_id = ml.create_analysis()["id"]
    path = f"/api/analyses/{analysis_id}/finalize"
    body = {"status": "completed", "summary": {}}
    # A bad request (finalize with a non-final status) is refused and can be sent again...
    bad = ml.legacy("POST", path, {"status": "processing"})
    assert bad.status_code == 400
    assert ml.legacy("POST", path, {"status": "processing"}).status_code == 400
    # ...while one that took effect cannot.
    assert ml.legacy("POST", path, body).status_code == 200
    assert ml.legacy("POST", path, body).status_code == 401


def test_legacy_disabled_refuses_document_clients_but_not_v1(sqlite_factory):
    s = sqlite_factory(ML_HMAC_LEGACY_ENABLED="false")
    analysis_id = s.create_analysis()["id"]
    path = f"/api/analyses/{analysis_id}/status"
    refused = s.legacy("PATCH", path, PROCESSING)
    assert refused.status_code == 401
    assert "legacy signatures are disabled" in refused.json()["detail"]
    refused = s.raw_signed("PATCH", path, PROCESSING_BODY)
    assert refused.status_code == 401
    assert s.v1("PATCH", path, PROCESSING).status_code == 200


def test_window_is_configurable(sqlite_factory):
    s = sqlite_factory(ML_HMAC_WINDOW_SECONDS="30")
    analysis_id = s.create_analysis()["id"]
    path = f"/api/analyses/{analysis_id}/status"
    stale = s.v1("PATCH", path, PROCESSING, timestamp=int(time.time()) - 60)
    assert stale.status_code == 401 and "within 30 seconds" in stale.json()["detail"]
    assert s.v1("PATCH", path, PROCESSING, timestamp=int(time.time()) - 20).status_code == 200


def test_secret_rotation_with_named_secrets(sqlite_factory):
    s = sqlite_factory(
        ML_CALLBACK_HMAC_SECRET="", ML_CALLBACK_HMAC_SECRETS="old=s3cret-old,new=s3cret-new"
    )
    analysis_id = s.create_analysis()["id"]
    path = f"/api/analyses/{analysis_id}/status"
    assert s.v1("PATCH", path, PROCESSING, secret="s3cret-old").status_code == 200
    assert (
        s.v1("PATCH", path, {"status": "queued"}, secret="s3cret-new", key_id="new").status_code
        == 200
    )
    wrong_key = s.v1("PATCH", path, PROCESSING, secret="s3cret-old", key_id="new")
    assert wrong_key.status_code == 401
    assert s.legacy("PATCH", path, PROCESSING, secret="s3cret-new").status_code == 200
    assert s.legacy("PATCH", path, {"status": "queued"}, secret=HMAC_SECRET).status_code == 401


def test_no_secret_configured_refuses_every_callback(sqlite_factory):
    s = sqlite_factory(ML_CALLBACK_HMAC_SECRET="")
    analysis_id = s.create_analysis()["id"]
    response = s.v1("PATCH", f"/api/analyses/{analysis_id}/status", PROCESSING)
    assert response.status_code == 401
    assert "no ML_CALLBACK_HMAC_SECRET" in response.json()["detail"]


def test_unknown_analysis_needs_a_valid_signature_before_404(shared_sqlite: Setup):
    path = "/api/analyses/00000000-0000-0000-0000-000000000000/status"
    assert _send(shared_sqlite, "PATCH", path, PROCESSING_BODY, {}).status_code == 401
    assert shared_sqlite.v1("PATCH", path, PROCESSING).status_code == 404
