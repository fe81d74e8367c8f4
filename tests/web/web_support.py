"""Helpers for the web UI tests: find demo rows, make analyses in-process, read canvases."""

from __future__ import annotations

import io
import uuid
from typing import Any

import sqlalchemy as sa
from PIL import Image as PILImage

from bench.ui import wait_js as wait_js  # one poller for the tests and the UI benchmark
from lookout.analyses import service as analyses
from lookout.analyses.models import Analysis
from lookout.images.models import Image
from lookout.sequences.models import Sequence
from tests.support import Lookout


def sequence_id(lookout: Lookout, source_id: str) -> str:
    with lookout.sessions() as session:
        found = session.scalar(sa.select(Sequence.id).where(Sequence.source_id == source_id))
        assert found is not None, source_id
        return str(found)


def image_id(lookout: Lookout, source_id: str) -> str:
    with lookout.sessions() as session:
        found = session.scalar(sa.select(Image.id).where(Image.source_id == source_id))
        assert found is not None, source_id
        return str(found)


def analysis_ids(lookout: Lookout, image: str) -> dict[str, str]:
    """Model name -> analysis id of an image's analyses."""
    with lookout.sessions() as session:
        rows = session.execute(
            sa.select(Analysis.model_name, Analysis.id).where(Analysis.image_id == uuid.UUID(image))
        )
        return {name: str(aid) for name, aid in rows}


def add_analysis(
    lookout: Lookout,
    image: str,
    model_name: str,
    annotations: list[dict[str, Any]],
    *,
    version: str = "1.0",
    status: str = "completed",
) -> str:
    """Store an analysis of an image in-process (as the platform import does)."""
    with lookout.sessions() as session:
        row = session.get_one(Image, uuid.UUID(image))
        analysis = analyses.create_analysis_row(
            session, image=row, model_name=model_name, model_version=version, status=status
        )
        analyses.insert_annotations(session, analysis=analysis, image=row, annotations=annotations)
        session.commit()
        return str(analysis.id)


def box(x1: float, y1: float, x2: float, y2: float, confidence: float = 0.8, cls: str = "smoke"):
    return {
        "annotation_type": "bounding_box",
        "class_name": cls,
        "confidence": confidence,
        "data": {"bbox": [x1, y1, x2, y2], "format": "xyxyn"},
    }


def jpeg(width: int = 640, height: int = 360, color: tuple[int, int, int] = (40, 60, 80)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), color).save(out, format="JPEG", quality=80)
    return out.getvalue()


def canvas_pixel(page: Any, selector: str, x: float, y: float) -> list[int]:
    """RGBA of a canvas at CSS pixel (x, y), read back with getImageData."""
    return page.evaluate(
        """([selector, x, y]) => {
            const canvas = document.querySelector(selector);
            const ratio = canvas.width / canvas.getBoundingClientRect().width;
            const data = canvas.getContext("2d")
                .getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
            return Array.from(data);
        }""",
        [selector, x, y],
    )


def canvas_alpha_sum(page: Any, selector: str, rect: tuple[float, float, float, float]) -> int:
    """Sum of alpha over a CSS-pixel rectangle of a canvas (0 when nothing is drawn there)."""
    return page.evaluate(
        """([selector, x, y, w, h]) => {
            const canvas = document.querySelector(selector);
            const ratio = canvas.width / canvas.getBoundingClientRect().width;
            const data = canvas.getContext("2d").getImageData(
                Math.round(x * ratio), Math.round(y * ratio),
                Math.max(1, Math.round(w * ratio)), Math.max(1, Math.round(h * ratio))).data;
            let sum = 0;
            for (let i = 3; i < data.length; i += 4) sum += data[i];
            return sum;
        }""",
        [selector, *rect],
    )


def to_screen(view: dict[str, float], xn: float, yn: float) -> tuple[float, float]:
    """Normalized image coordinates to CSS pixels of the stage, from the page's view."""
    return view["ox"] + xn * view["w"] * view["scale"], view["oy"] + yn * view["h"] * view["scale"]


def stable_view(page: Any, name: str = "lookoutReview") -> dict[str, float]:
    """The stage's view once two reads 150 ms apart agree (layout has settled)."""
    previous = None
    for _ in range(40):
        view = wait_js(page, f"window.{name} && window.{name}.view")
        if view == previous:
            return view
        previous = view
        page.wait_for_timeout(150)
    return previous
