"""The client-side retry helper against a real HTTP server on loopback.

The server answers each path from a script (status and headers, one entry per request, then
200). Pauses are checked through the values the helper reports before each retry, never by
timing the calls.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lookout.httpretry import (
    RetryEvent,
    RetryPolicy,
    TransportFailure,
    parse_retry_after,
    retrying,
    send,
)
from tests.support import HTTP_TIMEOUT, LiveServer, free_port

# Backoff pauses of at most a few hundredths of a second: any pause above that was asked for.
QUICK = RetryPolicy(attempts=3, timeout_s=5, backoff_base_s=0.01, max_wait_s=5)


@dataclass
class Scripted:
    """A loopback server answering each path from its script, counting requests."""

    script: dict[str, list[tuple[int, dict[str, str]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    hits: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    server: LiveServer | None = None

    async def answer(self, request: Request) -> Response:
        """The next scripted answer of this path, else 200."""
        name = request.path_params["name"]
        self.hits[name] += 1
        if not self.script[name]:
            return Response("ok")
        status, headers = self.script[name].pop(0)
        return Response(f"answer {status}", status_code=status, headers=headers)

    def url(self, name: str) -> str:
        """The URL of a path on this server."""
        assert self.server is not None
        return f"{self.server.url}/{name}"


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    state = Scripted()
    app = Starlette(routes=[Route("/{name}", state.answer, methods=["GET", "POST"])])
    state.server = LiveServer(app).start()
    yield state
    state.server.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        yield client


def _send(http: httpx.Client, url: str, policy: RetryPolicy = QUICK) -> tuple[int, list[float]]:
    """Send a GET; its final status and the pauses taken before each retry."""
    waits: list[float] = []

    def record(event: RetryEvent) -> None:
        waits.append(event.wait_s)

    response = send(http, "GET", url, policy=policy, on_retry=record)
    return response.status_code, waits


def test_429_with_retry_after_in_seconds_is_waited_for(
    scripted: Scripted, http: httpx.Client
) -> None:
    scripted.script["a"] = [(429, {"Retry-After": "1"})]
    status, waits = _send(http, scripted.url("a"))
    assert status == 200
    assert waits == [1.0]
    assert scripted.hits["a"] == 2


def test_503_with_an_http_date_retry_after_is_waited_for(
    scripted: Scripted, http: httpx.Client
) -> None:
    # HTTP dates have whole seconds: two seconds ahead is more than one second from now.
    when = datetime.now(UTC) + timedelta(seconds=2)
    scripted.script["b"] = [(503, {"Retry-After": format_datetime(when, usegmt=True)})]
    status, waits = _send(http, scripted.url("b"))
    assert status == 200
    assert len(waits) == 1 and 0.5 < waits[0] <= 2.0, waits
    assert scripted.hits["b"] == 2


def test_one_cap_bounds_every_pause(scripted: Scripted, http: httpx.Client) -> None:
    """A Retry-After of an hour and a backoff of 10 s and more both wait the cap."""
    scripted.script["c"] = [(429, {"Retry-After": "3600"}), (500, {}), (502, {})]
    policy = RetryPolicy(attempts=4, timeout_s=5, backoff_base_s=10, max_wait_s=0.2)
    status, waits = _send(http, scripted.url("c"), policy)
    assert status == 200
    assert waits == [0.2, 0.2, 0.2]


def test_5xx_answers_are_retried_until_the_attempts_run_out(
    scripted: Scripted, http: httpx.Client
) -> None:
    scripted.script["d"] = [(503, {}), (500, {}), (504, {}), (502, {})]
    status, waits = _send(http, scripted.url("d"))
    assert status == 504  # the last answer, once the three attempts are spent
    assert len(waits) == 2 and all(0 < w <= 0.031 for w in waits), waits
    assert scripted.hits["d"] == 3


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_other_client_errors_are_not_retried(
    scripted: Scripted, http: httpx.Client, status: int
) -> None:
    scripted.script["e"] = [(status, {"Retry-After": "1"})]
    assert _send(http, scripted.url("e")) == (status, [])
    assert scripted.hits["e"] == 1


def test_connection_refused_is_retried_then_given_up_clearly(http: httpx.Client) -> None:
    url = f"http://127.0.0.1:{free_port()}/nothing?signature=secret"
    events: list[RetryEvent] = []
    with pytest.raises(TransportFailure) as failure:
        send(http, "GET", url, policy=QUICK, on_retry=events.append)
    message = str(failure.value)
    assert message.startswith(f"GET {url.split('?')[0]}: ConnectError")
    assert "secret" not in message
    assert isinstance(failure.value.__cause__, httpx.ConnectError)
    assert [e.attempt for e in events] == [1, 2]
    assert all(e.reason.startswith("ConnectError") for e in events)


def test_a_timeout_is_retried(http: httpx.Client) -> None:
    """A server that accepts the connection and never answers: each try times out."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/slow"
        policy = RetryPolicy(attempts=2, timeout_s=0.2, backoff_base_s=0.01)
        events: list[RetryEvent] = []
        with pytest.raises(TransportFailure, match="ReadTimeout"):
            send(http, "GET", url, policy=policy, on_retry=events.append)
    assert len(events) == 1 and events[0].reason.startswith("ReadTimeout")


def test_a_final_answer_is_kept(scripted: Scripted, http: httpx.Client) -> None:
    scripted.script["f"] = [(502, {})]
    answer = send(http, "GET", scripted.url("f"), policy=QUICK, final=lambda r: True)
    assert answer.status_code == 502 and scripted.hits["f"] == 1


def test_a_call_that_must_not_run_twice_is_retried_only_when_it_did_not_run(
    scripted: Scripted, http: httpx.Client
) -> None:
    scripted.script["g"] = [(503, {}), (500, {})]
    answer = send(http, "POST", scripted.url("g"), policy=QUICK.not_run_only())
    assert answer.status_code == 500  # may have run: not sent again
    assert scripted.hits["g"] == 2


def test_raised_status_errors_are_retried_and_raised_at_the_end(
    scripted: Scripted, http: httpx.Client
) -> None:
    """The frame downloader streams and raises for status: the same rules apply."""
    scripted.script["h"] = [(503, {"Retry-After": "0"})] * 3

    def fetch() -> httpx.Response:
        with http.stream("GET", scripted.url("h")) as response:
            return response.raise_for_status()

    with pytest.raises(httpx.HTTPStatusError, match="503"):
        retrying(QUICK, "GET h")(fetch)
    assert scripted.hits["h"] == 3
    scripted.script["i"] = [(404, {})]
    with pytest.raises(httpx.HTTPStatusError, match="404"):
        retrying(QUICK, "GET i")(lambda: http.get(scripted.url("i")).raise_for_status())
    assert scripted.hits["i"] == 1


def test_each_retry_is_logged_at_info(
    scripted: Scripted, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.script["j"] = [(503, {"Retry-After": "0"}), (429, {"Retry-After": "0"})]
    logger = logging.getLogger("tests.httpretry")
    with caplog.at_level(logging.DEBUG, logger="tests.httpretry"):
        send(http, "GET", scripted.url("j") + "?sig=secret", policy=QUICK, logger=logger)
    retries = [r for r in caplog.records if "; retry " in r.getMessage()]
    assert [r.levelno for r in retries] == [logging.INFO, logging.INFO]
    assert retries[0].getMessage() == (
        f"GET {scripted.url('j')} failed (HTTP 503); retry 1/2 in 0.0s"
    )
    assert "secret" not in caplog.text


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    ahead = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = parse_retry_after(ahead)
    assert seconds is not None and 28 < seconds <= 30
