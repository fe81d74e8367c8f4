"""The benchmarks are listed and import (they are run by hand; nothing is timed here)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from bench.__main__ import BENCHMARKS
from tests.support import http_post


def test_list_names_every_benchmark():
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--list"], capture_output=True, text=True, check=True
    )
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    expected = {"boot", "bulk", "reads", "auth", "import", "drafts", "scale", "cluster", "export"}
    assert expected <= set(names)
    assert names == list(BENCHMARKS)


def test_every_benchmark_module_imports():
    for module, _text in BENCHMARKS.values():
        loaded = importlib.import_module(module)
        assert callable(getattr(loaded, "main", None)), module
    importlib.import_module("bench.apps")
    importlib.import_module("bench.platform")


def test_unknown_benchmark_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "bench", "nope"], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown benchmark" in result.stderr


def test_boot_prints_both_clocks_with_ratio_target_and_load():
    # A real run (a few seconds): only its shape is checked, the figures depend on the machine.
    result = subprocess.run(
        [sys.executable, "-m", "bench", "boot", "--quick"], capture_output=True, text=True
    )
    assert result.returncode in {0, 1}, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    figures = ["serve_import_cpu", "serve_import_wall", "cli_import_cpu"]
    assert [line["figure"] for line in lines] == figures
    assert lines[2]["target"] is None and lines[2]["ratio"] > 0
    for line in lines[:2]:
        assert line["value"] > 0 and line["reference"] > 0 and line["ratio"] > 0
        assert line["target"] == "<= 1.5" and line["runs"] == 3
        assert len(line["load_before"]) == 3 and isinstance(line["bytecode_compiled"], bool)


def test_requests_help_names_wrk_and_targets():
    result = subprocess.run(
        [sys.executable, "-m", "bench", "requests", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "wrk" in result.stdout and "bare FastAPI" in result.stdout


def test_requests_scripts_are_lua_with_a_summary():
    from bench import requests as bench_requests

    script = bench_requests.claim_script(["lk_a_b"])
    assert "/api/review-queue/claim" in script and "function done" in script
    app = bench_requests.bare_app()
    assert [route.path for route in app.routes][-1] == "/ping"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_unsigned_reference_answers_an_unsigned_post_as_a_signed_one(lookout):
    """`bench auth` compares a signed bulk post with the same post to a server that skips the
    check: both must be answered alike (201, Lookout's shape), or the ratio compares two
    different pieces of work."""
    from bench.apps import without_signature_check
    from tests.analyses.ml_support import box, make_setup

    setup = make_setup(lookout)
    body = json.dumps({"annotations": [box(client_id="a"), box(10, 20, 30, 40)]}).encode()
    signed_analysis, unsigned_analysis = setup.create_analysis(), setup.create_analysis()
    signed = setup.raw_signed(
        "POST", f"/api/analyses/{signed_analysis['id']}/annotations:bulk", body
    )
    without_signature_check(lookout.server.app)
    unsigned = http_post(
        f"{lookout.url}/api/analyses/{unsigned_analysis['id']}/annotations:bulk",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert signed.status_code == unsigned.status_code == 201, unsigned.text
    assert signed.json().keys() == unsigned.json().keys()
    assert signed.json()["created_count"] == unsigned.json()["created_count"] == 2


def test_a_run_becomes_a_table_of_its_figures():
    from bench.table import table

    lines = [
        "[bench] starting PostgreSQL",
        json.dumps(
            {
                "benchmark": "requests",
                "figure": "health",
                "value": 15215,
                "unit": "requests/s",
                "reference": 17315,
                "ratio": 0.8787,
                "target": ">= 0.8",
                "ok": True,
            }
        ),
        "{not json",
        json.dumps(
            {
                "benchmark": "boot",
                "figure": "serve_import_cpu",
                "value": 813.2,
                "unit": "ms",
                "reference": 386.96,
                "ratio": 2.1015,
                "target": "<= 1.5",
                "ok": False,
            }
        ),
        json.dumps(
            {
                "benchmark": "bulk",
                "figure": "driver_copy_rate",
                "value": 117377,
                "unit": "rows/s",
                "reference": None,
                "ratio": None,
                "target": None,
                "ok": None,
            }
        ),
    ]
    rendered = table(lines).splitlines()
    assert len(rendered) == 5
    assert (
        rendered[2] == "| `requests` | health | 15,215 requests/s | 17,315 | 0.879 | >= 0.8 | yes |"
    )
    assert rendered[3] == "| `boot` | serve_import_cpu | 813 ms | 387 | 2.1 | <= 1.5 | no |"
    assert rendered[4] == "| `bulk` | driver_copy_rate | 117,377 rows/s | - | - | - | - |"
