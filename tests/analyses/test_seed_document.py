"""The ML document followed word for word: its Python client, Node client and curl example."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.analyses.ml_support import Setup, box, raw_body_headers
from tests.analyses.seed_client import MLPipelineClient
from tests.conftest import HMAC_SECRET, unavailable
from tests.support import http_put, png_bytes

# shared/ sits beside the repository (in CI and on developer machines).
SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "004_25bda5f2129d2ca5.txt"


def test_seed_client_is_the_documents_code_byte_for_byte():
    if not SEED.exists():
        unavailable(f"the seed document is not at {SEED}")
    text = SEED.read_text()
    start = text.index("```python\nimport requests\nimport hmac")
    block = text[start + len("```python\n") : text.index("```", start + 10)]
    copied = (Path(__file__).parent / "seed_client.py").read_text()
    assert copied.endswith(block)


def test_python_client_runs_all_six_steps(ml: Setup, tmp_path, monkeypatch):
    client = MLPipelineClient(api_url=ml.url, hmac_secret=HMAC_SECRET, api_key=ml.api_key)

    analysis = client.create_analysis(
        image_id=ml.image_id,
        model_name="yolo_v8",
        model_version="v8.0.0",
        parameters={"confidence_threshold": 0.5},
    )
    assert analysis["status"] == "queued"
    assert analysis["image_id"] == ml.image_id
    assert analysis["parameters"] == {"confidence_threshold": 0.5}
    assert {"id", "model_name", "model_version", "created_at"} <= set(analysis)
    analysis_id = analysis["id"]

    updated = client.update_status(analysis_id, "processing")
    assert updated["status"] == "processing" and updated["id"] == analysis_id
    assert "updated_at" in updated

    presigned = client.request_presigned_urls(
        analysis_id, [{"artifact_name": "detections.png", "content_type": "image/png"}]
    )
    [entry] = presigned["presigned_urls"]
    assert entry["artifact_name"] == "detections.png" and entry["expires_in"] > 0
    artifact = tmp_path / "detections.png"
    artifact.write_bytes(png_bytes())
    monkeypatch.chdir(tmp_path)
    client.upload_artifact(entry["upload_url"], "detections.png", "image/png")

    annotations = [
        {
            "annotation_type": "bounding_box",
            "class_name": "person",
            "confidence": 0.95,
            "data": {"bbox": [100, 150, 50, 100], "format": "xywh"},
        },
        {
            "annotation_type": "bounding_box",
            "class_name": "car",
            "confidence": 0.87,
            "data": {"bbox": [300, 200, 120, 80], "format": "xywh"},
        },
    ]
    created = client.submit_annotations(analysis_id, annotations)
    assert created["created_count"] == 2
    assert [a["class_name"] for a in created["annotations"]] == ["person", "car"]
    assert {"id", "annotation_type", "confidence"} <= set(created["annotations"][0])

    final = client.finalize_analysis(
        analysis_id, status="completed", summary={"total_detections": 2}
    )
    assert final["status"] == "completed" and final["completed_at"]

    read = ml.client.get(f"/api/analyses/{analysis_id}").json()
    assert read["summary"] == {"total_detections": 2}
    assert read["annotations_total"] == 2
    person = read["annotations"][0]
    assert person["bbox_xyxyn"] == pytest.approx([100 / 640, 150 / 480, 150 / 640, 250 / 480])
    artifacts = ml.client.get(f"/api/analyses/{analysis_id}/artifacts").json()["artifacts"]
    assert artifacts[0]["state"] == "uploaded"
    assert artifacts[0]["size_bytes"] == len(png_bytes())
    download = ml.client.get(artifacts[0]["download_url"])
    assert download.content == png_bytes()


def test_node_style_signature_over_json_stringify(ml: Setup):
    """Node's JSON.stringify: compact, keys in insertion order, the same text signed and sent."""
    analysis_id = ml.create_analysis()["id"]

    def send(method: str, path: str, payload: dict) -> httpx.Response:
        message = json.dumps(payload, separators=(",", ":"))  # JSON.stringify(payload)
        body = message.encode()
        return ml.raw.request(method, path, content=body, headers=raw_body_headers(body))

    base = f"/api/analyses/{analysis_id}"
    assert send("PATCH", f"{base}/status", {"status": "processing"}).status_code == 200
    presigned = send(
        "POST",
        f"{base}/artifacts/presign",
        {"artifacts": [{"content_type": "image/png", "artifact_name": "h.png"}]},
    )
    assert presigned.status_code == 200, presigned.text
    url = presigned.json()["presigned_urls"][0]["upload_url"]
    assert http_put(url, content=png_bytes(), headers={"Content-Type": "image/png"}).is_success
    # Keys deliberately not sorted: the raw body is what counts.
    bulk = send(
        "POST",
        f"{base}/annotations:bulk",
        {"annotations": [box(class_name="car"), box(fmt=None, confidence=0.5)]},
    )
    assert bulk.status_code == 201, bulk.text
    assert bulk.json()["created_count"] == 2
    final = send(
        "POST", f"{base}/finalize", {"summary": {"total_detections": 2}, "status": "completed"}
    )
    assert final.status_code == 200, final.text
    assert final.json()["status"] == "completed"


def test_curl_style_raw_body(ml: Setup):
    """The document's curl example: a hand-written body string, signed and sent byte for byte."""
    analysis_id = ml.create_analysis()["id"]
    body = b'{"status":"processing"}'
    response = ml.raw.patch(
        f"/api/analyses/{analysis_id}/status", content=body, headers=raw_body_headers(body)
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "processing"
    # Spacing and key order as typed by hand.
    body = (
        b'{ "annotations": [ {"class_name": "dog", "annotation_type": "classification",\n'
        b'  "confidence": 0.96, "data": {"scores": {"dog": 0.96, "cat": 0.03}}} ] }'
    )
    response = ml.raw.post(
        f"/api/analyses/{analysis_id}/annotations:bulk",
        content=body,
        headers=raw_body_headers(body),
    )
    assert response.status_code == 201, response.text
    body = b'{"status": "completed", "summary": {"total_detections": 1}}'
    response = ml.raw.post(
        f"/api/analyses/{analysis_id}/finalize", content=body, headers=raw_body_headers(body)
    )
    assert response.status_code == 200, response.text
    assert ml.client.get(f"/api/analyses/{analysis_id}").json()["summary"] == {
        "total_detections": 1
    }
