"""docs/ml-api.md's curl blocks, scripts/test_ml_pipeline.py and the document's Node client, run
for real against a live server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.analyses.ml_support import Setup
from tests.conftest import HMAC_SECRET, unavailable
from tests.support import jpeg_bytes, png_bytes

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ml-api.md"
SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "004_25bda5f2129d2ca5.txt"


def _doc_blocks() -> list[str]:
    return re.findall(r"<!-- doc-test -->\n```bash\n(.*?)```", DOC.read_text(), flags=re.S)


def test_docs_curl_examples_run_as_printed(shared_sqlite: Setup, tmp_path: Path):
    for tool in ("curl", "openssl", "bash"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed")
    blocks = _doc_blocks()
    assert len(blocks) >= 8
    (tmp_path / "frame.jpg").write_bytes(jpeg_bytes(640, 480))
    (tmp_path / "detections.png").write_bytes(png_bytes())
    script = "set -euo pipefail\n" + "\n".join(blocks) + '\necho "ANALYSIS=$ANALYSIS_ID"\n'
    env = {
        **os.environ,
        "LOOKOUT_URL": shared_sqlite.url,
        "API_KEY": shared_sqlite.api_key,
        "ML_CALLBACK_HMAC_SECRET": HMAC_SECRET,
    }
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    analysis_id = re.search(r"ANALYSIS=(\S+)", result.stdout).group(1)
    read = shared_sqlite.client.get(f"/api/analyses/{analysis_id}").json()
    assert read["status"] == "completed" and read["summary"] == {"total_detections": 1}
    assert read["annotations_total"] == 1
    artifacts = shared_sqlite.client.get(f"/api/analyses/{analysis_id}/artifacts").json()
    assert artifacts["artifacts"][0]["state"] == "uploaded"
    [exported] = tmp_path.glob("analysis_test_model_*.csv")
    assert exported.read_text().startswith("id,annotation_type,class_name")


def _run_script(
    s: Setup, *args: str, secret: str | None = HMAC_SECRET
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"ML_CALLBACK_HMAC_SECRET", "API_KEY"}}
    env["API_KEY"] = s.api_key
    if secret is not None:
        env["ML_CALLBACK_HMAC_SECRET"] = secret
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "test_ml_pipeline.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_test_script_runs_the_six_steps(ml: Setup):
    result = _run_script(ml, "--image-id", ml.image_id, "--api-url", ml.url)
    assert result.returncode == 0, result.stdout + result.stderr
    for step in (
        "1. creating",
        "2. status",
        "3. requesting",
        "4. uploading",
        "5. submitting",
        "6. finalizing",
        "OK: pipeline round trip succeeded",
    ):
        assert step in result.stdout
    [analysis] = ml.client.get(f"/api/images/{ml.image_id}/analyses").json()["items"]
    assert analysis["model_name"] == "test_model" and analysis["status"] == "completed"


def test_test_script_fails_cleanly(shared_sqlite: Setup):
    s = shared_sqlite
    wrong = _run_script(s, "--image-id", s.image_id, "--api-url", s.url, secret="wrong")
    assert wrong.returncode == 1
    assert "Invalid HMAC signature" in wrong.stderr and "Traceback" not in wrong.stderr
    missing = _run_script(s, "--image-id", s.image_id, "--api-url", s.url, secret=None)
    assert missing.returncode == 1 and "ML_CALLBACK_HMAC_SECRET" in missing.stderr
    unknown = _run_script(
        s, "--image-id", "00000000-0000-0000-0000-000000000000", "--api-url", s.url
    )
    assert unknown.returncode == 1 and "404" in unknown.stderr


NODE_PROGRAM = """
const crypto = require('crypto');

{create_hmac_headers}

async function call(method, url, payload) {{
    const headers = createHMACHeaders(payload, process.env.ML_CALLBACK_HMAC_SECRET);
    // axios.post(url, payload, {{ headers }}) sends JSON.stringify(payload); so does this.
    const response = await fetch(url, {{ method, headers, body: JSON.stringify(payload) }});
    if (!response.ok) {{ throw new Error(`${{response.status}} ${{await response.text()}}`); }}
    return response.json();
}}

(async () => {{
    const base = `${{process.env.LOOKOUT_URL}}/api/analyses/${{process.env.ANALYSIS_ID}}`;
    await call('PATCH', `${{base}}/status`, {{ status: 'processing' }});
    const created = await call('POST', `${{base}}/annotations:bulk`, {{ annotations: [
        {{ annotation_type: 'bounding_box', class_name: 'person', confidence: 0.95,
          data: {{ bbox: [100, 150, 50, 100], format: 'xywh' }} }} ] }});
    const done = await call('POST', `${{base}}/finalize`, {{ status: 'completed',
        summary: {{ total_detections: created.created_count }} }});
    console.log(done.status);
}})().catch((error) => {{ console.error(error.message); process.exit(1); }});
"""


def test_document_node_client_with_node(shared_sqlite: Setup, tmp_path: Path):
    """The document's createHMACHeaders, copied from the document, run by Node itself."""
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed (apt-get install nodejs)")
    if not SEED.exists():
        unavailable(f"the seed document is not at {SEED}")
    function = re.search(
        r"(function createHMACHeaders\(payload, secret\) \{.*?\n\})", SEED.read_text(), flags=re.S
    ).group(1)
    program = tmp_path / "pipeline.js"
    program.write_text(NODE_PROGRAM.format(create_hmac_headers=function))
    analysis_id = shared_sqlite.create_analysis()["id"]
    env = {
        **os.environ,
        "LOOKOUT_URL": shared_sqlite.url,
        "ANALYSIS_ID": analysis_id,
        "ML_CALLBACK_HMAC_SECRET": HMAC_SECRET,
    }
    result = subprocess.run(
        [node, str(program)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "completed"
    read = shared_sqlite.client.get(f"/api/analyses/{analysis_id}").json()
    assert read["annotations_total"] == 1 and read["summary"] == {"total_detections": 1}
