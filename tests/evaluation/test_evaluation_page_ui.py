"""The evaluation page in a browser: the stored list follows runs, long model names fit at
1366x768, and the misses gallery draws each missed truth box over its thumbnail."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.exports.builders import World, standard_world

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

LONG = ("yolov8s-wildfire-2026-11-finetuned", "v12.3")
LONGER = ("rtdetr-l-smoke-and-haze-ensemble-distilled-from-teacher", "2026.11.28-rc4")


def _world(lookout: Any) -> World:
    """The standard world; two models with long names, each missing one truth box.

    The first misses seq-1's frame 2 box [0.12, 0.2, 0.35, 0.55] (its box there is elsewhere),
    the second misses seq-2's frame 0 box in the top-left corner [0, 0, 0.2, 0.1].
    """
    world = standard_world(lookout)
    s1, s2 = world.sequences[0], world.sequences[1]
    name, version = LONG
    world.predict(s1.frames[1], [("smoke", [0.1, 0.2, 0.3, 0.5], 0.9)], model=name, version=version)
    world.predict(s1.frames[2], [("smoke", [0.6, 0.6, 0.7, 0.7], 0.7)], model=name, version=version)
    name, version = LONGER
    world.predict(s2.frames[0], [("smoke", [0.5, 0.5, 0.9, 0.8], 0.8)], model=name, version=version)
    return world


@pytest.fixture
def browser_page(lookout: Any, chromium: Any) -> Iterator[tuple[World, Any]]:
    """The world above and a page signed in as its owner; console errors fail the test."""
    world = _world(lookout)
    key = lookout.user_with_key(world.email)
    context = chromium.new_context(
        extra_http_headers={"X-API-Key": key},
        viewport={"width": 1366, "height": 768},
        device_scale_factor=1,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{lookout.url}/projects/{world.project_id}/evaluation")
    page.wait_for_load_state("networkidle")
    yield world, page
    context.close()
    assert errors == []


def _run(page: Any, models: list[str]) -> None:
    page.select_option("#evaluate-form select[name=model]", models)
    page.click("#run")
    n = len(models)
    page.wait_for_selector(
        f"#status:has-text('Evaluated {n} model{'s' if n > 1 else ''}')", timeout=20_000
    )


def _until(page: Any, expression: str, timeout_s: float = 15.0) -> None:
    """Poll a JavaScript expression until it is true (wait_for_function would eval() it,
    which the page's Content-Security-Policy refuses)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            pytest.fail(f"still false after {timeout_s} s: {expression}")
        page.wait_for_timeout(50)


def _label(model: tuple[str, str]) -> str:
    return f"{model[0]}@{model[1]}"


def test_stored_list_refreshes_after_a_run(browser_page: tuple[World, Any]) -> None:
    world, page = browser_page
    assert page.locator("#stored tbody tr").count() == 0
    _run(page, [_label(LONG), _label(LONGER)])
    stored = page.locator("#stored tbody tr")
    stored.first.wait_for()
    assert stored.count() == 2
    names = {stored.nth(i).locator("td").nth(1).inner_text() for i in range(2)}
    assert names == {_label(LONG), _label(LONGER)}
    api_ids = [
        r["id"]
        for r in world.client.get(
            "/api/evaluations", params={"project_id": world.project_id}
        ).json()
    ]
    shown_ids = [
        stored.nth(i).locator("[data-show-evaluation]").get_attribute("data-show-evaluation")
        for i in range(2)
    ]
    assert shown_ids == api_ids

    # A second run lands on top, without a reload; the rows' buttons still compare.
    _run(page, [_label(LONG)])
    _until(page, "document.querySelectorAll('#stored tbody tr').length === 3")
    top = stored.first
    assert top.locator("td").nth(1).inner_text() == _label(LONG)
    newest = world.client.get("/api/evaluations", params={"project_id": world.project_id}).json()
    assert (
        top.locator("[data-show-evaluation]").get_attribute("data-show-evaluation")
        == (newest[0]["id"])
    )
    assert page.locator("#compare tbody tr").count() == 1
    older = page.locator("#stored tbody tr", has_text=_label(LONGER)).first
    older.get_by_role("button", name="Compare").click()
    _until(page, "document.querySelectorAll('#compare tbody tr').length === 2")


# Every cell of the page's tables, with how far its content overflows it, and each table's
# overflow of its wrapper.
OVERFLOWS = """() => {
    const cells = [...document.querySelectorAll('table.data th, table.data td')].filter(
        (c) => c.offsetParent !== null);
    const cellOverflow = cells
        .map((c) => [c.textContent.trim().slice(0, 40), c.scrollWidth - c.clientWidth])
        .filter(([, over]) => over > 0);
    const wraps = [...document.querySelectorAll('.table-wrap')].filter((w) => w.offsetParent)
        .map((w) => w.scrollWidth - w.clientWidth).filter((over) => over > 0);
    return {
        page: document.documentElement.scrollWidth - innerWidth,
        cells: cellOverflow,
        wraps,
    };
}"""


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_metrics_table_and_long_model_names_fit(
    browser_page: tuple[World, Any], size: tuple[int, int]
) -> None:
    world, page = browser_page
    for name, version in (LONG, LONGER):
        body = {"project_id": world.project_id, "model_name": name, "model_version": version}
        assert world.client.post("/api/evaluations", json=body).status_code == 201
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.reload()
    # The latest stored evaluation of each model is compared on arrival.
    _until(page, "document.querySelectorAll('#pr-chart polyline').length === 2")
    assert page.locator("#stored tbody tr").count() == 2
    overflow = page.evaluate(OVERFLOWS)
    assert overflow == {"page": 0, "cells": [], "wraps": []}, overflow
    for model in (LONG, LONGER):
        label = _label(model)
        # In the table, the legend and the stored list: the full name is in a title.
        for where in ("#compare tbody", "#legend", "#stored tbody"):
            named = page.locator(f"{where} [title='{label}']")
            assert named.count() >= 1, (where, label)
            box = named.first.bounding_box()
            container = page.locator(where).bounding_box()
            assert box is not None and container is not None
            assert box["x"] + box["width"] <= container["x"] + container["width"] + 0.5
        option = page.locator(f"#evaluate-form option[value='{label}']")
        assert label in (option.get_attribute("title") or "")
    # The form's model list fits in its card.
    select = page.locator("#evaluate-form select[name=model]").bounding_box()
    card = page.locator("#evaluate-form").bounding_box()
    assert select is not None and card is not None
    assert select["x"] + select["width"] <= card["x"] + card["width"]


# The outcome box of every tile, with where it should be: the truth box's normalized
# coordinates mapped onto the thumbnail as drawn (object-fit: contain, centered).
GEOMETRY = """() => [...document.querySelectorAll('#outcomes li.tile')].map((tile) => {
    const img = tile.querySelector('img');
    const box = tile.querySelector('.outcome-box');
    if (!box) return { missing: true };
    const r = img.getBoundingClientRect();
    const scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
    const w = img.naturalWidth * scale, h = img.naturalHeight * scale;
    const left = r.left + (r.width - w) / 2, top = r.top + (r.height - h) / 2;
    const [x1, y1, x2, y2] = JSON.parse(box.dataset.xyxyn);
    const b = box.getBoundingClientRect();
    return {
        expected: [left + x1 * w, top + y1 * h, left + x2 * w, top + y2 * h],
        drawn: [b.left, b.top, b.right, b.bottom],
        color: getComputedStyle(box).borderTopColor,
        natural: [img.naturalWidth, img.naturalHeight],
    };
})"""


def _pixel(page: Any, x: float, y: float) -> tuple[int, int, int]:
    from PIL import Image

    shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    return shot.getpixel((round(x), round(y)))


@pytest.mark.parametrize(
    ("model", "truth"), [(LONG, [0.12, 0.2, 0.35, 0.55]), (LONGER, [0.0, 0.0, 0.2, 0.1])]
)
def test_misses_gallery_draws_the_missed_box(
    browser_page: tuple[World, Any], model: tuple[str, str], truth: list[float]
) -> None:
    _, page = browser_page
    _run(page, [_label(LONG), _label(LONGER)])
    row = page.locator("#compare tbody tr", has_text=_label(model))
    row.get_by_role("button", name="misses 1").click()
    tile = page.locator("#outcomes li.tile")
    tile.first.wait_for()
    tile.first.scroll_into_view_if_needed()
    _until(
        page,
        "[...document.querySelectorAll('#outcomes li.tile img')]"
        ".every((i) => i.complete && i.naturalWidth > 0)",
    )
    page.wait_for_selector("#outcomes .outcome-box.fn")
    legend = page.locator("#outcomes-legend")
    assert legend.is_visible() and "missed" in legend.inner_text().lower()
    swatch = legend.locator(".outcome-swatch.fn")
    assert swatch.count() == 1
    geometry = page.evaluate(GEOMETRY)
    assert len(geometry) == 1 and "missing" not in geometry[0], geometry
    drawn, expected = geometry[0]["drawn"], geometry[0]["expected"]
    assert all(abs(d - e) <= 1.0 for d, e in zip(drawn, expected, strict=True)), geometry
    # The thumbnail keeps the frame's 4:3 in a 16:9 tile: the box is offset by the bars.
    assert geometry[0]["natural"][0] * 3 == geometry[0]["natural"][1] * 4
    # The box's edge is drawn in its colour, not the frame's, and matches the legend's.
    color = geometry[0]["color"]
    assert swatch.evaluate("s => getComputedStyle(s).borderTopColor") == color
    rgb = tuple(int(v) for v in color[color.index("(") + 1 : color.index(")")].split(",")[:3])
    x1, y1, x2, y2 = drawn
    for x, y in (((x1 + x2) / 2, y1 + 1), (x1 + 1, (y1 + y2) / 2), ((x1 + x2) / 2, y2 - 1)):
        pixel = _pixel(page, x, y)
        assert all(abs(p - c) <= 40 for p, c in zip(pixel, rgb, strict=True)), (x, y, pixel)
    inside = _pixel(page, (x1 + x2) / 2, (y1 + y2) / 2)
    assert any(abs(p - c) > 60 for p, c in zip(inside, rgb, strict=True)), inside
