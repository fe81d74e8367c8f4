"""Track decisions in the browser: nothing undecided is saved as smoke, unsure, the picker's
Enter, the layout on a small screen, and a conflict merged keeping one's own decisions."""

from __future__ import annotations

from typing import Any

import pytest

from lookout.sequences.models import FALSE_POSITIVE_TYPES
from tests.web.conftest import UI, save_screenshot, sqlite_only
from tests.web.test_review_ui import open_review, press, state
from tests.web.web_support import wait_js

pytestmark = [pytest.mark.browser, sqlite_only]


def test_undecided_tracks_are_never_saved_as_annotated_and_enter_in_the_picker_never_saves(
    ui: UI,
) -> None:
    page = ui.page
    seq = open_review(ui, "demo-seq-06")
    assert [t["decision"] for t in state(page)["tracks"]] == ["undecided", "undecided"]

    # The draft saved unchanged: refused on the page, the first undecided track shown.
    press(page, "Enter")
    message = page.locator("#save-message")
    message.get_by_text("still undecided").wait_for()
    assert message.get_attribute("data-undecided") == "0,1"
    assert state(page)["selected"] == 0 and state(page)["version"] == 1
    assert ui.api().get(f"/api/sequences/{seq}/review").json()["version"] == 1

    # Enter closes the false-positive picker and does nothing else, from a key or a focused type.
    press(page, "f", "v", "n", "Enter")
    assert state(page)["picker"] is None and state(page)["version"] == 1
    press(page, "f")
    page.locator("#fp-grid button", has_text="antenna").click()  # the type button has focus
    press(page, "Enter")
    assert state(page)["picker"] is None
    assert state(page)["tracks"][0]["false_positive_types"] == [
        "antenna",
        "combine_harvester",
        "unlabeled",
    ]
    assert state(page)["version"] == 1 and state(page)["dirty"] is True

    press(page, "Enter")  # track 2 is still undecided: named, and selected
    wait_js(page, "window.lookoutReview.selected === 1")
    assert message.get_attribute("data-undecided") == "1"
    assert "track 2" in message.inner_text()

    press(page, "u")
    assert state(page)["tracks"][1]["decision"] == "unsure" and state(page)["unsure"] is True
    press(page, "Enter")
    wait_js(page, "window.lookoutReview.version === 2")
    assert "second-opinion" in message.inner_text()
    review = ui.api().get(f"/api/sequences/{seq}/review").json()
    assert review["is_unsure"] is True and review["processing_stage"] == "annotated"
    assert [t["decision"] for t in review["tracks"]] == ["false_positive", "unsure"]
    unsure = ui.api().get("/api/sequences", params={"is_unsure": True}).json()
    assert seq in [s["id"] for s in unsure["items"]]

    # A second opinion: the track decided, the whole sequence marked unsure instead.
    page.reload()
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")
    assert state(page)["isUnsure"] is False and state(page)["unsure"] is True
    press(page, "j", "s", "2", "Shift+U")
    assert state(page)["isUnsure"] is True
    assert page.locator("#sequence-unsure").is_checked()
    press(page, "Control+s")
    wait_js(page, "window.lookoutReview.version === 3")
    review = ui.api().get(f"/api/sequences/{seq}/review").json()
    assert [t["decision"] for t in review["tracks"]] == ["false_positive", "smoke"]
    assert review["is_unsure"] is True


def test_the_false_positive_picker_fits_a_small_screen(ui: UI) -> None:
    page = ui.page
    page.set_viewport_size({"width": 1366, "height": 768})
    open_review(ui, "demo-seq-06")
    press(page, "j", "f")
    picker = page.locator("#fp-picker")
    picker.wait_for()
    options = page.locator("#fp-grid button")
    assert options.count() == len(FALSE_POSITIVE_TYPES)
    clipped = page.evaluate(
        """() => [...document.querySelectorAll('#fp-grid button')]
            .filter((b) => b.scrollWidth > b.clientWidth + 1 || b.scrollHeight > b.clientHeight + 1)
            .map((b) => b.textContent)"""
    )
    assert clipped == []
    done = page.locator("#fp-done")
    done.scroll_into_view_if_needed()
    assert done.is_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    cut = page.evaluate(
        """() => [...document.querySelectorAll('.switch, .editor-row, .panel-title-row')]
            .filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent.trim())"""
    )
    assert cut == []
    save_screenshot(page, "review-fp-picker-1366")
    done.click()
    assert state(page)["picker"] is None


def test_a_conflict_can_keep_ones_own_decisions_where_the_other_changed_nothing(
    ui: UI, context: Any
) -> None:
    page = ui.page
    ui.console.expect("status of 409")
    seq = open_review(ui, "demo-seq-06")
    draft = ui.api().get(f"/api/sequences/{seq}/review").json()

    # Someone else decides track 1 only, and keeps working (in review).
    theirs = [{**draft["tracks"][0], "decision": "smoke", "smoke_type": "wildfire"}]
    theirs.append(draft["tracks"][1])
    saved = ui.api().put(
        f"/api/sequences/{seq}/review",
        json={"tracks": theirs, "processing_stage": "in_review", "version": 1},
    )
    assert saved.status_code == 200, saved.text

    assert state(page)["selected"] == 0
    press(page, "s", "2", "j", "f", "a", "Enter", "Enter")
    message = page.locator("#save-message")
    message.get_by_text("someone else saved this sequence").wait_for()
    assert "saved version 2 at" in message.inner_text()
    page.get_by_role("button", name="Keep my decisions where they changed nothing").click()
    wait_js(page, "window.lookoutReview.version === 2")
    assert message.get_attribute("data-merged") == "1,1"
    merged = state(page)["tracks"]
    assert (merged[0]["decision"], merged[0]["smoke_type"]) == ("smoke", "wildfire")  # theirs
    assert (merged[1]["decision"], merged[1]["false_positive_types"]) == (
        "false_positive",
        ["antenna"],
    )  # mine: they had left it undecided
    press(page, "Control+s")
    wait_js(page, "window.lookoutReview.version === 3")
    review = ui.api().get(f"/api/sequences/{seq}/review").json()
    assert [t["decision"] for t in review["tracks"]] == ["smoke", "false_positive"]
    assert review["tracks"][0]["smoke_type"] == "wildfire"


def test_history_restores_an_earlier_version_and_a_review_can_be_sent_back(ui: UI) -> None:
    page = ui.page
    seq = open_review(ui, "demo-seq-05")
    press(page, "s", "1", "Control+s")
    wait_js(page, "window.lookoutReview.version === 2")
    press(page, "s", "2", "Control+s")
    wait_js(page, "window.lookoutReview.version === 3")

    press(page, "h")
    history = page.locator("#history-list")
    history.locator("li.version").first.wait_for()
    versions = history.locator("li.version")
    assert [versions.nth(i).get_attribute("data-version") for i in range(3)] == ["3", "2", "1"]
    assert "track 1: smoke (wildfire) → smoke (industrial)" in versions.nth(0).inner_text()
    assert "local-admin@localhost" in versions.nth(0).inner_text()
    save_screenshot(page, "review-history")

    page.get_by_role("button", name="Restore v2").click()
    wait_js(
        page,
        "window.lookoutReview && window.lookoutReview.ready && window.lookoutReview.version === 4",
    )
    assert state(page)["tracks"][0]["smoke_type"] == "wildfire"

    reason = page.locator("#send-back-reason")
    reason.fill("the plume is a cloud")
    reason.press("Enter")
    page.locator("#stage-badge", has_text="ready to annotate").wait_for()
    review = ui.api().get(f"/api/sequences/{seq}/review").json()
    assert review["processing_stage"] == "ready_to_annotate" and review["version"] == 5
    assert review["returned_reason"] == "the plume is a cloud"
    assert review["tracks"][0]["smoke_type"] == "wildfire"  # the decisions stay for the next look

    page.reload()
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")
    assert "Sent back for another look" in page.locator("#save-message").inner_text()
