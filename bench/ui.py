"""The web UI measured inside headless Chromium: 10,000 boxes drawn, a 60-frame review ready,
a save in the review queue to the next sequence drawn.

    uv run python -m bench ui              # 3 rounds of 15 redraws, 5 page loads, 5 saves
    uv run python -m bench ui --quick      # 3 rounds of 5 redraws, 2 page loads, 2 saves
    uv run python -m bench ui --backend postgres

Lookout runs as `lookout serve` on loopback (local mode, SQLite by default), with a project
holding one 1280x720 image with an analysis of 10,000 boxes, one sequence of 60 1280x720
frames carrying the platform's boxes (3 a frame) and a drafted review, and the review queue:
small sequences of 4 such frames with one box a frame at the same place (a draft of one track),
older than the 60-frame one, all `ready_to_annotate`. Chromium is Debian's
(`/usr/bin/chromium`, software rendering), driven by Playwright, at 1280x800 CSS pixels.

- `draw_10000_boxes`: the image view redrawing after a change of the opacity slider, from the
  start of the animation frame that redraws to the end of the same frame, with both canvases
  flushed (a 1-pixel `getImageData` forces Chromium to rasterize what was drawn, so the figure
  covers the pixels, not only the JavaScript). `draw_call_ms` is the app's own timing of its
  draw call (`window.lookoutOverlay.renderMs`), `raster_ms` the flush of the boxes' canvas,
  `image_ms` of the image's; `open_ms` the page opened in a fresh context until all 10,000
  boxes are drawn (annotations fetched in one request; polled every 10 ms). Target <= 100 ms.
- `review_ready_60_frames`: the review page of the 60-frame sequence, opened in a fresh
  browser context (empty cache) against a warm server, from navigation start to the page's
  `performance.mark("lookout:ready")`: the first frame decoded and drawn with its boxes, the
  tracks listed and the keyboard handler live (checked after each load: a key press moves to
  the next frame). `cached_ms` is the same page reloaded in the same context. Target <= 1 s.
- `save_to_next_ready`: a reviewer working through the queue. The oldest queued sequence is
  opened in queue mode (`/sequences/{id}?queue=1`, a fresh context each round); once it is
  ready the keys `s`, `1`, `Enter` confirm its track as wildfire smoke and save. The page saves
  (PUT review), claims the next sequence (POST /api/review-queue/claim) and opens it by itself
  (auto-next); the figure is the time from the save's start to that page's `lookout:ready`
  (`window.lookoutReview.sinceSaveMs`, measured by the pages: the save's start is kept in
  sessionStorage). The new page is saved the same way, and so on: the first save of a round
  warms up, the next ones are measured. After each save the previous sequence's review is read
  back (GET /api/sequences/{id}/review): annotated, its track smoke of type wildfire, and the
  page opened is the next of the queue. The 60-frame page holds a claim on its sequence (it
  waits for a review too): it is released before each round's saves. Target <= 300 ms.
- `keystrokes_one_track_confirm`: the keys pressed in `save_to_next_ready` from a page ready
  to the next sequence ready, as counted by the code that presses them (the most of any save).
  Target <= 3.

The targets are absolute times (no reference is measured): `ratio` is value / target.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    LookoutServer,
    Report,
    at_most,
    boxes,
    log,
    median,
    postgres,
    sqlite_database,
    standard_args,
)

BOXES = 10_000
FRAMES = 60
BOXES_PER_FRAME = 3
QUEUE_FRAMES = 4  # frames of each queued sequence (one box a frame: a one-track draft)
WIDTH, HEIGHT = 1280, 720
DRAW_TARGET_MS = 100.0
READY_TARGET_MS = 1000.0
SAVE_TARGET_MS = 300.0
KEYS_TARGET = 3
CHROMIUM = Path("/usr/bin/chromium")
# Also the flags of the browser tests (tests/conftest.py).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
STARTED = datetime(2025, 7, 14, 12, 0, tzinfo=UTC)


# --- the data ---------------------------------------------------------------------------------


@dataclass
class Fixture:
    image_id: str
    sequence_id: str
    queue: list[str]  # the queued one-track sequences, oldest first (the order claims take)


def frame_jpeg(seed: int) -> bytes:
    """A 1280x720 landscape-like JPEG with texture, so it weighs and decodes like a photo."""
    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, HEIGHT)[:, None, None]
    sky = np.array([110, 150, 205]) * (1 - y) + np.array([200, 210, 220]) * y
    ridge = HEIGHT * (0.55 + 0.05 * np.sin(np.linspace(0, 9, WIDTH) + seed * 0.01))
    ground = (np.arange(HEIGHT)[:, None] > ridge[None, :])[:, :, None]
    pixels = np.where(ground, np.array([70, 85, 55]), sky)
    pixels = pixels + rng.normal(0, 14, (HEIGHT, WIDTH, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype("uint8"))
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def frame_boxes(index: int) -> list[dict[str, Any]]:
    """The platform's 3 boxes on frame `index`: three plumes drifting slowly to the right."""
    out = []
    for k in range(BOXES_PER_FRAME):
        x = 0.1 + 0.3 * k + 0.002 * index
        y = 0.35 + 0.05 * k
        out.append(
            {
                "annotation_type": "bounding_box",
                "class_name": "smoke",
                "confidence": round(0.5 + 0.1 * k, 2),
                "data": {"bbox": [x, y, x + 0.08, y + 0.1], "format": "xyxyn"},
            }
        )
    return out


def queue_boxes() -> list[dict[str, Any]]:
    """One platform box, at the same place on every frame of a queued sequence."""
    return [
        {
            "annotation_type": "bounding_box",
            "class_name": "smoke",
            "confidence": 0.7,
            "data": {"bbox": [0.42, 0.38, 0.52, 0.5], "format": "xyxyn"},
        }
    ]


def build_fixture(database_url: str, data_dir: Path, queued: int) -> Fixture:
    """The image with 10,000 boxes, the drafted 60-frame sequence and `queued` drafted
    one-track sequences, through the services."""
    from lookout.accounts import service as accounts
    from lookout.config import Settings
    from lookout.db import make_engine, make_session_factory
    from lookout.projects import service as projects
    from lookout.storage import make_storage

    settings = Settings(
        DATABASE_URL=database_url,
        LOOKOUT_DATA_DIR=data_dir,
        LOOKOUT_SECRET_KEY="bench-signing-key",
        _env_file=None,
    )
    engine = make_engine(database_url, pool_size=1)
    try:
        with make_session_factory(engine)() as session:
            # The local admin, as whom `lookout serve` on loopback serves every request.
            user = accounts.get_or_create_user(
                session, email=settings.local_user_email, is_admin=True
            )
            group = accounts.get_or_create_group(session, name="default")
            accounts.add_member(session, user=user, group=group, role="admin")
            session.commit()
            store = Store(session, make_storage(settings), settings.max_image_pixels)
            store.owner = accounts.principal_for(session, user, via="local")
            store.project_id = projects.create_project(
                session, principal=store.owner, name="bench-ui", group="default", exist_ok=True
            )[0].id
            image_id = store.image_with_boxes()
            camera_id = store.camera()
            sequence_id = store.drafted_sequence(
                camera_id, "seq-60", STARTED, [frame_boxes(i) for i in range(FRAMES)]
            )
            # Older than the 60-frame sequence: claims take the oldest first.
            queue = [
                store.drafted_sequence(
                    camera_id,
                    f"queue-{i:03d}",
                    STARTED - timedelta(days=1) + timedelta(minutes=i),
                    [queue_boxes()] * QUEUE_FRAMES,
                    tracks=1,
                )
                for i in range(queued)
            ]
            return Fixture(image_id, sequence_id, queue)
    finally:
        engine.dispose()


@dataclass
class Store:
    """Rows and objects stored in-process, as the platform import stores them."""

    session: Any
    storage: Any
    max_pixels: int
    owner: Any = None
    project_id: Any = None
    seeds: int = 0

    def image_with_boxes(self) -> str:
        from lookout.analyses import bulk
        from lookout.analyses import service as analyses
        from lookout.images import service as images

        upload = images.ImageUpload(
            stream=io.BytesIO(frame_jpeg(0)), filename="boxes.jpg", captured_at=STARTED
        )
        image = images.store_image(
            self.session,
            self.storage,
            principal=self.owner,
            project_id=self.project_id,
            upload=upload,
            max_pixels=self.max_pixels,
        ).image
        analysis = analyses.create_analysis_row(
            self.session, image=image, model_name="bench", model_version="1", status="completed"
        )
        bulk.insert_annotations(
            self.session, analysis=analysis, image=image, annotations=boxes(BOXES, normalized=True)
        )
        self.session.commit()
        return str(image.id)

    def camera(self) -> Any:
        from lookout.sequences import service as sequences

        camera, _ = sequences.get_or_create_camera(
            self.session,
            principal=self.owner,
            values={
                "project_id": self.project_id,
                "source": "bench",
                "source_id": "cam",
                "name": "Bench camera",
            },
        )
        return camera.id

    def drafted_sequence(
        self,
        camera_id: Any,
        name: str,
        started: datetime,
        boxes_by_frame: list[list[dict[str, Any]]],
        tracks: int | None = None,
    ) -> str:
        """A sequence with a frame (and the platform's boxes) per item of `boxes_by_frame`,
        30 s apart, and its drafted review (with exactly `tracks` tracks, when given)."""
        from lookout.sequences import frames, reviews
        from lookout.sequences import service as sequences
        from lookout.sequences.drafting import DraftParams
        from lookout.sequences.schemas import FrameMetadata, FramePredictions

        count = len(boxes_by_frame)
        sequence, _ = sequences.get_or_create_sequence(
            self.session,
            principal=self.owner,
            values={
                "project_id": self.project_id,
                "camera_id": camera_id,
                "source": "bench",
                "source_id": name,
                "started_at": started,
                "last_seen_at": started + timedelta(seconds=30 * (count - 1)),
            },
        )
        for index, predicted in enumerate(boxes_by_frame):
            predictions = FramePredictions(
                model_name="platform", model_version="1", annotations=predicted
            )
            metadata = FrameMetadata(
                captured_at=started + timedelta(seconds=30 * index),
                source="bench",
                source_id=f"{name}-frame-{index:02d}",
                predictions=predictions,
            )
            frames.add_frame(
                self.session,
                self.storage,
                principal=self.owner,
                sequence_id=sequence.id,
                stream=io.BytesIO(frame_jpeg(self.next_seed())),
                metadata=metadata,
                max_pixels=self.max_pixels,
                filename=f"frame-{index:02d}.jpg",
            )
        params = DraftParams(iou_threshold=0.2, min_cluster_size=2)
        outcome = reviews.draft_review(
            self.session, principal=self.owner, sequence_id=sequence.id, params=params
        )
        drafted = len(outcome.review.tracks)
        assert tracks is None or drafted == tracks, f"{name}: {drafted} tracks, not {tracks}"
        self.session.commit()
        return str(sequence.id)

    def next_seed(self) -> int:
        """A new picture for every frame stored (seed 0 is the image with boxes)."""
        self.seeds += 1
        return self.seeds


# --- the browser ------------------------------------------------------------------------------


class Browser:
    """Headless Chromium through Playwright; every page's console errors are collected."""

    def __init__(self) -> None:
        if not CHROMIUM.exists():
            raise SystemExit(f"{CHROMIUM} is missing (apt-get install chromium)")
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:  # a dev dependency: `uv sync` installs it
            raise SystemExit(f"playwright is not installed ({exc}); run `uv sync`") from exc

        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        self.errors: list[str] = []

    def context(self) -> Any:
        context = self.browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        context.on("page", self._watch)
        return context

    def _watch(self, page: Any) -> None:
        page.set_default_timeout(30_000)
        page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def check(self) -> None:
        if self.errors:
            raise RuntimeError("errors in the browser console:\n" + "\n".join(self.errors[:5]))

    def close(self) -> None:
        self.browser.close()
        self.playwright.stop()


def wait_js(page: Any, expression: str, timeout: float = 30.0, poll_ms: int = 10) -> Any:
    """Poll an expression until truthy (the pages' CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = page.evaluate(expression)
        except Exception as exc:  # the navigation replaced the page under us: poll again
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {expression}: last value {value!r}")
        page.wait_for_timeout(poll_ms)


# One redraw of the image view, timed from the start of the animation frame that draws to the
# end of the same frame with both canvases flushed. Animation-frame callbacks run in the order
# they were requested: ours, then the view's (requested by the slider's input event), then ours.
REDRAW = """async (opacity) => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  await frame();
  await frame();  // nothing of the view is pending now
  const input = document.getElementById("opacity");
  let began = 0;
  requestAnimationFrame(() => { began = performance.now(); });
  input.value = String(opacity);
  input.dispatchEvent(new Event("input"));
  return await new Promise((resolve) => requestAnimationFrame(() => {
    const drawn = performance.now();
    document.getElementById("overlay").getContext("2d").getImageData(0, 0, 1, 1);
    const boxes = performance.now();
    document.querySelector("#main-stage canvas.base").getContext("2d").getImageData(0, 0, 1, 1);
    const flushed = performance.now();
    resolve({frame_ms: flushed - began, raster_ms: boxes - drawn, image_ms: flushed - boxes,
             draw_ms: window.lookoutOverlay.renderMs, drawn: window.lookoutOverlay.drawn,
             opacity: Number(input.value)});
  }));
}"""


def measure_draw(browser: Browser, base: str, fixture: Fixture, redraws: int) -> dict[str, Any]:
    context = browser.context()
    try:
        page = context.new_page()
        page.goto(f"{base}/images/{fixture.image_id}", wait_until="commit")
        # From navigation start to the first poll that sees every box drawn (10 ms polls).
        opened = wait_js(
            page,
            "window.lookoutOverlay && window.lookoutOverlay.ready && "
            f"window.lookoutOverlay.drawn === {BOXES} && performance.now()",
        )
        runs = []
        for i in range(redraws + 2):  # two warm-up redraws (JIT, caches)
            run = page.evaluate(REDRAW, 0.85 if i % 2 == 0 else 0.9)
            assert run["drawn"] == BOXES, f"drew {run['drawn']} boxes, not {BOXES}"
            if i >= 2:
                runs.append(run)
        browser.check()
        keys = ("frame_ms", "raster_ms", "image_ms", "draw_ms")
        return {"open_ms": opened, **{k: median(r[k] for r in runs) for k in keys}}
    finally:
        context.close()


READY = """() => {
  const ready = performance.getEntriesByName("lookout:ready")[0];
  if (!ready) return null;
  const nav = performance.getEntriesByType("navigation")[0];
  const review = window.lookoutReview;
  return {ready_ms: ready.startTime, html_ms: nav.responseEnd,
          dom_ms: nav.domContentLoadedEventEnd, frames: review.frames,
          tracks: review.tracks.length, drawn: review.drawnTracks, frame: review.frame};
}"""


def open_review(page: Any, url: str, *, reload: bool = False) -> dict[str, Any]:
    """Open (or reload) the review page; the figures of its `lookout:ready` mark."""
    if reload:
        page.reload(wait_until="commit")
    else:
        page.goto(url, wait_until="commit")
    figures = wait_js(page, READY)
    assert figures["frames"] == FRAMES, figures
    assert figures["tracks"] >= 1 and figures["drawn"] >= 1, figures
    page.keyboard.press("ArrowRight")  # the keyboard handler is live
    wait_js(page, "window.lookoutReview.frame === 1", timeout=5)
    return figures


def measure_review(browser: Browser, base: str, fixture: Fixture, loads: int) -> dict[str, Any]:
    url = f"{base}/sequences/{fixture.sequence_id}"
    fresh: list[dict[str, Any]] = []
    cached: list[dict[str, Any]] = []
    for i in range(loads + 1):  # the first load warms the server (thumbnails, caches) up
        context = browser.context()
        try:
            page = context.new_page()
            first = open_review(page, url)
            again = open_review(page, url, reload=True)
        finally:
            context.close()
        if i:
            fresh.append(first)
            cached.append(again)
    browser.check()
    return {
        "ready_ms": median(r["ready_ms"] for r in fresh),
        "html_ms": median(r["html_ms"] for r in fresh),
        "dom_ms": median(r["dom_ms"] for r in fresh),
        "cached_ms": median(r["ready_ms"] for r in cached),
        "tracks": fresh[0]["tracks"],
    }


# The review page of one sequence ready (its `lookout:ready` mark), with what the measurement
# of a save needs; null until then. `%s` is the sequence's id.
QUEUE_READY = """() => {
  const review = window.lookoutReview;
  if (location.pathname !== "/sequences/%s" || !review || !review.ready) return null;
  const ready = performance.getEntriesByName("lookout:ready")[0];
  if (!ready) return null;
  return {ready_ms: ready.startTime, since_save_ms: review.sinceSaveMs ?? null,
          queue: new URLSearchParams(location.search).get("queue"), tracks: review.tracks.length,
          drawn: review.drawnTracks, frames: review.frames};
}"""

# Where the page is while a save is awaited: the path, its readiness, the save's message.
WHERE = """() => ({path: location.pathname,
  ready: performance.getEntriesByName("lookout:ready").length > 0,
  since_save_ms: (window.lookoutReview || {}).sinceSaveMs ?? null,
  message: (document.getElementById("save-message") || {}).textContent || ""})"""


class Keys:
    """Key presses on a page, counted (the keystroke figure is this count, not a constant)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.count = 0

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)
            self.count += 1


def api_client(base: str) -> Any:
    """Lookout's API on loopback in local mode (no credentials), as the pages call it."""
    import httpx

    return httpx.Client(base_url=base, timeout=30, headers={"X-Requested-With": "lookout-ui"})


def release(api: Any, sequence_id: str) -> None:
    """Drop the local reviewer's claim on a sequence (the 60-frame review page renews one)."""
    api.post("/api/review-queue/release", json={"sequence_id": sequence_id}).raise_for_status()


def check_saved(api: Any, sequence_id: str) -> None:
    """The review the keys saved: annotated, its one track smoke of type wildfire."""
    answer = api.get(f"/api/sequences/{sequence_id}/review")
    answer.raise_for_status()
    review = answer.json()
    tracks = review["tracks"]
    assert review["processing_stage"] == "annotated", (sequence_id, review["processing_stage"])
    assert len(tracks) == 1 and tracks[0].get("smoke_type") == "wildfire", (sequence_id, tracks)


def wait_ready(page: Any, sequence_id: str, timeout: float = 30.0) -> dict[str, Any]:
    figures = wait_js(page, QUEUE_READY % sequence_id, timeout=timeout)
    assert figures["queue"] == "1", figures  # still in queue mode: the next save moves on
    assert figures["tracks"] == 1 and figures["drawn"] == 1, figures
    assert figures["frames"] == QUEUE_FRAMES, figures
    return figures


def save_and_next(page: Any, current: str, expected: str) -> dict[str, Any]:
    """Confirm the one track as wildfire smoke and save, with keys; the next page's figures."""
    keys = Keys(page)
    keys.press("s", "1", "Enter")
    try:
        figures = wait_ready(page, expected)
    except RuntimeError as exc:
        raise RuntimeError(f"after the save of {current}: {page.evaluate(WHERE)}") from exc
    assert figures["since_save_ms"], f"no save measured on the page of {expected}: {figures}"
    return {**figures, "keys": keys.count}


def measure_save(
    browser: Browser, base: str, fixture: Fixture, start: int, saves: int
) -> list[dict[str, Any]]:
    """`saves` saves through the queue from `fixture.queue[start]` on, in one fresh context;
    each one's figures (the first is a warm-up)."""
    queue = fixture.queue
    assert start + saves < len(queue), "not enough queued sequences for this run"
    runs = []
    with api_client(base) as api:
        release(api, fixture.sequence_id)  # else a claim would hand the 60-frame one back
        context = browser.context()
        try:
            page = context.new_page()
            page.goto(f"{base}/sequences/{queue[start]}?queue=1", wait_until="commit")
            wait_ready(page, queue[start])
            for current in range(start, start + saves):
                runs.append(save_and_next(page, queue[current], queue[current + 1]))
                # A figure only from a save that stored the review.
                check_saved(api, queue[current])
        finally:
            context.close()
    browser.check()
    return runs


# --- the benchmark ----------------------------------------------------------------------------


def sizes(args: Any) -> tuple[int, int, int]:
    """Redraws, page loads and measured saves per round."""
    return (5, 2, 2) if args.quick else (15, 5, 5)


def queued_needed(args: Any) -> int:
    """Queued sequences a run goes through: a warm-up save and the measured ones per round,
    and the page the last save opens."""
    saves = sizes(args)[2]
    return args.rounds * (saves + 1) + 1


def measure(report: Report, server: LookoutServer, fixture: Fixture, args: Any) -> None:
    redraws, loads, saves = sizes(args)
    browser = Browser()
    try:
        draws, readies, chains = [], [], []
        for round_ in range(args.rounds):
            draws.append(measure_draw(browser, server.url, fixture, redraws))
            readies.append(measure_review(browser, server.url, fixture, loads))
            start = round_ * (saves + 1)
            chains.append(measure_save(browser, server.url, fixture, start, saves + 1)[1:])
            log(
                f"round {round_ + 1}: redraw of {BOXES:,} boxes {draws[-1]['frame_ms']:.1f} ms "
                f"(draw call {draws[-1]['draw_ms']:.1f} ms), review ready "
                f"{readies[-1]['ready_ms']:.0f} ms (cached {readies[-1]['cached_ms']:.0f} ms), "
                "save to next ready "
                + ", ".join(f"{r['since_save_ms']:.0f}" for r in chains[-1])
                + f" ms ({max(r['keys'] for r in chains[-1])} keys)"
            )
    finally:
        browser.close()
    common = {"backend": args.backend, "viewport": "1280x800@1x", "rounds": args.rounds}
    value = median(d["frame_ms"] for d in draws)
    report.figure(
        "draw_10000_boxes",
        value,
        "ms",
        ratio=value / DRAW_TARGET_MS,
        target=at_most(1.0),
        target_ms=DRAW_TARGET_MS,
        boxes=BOXES,
        draw_call_ms=median(d["draw_ms"] for d in draws),
        raster_ms=median(d["raster_ms"] for d in draws),
        image_ms=median(d["image_ms"] for d in draws),
        open_ms=median(d["open_ms"] for d in draws),
        round_ms=[d["frame_ms"] for d in draws],
        redraws=redraws,
        **common,
    )
    value = median(r["ready_ms"] for r in readies)
    report.figure(
        "review_ready_60_frames",
        value,
        "ms",
        ratio=value / READY_TARGET_MS,
        target=at_most(1.0),
        target_ms=READY_TARGET_MS,
        frames=FRAMES,
        tracks=readies[0]["tracks"],
        html_ms=median(r["html_ms"] for r in readies),
        dom_content_loaded_ms=median(r["dom_ms"] for r in readies),
        cached_ms=median(r["cached_ms"] for r in readies),
        round_ms=[r["ready_ms"] for r in readies],
        loads=loads,
        **common,
    )
    rounds = [median(r["since_save_ms"] for r in chain) for chain in chains]
    value = median(rounds)
    report.figure(
        "save_to_next_ready",
        value,
        "ms",
        ratio=value / SAVE_TARGET_MS,
        target=at_most(1.0),
        target_ms=SAVE_TARGET_MS,
        # From the save's start to the next page's navigation start (PUT review, the claim,
        # the unload), and from there to its first frame drawn.
        save_and_claim_ms=median(
            r["since_save_ms"] - r["ready_ms"] for chain in chains for r in chain
        ),
        next_ready_ms=median(r["ready_ms"] for chain in chains for r in chain),
        frames=QUEUE_FRAMES,
        tracks=1,
        round_ms=rounds,
        all_ms=[r["since_save_ms"] for chain in chains for r in chain],
        saves=saves,
        **common,
    )
    value = max(r["keys"] for chain in chains for r in chain)
    report.figure(
        "keystrokes_one_track_confirm",
        value,
        "keys",
        ratio=value / KEYS_TARGET,
        target=at_most(1.0),
        target_keys=KEYS_TARGET,
        keys="s 1 Enter",
        saves=sum(len(chain) for chain in chains),
        **common,
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    known, rest = extra.parse_known_args(argv)
    args = standard_args(__doc__.split("\n\n")[0], rest)
    args.backend = known.backend
    report = Report("ui")
    if known.backend == "postgres":
        with postgres() as pg:
            run(report, pg.database(), args)
    else:
        with sqlite_database() as url:
            run(report, url, args)
    return report.exit_code()


def run(report: Report, database_url: str, args: Any) -> None:
    server = LookoutServer(database_url, workers=args.workers)
    try:
        queued = queued_needed(args)
        log(
            f"storing an image with {BOXES:,} boxes, a drafted {FRAMES}-frame sequence and "
            f"{queued} queued {QUEUE_FRAMES}-frame sequences"
        )
        fixture = build_fixture(database_url, server.folder / "data", queued)
        server.start()
        measure(report, server, fixture, args)
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
