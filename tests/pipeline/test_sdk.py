"""The pipeline SDK against a live Lookout, directly and through a fault-injecting proxy."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lookout.auth import signatures
from lookout.pipeline import LookoutAPIError, LookoutPipelineClient, sign_request, string_to_sign
from tests.analyses.ml_support import Setup, box, make_setup
from tests.conftest import HMAC_SECRET
from tests.support import HTTP_TIMEOUT, LiveServer, png_bytes


@pytest.fixture
def ml(lookout) -> Setup:
    return make_setup(lookout)


def test_sdk_runs_the_six_steps(ml: Setup, tmp_path):
    artifact = tmp_path / "heatmap.png"
    artifact.write_bytes(png_bytes(50, 40))
    with LookoutPipelineClient(ml.url, HMAC_SECRET, api_key=ml.api_key) as client:
        analysis = client.create_analysis(
            ml.image_id, "yolo_v8", "v8.0.0", {"confidence_threshold": 0.5}, "SDK run"
        )
        analysis_id = analysis["id"]
        assert analysis["status"] == "queued"
        assert client.update_status(analysis_id, "processing")["status"] == "processing"
        presigned = client.request_presigned_urls(
            analysis_id, [{"artifact_name": "detections.png", "content_type": "image/png"}]
        )
        client.upload_artifact(
            presigned["presigned_urls"][0]["upload_url"], png_bytes(), "image/png"
        )
        entry = client.upload_file(analysis_id, "heatmap.png", artifact, "image/png")
        assert entry["artifact_name"] == "heatmap.png"
        created = client.submit_annotations(
            analysis_id,
            [
                box(),
                {
                    "annotation_type": "heatmap",
                    "class_name": "attention",
                    "data": {"artifact_name": "heatmap.png"},
                },
            ],
        )
        assert created["created_count"] == 2
        replaced = client.submit_annotations(analysis_id, [box(class_name="car")], replace=True)
        assert replaced["replaced_count"] == 2
        final = client.finalize_analysis(analysis_id, summary={"total_detections": 1})
        assert final["status"] == "completed"
        read = client.get_analysis(analysis_id)
        assert read["summary"] == {"total_detections": 1}
        assert [a["class_name"] for a in read["annotations"]] == ["car"]
        listed = client.list_analyses(ml.image_id, model_name="yolo_v8", status="completed")
        assert [a["id"] for a in listed["items"]] == [analysis_id]
    artifacts = ml.client.get(f"/api/analyses/{analysis_id}/artifacts").json()["artifacts"]
    assert {a["name"]: (a["state"], a["size_bytes"]) for a in artifacts} == {
        "detections.png": ("uploaded", len(png_bytes())),
        "heatmap.png": ("uploaded", artifact.stat().st_size),
    }
    assert ml.client.get(f"/api/analyses/{analysis_id}/artifacts/heatmap.png").content == (
        artifact.read_bytes()
    )


def test_sdk_errors_name_the_field_and_are_not_retried(ml: Setup):
    proxy = FaultProxy(ml.url).start()
    try:
        with LookoutPipelineClient(proxy.url, HMAC_SECRET, api_key=ml.api_key) as client:
            analysis_id = client.create_analysis(ml.image_id, "yolo_v8")["id"]
            with pytest.raises(LookoutAPIError) as error:
                client.submit_annotations(analysis_id, [box(), box(confidence=2)])
            assert error.value.status_code == 400
            assert error.value.field == "annotations[1].confidence"
            assert proxy.calls["POST annotations:bulk"] == 1
            with pytest.raises(LookoutAPIError) as wrong_secret:
                LookoutPipelineClient(proxy.url, "nope").update_status(analysis_id, "processing")
            assert wrong_secret.value.status_code == 401
            assert "Invalid HMAC signature" in wrong_secret.value.detail
    finally:
        proxy.stop()


# --- a proxy that loses answers, times out and throttles ---------------------------------


# The client's timeout leaves a loaded CI machine room for honest answers (a 1 s timeout once
# expired on the first create); a "slow" fault stalls well past it.
CLIENT_TIMEOUT = 4.0
SLOW_STALL = 7.0


@dataclass
class FaultProxy:
    """Forwards to Lookout byte for byte; `plans[key]` lists faults for the next calls.

    Faults: "503" and "429" answer without forwarding; "lose" forwards, then answers 502 (the
    server did the work, the client never heard); "slow" forwards, then stalls past the client's
    timeout; "500" answers 500 without forwarding.
    """

    target: str
    plans: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    server: LiveServer | None = None

    @staticmethod
    def key(method: str, path: str) -> str:
        return f"{method} {path.rstrip('/').rsplit('/', 1)[-1]}"

    async def handle(self, request: Request) -> Response:
        raw_path = request.scope["raw_path"].decode()
        query = request.scope["query_string"].decode()
        key = self.key(request.method, raw_path)
        self.calls[key] += 1
        fault = self.plans[key].pop(0) if self.plans[key] else None
        if fault in {"503", "429", "500"}:
            return Response("injected", status_code=int(fault), headers={"Retry-After": "0"})
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k not in {"host", "content-length"}}
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            answer = await client.request(
                request.method,
                self.target + raw_path + (f"?{query}" if query else ""),
                content=body,
                headers=headers,
            )
        if fault == "lose":
            return Response("lost", status_code=502)
        if fault == "slow":
            await asyncio.sleep(SLOW_STALL)
        passthrough = {"content-type": answer.headers.get("content-type", "text/plain")}
        return Response(answer.content, status_code=answer.status_code, headers=passthrough)

    def start(self) -> FaultProxy:
        app = Starlette(
            routes=[
                Route(
                    "/{path:path}", self.handle, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]
                )
            ]
        )
        self.server = LiveServer(app).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def stop(self) -> None:
        if self.server:
            self.server.stop()


@pytest.fixture
def proxy(ml: Setup) -> Iterator[FaultProxy]:
    running = FaultProxy(ml.url).start()
    yield running
    running.stop()


def _client(proxy: FaultProxy, ml: Setup, **kw) -> LookoutPipelineClient:
    return LookoutPipelineClient(
        proxy.url, HMAC_SECRET, api_key=ml.api_key, backoff=0.01, max_backoff=0.05, **kw
    )


def test_lost_answers_are_retried_without_storing_twice(ml: Setup, proxy: FaultProxy):
    proxy.plans["PATCH status"] = ["lose"]
    proxy.plans["POST annotations:bulk"] = ["lose", "503"]
    proxy.plans["POST finalize"] = ["lose"]
    with _client(proxy, ml) as client:
        analysis_id = client.create_analysis(ml.image_id, "yolo_v8")["id"]
        assert client.update_status(analysis_id, "processing")["status"] == "processing"
        created = client.submit_annotations(analysis_id, [box(), box(class_name="car")])
        assert created["created_count"] == 2
        assert client.finalize_analysis(analysis_id)["status"] == "completed"
    assert proxy.calls["PATCH status"] == 2
    assert proxy.calls["POST annotations:bulk"] == 3
    assert proxy.calls["POST finalize"] == 2
    stored = ml.client.get(f"/api/analyses/{analysis_id}").json()
    assert stored["annotations_total"] == 2 and stored["status"] == "completed"


def test_timeouts_and_throttling_are_retried(ml: Setup, proxy: FaultProxy):
    proxy.plans["POST annotations:bulk"] = ["slow"]
    proxy.plans["PATCH status"] = ["429", "503"]
    with _client(proxy, ml, timeout=CLIENT_TIMEOUT) as client:
        analysis_id = client.create_analysis(ml.image_id, "yolo_v8")["id"]
        assert client.update_status(analysis_id, "processing")["status"] == "processing"
        assert client.submit_annotations(analysis_id, [box()])["created_count"] == 1
    assert proxy.calls["PATCH status"] == 3
    assert proxy.calls["POST annotations:bulk"] == 2
    assert ml.client.get(f"/api/analyses/{analysis_id}").json()["annotations_total"] == 1


def test_create_is_retried_only_when_it_cannot_have_run(ml: Setup, proxy: FaultProxy):
    proxy.plans["POST analyses"] = ["503", "500"]
    with _client(proxy, ml) as client, pytest.raises(LookoutAPIError) as error:
        client.create_analysis(ml.image_id, "yolo_v8")
    assert error.value.status_code == 500
    assert proxy.calls["POST analyses"] == 2


def test_gives_up_after_the_configured_retries(ml: Setup, proxy: FaultProxy):
    proxy.plans["PATCH status"] = ["503"] * 10
    with _client(proxy, ml, retries=2) as client:
        analysis_id = client.create_analysis(ml.image_id, "yolo_v8")["id"]
        with pytest.raises(LookoutAPIError) as error:
            client.update_status(analysis_id, "processing")
    assert error.value.status_code == 503
    assert proxy.calls["PATCH status"] == 3


def test_connection_errors_are_retried_then_raised():
    from tests.support import free_port

    client = LookoutPipelineClient(
        f"http://127.0.0.1:{free_port()}", HMAC_SECRET, retries=2, backoff=0.01, max_backoff=0.02
    )
    attempts = []
    original = client._http.send

    def counting(request, **kw):
        attempts.append(request.url.path)
        return original(request, **kw)

    client._http.send = counting  # type: ignore[method-assign]
    with pytest.raises(httpx.ConnectError):
        client.update_status("00000000-0000-0000-0000-000000000000", "processing")
    assert len(attempts) == 3


# --- signing ------------------------------------------------------------------------------


def test_sdk_signature_is_what_the_server_verifies():
    body = b'{"status":"processing"}'
    path = "/api/analyses/abc/status"
    headers = sign_request(HMAC_SECRET, "patch", path, body, key_id="default")
    assert headers["X-ML-Signature"].startswith("v1=")
    assert headers["X-ML-Key-Id"] == "default"
    now = float(headers["X-ML-Timestamp"])
    verified = signatures.verify(
        headers=headers,
        method="PATCH",
        path=path,
        target="t",
        body=body,
        secrets={"default": HMAC_SECRET.encode()},
        window=300,
        legacy_enabled=False,
        now=now,
    )
    assert verified.scheme == "v1" and verified.key_id == "default"
    text = string_to_sign(headers["X-ML-Timestamp"], headers["X-ML-Nonce"], "PATCH", path, body)
    assert text.split("\n")[:4] == ["v1", headers["X-ML-Timestamp"], headers["X-ML-Nonce"], "PATCH"]
    assert text.endswith("\n" + path + "\n" + signatures.body_digest(body))
    assert sign_request(HMAC_SECRET, "PATCH", path, body)["X-ML-Nonce"] != headers["X-ML-Nonce"]


def test_sdk_imports_nothing_else_from_lookout():
    code = (
        "import sys, lookout.pipeline\n"
        "mods = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'lookout', 'sqlalchemy', 'fastapi', 'starlette', 'pydantic', 'boto3'})\n"
        "print(' '.join(mods))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == [
        "lookout",
        "lookout.httpretry",
        "lookout.pipeline",
        "lookout.pipeline.client",
        "lookout.pipeline.signing",
    ]


def test_concurrent_clients_share_nothing(ml: Setup):
    """Several threads posting to their own analyses (SDK clients are cheap and independent)."""
    errors: list[BaseException] = []
    ids: list[str] = []

    def work() -> None:
        try:
            with LookoutPipelineClient(ml.url, HMAC_SECRET, api_key=ml.api_key) as client:
                analysis_id = client.create_analysis(ml.image_id, "yolo_v8")["id"]
                client.update_status(analysis_id, "processing")
                client.submit_annotations(analysis_id, [box()] * 20)
                client.finalize_analysis(analysis_id)
                ids.append(analysis_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for analysis_id in ids:
        body = ml.client.get(f"/api/analyses/{analysis_id}").json()
        assert body["status"] == "completed" and body["annotations_total"] == 20
