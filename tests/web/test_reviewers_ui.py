"""The reviewers page in the browser: filters by keyboard, the tables it shows."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import UI, save_screenshot, sqlite_only

pytestmark = [pytest.mark.browser, sqlite_only]


def _review_one(ui: UI) -> dict[str, Any]:
    """The local admin takes a sequence from the queue and saves it as smoke."""
    api = ui.api()
    claimed = api.post("/api/review-queue/claim")
    assert claimed.status_code == 200, claimed.text
    sequence = claimed.json()["sequence"]
    detail = api.get(f"/api/sequences/{sequence['id']}").json()
    frame = detail["frames"][0]["id"]
    track = {
        "decision": "smoke",
        "smoke_type": "wildfire",
        "boxes": [{"frame_id": frame, "xyxyn": [0.1, 0.1, 0.3, 0.3]}],
    }
    saved = api.put(
        f"/api/sequences/{sequence['id']}/review",
        json={
            "tracks": [track],
            "processing_stage": "annotated",
            "version": detail["review"]["version"],
        },
    )
    assert saved.status_code == 200, saved.text
    return sequence


def test_reviewers_page_by_keyboard(ui: UI) -> None:
    _review_one(ui)
    email = ui.api().get("/api/review-stats").json()["totals"][0]["email"]
    page = ui.page
    ui.goto("/projects")
    page.get_by_role("link", name="Reviewers").click()
    page.wait_for_url("**/reviewers")
    totals = page.get_by_role("table", name="Reviews per reviewer", exact=True)
    assert email in totals.inner_text()
    assert page.get_by_role("table", name="Reviews per reviewer and day").is_visible()
    save_screenshot(page, "reviewers")

    # Keyboard only: type a reviewer who did nothing, Enter applies the filter.
    box = page.get_by_role("textbox", name="Reviewer")
    box.focus()
    box.fill("nobody@example.org")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "reviewer=nobody%40example.org" in page.url
    assert page.get_by_role("heading", name="No reviews in this period").is_visible()

    # Pick the project with the keyboard: the form applies itself on change.
    ui.goto("/reviewers")
    project = page.get_by_role("combobox", name="Project")
    project.focus()
    with page.expect_navigation():
        page.keyboard.press("ArrowDown")  # the demo's one project
    assert "project_id=" in page.url
    assert email in page.get_by_role("table", name="Reviews per reviewer", exact=True).inner_text()
    # The reviewer's name leads to the sequences they reviewed.
    page.get_by_role("link", name=email).first.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/sequences?reviewer=" in page.url
    assert page.get_by_role("columnheader", name="Reviewer").is_visible()
