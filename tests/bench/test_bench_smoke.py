"""The benchmarks are listed and import (they are run by hand; nothing is timed here)."""

from __future__ import annotations

import importlib
import subprocess
import sys

from bench.__main__ import BENCHMARKS


def test_list_names_every_benchmark():
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--list"], capture_output=True, text=True, check=True
    )
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert {"bulk", "reads", "auth", "import", "drafts", "scale", "cluster", "export"} <= set(names)
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
