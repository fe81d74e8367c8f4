"""Browser tests of the web UI: Playwright for Python driving Debian's Chromium.

Browser tests run on SQLite only; they start Lookout in local mode (requests without
credentials act as the local admin) with the demo dataset loaded, copied from a template that
is generated once per session. Every page's console is watched: an error fails the test.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lookout.config import Settings
from lookout.demo.loader import DemoSummary, load_demo
from tests.support import Lookout

# The guide's screenshots are rewritten only when asked (LOOKOUT_SCREENSHOTS=docs/screenshots),
# so a test run leaves the working tree as it found it.
SCREENSHOTS = Path(
    os.environ.get("LOOKOUT_SCREENSHOTS") or Path(tempfile.gettempdir()) / "lookout-screenshots"
)
VIEWPORT = {"width": 1280, "height": 800}

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class Console:
    """Errors a page reported: console errors, uncaught exceptions, failed requests."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.expected: list[str] = []

    def expect(self, fragment: str) -> None:
        """Allow errors containing `fragment` (e.g. a 404 page that is the point of a test)."""
        self.expected.append(fragment)

    def attach(self, page: Any) -> None:
        page.on(
            "console",
            lambda m: (
                self._add(f"console {m.type}: {m.text} @ {m.location}")
                if m.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda e: self._add(f"uncaught: {e}"))
        # Leaving a page aborts its pending image loads: that is not an error.
        page.on(
            "requestfailed",
            lambda r: (
                self._add(f"request failed: {r.url} {r.failure}")
                if "ERR_ABORTED" not in (r.failure or "")
                else None
            ),
        )

    def _add(self, text: str) -> None:
        self.errors.append(text)

    @property
    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(f in e for f in self.expected)]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def context(chromium: Any, console: Console) -> Iterator[Any]:
    context = chromium.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.on("page", console.attach)
    yield context
    context.close()


@pytest.fixture
def page(context: Any, console: Console) -> Iterator[Any]:
    page = context.new_page()
    page.set_default_timeout(15_000)
    # A navigation waits for every image of the page; on a machine busy with the rest of the
    # suite that took over 15 s twice in CI (the figures of speed live in bench/, not here).
    page.set_default_navigation_timeout(30_000)
    yield page
    assert not console.unexpected, "errors in the browser console:\n" + "\n".join(
        console.unexpected
    )


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """A migrated SQLite database and object folder holding the demo dataset, made once."""
    folder = tmp_path_factory.mktemp("demo-template")
    shutil.copy(sqlite_template, folder / "lookout.db")
    settings = Settings(
        LOOKOUT_DATA_DIR=folder / "data",
        DATABASE_URL=f"sqlite:///{folder / 'lookout.db'}",
        LOOKOUT_SECRET_KEY="test-signing-key",
        _env_file=None,
    )
    load_demo(settings)
    return folder


@dataclass
class UI:
    """A running Lookout in local mode with the demo data, and a browser page."""

    lookout: Lookout
    demo: DemoSummary
    page: Any
    console: Console

    @property
    def url(self) -> str:
        return self.lookout.url

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.url + path)
        self.page.wait_for_load_state("networkidle")
        return response

    def api(self) -> Any:
        """An HTTP client acting as the local admin (local mode: no credentials)."""
        return self.lookout.client()


def _copy_demo(template: Path, database_url: str, data_dir: Path) -> None:
    target = Path(database_url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        source = template / f"lookout.db{suffix}"
        if source.exists():
            shutil.copy(source, target.parent / f"{target.name}{suffix}")
    shutil.copytree(template / "data" / "objects", data_dir / "objects", dirs_exist_ok=True)


@pytest.fixture
def ui(
    lookout_factory: Any,
    database_url: str,
    tmp_path: Path,
    demo_template: Path,
    page: Any,
    console: Console,
) -> UI:
    """Lookout in local mode on SQLite, demo data loaded, and a page to drive it."""
    assert database_url.startswith("sqlite"), "browser tests run on SQLite"
    _copy_demo(demo_template, database_url, tmp_path / "data")
    instance = lookout_factory(LOOKOUT_LOCAL_MODE=True)
    summary = load_demo(instance.settings)  # finds everything present: creates nothing
    assert not any(summary.created.values()), summary.created
    return UI(lookout=instance, demo=summary, page=page, console=console)


def save_screenshot(page: Any, name: str) -> Path:
    """Save a 1280x800 screenshot under SCREENSHOTS, palette-reduced to stay small."""
    from PIL import Image

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _wait_for_visible_images(page)
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small = image.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)
    path = SCREENSHOTS / f"{name}.png"
    small.save(path, optimize=True)
    return path


# Image URLs inside the viewport not loaded yet, polled every animation frame until there are
# none or time runs out; then two more frames, so what canvases draw from them is drawn.
PENDING_VISIBLE_IMAGES = """async (timeoutMs) => {
    const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
    const pending = () => [...document.images].filter((img) => {
        const r = img.getBoundingClientRect();
        const visible = r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
        return visible && !(img.complete && img.naturalWidth > 0);
    }).map((img) => img.currentSrc || img.src);
    const deadline = performance.now() + timeoutMs;
    let left = pending();
    while (left.length && performance.now() < deadline) {
        await frame();
        left = pending();
    }
    await frame();
    await frame();
    return left;
}"""


def _wait_for_visible_images(page: Any, timeout_ms: int = 10_000) -> None:
    """Let every image inside the viewport finish loading, so screenshots show them; fail,
    naming the images, if some do not within `timeout_ms` (or are broken)."""
    pending = page.evaluate(PENDING_VISIBLE_IMAGES, timeout_ms)
    if pending:
        pytest.fail(
            f"{len(pending)} image(s) in the viewport not loaded after {timeout_ms} ms "
            f"(still loading or broken): {pending[:10]}"
        )
