"""What every answer carries, how failed logins are braked, and what never reaches a log.

- `X-Content-Type-Options: nosniff` on every answer of every route, errors included;
- a strict Content-Security-Policy on every page a browser renders (the UI's pages, their
  error pages, the API docs), checked by its directives and, for the API docs, in Chromium;
- failed authentication of every kind braked per client address (429), answered alike on the
  API and the pages;
- a real `lookout serve` at debug level and a real `lookout import-platform` at debug level,
  driven through everything that carries a secret (API keys, proxy secret, HMAC signatures,
  presigned URLs, platform passwords and tokens): their logs hold none of them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import Response

from lookout.fake_platform import start_fake_platform
from lookout.fake_platform.app import _b64, _compact
from lookout.pipeline.signing import sign_request
from lookout.web.routes import CSP
from tests.analyses.ml_support import python_client_headers
from tests.platform_import.helpers import small_config
from tests.reliability.record import record
from tests.reliability.server_support import ServeProcess
from tests.security import access_rules as rules
from tests.security.conftest import PROXY_SECRET, SecurityWorld, sqlite_only
from tests.security.test_access_matrix import EXAMPLES, send_cell
from tests.support import LiveServer, Lookout, http_get, http_put, jpeg_bytes

# --- nosniff everywhere ---------------------------------------------------------------------------


def test_every_answer_says_nosniff(security_world_factory: Callable[..., SecurityWorld]) -> None:
    """Every route, as a member and as a stranger, plus the answers no route gives."""
    w = security_world_factory(LOOKOUT_MAX_REQUEST_BYTES=100_000)
    answers = 0
    missing: list[str] = []
    for route, kind in sorted(rules.RULES.items()):
        for caller in (rules.MEMBER, rules.NO_CREDENTIALS, rules.SIGNED):
            cell = send_cell(w, kind, caller, EXAMPLES[route](w))
            answers += 1
            if cell.response.headers.get("x-content-type-options") != "nosniff":
                missing.append(f"{route} as {caller}: {cell.response.status_code}")
    odd = {
        "unknown path": w.member.get("/no/such/page"),
        "method not allowed": w.member.put("/api/health"),
        "validation error": w.member.get("/api/projects/not-a-uuid"),
        "body too large": w.member.post(
            "/api/projects", content=b"[" * 200_000, headers={"Content-Type": "application/json"}
        ),
        "static file missing": w.member.get("/static/nothing.js"),
    }
    for what, response in odd.items():
        answers += 1
        if response.headers.get("x-content-type-options") != "nosniff":
            missing.append(f"{what}: {response.status_code}")
    record(
        f"nosniff on every answer ({w.lookout.backend})",
        answers_checked=answers,
        without_nosniff=len(missing),
    )
    assert missing == [], missing


@sqlite_only
def test_a_crash_is_answered_with_nosniff_too(lookout: Lookout) -> None:
    """An unexpected exception is turned into a 500 outside the app's own handlers."""
    app: FastAPI = lookout.server.server.config.app

    @app.get("/api/test-crash", include_in_schema=False)
    def crash() -> None:
        raise RuntimeError("an unforeseen bug")

    response = lookout.client().get("/api/test-crash")
    assert response.status_code == 500
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert "unforeseen" not in response.text


# --- strict CSP on every page ---------------------------------------------------------------------

PAGE_ROUTES = sorted(
    r
    for r in rules.RULES
    if r.startswith("GET /") and not r.startswith(("GET /api", "GET /storage", "GET /openapi"))
)


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0].lower()] = words[1:]
    return parsed


def strictness_problems(policy: str | None) -> list[str]:
    """What makes a policy less than strict (an empty list for a strict one)."""
    if not policy:
        return ["no Content-Security-Policy"]
    found = directives(policy)
    problems = []
    for name, wanted in (
        ("default-src", ["'self'"]),
        ("object-src", ["'none'"]),
        ("frame-ancestors", ["'none'"]),
        ("base-uri", ["'none'"]),
    ):
        if found.get(name) != wanted:
            problems.append(f"{name} is {found.get(name)}, not {wanted}")
    scripts = found.get("script-src", found.get("default-src", []))
    loose = [
        s
        for s in scripts
        if s in {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:", "blob:"}
    ]
    if loose or not scripts:
        problems.append(f"script-src allows {loose or 'anything'}")
    if "form-action" not in found:
        problems.append("no form-action")
    return problems


def test_every_page_carries_a_strict_policy(security_world: SecurityWorld) -> None:
    """Pages as a member, as another group (404 page), without credentials (401 page), with a
    malformed address (404 page), and the API docs."""
    w = security_world
    assert strictness_problems(CSP) == []
    pages: list[tuple[str, httpx.Response]] = []
    for route in PAGE_ROUTES:
        kind = rules.RULES[route]
        for caller in (rules.MEMBER, rules.OTHER_GROUP, rules.NO_CREDENTIALS):
            call = EXAMPLES[route](w)
            cell = send_cell(w, kind, caller, call)
            if cell.response.headers.get("content-type", "").startswith("text/html"):
                pages.append((f"{route} as {caller} ({cell.response.status_code})", cell.response))
    for path in ("/projects/not-a-uuid", "/images/00000000-0000-0000-0000-000000000000"):
        pages.append((path, w.member.get(path)))
    problems = [
        f"{what}: {problem}"
        for what, response in pages
        for problem in strictness_problems(response.headers.get("content-security-policy"))
    ]
    framing = [w for w, r in pages if r.headers.get("x-frame-options") != "DENY"]
    record(
        f"strict CSP on every page ({w.lookout.backend})",
        pages_checked=len(pages),
        policy_problems=len(problems),
        framable=len(framing),
    )
    assert problems == [], "\n".join(problems)
    assert framing == []
    statuses = {r.status_code for _, r in pages}
    assert {200, 401, 404} <= statuses  # pages, sign-in pages and not-found pages were seen


@sqlite_only
def test_the_api_docs_run_under_their_policy(lookout: Lookout, chromium: Any) -> None:
    """Swagger UI renders the API with its inline start-up script allowed by hash only."""
    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    docs = page.goto(f"{lookout.url}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    operations = page.locator(".opblock-summary-path").count()
    page.locator(".opblock-summary-path").first.click()  # an operation opened, rendered
    page.wait_for_selector(".opblock-body", timeout=10_000)
    redirect = page.goto(f"{lookout.url}/docs/oauth2-redirect")
    context.close()
    assert operations > 40
    assert docs is not None and redirect is not None
    for response in (docs, redirect):
        assert strictness_problems(response.headers.get("content-security-policy")) == []
    assert [e for e in errors if "Content Security Policy" in e or "Refused" in e] == []


# --- failed authentication is braked --------------------------------------------------------------


def _from(address: str, lookout: Lookout, headers: dict[str, str]) -> httpx.Client | None:
    """A client whose requests come from another loopback address (None where there is none)."""
    client = httpx.Client(
        base_url=lookout.url,
        headers=headers,
        timeout=10,
        transport=httpx.HTTPTransport(local_address=address),
    )
    try:
        client.get("/api/health")
    except httpx.TransportError:
        client.close()
        return None
    return client


@sqlite_only
def test_failed_authentication_of_every_kind_is_braked(lookout_factory: Any) -> None:
    lookout = lookout_factory(PROXY_SECRET=PROXY_SECRET)
    good_key = lookout.user_with_key("alice@example.org")
    prefix = good_key.split("_")[1]
    attempts = [
        {"X-API-Key": f"lk_{prefix}_wrong-secret"},
        {"Authorization": "Bearer lk_000000000000_guess"},
        {"X-User-Email": "alice@example.org", "X-Proxy-Secret": "guessed"},
        {"X-User-Email": "alice@example.org"},
    ]
    client = lookout.client()
    codes = [
        client.get(path, headers=attempts[i % len(attempts)]).status_code
        for i, path in enumerate(["/api/projects", "/projects"] * 10)
    ]
    braked = {
        "API, wrong key": client.get("/api/projects", headers=attempts[0]),
        "API, right key": client.get("/api/projects", headers={"X-API-Key": good_key}),
        "page, right proxy secret": client.get(
            "/projects",
            headers={"X-User-Email": "alice@example.org", "X-Proxy-Secret": PROXY_SECRET},
        ),
        "API, right key as Bearer": client.get(
            "/api/sequences", headers={"Authorization": f"Bearer {good_key}"}
        ),
    }
    record(
        "failed authentication braked",
        failures_sent=len(codes),
        answered_401=codes.count(401),
        then_answered_429=sum(r.status_code == 429 for r in braked.values()),
    )
    assert codes == [401] * 20
    for what, response in braked.items():
        assert response.status_code == 429, what
        assert response.headers["x-content-type-options"] == "nosniff"
    assert braked["page, right proxy secret"].headers["content-type"].startswith("text/html")
    assert lookout.client().get("/api/health").status_code == 200  # no credentials, no brake
    # Another address is not braked by this one's failures (Linux routes all of 127/8 locally).
    elsewhere = _from("127.0.0.2", lookout, {"X-API-Key": good_key})
    assert elsewhere is not None, "no second loopback address to send from"
    assert elsewhere.get("/api/projects").status_code == 200
    elsewhere.close()


# --- secrets never reach the logs -----------------------------------------------------------------


def _environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOKOUT_", "PLATFORM_"))}
    env.update(values)
    return env


@pytest.fixture
def serve(tmp_path: Path, sqlite_template: Path) -> Iterator[Callable[..., ServeProcess]]:
    """`lookout serve` at debug level in a process of its own (the shared helper), on a copy
    of the migrated template database; stopped when the test ends."""
    started: list[ServeProcess] = []

    def start(**settings: str) -> ServeProcess:
        database = tmp_path / "serve.db"
        shutil.copy(sqlite_template, database)
        server = ServeProcess(
            f"sqlite:///{database}", tmp_path / "data", env=settings, log_level="debug"
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def _key_for(database_url: str) -> str:
    """A member's API key, made in the server's database."""
    from lookout.accounts import service as accounts
    from lookout.db import make_engine, make_session_factory

    engine = make_engine(database_url, pool_size=1)
    try:
        with make_session_factory(engine)() as session:
            user = accounts.get_or_create_user(session, email="pipeline@example.org")
            group = accounts.get_or_create_group(session, name="team")
            accounts.add_member(session, user=user, group=group)
            token = accounts.create_api_key(session, user=user, name="logs").token
            session.commit()
            return token
    finally:
        engine.dispose()


def _frame_source() -> LiveServer:
    app = FastAPI()

    @app.get("/frame.jpg")
    def frame() -> Response:
        return Response(jpeg_bytes(64, 48), media_type="image/jpeg")

    return LiveServer(app).start()


SERVER_SECRETS = {
    "LOOKOUT_SECRET_KEY": "local-signing-key-5b0e61d2",
    "PROXY_SECRET": "proxy-secret-0f6c2a91",
    "ML_CALLBACK_HMAC_SECRET": "hmac-secret-9d3e7b44",
}


def _query_values(url: str, *names: str) -> list[str]:
    return [v for k, v in parse_qsl(urlsplit(url).query) if k.lower() in names]


def _exercise_server(url: str, key: str, hmac_secret: str, secrets: list[str]) -> int:
    """Everything that carries a secret, against a running server; returns requests sent."""
    sent = 0

    def go(method: str, path: str, **kwargs: Any) -> httpx.Response:
        nonlocal sent
        sent += 1
        return httpx.request(method, url + path, timeout=30, **kwargs)

    member = {"X-API-Key": key}
    proxy = {
        "X-User-Email": "reviewer@example.org",
        "X-Proxy-Secret": SERVER_SECRETS["PROXY_SECRET"],
    }
    assert go("GET", "/api/projects", headers=member).status_code == 200
    assert go("GET", "/api/projects", headers={"Authorization": f"Bearer {key}"}).is_success
    typo = key[:-3] + "abc"
    secrets.append(typo.split("_", 2)[2])
    assert go("GET", "/api/projects", headers={"X-API-Key": typo}).status_code == 401
    assert go("GET", "/projects", headers=proxy).status_code == 200
    assert (
        go("GET", "/projects", headers={**proxy, "X-Proxy-Secret": "near-miss"}).status_code == 401
    )
    project = go("POST", "/api/projects", headers=member, json={"name": "logs"}).json()
    files = {"file": ("f.jpg", jpeg_bytes(64, 48), "image/jpeg")}
    image = go("POST", f"/api/projects/{project['id']}/images", headers=member, files=files).json()
    analysis = go(
        "POST", f"/api/images/{image['id']}/analyses", headers=member, json={"model_name": "yolo"}
    ).json()
    base = f"/api/analyses/{analysis['id']}"

    def signed(method: str, path: str, payload: Any) -> httpx.Response:
        body = json.dumps(payload).encode()
        headers = sign_request(hmac_secret, method, path, body)
        secrets.append(headers["X-ML-Signature"].removeprefix("v1="))
        return go(
            method, path, content=body, headers={**headers, "Content-Type": "application/json"}
        )

    assert signed("PATCH", f"{base}/status", {"status": "processing"}).is_success
    legacy = python_client_headers({"annotations": []}, hmac_secret)
    secrets.append(legacy["X-ML-Signature"])
    go("POST", f"{base}/annotations:bulk", content=b'{"annotations": []}', headers=legacy)
    presign = signed(
        "POST",
        f"{base}/artifacts/presign",
        {"artifacts": [{"artifact_name": "a.txt", "content_type": "text/plain"}]},
    )
    upload_url = presign.json()["presigned_urls"][0]["upload_url"]
    secrets.extend(_query_values(upload_url, "signature"))
    sent += 1
    assert http_put(upload_url, content=b"hello", headers={"Content-Type": "text/plain"}).is_success
    assert signed("POST", f"{base}/finalize", {"status": "completed"}).is_success
    download = go("GET", f"{base}/artifacts/a.txt/url", headers=member).json()["url"]
    secrets.extend(_query_values(download, "signature"))
    sent += 1
    assert http_get(download).status_code == 200
    # A frame fetched by URL, as the importer asks for the platform's presigned frames.
    sequence = go(
        "POST",
        "/api/sequences",
        headers=member,
        json={
            "project_id": project["id"],
            "source": "logs",
            "source_id": "s1",
            "started_at": "2024-01-01T00:00:00Z",
        },
    ).json()
    amz = {
        "X-Amz-Signature": "amzsig0123456789abcdef",
        "X-Amz-Credential": "AKIASECRET/20240101",
        "X-Amz-Security-Token": "sessiontoken-7f7f",
    }
    secrets.extend(amz.values())
    source = _frame_source()
    try:
        query = "&".join(f"{k}={v}" for k, v in amz.items())
        frame = go(
            "POST",
            f"/api/sequences/{sequence['id']}/frames",
            headers=member,
            json={"url": f"{source.url}/frame.jpg?{query}"},
        )
        assert frame.status_code == 201, frame.text
    finally:
        source.stop()
    return sent


def test_secrets_never_reach_the_server_log(serve: Any) -> None:
    server = serve(**SERVER_SECRETS)
    key = _key_for(server.database_url)
    secrets = [key, key.split("_", 2)[2], *SERVER_SECRETS.values()]
    sent = _exercise_server(server.url, key, SERVER_SECRETS["ML_CALLBACK_HMAC_SECRET"], secrets)
    server.stop()
    log = server.log_text()
    # The log is the real one, at debug level, with the requests in it.
    assert "GET /api/projects" in log and "PUT /storage/objects/" in log and "DEBUG" in log
    assert "HTTP Request: GET" in log  # the frame download, logged by the server's HTTP client
    leaked = sorted({s for s in secrets if s in log})
    record(
        "secrets in the server log",
        requests_sent=sent,
        secrets_checked=len(set(secrets)),
        log_lines=len(log.splitlines()),
        secrets_found=len(leaked),
    )
    assert leaked == [], [line for line in log.splitlines() if any(s in line for s in leaked)]


@sqlite_only
def test_secrets_never_reach_the_importer_log(lookout_factory: Any, tmp_path: Path) -> None:
    users = {
        "org1-user": ("org1-pass-7c1d9e", "agent", 1),
        "admin": ("admin-pass-44b0aa", "admin", 1),
    }
    lookout = lookout_factory(LOOKOUT_LOCAL_MODE=True)
    key = lookout.user_with_key("importer@example.org", None, admin=True)  # makes groups
    env = _environment(
        PLATFORM_LOGIN="org1-user",
        PLATFORM_PASSWORD=users["org1-user"][0],
        PLATFORM_ADMIN_LOGIN="admin",
        PLATFORM_ADMIN_PASSWORD=users["admin"][0],
        LOOKOUT_API_KEY=key,
    )
    with start_fake_platform(small_config(users=users)) as platform:
        argv = [
            sys.executable,
            "-m",
            "lookout.cli",
            "import-platform",
            "--url-api-platform",
            platform.url,
            "--url-api-annotation",
            lookout.url,
            "--date-from",
            "2024-01-01",
            "--date-end",
            "2024-01-02",
            "--loglevel",
            "debug",
            "--backoff-base",
            "0.01",
            "--backoff-max",
            "0.05",
        ]
        done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, timeout=240)
        output = (done.stdout + done.stderr).decode(errors="replace")
        # A mistyped password is refused without being repeated back.
        typo = {**env, "PLATFORM_PASSWORD": "org1-pass-typo-31f0"}
        refused = subprocess.run(argv, env=typo, cwd=tmp_path, capture_output=True, timeout=240)
        refusal = (refused.stdout + refused.stderr).decode(errors="replace")
        token_header = _b64(_compact({"alg": "HS256", "typ": "JWT"}))
    assert done.returncode == 0, output
    assert refused.returncode != 0 and "org1-pass-typo-31f0" not in refusal, refusal
    output += refusal
    assert "DEBUG" in output and lookout.count("images") > 0
    secrets = [users["org1-user"][0], users["admin"][0], key, key.split("_", 2)[2], token_header]
    leaked = [s for s in secrets if s in output]
    signatures = re.findall(r"(?i)(?:signature|credential|token)=[^&\s\[]+", output)
    record(
        "secrets in the importer log",
        images_imported=lookout.count("images"),
        log_lines=len(output.splitlines()),
        secrets_checked=len(secrets),
        secrets_found=len(leaked) + len(signatures),
    )
    assert leaked == [] and signatures == [], (leaked, signatures)
