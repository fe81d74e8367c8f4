"""Helpers for the web UI tests: find demo rows, make analyses in-process, read canvases."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage

from bench.ui import wait_js as wait_js  # one poller for the tests and the UI benchmark
from lookout.analyses import bulk
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
        bulk.insert_annotations(session, analysis=analysis, image=row, annotations=annotations)
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


# Resolves after `count` animation frames. A stage draws on the animation frame after any
# change (stage.js `render()`), and animation-frame callbacks run in the order they were asked
# for: once these have run, every redraw asked for before is on the canvases.
AFTER_FRAMES = """async (count) => {
    for (let i = 0; i < count; i++) {
        await new Promise((resolve) => requestAnimationFrame(resolve));
    }
}"""

# The view once it has been the same for `frames` animation frames in a row, or, when time runs
# out, the last views seen (as JSON).
SETTLED_VIEW = """async ([name, frames, timeoutMs]) => {
    const read = () => JSON.stringify((window[name] && window[name].view) || null);
    const deadline = performance.now() + timeoutMs;
    const seen = [read()];
    let same = 0;
    while (performance.now() < deadline) {
        await new Promise((resolve) => requestAnimationFrame(resolve));
        const now = read();
        if (now !== "null" && now === seen[seen.length - 1]) {
            if (++same >= frames) return { settled: true, view: JSON.parse(now), seen };
        } else {
            same = 0;
            seen.push(now);
        }
    }
    return { settled: false, view: null, seen: seen.slice(-5) };
}"""


def after_frames(page: Any, count: int = 2) -> None:
    """Return once the page has run `count` more animation frames (redraws asked for are done)."""
    page.evaluate(AFTER_FRAMES, count)


def stable_view(
    page: Any, name: str = "lookoutReview", frames: int = 10, timeout_ms: int = 10_000
) -> dict[str, float]:
    """The stage's view once it has stayed the same for `frames` animation frames (layout has
    settled); fails, with the views it saw, if it does not settle within `timeout_ms`."""
    wait_js(page, f"window.{name} && window.{name}.view")
    result = page.evaluate(SETTLED_VIEW, [name, frames, timeout_ms])
    if not result["settled"]:
        pytest.fail(
            f"window.{name}.view did not stay the same for {frames} animation frames within "
            f"{timeout_ms} ms; the last views seen: {result['seen']}"
        )
    return result["view"]
