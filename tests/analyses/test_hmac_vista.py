"""VISTA's HMAC scheme (issue 16): `X-ML-Signature: sha256=<hex>` over "{timestamp}." + raw body.

The signing here is written from VISTA's description (its scripts sign exactly this), not with
Lookout's own helpers, so these tests check the server against what VISTA's pipelines send. The
case matrix runs on SQLite and on PostgreSQL, one server per database for the whole module; the
settings tests start their own servers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lookout.auth import signatures
from lookout.errors import Unauthenticated
from tests.analyses.ml_support import Setup, box, make_setup, python_client_headers
from tests.conftest import HMAC_SECRET, make_settings, new_postgres_database, start_lookout

PROCESSING = json.dumps({"status": "processing"}).encode()
COMPLETED = json.dumps({"status": "completed"}).encode()
PRESIGN = json.dumps(
    {"artifacts": [{"artifact_name": "heatmap.png", "content_type": "image/png"}]}
).encode()
BULK = json.dumps({"annotations": [box()]}).encode()


def vista_headers(
    body: bytes, secret: str = HMAC_SECRET, timestamp: int | str | None = None
) -> dict[str, str]:
    """What VISTA's pipelines send: HMAC-SHA256(secret, "{timestamp}." + body), `sha256=` hex."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode("utf-8"), ts.encode("utf-8") + b"." + body, hashlib.sha256)
    return {
        "X-ML-Timestamp": ts,
        "X-ML-Signature": f"sha256={mac.hexdigest()}",
        "Content-Type": "application/json",
    }


def _status(analysis_id: str) -> str:
    return f"/api/analyses/{analysis_id}/status"


def _send(s: Setup, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return s.raw.request(method, path, content=body, headers=headers)


def _vista(s: Setup, method: str, path: str, body: bytes, **kw: Any) -> httpx.Response:
    return _send(s, method, path, body, vista_headers(body, **kw))


def _with_signature(headers: dict[str, str], value: str) -> dict[str, str]:
    return {**headers, "X-ML-Signature": value}


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


def _twice(s: Setup, method: str, path: str, body: bytes, headers: dict[str, str]):
    first = _send(s, method, path, body, headers)
    assert first.status_code == 200, first.text
    return _send(s, method, path, body, headers)


def _hex(headers: dict[str, str]) -> str:
    return headers["X-ML-Signature"].removeprefix("sha256=")


def _processing(s: Setup, analysis_id: str) -> None:
    response = _vista(s, "PATCH", _status(analysis_id), PROCESSING)
    assert response.status_code == 200, response.text


# --- database-independent fixtures: one server per database for the module ----------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Setup]:
    """One Lookout per database for the matrix; each case creates its own analyses."""
    folder = tmp_path_factory.mktemp(f"vista-{request.param}")
    if request.param == "sqlite":
        database = folder / "lookout.db"
        shutil.copy(sqlite_template, database)
        url = f"sqlite:///{database}"
    else:
        url = new_postgres_database(request.getfixturevalue("postgres_server"))
    instance = start_lookout(make_settings(folder, url), request.param)
    try:
        yield make_setup(instance)
    finally:
        instance.close()
        instance.server.stop()


# Each case: (s, analysis_id, other_analysis_id) -> the response to judge.
Case = Callable[[Setup, str, str], httpx.Response]


def _full_flow(s: Setup, a: str, b: str) -> httpx.Response:
    """Every signed endpoint of the six steps, in order, signed the VISTA way."""
    assert _vista(s, "PATCH", _status(a), PROCESSING).status_code == 200
    presign = _vista(s, "POST", f"/api/analyses/{a}/artifacts/presign", PRESIGN)
    assert presign.status_code == 200, presign.text
    bulk = _vista(s, "POST", f"/api/analyses/{a}/annotations:bulk", BULK)
    assert bulk.status_code == 200, bulk.text
    finalize = _vista(s, "POST", f"/api/analyses/{a}/finalize", COMPLETED)
    assert finalize.status_code == 200, finalize.text
    assert finalize.json()["status"] == "completed"
    return finalize


CASES: dict[str, tuple[Case, int, str]] = {
    # --- accepted ---
    "valid_status": (lambda s, a, b: _vista(s, "PATCH", _status(a), PROCESSING), 200, ""),
    "valid_presign": (
        lambda s, a, b: _vista(s, "POST", f"/api/analyses/{a}/artifacts/presign", PRESIGN),
        200,
        "presigned_urls",
    ),
    "valid_bulk": (
        lambda s, a, b: (
            _processing(s, a),
            _vista(s, "POST", f"/api/analyses/{a}/annotations:bulk", BULK),
        )[1],
        200,  # VISTA's answer to VISTA's signature: every annotation and the total
        '"total":1',
    ),
    "valid_finalize": (
        lambda s, a, b: _vista(s, "POST", f"/api/analyses/{a}/finalize", COMPLETED),
        200,
        "completed",
    ),
    "valid_every_step_in_order": (_full_flow, 200, "completed"),
    "valid_with_api_key_too": (  # VISTA's /api-ml callers send a key besides the signature
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(a),
            PROCESSING,
            {**vista_headers(PROCESSING), "Authorization": f"Bearer {s.api_key}"},
        ),
        200,
        "",
    ),
    "valid_old_but_inside_window": (
        lambda s, a, b: _vista(
            s, "PATCH", _status(a), PROCESSING, timestamp=int(time.time()) - 200
        ),
        200,
        "",
    ),
    "valid_canonical_json_after_the_dot": (  # VISTA's server accepts this too
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(a),
            b'{ "status" : "processing" }',
            vista_headers(b'{"status":"processing"}'),
        ),
        200,
        "",
    ),
    "valid_uppercase": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(a),
            PROCESSING,
            _with_signature(h := vista_headers(PROCESSING), "SHA256=" + _hex(h).upper()),
        ),
        200,
        "",
    ),
    "same_signature_other_analysis_accepted": (  # documented: the path is not signed
        lambda s, a, b: (
            _send(s, "PATCH", _status(a), PROCESSING, h := vista_headers(PROCESSING)),
            _send(s, "PATCH", _status(b), PROCESSING, h),
        )[1],
        200,
        "",
    ),
    # --- refused: signature ---
    "tampered_body": (
        lambda s, a, b: _send(
            s, "PATCH", _status(a), b'{"status": "failed"}', vista_headers(PROCESSING)
        ),
        401,
        "does not match",
    ),
    "timestamp_changed_after_signing": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(a),
            PROCESSING,
            {
                **vista_headers(PROCESSING, timestamp=int(time.time()) - 10),
                "X-ML-Timestamp": str(int(time.time())),
            },
        ),
        401,
        "does not match",
    ),
    "wrong_secret": (
        lambda s, a, b: _vista(s, "PATCH", _status(a), PROCESSING, secret="not-the-secret"),
        401,
        "does not match",
    ),
    "stale_timestamp": (
        lambda s, a, b: _vista(
            s, "PATCH", _status(a), PROCESSING, timestamp=int(time.time()) - 301
        ),
        401,
        "too old: it must be within 300 seconds",
    ),
    "future_timestamp": (
        lambda s, a, b: _vista(
            s, "PATCH", _status(a), PROCESSING, timestamp=int(time.time()) + 301
        ),
        401,
        "in the future",
    ),
    "an_hour_old_like_vistas_own_test": (
        lambda s, a, b: _vista(
            s,
            "POST",
            f"/api/analyses/{a}/annotations:bulk",
            BULK,
            timestamp=int(time.time()) - 3600,
        ),
        401,
        "too old",
    ),
    "missing_sha256_prefix": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(a),
            PROCESSING,
            _with_signature(h := vista_headers(PROCESSING), _hex(h)),
        ),
        401,
        "send it as 'X-ML-Signature: sha256=<hex>'",
    ),
    "not_hex": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(a),
            PROCESSING,
            _with_signature(vista_headers(PROCESSING), "sha256=" + "z" * 64),
        ),
        401,
        "after 'sha256=' must be 64 hexadecimal characters",
    ),
    "wrong_length_like_vistas_own_test": (
        lambda s, a, b: _send(
            s,
            "POST",
            f"/api/analyses/{a}/annotations:bulk",
            BULK,
            _with_signature(vista_headers(BULK), "sha256=deadbeef1234567890abcdef"),
        ),
        401,
        "64 hexadecimal",
    ),
    "truncated": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(a),
            PROCESSING,
            _with_signature(h := vista_headers(PROCESSING), h["X-ML-Signature"][:-1]),
        ),
        401,
        "64 hexadecimal",
    ),
    "prefix_only": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(a),
            PROCESSING,
            _with_signature(vista_headers(PROCESSING), "sha256="),
        ),
        401,
        "64 hexadecimal",
    ),
    "missing_timestamp": (
        lambda s, a, b: _send(
            s,
            "PATCH",
            _status(a),
            PROCESSING,
            _without(vista_headers(PROCESSING), "X-ML-Timestamp"),
        ),
        401,
        "missing X-ML-Timestamp",
    ),
    "iso_timestamp": (
        lambda s, a, b: _vista(
            s, "PATCH", _status(a), PROCESSING, timestamp="2026-01-01T00:00:00Z"
        ),
        401,
        "unix time in whole seconds",
    ),
    "unknown_key_id": (
        lambda s, a, b: _send(
            s, "PATCH", _status(a), PROCESSING, {**vista_headers(PROCESSING), "X-ML-Key-Id": "x"}
        ),
        401,
        "unknown X-ML-Key-Id",
    ),
    "signature_for_other_bulk_payload": (
        lambda s, a, b: _send(
            s,
            "POST",
            f"/api/analyses/{a}/annotations:bulk",
            json.dumps({"annotations": [box(), box()]}).encode(),
            vista_headers(BULK),
        ),
        401,
        "does not match",
    ),
    "work_queue_is_v1_only": (
        lambda s, a, b: _vista(
            s,
            "POST",
            "/api/analyses:claim",
            json.dumps({"worker_id": "w1", "model_name": "yolo_v8"}).encode(),
        ),
        401,
        "accept only the v1 scheme",
    ),
    # --- refused: replays ---
    "replay_exact_request": (
        lambda s, a, b: _twice(s, "PATCH", _status(a), PROCESSING, vista_headers(PROCESSING)),
        401,
        "already used (replayed request)",
    ),
    "replay_finalize": (
        lambda s, a, b: _twice(
            s, "POST", f"/api/analyses/{a}/finalize", COMPLETED, vista_headers(COMPLETED)
        ),
        401,
        "already used",
    ),
    "replay_respelled_signature": (
        lambda s, a, b: (
            _send(s, "PATCH", _status(a), PROCESSING, h := vista_headers(PROCESSING)),
            _send(
                s, "PATCH", _status(a), PROCESSING, _with_signature(h, "SHA256=" + _hex(h).upper())
            ),
        )[1],
        401,
        "already used",
    ),
    "replay_respelled_path": (
        lambda s, a, b: (
            _send(s, "PATCH", _status(a), PROCESSING, h := vista_headers(PROCESSING)),
            _send(s, "PATCH", _status(a.upper()) + "?again=1", PROCESSING, h),
        )[1],
        401,
        "already used",
    ),
    "replay_against_other_analysis_twice": (
        lambda s, a, b: (
            _send(s, "PATCH", _status(a), PROCESSING, h := vista_headers(PROCESSING)),
            _send(s, "PATCH", _status(b), PROCESSING, h),
            _send(s, "PATCH", _status(b), PROCESSING, h),
        )[2],
        401,
        "already used",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_vista_matrix(shared: Setup, name: str):
    case, expected_status, fragment = CASES[name]
    a = shared.create_analysis()["id"]
    b = shared.create_analysis()["id"]
    response = case(shared, a, b)
    assert response.status_code == expected_status, response.text
    if expected_status == 401:
        body = response.json()
        assert body["detail"].startswith("Invalid HMAC signature: "), body
        assert body["field"] == "X-ML-Signature"
        assert fragment in body["detail"], body["detail"]
        # Never the signature the server expected.
        for payload in (PROCESSING, COMPLETED, BULK):
            expected = _hex(vista_headers(payload))
            assert expected not in response.text
    elif fragment:
        assert fragment in response.text


def test_matrix_covers_the_issue():
    """The cases issue 16 names are all in the matrix."""
    for needed in (
        "tampered_body",
        "stale_timestamp",
        "future_timestamp",
        "replay_exact_request",
        "wrong_secret",
        "missing_sha256_prefix",
    ):
        assert needed in CASES


def test_replays_are_remembered_in_the_database(shared: Setup):
    """The replay record commits with the request, as for the other schemes."""
    analysis_id = shared.create_analysis()["id"]
    before = shared.lookout.count("seen_signatures")
    headers = vista_headers(PROCESSING)
    assert _send(shared, "PATCH", _status(analysis_id), PROCESSING, headers).status_code == 200
    assert shared.lookout.count("seen_signatures") == before + 1
    again = _send(shared, "PATCH", _status(analysis_id), PROCESSING, headers)
    assert again.status_code == 401
    assert shared.lookout.count("seen_signatures") == before + 1


def test_failed_request_does_not_burn_its_signature(shared: Setup):
    """A VISTA callback that failed (rolled back) may be sent again; one that took effect not."""
    analysis_id = shared.create_analysis()["id"]
    path = f"/api/analyses/{analysis_id}/finalize"
    bad = json.dumps({"status": "processing"}).encode()
    bad_headers = vista_headers(bad)
    assert _send(shared, "POST", path, bad, bad_headers).status_code == 400
    assert _send(shared, "POST", path, bad, bad_headers).status_code == 400
    headers = vista_headers(COMPLETED)
    assert _send(shared, "POST", path, COMPLETED, headers).status_code == 200
    assert _send(shared, "POST", path, COMPLETED, headers).status_code == 401


def test_unknown_analysis_needs_a_valid_signature_before_404(shared: Setup):
    path = _status("00000000-0000-0000-0000-000000000000")
    bad = _vista(shared, "PATCH", path, PROCESSING, secret="wrong")
    assert bad.status_code == 401
    assert _vista(shared, "PATCH", path, PROCESSING).status_code == 404


# --- settings: a server each, on both databases -------------------------------------------


def _setup(lookout_factory: Any, **overrides: Any) -> Setup:
    return make_setup(lookout_factory(**overrides))


def test_vista_turned_off_names_the_scheme(lookout_factory: Any):
    s = _setup(lookout_factory, LOOKOUT_HMAC_ACCEPT_VISTA="false")
    analysis_id = s.create_analysis()["id"]
    path = _status(analysis_id)
    refused = _vista(s, "PATCH", path, PROCESSING)
    assert refused.status_code == 401
    detail = refused.json()["detail"]
    assert detail.startswith("Invalid HMAC signature: VISTA signatures")
    assert "LOOKOUT_HMAC_ACCEPT_VISTA=false" in detail and "v1" in detail
    # Refused requests leave nothing behind: the analysis did not move.
    assert s.client.get(f"/api/analyses/{analysis_id}").json()["status"] == "queued"
    # The document's clients, even with a `sha256=` prefix, and v1 still work.
    assert s.legacy("PATCH", path, {"status": "processing"}).status_code == 200
    prefixed = {
        **(h := python_client_headers({"status": "queued"})),
        "X-ML-Signature": "sha256=" + h["X-ML-Signature"],
    }
    queued = json.dumps({"status": "queued"}).encode()
    assert _send(s, "PATCH", path, queued, prefixed).status_code == 200
    assert s.v1("PATCH", path, {"status": "processing"}).status_code == 200


def test_legacy_off_keeps_vista(lookout_factory: Any):
    s = _setup(lookout_factory, ML_HMAC_LEGACY_ENABLED="false")
    path = _status(s.create_analysis()["id"])
    assert _vista(s, "PATCH", path, PROCESSING).status_code == 200
    prefixed_legacy = {
        **(h := python_client_headers({"status": "queued"})),
        "X-ML-Signature": "sha256=" + h["X-ML-Signature"],
    }
    refused = _send(s, "PATCH", path, json.dumps({"status": "queued"}).encode(), prefixed_legacy)
    assert refused.status_code == 401
    assert "legacy signatures are disabled" in refused.json()["detail"]
    refused = s.legacy("PATCH", path, {"status": "queued"})
    assert refused.status_code == 401
    assert "legacy signatures are disabled" in refused.json()["detail"]


def test_legacy_and_vista_off(lookout_factory: Any):
    s = _setup(lookout_factory, ML_HMAC_LEGACY_ENABLED="false", LOOKOUT_HMAC_ACCEPT_VISTA="0")
    path = _status(s.create_analysis()["id"])
    refused = _vista(s, "PATCH", path, PROCESSING)
    assert refused.status_code == 401
    assert "legacy and VISTA signatures are disabled" in refused.json()["detail"]
    assert s.v1("PATCH", path, {"status": "processing"}).status_code == 200


def test_window_setting_applies_to_vista(lookout_factory: Any):
    s = _setup(lookout_factory, ML_HMAC_WINDOW_SECONDS="30")
    path = _status(s.create_analysis()["id"])
    stale = _vista(s, "PATCH", path, PROCESSING, timestamp=int(time.time()) - 60)
    assert stale.status_code == 401 and "within 30 seconds" in stale.json()["detail"]
    future = _vista(s, "PATCH", path, PROCESSING, timestamp=int(time.time()) + 60)
    assert future.status_code == 401 and "in the future" in future.json()["detail"]
    assert _vista(s, "PATCH", path, PROCESSING, timestamp=int(time.time()) - 20).status_code == 200


def test_named_secrets_and_key_id(lookout_factory: Any):
    s = _setup(
        lookout_factory,
        ML_CALLBACK_HMAC_SECRET="",
        ML_CALLBACK_HMAC_SECRETS="old=s3cret-old,new=s3cret-new",
    )
    path = _status(s.create_analysis()["id"])
    assert _vista(s, "PATCH", path, PROCESSING, secret="s3cret-old").status_code == 200
    queued = json.dumps({"status": "queued"}).encode()
    headers = {**vista_headers(queued, secret="s3cret-new"), "X-ML-Key-Id": "new"}
    assert _send(s, "PATCH", path, queued, headers).status_code == 200
    wrong = {**vista_headers(PROCESSING, secret="s3cret-old"), "X-ML-Key-Id": "new"}
    assert _send(s, "PATCH", path, PROCESSING, wrong).status_code == 401


# --- the verifier itself (no server) -------------------------------------------------------


def _verify(headers: dict[str, str], body: bytes, **kw: Any) -> signatures.VerifiedSignature:
    return signatures.verify(
        headers=headers,
        method="PATCH",
        path="/api/analyses/x/status",
        target="/api/analyses/{analysis_id}/status analysis_id=x",
        body=body,
        secrets={"default": HMAC_SECRET.encode()},
        window=300,
        legacy_enabled=kw.pop("legacy_enabled", True),
        now=kw.pop("now", time.time()),
        **kw,
    )


def test_schemes_are_named_by_what_the_signature_covers():
    assert _verify(vista_headers(PROCESSING), PROCESSING).scheme == signatures.VISTA
    canonical = _verify(vista_headers(b'{"status":"processing"}'), b'{"status": "processing"}')
    assert canonical.scheme == signatures.VISTA_CANONICAL
    prefixed_legacy = python_client_headers({"status": "processing"})
    prefixed_legacy["X-ML-Signature"] = "sha256=" + prefixed_legacy["X-ML-Signature"]
    assert _verify(prefixed_legacy, PROCESSING).scheme == signatures.LEGACY_CANONICAL


def test_timestamp_is_signed_as_sent():
    """VISTA signs the header's characters, so `0` + timestamp is another, valid, text."""
    now = int(time.time())
    headers = vista_headers(PROCESSING, timestamp=f"0{now}")
    verified = _verify(headers, PROCESSING)
    assert verified.scheme == signatures.VISTA and verified.timestamp == now
    assert signatures.sign_vista(HMAC_SECRET.encode(), f"0{now}", PROCESSING) == _hex(headers)


def test_replay_key_binds_endpoint_not_timestamp_spelling():
    """Same signature, same endpoint: one replay key; another endpoint: another key."""
    headers = vista_headers(PROCESSING)
    first = _verify(headers, PROCESSING)
    assert _verify(headers, PROCESSING).replay_digest == first.replay_digest
    other = signatures.verify(
        headers=headers,
        method="PATCH",
        path="/api/analyses/y/status",
        target="/api/analyses/{analysis_id}/status analysis_id=y",
        body=PROCESSING,
        secrets={"default": HMAC_SECRET.encode()},
        window=300,
        legacy_enabled=True,
        now=time.time(),
    )
    assert other.replay_digest != first.replay_digest


@pytest.mark.parametrize(
    ("signature", "fragment"),
    [
        ("sha256=", "64 hexadecimal"),
        ("sha256=" + "g" * 64, "64 hexadecimal"),
        ("sha256=" + "a" * 63, "64 hexadecimal"),
        ("sha256=" + "a" * 65, "64 hexadecimal"),
        ("sha256=" + "a" * 64, "does not match"),
        ("sha256=" + "é" * 64, "64 hexadecimal"),
    ],
)
def test_bad_signatures_are_401_with_a_reason(signature: str, fragment: str):
    headers = {**vista_headers(PROCESSING), "X-ML-Signature": signature}
    with pytest.raises(Unauthenticated) as raised:
        _verify(headers, PROCESSING)
    assert fragment in str(raised.value)
