"""The platform client against the fake platform's faults: retries, 401, paging, timeouts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date

import httpx
import pytest

from lookout.fake_platform import RunningFakePlatform, expected, generate
from lookout.httpretry import RetryPolicy, parse_retry_after, pooled_client, send
from lookout.platform_import import platform_client
from lookout.platform_import.platform_client import (
    PlatformAuthError,
    PlatformClient,
    PlatformError,
    PlatformShapeError,
)

FAST = RetryPolicy(attempts=6, timeout_s=2.0, backoff_base_s=0.01, max_wait_s=0.05)
DAY = date(2024, 1, 1)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with pooled_client(FAST, pool_size=8) as client:
        yield client


@pytest.fixture
def connect(http: httpx.Client) -> Callable[..., PlatformClient]:
    def make(
        fp: RunningFakePlatform,
        user: str = "org1-user",
        password: str = "org1-pass",
        policy: RetryPolicy = FAST,
        page_size: int = 50,
    ) -> PlatformClient:
        return PlatformClient(http, fp.url, user, password, policy=policy, page_size=page_size)

    return make


def _ids_on(fp: RunningFakePlatform, day: date, org: int) -> set[int]:
    return {s.id for s in generate(fp.config).sequences_on(day, org)}


def test_token_is_reused(platform: RunningFakePlatform, connect: Callable) -> None:
    client = connect(platform)
    for _ in range(3):
        client.cameras()
    assert platform.stats.snapshot()["requests"]["/api/v1/login/creds"] == 1


def test_wrong_password(platform: RunningFakePlatform, connect: Callable) -> None:
    with pytest.raises(PlatformAuthError, match="Failed to fetch access token for 'org1-user'"):
        connect(platform, password="nope").login()


def test_a_401_mid_run_logs_in_again_once(platform: RunningFakePlatform, connect: Callable) -> None:
    client = connect(platform)
    client.login()
    platform.revoke_tokens()
    assert client.sequences_on(DAY).items
    assert platform.stats.snapshot()["requests"]["/api/v1/login/creds"] == 2
    # A token that expires at once keeps answering 401: one new login, then a clear error.
    platform.config.token_ttl_s = 0
    with pytest.raises(PlatformError, match="401"):
        client.cameras()
    assert platform.stats.snapshot()["requests"]["/api/v1/login/creds"] == 3


def test_every_page_of_a_day(start_platform: Callable, connect: Callable) -> None:
    fp = start_platform(
        sequences_per_camera_per_day=7, cameras_per_org=2, detections_per_sequence=1
    )
    got = connect(fp, page_size=3).sequences_on(DAY)
    assert {s.id for s in got.items} == _ids_on(fp, DAY, 1)
    assert len(got.items) == 14
    assert fp.stats.snapshot()["requests"]["/api/v1/sequences/all/fromdate"] == 5


def test_5xx_429_drops_and_timeouts_are_retried(
    start_platform: Callable, connect: Callable
) -> None:
    fp = start_platform(
        error_rate=0.25,
        rate_limit_rate=0.1,
        drop_rate=0.1,
        timeout_rate=0.1,
        timeout_hang_s=1.0,
        retry_after_s=0,
    )
    client = connect(
        fp, policy=RetryPolicy(attempts=10, timeout_s=0.3, backoff_base_s=0.01, max_wait_s=0.05)
    )
    for day in fp.config.day_list():
        assert {s.id for s in client.sequences_on(day).items} == _ids_on(fp, day, 1)
    data = generate(fp.config)
    for seq in data.sequences_on(DAY, 1):
        got = client.detections(seq.id, limit=30, desc=False)
        assert [d.id for d in got.items] == seq.detection_ids
    for _ in range(10):
        assert len(client.cameras().items) == len(data.cameras) // 2
    faults = fp.stats.snapshot()["faults"]
    assert faults.get("error", 0) and faults.get("timeout", 0) and faults.get("drop", 0)
    assert faults.get("rate_limit", 0)


def test_retry_after_is_honoured(start_platform: Callable, http: httpx.Client) -> None:
    fp = start_platform(rate_limit_rate=1.0, retry_after_s=1)
    # The backoff alone would pause 0.01 s to 0.02 s; the cap allows the 1 s asked for.
    policy = RetryPolicy(attempts=2, timeout_s=2, backoff_base_s=0.01, max_wait_s=5)
    started = time.monotonic()
    answer = send(http, "GET", f"{fp.url}/api/v1/cameras/", policy=policy)
    assert answer.status_code == 429
    assert time.monotonic() - started >= 1.0
    assert fp.stats.snapshot()["faults"]["rate_limit"] == 2


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_retries_give_up_with_the_last_answer(start_platform: Callable, connect: Callable) -> None:
    fp = start_platform(error_rate=1.0, error_statuses=(503,))
    client = connect(
        fp, policy=RetryPolicy(attempts=3, timeout_s=1, backoff_base_s=0.01, max_wait_s=0.01)
    )
    with pytest.raises(PlatformError, match="HTTP 503"):
        client.cameras()
    assert fp.stats.snapshot()["faults"]["error"] == 3


def test_unreachable_platform(connect: Callable) -> None:
    class Nowhere:
        url = "http://127.0.0.1:9"

    with pytest.raises(PlatformAuthError, match="ConnectError"):
        connect(Nowhere, policy=RetryPolicy(attempts=2, backoff_base_s=0.01)).login()


def test_detections_of_both_schemas(start_platform: Callable, connect: Callable) -> None:
    for schema in ("2025", "later"):
        fp = start_platform(schema=schema, detections_per_sequence=6)
        data, want = generate(fp.config), expected(fp.config)
        client = connect(fp)
        for seq in data.sequences_on(DAY, 1):
            got = client.detections(seq.id, limit=30, desc=False)
            assert len(got.items) == want.detections_per_sequence[seq.id]
            for det in got.items:
                assert {tuple(b) for b in det.boxes} == set(data.detections[det.id].boxes)


def test_detections_above_the_page_cap(
    start_platform: Callable, connect: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The later platform pages with offset; the 2025 one ignores it: keep the first page."""
    monkeypatch.setattr(platform_client, "MAX_DETECTIONS_PAGE", 2)
    later = start_platform(schema="later", detections_per_sequence=8)
    seq = generate(later.config).sequences_on(DAY, 1)[0]
    want = expected(later.config).detections_per_sequence[seq.id]
    got = connect(later).detections(seq.id, limit=30, desc=True)
    assert len(got.items) == want
    assert [d.created_at for d in got.items] == sorted(
        (d.created_at for d in got.items), reverse=True
    )
    old = start_platform(detections_per_sequence=8)
    seq = generate(old.config).sequences_on(DAY, 1)[0]
    assert len(connect(old).detections(seq.id, limit=30, desc=False).items) == 2


def test_unexpected_answers_are_reported(start_platform: Callable, connect: Callable) -> None:
    fp = start_platform(
        rename_fields={"detections": {"bboxes": "boxes"}}, omit_fields={"sequences": {"started_at"}}
    )
    client = connect(fp)
    seqs = client.sequences_on(DAY)
    assert seqs.items == [] and len(seqs.problems) == len(_ids_on(fp, DAY, 1))
    seq_id = next(iter(_ids_on(fp, DAY, 1)))
    dets = client.detections(seq_id, limit=30, desc=False)
    assert dets.items == [] and all("no boxes field" in p.message for p in dets.problems)
    with pytest.raises(PlatformShapeError):
        client.detection_url(10**6) if False else _bad_json(client)


def _bad_json(client: PlatformClient) -> None:
    """An HTML answer where JSON belongs."""
    from lookout.platform_import.platform_client import _json

    _json(
        httpx.Response(200, text="<html>oops</html>", request=httpx.Request("GET", client.base_url))
    )


def test_a_final_answer_is_not_retried(start_platform: Callable, http: httpx.Client) -> None:
    fp = start_platform(error_rate=1.0, error_statuses=(502,))
    url = f"{fp.url}/api/v1/cameras/"
    answer = send(http, "GET", url, policy=FAST, final=lambda r: r.status_code == 502)
    assert answer.status_code == 502
    assert fp.stats.snapshot()["faults"]["error"] == 1
