"""Clients that send what VISTA's own scripts send, step for step (written here, not copied).

Each function replays one script of VISTA's `scripts/` folder against a base URL, with the
same library (`requests`), paths, JSON bodies, header sets and signing, and stops the way the
script does: a step answered with the wrong status raises `ScriptFailed` naming the step.

- `test_ml_pipeline`: creates an analysis with no credentials (VISTA's debug mode, Lookout's
  local mode), then signs every callback with VISTA's scheme; random corner boxes in a
  1024x768 frame, a heatmap by `storage_path`, a `topk` classification.
- `heatmap_pipeline` and `yolov8_pipeline`: a user (Bearer API key, or `X-User-Email` in
  debug mode) lists a project's images with `skip`/`limit`, downloads each through
  `/images/{id}/download`, and sends every step unsigned; the YOLO script's boxes are corner
  boxes in the image's own pixels. The model is a stand-in (no weights can be downloaded).
- `clear_ml_queue`: lists images and their analyses under `/api-key` (with an API key) or
  `/api` (debug mode) and moves queued analyses to `canceled` with a user's PATCH.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from PIL import Image

Detection = dict[str, Any]
Model = Callable[[Image.Image], list[Detection]]


class ScriptFailed(Exception):
    """A step got an answer the script does not accept (where the script stops)."""

    def __init__(self, step: str, response: requests.Response) -> None:
        super().__init__(f"{step}: {response.status_code} {response.text[:500]}")
        self.step = step
        self.response = response


def _expect(step: str, response: requests.Response, *codes: int) -> requests.Response:
    if codes and response.status_code not in codes:
        raise ScriptFailed(step, response)
    if not codes and not response.ok:  # requests' raise_for_status
        raise ScriptFailed(step, response)
    return response


def vista_signature(body: bytes, secret: str) -> dict[str, str]:
    """VISTA's headers: HMAC-SHA256 of '<unix seconds>.' + body, hex, prefixed 'sha256='."""
    timestamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {
        "X-ML-Timestamp": timestamp,
        "X-ML-Signature": f"sha256={mac.hexdigest()}",
        "Content-Type": "application/json",
    }


def png(width: int, height: int, color: tuple[int, int, int] = (255, 120, 0)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


# --- scripts/test_ml_pipeline.py ------------------------------------------------------------


@dataclass
class PipelineRun:
    analysis_id: str
    boxes: list[dict[str, Any]]
    bulk: dict[str, Any]
    final: dict[str, Any]


def test_ml_pipeline(
    base_url: str,
    image_id: str,
    secret: str,
    *,
    model_name: str = "yolo_v8",
    model_version: str = "1.0.0",
    rng: random.Random | None = None,
) -> PipelineRun:
    rng = rng or random.Random(7)
    create = {
        "image_id": image_id,
        "model_name": model_name,
        "model_version": model_version,
        "parameters": {"confidence_threshold": 0.5, "iou_threshold": 0.4, "max_detections": 100},
    }
    response = requests.post(f"{base_url}/api/images/{image_id}/analyses", json=create)
    analysis_id = _expect("create", response, 201).json()["id"]

    def signed(method: str, path: str, payload: dict[str, Any], step: str) -> requests.Response:
        body = json.dumps(payload).encode("utf-8")
        response = requests.request(
            method, f"{base_url}{path}", data=body, headers=vista_signature(body, secret)
        )
        return _expect(step, response, 200)

    base = f"/api/analyses/{analysis_id}"
    signed("PATCH", f"{base}/status", {"status": "processing"}, "status")
    presign = signed(
        "POST",
        f"{base}/artifacts/presign",
        {"artifact_type": "heatmap", "filename": "heatmap.png"},
        "presign",
    ).json()
    upload = requests.put(
        presign["upload_url"], data=png(512, 512), headers={"Content-Type": "image/png"}
    )
    _expect("upload", upload, 200, 204)

    width, height = 1024, 768
    names = ["cat", "dog", "car", "person", "bicycle", "bird", "horse"]
    boxes = []
    for i in range(rng.randint(3, 8)):
        x_min, y_min = rng.randint(0, width - 200), rng.randint(0, height - 200)
        data = {
            "x_min": x_min,
            "y_min": y_min,
            "x_max": min(x_min + rng.randint(50, 200), width),
            "y_max": min(y_min + rng.randint(50, 200), height),
            "image_width": width,
            "image_height": height,
        }
        boxes.append(
            {
                "annotation_type": "bounding_box",
                "class_name": rng.choice(names),
                "confidence": round(rng.uniform(0.5, 0.99), 4),
                "data": data,
                "ordering": i,
            }
        )
    annotations: list[dict[str, Any]] = list(boxes)
    annotations.append(
        {
            "annotation_type": "heatmap",
            "class_name": None,
            "confidence": None,
            "data": {"width": 512, "height": 512, "color_map": "viridis"},
            "storage_path": presign["storage_path"],
            "ordering": len(annotations),
        }
    )
    top = max(boxes, key=lambda a: a["confidence"])["class_name"]
    others = [c for c in names if c != top]
    topk = [
        {"class": top, "confidence": 0.95},
        {"class": rng.choice(others), "confidence": 0.03},
        {"class": rng.choice(others), "confidence": 0.02},
    ]
    annotations.append(
        {
            "annotation_type": "classification",
            "class_name": top,
            "confidence": 0.95,
            "data": {"topk": topk},
            "ordering": len(annotations),
        }
    )
    bulk = signed("POST", f"{base}/annotations:bulk", {"annotations": annotations}, "bulk").json()
    bulk["total"]  # the script prints it: a KeyError here is the script failing
    final = signed("POST", f"{base}/finalize", {"status": "completed"}, "finalize").json()
    return PipelineRun(analysis_id, boxes, bulk, final)


# --- scripts/heatmap_ml_pipeline.py and scripts/yolov8_ml_pipeline.py -----------------------


@dataclass
class ProjectRun:
    processed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    analyses: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    failed_at: dict[str, str] = field(default_factory=dict)  # image id: the step that failed


class UserPipeline:
    """What VISTA's heatmap and YOLOv8 scripts share: a user session under `/api`."""

    def __init__(self, base_url: str, api_key: str | None, user_email: str) -> None:
        self.base = base_url.rstrip("/")
        self.session = requests.Session()
        if api_key:
            self.session.headers.update({"Authorization": f"Bearer {api_key}"})
        else:  # VISTA's debug mode
            self.session.headers.update({"X-User-Email": user_email})

    def url(self, path: str) -> str:
        return f"{self.base}/api/{path.lstrip('/')}"

    def project_images(self, project_id: str, limit: int) -> list[dict[str, Any]]:
        params = {"skip": 0, "limit": limit}
        response = self.session.get(self.url(f"projects/{project_id}/images"), params=params)
        return _expect("list images", response).json()

    def completed_analyses(self, image_id: str) -> list[dict[str, Any]]:
        response = self.session.get(self.url(f"images/{image_id}/analyses"))
        analyses = _expect("list analyses", response).json().get("analyses", [])
        return [a for a in analyses if a.get("status") == "completed"]

    def download(self, image_id: str) -> Image.Image:
        info = _expect("download", self.session.get(self.url(f"images/{image_id}/download")))
        content_url = info.json().get("url")
        if not content_url:
            raise ScriptFailed("download", info)
        if not content_url.startswith("http"):
            if not content_url.startswith("/api/"):
                content_url = f"/api{content_url}"
            content_url = f"{self.base}{content_url}"
        response = _expect("content", self.session.get(content_url, stream=True))
        if "text/html" in response.headers.get("Content-Type", ""):
            raise ScriptFailed("content", response)
        image = Image.open(io.BytesIO(response.content))
        image.load()
        return image

    def create(self, image_id: str, model_name: str, version: str, params: dict[str, Any]) -> str:
        body = {
            "image_id": image_id,
            "model_name": model_name,
            "model_version": version,
            "parameters": params,
        }
        response = self.session.post(self.url(f"images/{image_id}/analyses"), json=body)
        return _expect("create", response).json()["id"]

    def set_status(self, analysis_id: str, status: str) -> None:
        path = f"analyses/{analysis_id}/status"
        _expect("status", self.session.patch(self.url(path), json={"status": status}))

    def upload_artifact(self, analysis_id: str, kind: str, filename: str, data: bytes) -> str:
        path = f"analyses/{analysis_id}/artifacts/presign"
        body = {"artifact_type": kind, "filename": filename}
        answer = _expect("presign", self.session.post(self.url(path), json=body)).json()
        content_type = "image/png" if kind == "heatmap" else "image/jpeg"
        put = requests.put(answer["upload_url"], data=data, headers={"Content-Type": content_type})
        _expect("upload", put)
        return answer["storage_path"]

    def submit(self, analysis_id: str, annotations: list[dict[str, Any]]) -> None:
        body = {"annotations": annotations, "mode": "append"}
        path = f"analyses/{analysis_id}/annotations:bulk"
        _expect("bulk", self.session.post(self.url(path), json=body))

    def finalize(self, analysis_id: str, status: str = "completed", error: str | None = None):
        body: dict[str, Any] = {"status": status}
        if error:
            body["error_message"] = error
        path = f"analyses/{analysis_id}/finalize"
        _expect("finalize", self.session.post(self.url(path), json=body))

    def run(
        self,
        project_id: str,
        limit: int,
        skip_existing: bool,
        process: Callable[[str], str],
    ) -> ProjectRun:
        """The scripts' project loop: a failed image is finalized `failed` and counted."""
        run = ProjectRun()
        for image in self.project_images(project_id, limit):
            if skip_existing and self.completed_analyses(image["id"]):
                run.skipped.append(image["id"])
                continue
            try:
                run.analyses.append(process(image["id"]))
                run.processed.append(image["id"])
            except ScriptFailed as failure:
                run.failed.append(image["id"])
                run.failed_at[image["id"]] = failure.step
        return run


def heatmap_pipeline(
    base_url: str,
    project_id: str,
    *,
    api_key: str | None = None,
    user_email: str = "test@example.com",
    limit: int = 10,
    skip_existing: bool = False,
) -> ProjectRun:
    client = UserPipeline(base_url, api_key, user_email)

    def process(image_id: str) -> str:
        image = client.download(image_id)
        parameters = {"heatmap_type": "random", "method": "random"}
        analysis_id = client.create(image_id, "heatmap_generator", "random_v1.0", parameters)
        try:
            client.set_status(analysis_id, "processing")
            heatmap = png(image.width, image.height, (40, 40, 40))
            path = client.upload_artifact(
                analysis_id, "heatmap", f"heatmap_{analysis_id}.png", heatmap
            )
            data = {
                "width": image.width,
                "height": image.height,
                "method": "random",
                "model_name": "random_heatmap_generator",
                "description": "Randomly generated heatmap for testing (random)",
            }
            annotation = {
                "annotation_type": "heatmap",
                "data": data,
                "storage_path": path,
                "ordering": 0,
            }
            client.submit(analysis_id, [annotation])
            client.finalize(analysis_id, "completed")
        except ScriptFailed as failure:
            _finalize_failed(client, analysis_id, failure)
            raise
        return analysis_id

    return client.run(project_id, limit, skip_existing, process)


def yolov8_pipeline(
    base_url: str,
    project_id: str,
    model: Model,
    *,
    api_key: str | None = None,
    user_email: str = "test@example.com",
    model_size: str = "n",
    limit: int = 50,
    skip_existing: bool = False,
) -> ProjectRun:
    client = UserPipeline(base_url, api_key, user_email)
    version = f"yolov8_{model_size}"

    def process(image_id: str) -> str:
        image = client.download(image_id)
        parameters = {"conf_threshold": 0.25, "iou_threshold": 0.45, "model_size": model_size}
        analysis_id = client.create(image_id, "yolo_v8", version, parameters)
        try:
            client.set_status(analysis_id, "processing")
            detections = model(image)
            heatmap = png(image.width, image.height, (0, 0, 128))
            path = client.upload_artifact(
                analysis_id, "heatmap", f"heatmap_{analysis_id}.png", heatmap
            )
            annotations = []
            for i, detection in enumerate(detections):
                data = dict(detection["bbox"])
                data.update(image_width=image.width, image_height=image.height)
                annotations.append(
                    {
                        "annotation_type": "bounding_box",
                        "class_name": detection["class_name"],
                        "confidence": detection["confidence"],
                        "data": data,
                        "ordering": i,
                    }
                )
            annotations.append(
                {
                    "annotation_type": "heatmap",
                    "data": {"width": image.width, "height": image.height},
                    "storage_path": path,
                    "ordering": len(detections),
                }
            )
            client.submit(analysis_id, annotations)
            client.finalize(analysis_id, "completed")
        except ScriptFailed as failure:
            _finalize_failed(client, analysis_id, failure)
            raise
        return analysis_id

    return client.run(project_id, limit, skip_existing, process)


def _finalize_failed(client: UserPipeline, analysis_id: str, failure: ScriptFailed) -> None:
    with contextlib.suppress(ScriptFailed):  # the scripts swallow this too
        client.finalize(analysis_id, "failed", str(failure))


def stand_in_yolo(image: Image.Image) -> list[Detection]:
    """Two fixed detections in the image's pixels, shaped as the YOLOv8 script shapes them."""
    w, h = image.width, image.height
    found = []
    for name, conf, (x1, y1, x2, y2) in (
        ("person", 0.91, (0.10 * w, 0.20 * h, 0.30 * w, 0.80 * h)),
        ("car", 0.42, (0.50 * w, 0.55 * h, 0.95 * w, 0.90 * h)),
    ):
        bbox = {"x_min": x1, "y_min": y1, "x_max": x2, "y_max": y2}
        bbox.update(width=x2 - x1, height=y2 - y1)
        found.append({"class_name": name, "confidence": conf, "bbox": bbox})
    return found


# --- scripts/clear_ml_queue.py --------------------------------------------------------------


@dataclass
class QueueClearing:
    candidates: list[str]
    updated: int
    failed: int


def clear_ml_queue(
    api_url: str,
    project_id: str,
    *,
    api_key: str | None = None,
    debug_email: str | None = None,
    status_from: str = "queued",
    status_to: str = "canceled",
    limit: int = 100,
    confirm: bool = True,
) -> QueueClearing:
    session = requests.Session()
    if api_key:
        session.headers.update({"Authorization": f"Bearer {api_key}"})
    elif debug_email:
        session.headers.update({"X-User-Email": debug_email})
    prefix = "api-key" if api_key else "api"

    def url(path: str) -> str:
        return f"{api_url.rstrip('/')}/{prefix}/{path.lstrip('/')}"

    images: list[dict[str, Any]] = []
    skip, page_size = 0, min(1000, 100)
    while len(images) < 1000:
        params = {"skip": skip, "limit": page_size}
        response = session.get(url(f"projects/{project_id}/images"), params=params)
        batch = _expect("list images", response).json()
        if not batch:
            break
        images.extend(batch)
        if len(batch) < page_size:
            break
        skip += page_size

    candidates: list[str] = []
    for image in images:
        response = session.get(url(f"images/{image['id']}/analyses"))
        for analysis in _expect("list analyses", response).json().get("analyses", []):
            if len(candidates) < limit and (analysis.get("status") or "") == status_from:
                candidates.append(analysis["id"])
    if not confirm:
        return QueueClearing(candidates, 0, 0)
    updated = failed = 0
    for analysis_id in candidates:
        response = session.patch(url(f"analyses/{analysis_id}/status"), json={"status": status_to})
        if response.ok:
            updated += 1
        else:
            failed += 1
    return QueueClearing(candidates, updated, failed)
