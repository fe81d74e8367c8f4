"""What a server process imports: only what serving needs (issue 20, "Boot").

Each `lookout serve` worker runs the `lookout` script again (uvicorn starts its workers with
multiprocessing's spawn) and then builds the app with `lookout.server:serve_app`. Every module it
imports is paid for by every worker at every start, so the worker's ONNX stack, boto3 (with
local storage), the importer, the demo, the other commands and numpy stay out. Nothing is timed
here: `python -m bench boot` measures the cost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# What a server worker does: the `lookout` script's import, then uvicorn's factory call.
SERVE_PATH = "import lookout.__main__, lookout.server; lookout.server.serve_app()"

# Never on the serve path (a module is also absent when any of its submodules is).
FORBIDDEN = (
    "onnxruntime",
    "boto3",
    "botocore",
    "numpy",
    "alembic",
    "lookout.worker",
    "lookout.platform_import",
    "lookout.fake_platform",
    "lookout.demo",
    "lookout.datasets",
    "lookout.pipeline",
    "lookout.exports.cli",
    "lookout.evaluation.cli",
    "lookout.evaluation.metrics",
    "lookout.migrate",
    # Loaded by what uses them: the first frame given by URL, the first image stored, the
    # first page rendered.
    "httpx",
    "tenacity",
    "PIL",
    "jinja2",
)

# The export writers: loaded by the first export (the routes know the formats by name only,
# from lookout.format_names).
EXPORT_WRITERS = ("lookout.formats", "lookout.exports.service", "lookout.exports.sinks")


def run_fresh(tmp_path: Path, program: str, **settings: str) -> str:
    """What `program` prints in a fresh interpreter, with local settings in `tmp_path`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LOOKOUT_", "STORAGE_", "S3_", "DATABASE_URL", "PROXY_"))
    }
    env |= {"LOOKOUT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO), **settings}
    result = subprocess.run(
        [sys.executable, "-c", program],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def loaded_modules(tmp_path: Path, code: str = SERVE_PATH, **settings: str) -> set[str]:
    """Modules in sys.modules after running `code` in a fresh interpreter."""
    program = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    return set(json.loads(run_fresh(tmp_path, program, **settings).splitlines()[-1]))


def present(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The names (packages or modules) of which something is loaded."""
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


def test_serve_path_imports_nothing_it_does_not_need(tmp_path: Path) -> None:
    modules = loaded_modules(tmp_path)
    assert "lookout.app" in modules and "lookout.sequences.routes" in modules
    assert present(modules, FORBIDDEN) == []


def test_the_lookout_script_imports_nothing_of_the_command_line(tmp_path: Path) -> None:
    # A spawned worker runs the script before it answers uvicorn's health checks (5 s): under
    # load, a heavy import here had workers killed and restarted in a loop.
    modules = loaded_modules(tmp_path, "import lookout.__main__")
    assert present(modules, ("lookout.cli", "typer", "rich", "pydantic", "fastapi")) == []


def test_the_command_line_imports_little(tmp_path: Path) -> None:
    modules = loaded_modules(tmp_path, "import lookout.cli")
    assert present(modules, ("fastapi", "sqlalchemy", "httpx", "lookout.accounts")) == []
    assert present(modules, FORBIDDEN) == []


def test_serve_path_leaves_the_export_writers_alone(tmp_path: Path) -> None:
    assert present(loaded_modules(tmp_path), EXPORT_WRITERS) == []


def test_s3_storage_loads_boto3_when_configured(tmp_path: Path) -> None:
    modules = loaded_modules(
        tmp_path,
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL="http://127.0.0.1:9",
        S3_ACCESS_KEY_ID="boot",
        S3_SECRET_ACCESS_KEY="boot-secret",
    )
    assert "boto3" in modules and "lookout.storage.s3" in modules


# `lookout worker --help`, run in-process so the modules it loaded can be listed after it.
WORKER_HELP = """
import sys
from lookout.cli import main
sys.argv = ["lookout", "worker", "--help"]
try:
    main()
except SystemExit:
    pass
"""


def test_the_cli_loads_a_command_module_only_for_its_command(tmp_path: Path) -> None:
    modules = loaded_modules(tmp_path, WORKER_HELP)
    assert "lookout.worker.cli" in modules
    assert present(modules, ("lookout.platform_import", "lookout.datasets", "onnxruntime")) == []


def test_serve_writes_the_packages_bytecode_once(tmp_path: Path) -> None:
    """`lookout serve` compiles Lookout's own modules before its workers start, so a worker
    reads bytecode even where PYTHONDONTWRITEBYTECODE is set (uv compiles only the packages it
    installs, not the project installed from its folder)."""
    import importlib.util

    from lookout.cli import compile_package

    sources = sorted((REPO / "lookout").rglob("*.py"))
    compiled = [Path(importlib.util.cache_from_source(str(p))) for p in sources]
    for pyc in compiled[:5]:  # some stale or missing ones, as on a fresh checkout
        pyc.unlink(missing_ok=True)
    compile_package()
    assert [p for p in compiled if not p.is_file()] == []


# What `lookout.server.serve_app` saw of the garbage collector while it imported the app.
COLLECTOR = """
import gc
import lookout.server
paused = []
class Probe:
    def find_spec(self, name, path=None, target=None):
        if name == "lookout.app":
            paused.append(not gc.isenabled())
        return None
import sys
sys.meta_path.insert(0, Probe())
{before}
app = lookout.server.serve_app()
print(paused, gc.isenabled(), type(app).__name__)
"""


def test_a_worker_builds_its_app_with_the_collector_paused_then_resumed(tmp_path: Path) -> None:
    for before, resumed in (("", "True"), ("gc.disable()", "False")):
        printed = run_fresh(tmp_path, COLLECTOR.format(before=before))
        # Paused while the app was imported; left as it was found (a caller's choice kept).
        assert printed.split() == ["[True]", resumed, "FastAPI"]
