"""Helpers of the worker tests: a tiny YOLO-shaped ONNX model, a project with images, workers.

The model is built with `onnx.helper`: whatever the input, it answers a fixed `[1, 4 + nc, N]`
tensor (a constant plus 0 x the mean of the input, so the input is really read), laid out like
YOLOv8/YOLO11 output. Its 64x64 input and the 128x96 test images make the letterbox exact:
scale 0.5, 8 px of padding on top and bottom, none on the sides.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa

from lookout.analyses.models import Analysis, Prediction
from tests.conftest import HMAC_SECRET
from tests.support import Lookout, jpeg_bytes

IMAGE_W, IMAGE_H = 128, 96
INPUT = 64
NAMES = ["smoke", "fire"]

# Candidates in model-input pixels: (cx, cy, w, h, score smoke, score fire).
CANDIDATES = [
    (32, 32, 16, 16, 0.90, 0.10),  # smoke, kept
    (33, 32, 16, 16, 0.80, 0.05),  # smoke overlapping the first (IoU 0.88): suppressed by NMS
    (32, 32, 16, 16, 0.05, 0.70),  # fire at the same place: kept (NMS is per class)
    (10, 20, 4, 4, 0.10, 0.05),  # below the confidence threshold
    (60, 50, 10, 10, 0.02, 0.60),  # fire crossing the right edge: clipped to the image
]
# What the worker must post, in original pixels (x1, y1, x2, y2), best first.
EXPECTED = [
    ("smoke", 0.9, [48.0, 32.0, 80.0, 64.0]),
    ("fire", 0.7, [48.0, 32.0, 80.0, 64.0]),
    ("fire", 0.6, [110.0, 74.0, 128.0, 94.0]),
]


def yolo_output(candidates: list[tuple[float, ...]] = CANDIDATES) -> np.ndarray:
    """The `[1, 4 + nc, N]` tensor of the candidates."""
    return np.asarray(candidates, dtype=np.float32).T[None]


def tiny_yolo(
    path: Path,
    output: np.ndarray | None = None,
    *,
    names: list[str] | None = NAMES,
    input_size: int | str = INPUT,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write an ONNX model whose output is `output` (default: the CANDIDATES) for any image."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    output = yolo_output() if output is None else output
    side: Any = input_size
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
            helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
            helper.make_node("Add", ["boxes", "nothing"], ["output0"]),
        ],
        "tiny_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
        initializer=[
            numpy_helper.from_array(output.astype(np.float32), "boxes"),
            numpy_helper.from_array(np.zeros((), dtype=np.float32), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    props = dict(metadata or {})
    if names is not None:
        props.setdefault("names", repr(dict(enumerate(names))))
    if props:
        helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@dataclass
class Project:
    """A running Lookout with a user, a project and images to analyze."""

    lookout: Lookout
    api_key: str
    client: httpx.Client
    project_id: str
    image_ids: list[str]

    @property
    def url(self) -> str:
        return self.lookout.url

    def upload(self, count: int = 1, **form: Any) -> list[str]:
        ids = []
        for i in range(len(self.image_ids), len(self.image_ids) + count):
            # A colour per image of the project: equal bytes would share one stored object.
            data = jpeg_bytes(IMAGE_W, IMAGE_H, color=(40 + 10 * (i % 15), 90 + i // 15, 160))
            response = self.lookout.upload(self.client, self.project_id, data, **form)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        self.image_ids += ids
        return ids

    def queue(self, model_name: str = "yolo_v8", **body: Any) -> dict[str, Any]:
        response = self.client.post(
            f"/api/projects/{self.project_id}/analyses:queue",
            json={"model_name": model_name, **body},
        )
        assert response.status_code == 200, response.text
        return response.json()

    def analyses(self, model_name: str | None = None) -> list[Analysis]:
        with self.lookout.sessions() as session:
            query = sa.select(Analysis).order_by(Analysis.created_at, Analysis.id)
            if model_name:
                query = query.where(Analysis.model_name == model_name)
            return list(session.scalars(query))

    def predictions(self, analysis_id: Any) -> list[Prediction]:
        with self.lookout.sessions() as session:
            query = (
                sa.select(Prediction)
                .where(Prediction.analysis_id == analysis_id)
                .order_by(Prediction.created_at, Prediction.id)
            )
            return list(session.scalars(query))


def make_project(lookout: Lookout, images: int = 1, *, name: str = "cams") -> Project:
    api_key = lookout.user_with_key("worker-owner@example.org", "team")
    client = lookout.client({"X-API-Key": api_key})
    project = lookout.create_project(client, name)
    setup = Project(lookout, api_key, client, project["id"], [])
    setup.upload(images)
    return setup


def worker_command(url: str, model: Path, *args: str) -> list[str]:
    """`lookout worker` as a separate process (the console script's entry point)."""
    return [
        sys.executable,
        "-m",
        "lookout.cli",
        "worker",
        "--url",
        url,
        "--model",
        str(model),
        "--no-progress",
        *args,
    ]


def worker_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_WORKER")}
    env.update({"ML_CALLBACK_HMAC_SECRET": HMAC_SECRET, **extra})
    return env


def start_worker(url: str, model: Path, *args: str, log: Path, **env: str) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(
        worker_command(url, model, *args),
        env=worker_env(**env),
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
