"""A request that times out in a test reports where the live servers' threads stood."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_a_timed_out_request_reports_every_thread(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("from tests.conftest import pytest_runtest_makereport\n")
    pytester.makepyfile(
        """
        import threading, time
        import httpx

        def parked_in_the_server():
            time.sleep(30)

        def test_slow():
            threading.Thread(target=parked_in_the_server, daemon=True, name="uvicorn-x").start()
            raise httpx.ReadTimeout("timed out")

        def test_other_failure():
            assert False
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert "threads when the client gave up" in text
    assert "--- uvicorn-x" in text and "parked_in_the_server" in text
    # Only a timeout adds the section (once, for test_slow).
    assert text.count("threads when the client gave up") == 1
