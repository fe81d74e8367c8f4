"""Export: memory stays flat and time grows linearly with the size of the export.

    uv run python -m bench export            # N = 100,000 images (300,000 boxes), and 2N
    uv run python -m bench export --quick    # N = 5,000

Two projects in one PostgreSQL database, of N and 2N reviewed frames (sequences of 10 frames,
3 boxes on every frame, a small JPEG stored for each), are exported to COCO and to YOLO with
the images copied into the zip, each export in a fresh process exactly as the API streams it
(the zip writer behind the thread pipe, the bytes read and discarded).

Targets: peak resident memory of the 2N export <= 300 MB; time of 2N <= 2.3x time of N.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from bench.common import Report, analyze, at_most, log, median, postgres, standard_args

FRAMES_PER_SEQUENCE = 10
BOXES_PER_FRAME = 3
FORMATS = ("coco", "yolo")


def _peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    Read from VmHWM: `ru_maxrss` survives exec on Linux, so a child started by a large
    parent (`bench all`) would report the parent's peak as its own.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _jpeg() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 240), (90, 140, 200))
    ImageDraw.Draw(image).ellipse((60, 50, 160, 140), fill=(200, 200, 200))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


# Sequences, frames and reviews of one project, by SQL (the API would take hours at this size).
BUILD = [
    "INSERT INTO groups (id, name, created_at, updated_at) "
    "VALUES (CAST(:group AS uuid), :tag, now(), now())",
    "INSERT INTO projects (id, group_id, name, created_at, updated_at) "
    "VALUES (CAST(:project AS uuid), CAST(:group AS uuid), :tag, now(), now())",
    "INSERT INTO sequences (id, project_id, source, source_id, started_at, extra, created_at, "
    "updated_at) SELECT gen_random_uuid(), CAST(:project AS uuid), 'bench', :tag || '-' || s, "
    "TIMESTAMPTZ '2024-06-01 00:00:00+00' + s * interval '10 minutes', '{}', now(), now() "
    "FROM generate_series(1, :sequences) AS s",
    "INSERT INTO images (id, project_id, sequence_id, object_key, content_type, size_bytes, "
    "width, height, sha256, captured_at, source, source_id, created_at, updated_at) "
    "SELECT gen_random_uuid(), q.project_id, q.id, "
    "'projects/' || :project || '/images/' || q.source_id || '-' || f || '.jpg', 'image/jpeg', "
    ":size, 320, 240, md5(q.source_id || f) || md5(f || q.source_id), "
    "q.started_at + f * interval '30 seconds', 'bench', q.source_id || '/' || f, now(), now() "
    "FROM sequences q, generate_series(0, :frames - 1) AS f "
    "WHERE q.project_id = CAST(:project AS uuid)",
    # One track per box slot, one box per frame in it, drifting right frame by frame.
    "INSERT INTO sequence_reviews (id, sequence_id, tracks, has_smoke, has_false_positives, "
    "false_positive_types, smoke_types, has_missed_smoke, processing_stage, draft_params, "
    "version, created_at, updated_at, sequence_started_at) "
    "SELECT gen_random_uuid(), q.id, (SELECT json_agg(json_build_object("
    "'is_smoke', true, 'smoke_type', 'wildfire', 'false_positive_types', json_build_array(), "
    "'boxes', (SELECT json_agg(json_build_object('frame_id', i.id::text, 'xyxyn', "
    "json_build_array(0.05 + 0.3 * k + 0.005 * split_part(i.source_id, '/', 2)::int, 0.2, "
    "0.2 + 0.3 * k + 0.005 * split_part(i.source_id, '/', 2)::int, 0.4)) ORDER BY i.source_id) "
    "FROM images i WHERE i.sequence_id = q.id))) FROM generate_series(0, :boxes - 1) AS k), "
    "true, false, '[]', '[\"wildfire\"]', false, 'annotated', '{}', 1, now(), now(), "
    "q.started_at "
    "FROM sequences q WHERE q.project_id = CAST(:project AS uuid)",
]


def build(url: str, storage: Path, images: int) -> str:
    """A project of `images` reviewed frames with their objects; returns its id."""
    project, tag = str(uuid.uuid4()), f"export-{images}"
    params = {
        "group": str(uuid.uuid4()),
        "project": project,
        "tag": tag,
        "sequences": images // FRAMES_PER_SEQUENCE,
        "frames": FRAMES_PER_SEQUENCE,
        "boxes": BOXES_PER_FRAME,
        "size": len(JPEG),
    }
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in BUILD:
            conn.execute(sa.text(statement), params)
        keys = conn.execute(
            sa.text("SELECT object_key FROM images WHERE project_id = CAST(:project AS uuid)"),
            params,
        ).scalars()
        for number, key in enumerate(keys):
            # The same bytes for every frame: hard links, not copies, with a new source file
            # before the file system's limit of links to one file (65,000 on ext4).
            source = storage / f"{tag}-{number // 50_000}.jpg"
            if number % 50_000 == 0:
                source.write_bytes(JPEG)
            target = storage / key
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)
    engine.dispose()
    return project


JPEG = _jpeg()


def export_once(url: str, storage: Path, project_id: str, fmt: str) -> dict[str, float]:
    """One export in a fresh process (so its peak memory is its own)."""
    command = [sys.executable, "-m", "bench.export", "--child", url, str(storage), project_id, fmt]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(url: str, storage: str, project_id: str, fmt: str) -> None:
    """Run one export as `GET /api/exports` does and print its measurements."""
    os.environ.update(
        DATABASE_URL=url,
        STORAGE_LOCAL_PATH=storage,
        LOOKOUT_DATA_DIR=storage,
        LOOKOUT_SECRET_KEY="bench",
    )
    from lookout.auth.principal import Principal
    from lookout.config import Settings
    from lookout.db import make_engine, make_session_factory
    from lookout.exports import service
    from lookout.exports.schemas import ExportOptions
    from lookout.exports.sinks import ZipSink, stream_in_thread
    from lookout.storage import make_storage
    from lookout.truth.selection import Selection

    settings = Settings(_env_file=None)
    sessions = make_session_factory(make_engine(settings.resolved_database_url))
    storage_backend = make_storage(settings)
    admin = Principal(user_id=uuid.uuid4(), email="bench@localhost", is_admin=True, via="local")
    with sessions() as session:
        plan = service.plan_export(
            session, principal=admin, selection=Selection(project_id=uuid.UUID(project_id))
        )
        session.commit()
    before = _peak_rss_mb()
    result = {}

    def produce(out: io.RawIOBase) -> None:
        with sessions() as session:
            sink = ZipSink(out)
            result["summary"] = service.write_export(
                session, storage_backend, plan=plan, options=ExportOptions(format=fmt), sink=sink
            )
            sink.close()

    began = time.perf_counter()
    zipped = sum(len(chunk) for chunk in stream_in_thread(produce))
    seconds = time.perf_counter() - began
    summary = result["summary"]
    print(
        json.dumps(
            {
                "images": summary.images,
                "boxes": summary.boxes,
                "zip_mb": zipped / 2**20,
                "seconds": seconds,
                "peak_rss_mb": _peak_rss_mb(),
                "rss_before_mb": before,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(*argv[1:])
        return 0
    args = standard_args(__doc__.split("\n\n")[0], argv)
    n = 5_000 if args.quick else 100_000
    report = Report("export")
    with postgres() as pg:
        url = pg.database()
        storage = Path(tempfile.mkdtemp(prefix="lookout-bench-export-"))
        try:
            began = time.perf_counter()
            projects = {size: build(url, storage, size) for size in (n, 2 * n)}
            analyze(url)
            log(f"built {n:,} + {2 * n:,} frames in {time.perf_counter() - began:.0f} s")
            for fmt in FORMATS:
                measure(report, url, storage, projects, fmt, args.rounds)
        finally:
            shutil.rmtree(storage, ignore_errors=True)
    return report.exit_code()


def measure(
    report: Report, url: str, storage: Path, projects: dict[int, str], fmt: str, rounds: int
) -> None:
    """Rounds alternate N and 2N; medians of time and the 2N/N ratio are reported."""
    (n, small), (n2, large) = sorted(projects.items())
    runs: dict[int, list[dict[str, float]]] = {n: [], n2: []}
    for _ in range(rounds):
        for size, project in ((n, small), (n2, large)):
            runs[size].append(export_once(url, storage, project, fmt))
            log(f"{fmt} {size:,} images: {json.dumps(runs[size][-1])}")
    ratios = [b["seconds"] / a["seconds"] for a, b in zip(runs[n], runs[n2], strict=True)]
    t_small = median(r["seconds"] for r in runs[n])
    t_large = median(r["seconds"] for r in runs[n2])
    peak = max(r["peak_rss_mb"] for r in runs[n2])
    last = runs[n2][-1]
    report.figure(
        f"{fmt}_time_2n",
        t_large,
        "s",
        reference=t_small,
        ratio=median(ratios),
        target=at_most(2.3),
        images=n2,
        boxes=last["boxes"],
        images_per_s=n2 / t_large,
        zip_mb=last["zip_mb"],
    )
    report.figure(
        f"{fmt}_peak_rss_2n",
        peak,
        "MB",
        reference=300.0,
        ratio=peak / 300.0,
        target=at_most(1.0),
        images=n2,
        boxes=last["boxes"],
        peak_rss_n_mb=max(r["peak_rss_mb"] for r in runs[n]),
        rss_before_export_mb=last["rss_before_mb"],
    )


if __name__ == "__main__":
    raise SystemExit(main())
