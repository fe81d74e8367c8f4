"""The queue page's order, chosen with the keyboard: the demo's sequences where a model and the
platform disagree most come first, each row says why, and Start reviewing claims in that
order."""

from __future__ import annotations

import pytest

from tests.web.conftest import UI, save_screenshot, sqlite_only
from tests.web.test_review_ui import press
from tests.web.web_support import sequence_id, wait_js

pytestmark = [pytest.mark.browser, sqlite_only]


def _first_row(ui: UI) -> str:
    href = ui.page.locator("table.sequences tbody tr a.strong-link").first.get_attribute("href")
    assert href is not None
    return href.split("/sequences/")[1].split("?")[0]


def test_order_the_queue_by_disagreement_with_the_keyboard(ui: UI) -> None:
    page = ui.page
    ui.goto("/sequences/queue")
    assert _first_row(ui) == sequence_id(ui.lookout, "demo-seq-03")  # oldest first

    # The model first (its list holds the models with scores), then the order: each choice
    # reloads the page (keys on a focused select change it, no mouse).
    page.locator("#queue-model").focus()
    with page.expect_navigation():
        press(page, "End")  # the last model with scores
    model = page.locator("#queue-model").input_value()
    assert model.startswith("yolo_v8@")
    page.locator("#queue-order").focus()
    with page.expect_navigation():
        press(page, "d")  # type-ahead: "Disagreement, most first"
    page.wait_for_load_state("networkidle")
    assert "queue_order=disagreement" in page.url
    assert page.locator("#queue-order").input_value() == "disagreement"

    # demo-seq-06: the platform and yolo_v8 disagree most there (its cloud boxes, the plume's
    # confidences), before demo-seq-03; sequences no model analysed follow.
    most = sequence_id(ui.lookout, "demo-seq-06")
    assert _first_row(ui) == most
    first = page.locator("table.sequences tbody tr").first
    assert "disagree by" in first.locator(".why-cell").inner_text()
    assert float(first.locator(".score-cell").inner_text()) > 0
    save_screenshot(page, "queue-disagreement")

    # Start reviewing (r) claims in the order shown.
    page.locator("body").focus()
    wait_js(page, "window.lookoutQueue && window.lookoutQueue.ready")
    press(page, "r")
    page.wait_for_url("**/sequences/*?queue=1**", wait_until="commit")
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")
    assert most in page.url
    claimed = ui.api().get("/api/review-queue").json()["claimed"]
    assert claimed["sequence"]["id"] == most


def test_the_project_page_charts_its_cameras(ui: UI) -> None:
    page = ui.page
    ui.goto(f"/projects/{ui.demo.project_id}")
    page.locator("svg.camera-chart").first.wait_for()
    assert page.locator("svg.camera-chart").count() == 2  # the demo's two cameras
    table = page.get_by_role("table", name="Per camera")
    assert table.locator("tbody tr").count() == 2
    assert "low cloud" in table.inner_text()  # demo-seq-02, reviewed as a low cloud
    save_screenshot(page, "camera-stats")
