"""Benchmark: peak memory and time of streamed exports for N and 2N images.

    uv run python -m bench.export_memory            # N = 20,000 images
    uv run python -m bench.export_memory --quick    # N = 2,000
    uv run python -m bench.export_memory --images 50000 --formats coco,yolo,csv

For N and 2N it builds a project in a temporary SQLite database and local object storage
(sequences of 10 frames, one reviewed smoke box per frame, a small JPEG per frame), then runs
each export in a fresh subprocess exactly as the API does (the zip writer behind the thread
pipe, the reader discarding the bytes) and prints one JSON line per run with the peak resident
memory (`ru_maxrss`) and how much the export added to it, then one line per format with the
2N/N ratios. Flat memory means an RSS growth ratio near 1 while the time ratio is near 2.
This is a benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

FRAMES_PER_SEQUENCE = 10


def _rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


def _jpeg() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 240), (90, 140, 200))
    ImageDraw.Draw(img).ellipse((60, 50, 160, 140), fill=(200, 200, 200))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=80)
    return out.getvalue()


def build(folder: Path, images: int) -> str:
    """A migrated SQLite database and local storage holding `images` reviewed frames."""
    import sqlalchemy as sa

    from lookout.accounts.models import Group
    from lookout.db import make_engine, make_session_factory
    from lookout.images.models import Image
    from lookout.migrate import upgrade
    from lookout.projects.models import Project
    from lookout.sequences.models import Sequence, SequenceReview

    url = f"sqlite:///{folder / 'lookout.db'}"
    upgrade(url)
    objects = folder / "objects"
    data = _jpeg()
    engine = make_engine(url)
    group_id, project_id = uuid.uuid4(), uuid.uuid4()
    start = datetime(2024, 6, 1, tzinfo=UTC)
    with make_session_factory(engine)() as session:
        session.execute(sa.insert(Group), [{"id": group_id, "name": "bench"}])
        session.execute(
            sa.insert(Project), [{"id": project_id, "group_id": group_id, "name": "bench"}]
        )
        for first in range(0, images, FRAMES_PER_SEQUENCE * 500):
            sequences, frames, reviews = [], [], []
            for s in range(first, min(first + FRAMES_PER_SEQUENCE * 500, images),
                           FRAMES_PER_SEQUENCE):  # fmt: skip
                seq_id = uuid.uuid4()
                began = start + timedelta(minutes=s)
                sequences.append({"id": seq_id, "project_id": project_id, "source": "bench",
                                  "source_id": str(seq_id), "started_at": began})  # fmt: skip
                boxes = []
                for f in range(min(FRAMES_PER_SEQUENCE, images - s)):
                    image_id = uuid.uuid4()
                    key = f"projects/{project_id}/images/{image_id}.jpg"
                    path = objects / key
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                    frames.append({
                        "id": image_id, "project_id": project_id, "sequence_id": seq_id,
                        "object_key": key, "content_type": "image/jpeg", "size_bytes": len(data),
                        "width": 320, "height": 240, "sha256": "0" * 64,
                        "captured_at": began + timedelta(seconds=30 * f),
                    })  # fmt: skip
                    x = 0.1 + 0.01 * f
                    boxes.append({"frame_id": str(image_id), "xyxyn": [x, 0.2, x + 0.2, 0.45]})
                reviews.append({
                    "sequence_id": seq_id, "processing_stage": "annotated", "has_smoke": True,
                    "tracks": [{"is_smoke": True, "smoke_type": "wildfire",
                                "false_positive_types": [], "boxes": boxes}],
                })  # fmt: skip
            session.execute(sa.insert(Sequence), sequences)
            session.execute(sa.insert(Image), frames)
            session.execute(sa.insert(SequenceReview), reviews)
            session.commit()
    engine.dispose()
    return str(project_id)


def worker(folder: Path, project_id: str, fmt: str) -> None:
    """Run one export as the API does and print its measurements (in a fresh process)."""
    import os

    os.environ.update(
        LOOKOUT_DATA_DIR=str(folder), DATABASE_URL=f"sqlite:///{folder / 'lookout.db'}",
        STORAGE_LOCAL_PATH=str(folder / "objects"), LOOKOUT_SECRET_KEY="bench",
    )  # fmt: skip
    from lookout.auth.principal import Principal
    from lookout.config import Settings
    from lookout.db import make_engine, make_session_factory
    from lookout.exports import service
    from lookout.exports.schemas import ExportOptions, Selection
    from lookout.exports.sinks import ZipSink, stream_in_thread
    from lookout.storage import make_storage

    settings = Settings(_env_file=None)
    sessions = make_session_factory(make_engine(settings.resolved_database_url))
    storage = make_storage(settings)
    admin = Principal(user_id=uuid.uuid4(), email="bench@localhost", is_admin=True, via="local")
    selection = Selection(project_id=uuid.UUID(project_id))
    with sessions() as session:
        plan = service.plan_export(session, principal=admin, selection=selection)
        session.commit()
    baseline = _rss_mb()
    started = time.perf_counter()
    summary = {}

    def produce(out) -> None:  # type: ignore[no-untyped-def]
        with sessions() as session:
            sink = ZipSink(out)
            summary["result"] = service.write_export(
                session, storage, plan=plan, options=ExportOptions(format=fmt), sink=sink
            )
            sink.close()

    size = sum(len(chunk) for chunk in stream_in_thread(produce))
    seconds = time.perf_counter() - started
    result = summary["result"]
    print(json.dumps({
        "format": fmt, "images": result.images, "boxes": result.boxes,
        "zip_mb": round(size / 2**20, 1), "seconds": round(seconds, 2),
        "peak_rss_mb": round(_rss_mb(), 1), "rss_before_export_mb": round(baseline, 1),
        "rss_growth_mb": round(_rss_mb() - baseline, 1),
    }))  # fmt: skip


def measure(folder: Path, project_id: str, fmt: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.export_memory", "--worker", str(folder), project_id, fmt],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 2,000 images")
    parser.add_argument("--images", type=int, default=None, help="N (default 20,000)")
    parser.add_argument("--formats", default="coco,yolo", help="comma-separated formats")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        folder, project_id, fmt = args.worker
        worker(Path(folder), project_id, fmt)
        return
    n = args.images or (2_000 if args.quick else 20_000)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    runs: dict[str, list[dict]] = {f: [] for f in formats}
    with tempfile.TemporaryDirectory(prefix="lookout-bench-") as tmp:
        for size in (n, 2 * n):
            folder = Path(tmp) / str(size)
            folder.mkdir()
            began = time.perf_counter()
            project_id = build(folder, size)
            print(json.dumps({"built": size, "seconds": round(time.perf_counter() - began, 1)}),
                  file=sys.stderr, flush=True)  # fmt: skip
            for fmt in formats:
                result = measure(folder, project_id, fmt)
                runs[fmt].append(result)
                print(json.dumps(result), flush=True)
    for fmt, (small, large) in runs.items():
        growth = small["rss_growth_mb"]
        print(json.dumps({
            "format": fmt, "n": small["images"], "2n": large["images"],
            "peak_rss_ratio": round(large["peak_rss_mb"] / small["peak_rss_mb"], 2),
            "rss_growth_ratio": round(large["rss_growth_mb"] / growth, 2) if growth > 0 else None,
            "time_ratio": round(large["seconds"] / small["seconds"], 2),
        }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
