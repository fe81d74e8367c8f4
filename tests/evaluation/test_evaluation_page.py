"""The evaluation page: served inside the caller's access, and working in a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.exports.builders import standard_world

CHROMIUM = Path("/usr/bin/chromium")


def _world_with_models(lookout):
    world = standard_world(lookout)
    s1, s2 = world.sequences[0], world.sequences[1]
    world.predict(s1.frames[1], [("smoke", [0.1, 0.2, 0.3, 0.5], 0.9)])
    world.predict(s1.frames[2], [("smoke", [0.6, 0.6, 0.7, 0.7], 0.7)])
    world.predict(s2.frames[0], [("smoke", [0.5, 0.5, 0.9, 0.8], 0.8)], model="rcnn", version="2")
    return world


def test_page_lists_models_and_stored_evaluations(lookout):
    world = _world_with_models(lookout)
    stored = world.client.post(
        "/api/evaluations", json={"project_id": world.project_id, "model_name": "yolo"}
    )
    assert stored.status_code == 201
    page = world.client.get(f"/projects/{world.project_id}/evaluation")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'value="yolo@v1"' in page.text and 'value="rcnn@2"' in page.text
    assert f'data-show-evaluation="{stored.json()["id"]}"' in page.text
    assert (
        "evaluation.js" in page.text
        and "script-src 'self'" in page.headers["content-security-policy"]
    )
    stranger = lookout.keyed_client("mallory@example.org", "other")
    denied = stranger.get(f"/projects/{world.project_id}/evaluation")
    assert denied.status_code == 404 and "text/html" in denied.headers["content-type"]
    assert "yolo" not in denied.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_page_draws_curves_and_compares_models_in_a_browser(lookout):
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api as playwright_api
    except ImportError as exc:
        unavailable(f"playwright is not installed: {exc}")
    world = _world_with_models(lookout)
    key = lookout.user_with_key(world.email)
    errors: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        context = browser.new_context(extra_http_headers={"X-API-Key": key})
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{lookout.url}/projects/{world.project_id}/evaluation")
        page.click("#run")
        page.wait_for_selector("#status:has-text('Evaluated 2 models')", timeout=15_000)
        rows = page.locator("#compare tbody tr")
        assert rows.count() == 2
        assert page.locator("#pr-chart polyline").count() == 2
        assert "AP50" in page.locator("#legend").inner_text()
        page.get_by_role("button", name="misses 1").first.click()
        page.wait_for_selector("#outcomes li.tile", timeout=10_000)
        assert page.locator("#outcomes li.tile img").count() >= 1
        browser.close()
    assert errors == []
