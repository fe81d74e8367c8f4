"""Sequence review in the browser: keyboard-only review, box editing, conflicts, the queue."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import UI, save_screenshot, sqlite_only
from tests.web.web_support import canvas_pixel, sequence_id, stable_view, to_screen, wait_js

pytestmark = [pytest.mark.browser, sqlite_only]


def open_review(ui: UI, source_id: str, page: Any = None) -> str:
    page = page or ui.page
    seq = sequence_id(ui.lookout, source_id)
    page.goto(f"{ui.url}/sequences/{seq}")
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")
    return seq


def state(page: Any) -> dict[str, Any]:
    return page.evaluate("window.lookoutReview")


def press(page: Any, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


def test_review_a_demo_sequence_with_the_keyboard_only(ui: UI) -> None:
    page = ui.page
    seq = open_review(ui, "demo-seq-06")
    start = state(page)
    assert start["version"] == 1 and start["selected"] == 0 and start["frame"] == 0
    assert [t["is_smoke"] for t in start["tracks"]] == [True, True]
    assert [t["smoke_type"] for t in start["tracks"]] == [None, None]

    press(page, "o")  # raw predictions of every model on this frame
    wait_js(page, "window.lookoutReview.drawnRaw >= 2")  # drawn on the next animation frame
    save_screenshot(page, "review")
    press(page, "o")
    wait_js(page, "window.lookoutReview.drawnRaw === 0")

    press(page, "s")  # track 1: smoke, then its type
    assert state(page)["picker"] == "smoke"
    press(page, "1")
    press(page, "j", "f")  # track 2: false positive, types from the picker
    assert state(page)["selected"] == 1 and state(page)["picker"] == "fp"
    press(page, "l", "h", "Enter")
    assert state(page)["picker"] is None

    press(page, "ArrowRight", "ArrowRight")
    assert state(page)["frame"] == 2
    press(page, "End")
    assert state(page)["frame"] == state(page)["frames"] - 1
    press(page, "Home")
    assert state(page)["frame"] == 0

    press(page, "n")  # draw mode; Enter places a box: track 2 has one here, so a new track
    assert state(page)["drawMode"] is True
    press(page, "Enter")
    after = state(page)
    assert len(after["tracks"]) == 3 and after["selected"] == 2 and after["drawMode"] is False
    press(page, "s", "3")
    press(page, "Alt+ArrowRight", "Alt+ArrowRight", "Alt+Shift+ArrowDown")
    moved = state(page)["tracks"][2]["box"]
    assert moved == pytest.approx([0.41, 0.4, 0.61, 0.605], abs=1e-6)

    press(page, "ArrowRight", "n", "Enter")  # the new track gets this frame's box too
    assert state(page)["tracks"][2]["boxes"] == 2
    press(page, "Delete")
    assert state(page)["tracks"][2]["boxes"] == 1
    press(page, "Control+z")
    assert state(page)["tracks"][2]["boxes"] == 2
    press(page, "Delete")
    assert state(page)["tracks"][2]["boxes"] == 1

    press(page, "m")
    assert state(page)["hasMissedSmoke"] is True

    press(page, ">")
    assert state(page)["fps"] == 4
    press(page, "<", "<")
    assert state(page)["fps"] == 1
    press(page, ">")
    press(page, "Home", " ")  # play, then pause
    assert state(page)["playing"] is True
    wait_js(page, "window.lookoutReview.frame >= 1", timeout=5)
    press(page, " ")
    assert state(page)["playing"] is False

    press(page, "Control+s")
    wait_js(page, "window.lookoutReview.version === 2 && !window.lookoutReview.dirty")
    assert "Saved." in page.locator("#save-message").inner_text()
    assert page.locator("#stage-badge").inner_text() == "annotated"

    review = ui.api().get(f"/api/sequences/{seq}/review").json()
    assert review["processing_stage"] == "annotated"
    assert review["version"] == 2
    assert review["reviewed_by"] == "local-admin@localhost"
    assert review["reviewed_at"] is not None
    assert review["has_missed_smoke"] is True
    assert review["smoke_types"] == ["other", "wildfire"]
    assert review["false_positive_types"] == ["high_cloud", "low_cloud"]
    first, second, third = review["tracks"]
    assert (first["is_smoke"], first["smoke_type"], len(first["boxes"])) == (True, "wildfire", 9)
    assert (second["is_smoke"], second["false_positive_types"]) == (
        False,
        ["high_cloud", "low_cloud"],
    )
    assert len(second["boxes"]) == 7
    assert (third["is_smoke"], third["smoke_type"], len(third["boxes"])) == (True, "other", 1)
    assert third["boxes"][0]["xyxyn"] == pytest.approx([0.41, 0.4, 0.61, 0.605], abs=1e-6)

    press(page, "]")  # next in the queue, oldest first after this one
    following = sequence_id(ui.lookout, "demo-seq-07")
    page.wait_for_url(f"**/sequences/{following}")
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")


def test_help_overlay_lists_every_shortcut(ui: UI) -> None:
    page = ui.page
    open_review(ui, "demo-seq-03")
    press(page, "?")
    help_dialog = page.locator("#help")
    assert help_dialog.is_visible()
    text = help_dialog.inner_text()
    for words in (
        "Play or pause",
        "Previous or next frame",
        "Next or previous track",
        "Confirm smoke",
        "false positive",
        "Draw a box",
        "Delete",
        "missed",
        "Save",
        "Next sequence in the queue",
        "raw predictions",
        "Undo",
    ):
        assert words in text, words
    save_screenshot(page, "review-help")
    press(page, "Escape")
    assert not help_dialog.is_visible()
    press(page, "s")  # keys reach the page again once the help is closed
    assert state(page)["picker"] == "smoke"


def _drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    box = page.locator("#overlay").bounding_box()
    page.mouse.move(box["x"] + start[0], box["y"] + start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + (start[0] + end[0]) / 2, box["y"] + (start[1] + end[1]) / 2)
    page.mouse.move(box["x"] + end[0], box["y"] + end[1])
    page.mouse.up()


def test_draw_move_resize_and_delete_boxes_with_the_mouse(ui: UI) -> None:
    page = ui.page
    seq = open_review(ui, "demo-seq-04")
    view = stable_view(page)

    page.click("#draw-box")
    _drag(page, to_screen(view, 0.1, 0.1), to_screen(view, 0.3, 0.3))
    drawn = state(page)
    assert len(drawn["tracks"]) == 2 and drawn["selected"] == 1
    assert drawn["tracks"][1]["box"] == pytest.approx([0.1, 0.1, 0.3, 0.3], abs=0.003)

    # The new track's colour is on its left edge, read back from the canvas.
    assert stable_view(page) == view
    x, y = to_screen(view, 0.1, 0.2)
    r, g, b, a = canvas_pixel(page, "#overlay", x, y)
    assert a > 200 and b > 200 and r < 120, (r, g, b, a)  # #3d9bff, the second track colour
    inside = canvas_pixel(page, "#overlay", *to_screen(view, 0.2, 0.2))
    assert inside[3] < 60  # only a faint selection tint inside

    _drag(page, to_screen(view, 0.2, 0.2), to_screen(view, 0.25, 0.3))  # move
    assert state(page)["tracks"][1]["box"] == pytest.approx([0.15, 0.2, 0.35, 0.4], abs=0.003)
    _drag(page, to_screen(view, 0.35, 0.4), to_screen(view, 0.45, 0.5))  # resize a corner
    assert state(page)["tracks"][1]["box"] == pytest.approx([0.15, 0.2, 0.45, 0.5], abs=0.003)

    first_box = state(page)["tracks"][0]["box"]
    centre = ((first_box[0] + first_box[2]) / 2, (first_box[1] + first_box[3]) / 2)
    page.mouse.click(*[p + o for p, o in zip(to_screen(view, *centre), _origin(page), strict=True)])
    assert state(page)["selected"] == 0
    press(page, "Delete")
    assert state(page)["tracks"][0]["boxes"] == 5 and state(page)["tracks"][0]["box"] is None

    press(page, "Control+s")
    wait_js(page, "window.lookoutReview.version === 2")
    review = ui.api().get(f"/api/sequences/{seq}/review").json()
    assert len(review["tracks"][0]["boxes"]) == 5
    assert review["tracks"][1]["boxes"][0]["xyxyn"] == pytest.approx(
        [0.15, 0.2, 0.45, 0.5], abs=0.003
    )


def _origin(page: Any) -> tuple[float, float]:
    box = page.locator("#overlay").bounding_box()
    return box["x"], box["y"]


def test_two_reviewers_saving_the_same_sequence_get_a_conflict(ui: UI, context: Any) -> None:
    first = ui.page
    second = context.new_page()
    ui.console.expect("status of 409")  # the refused save is a 409 response, by design
    seq = open_review(ui, "demo-seq-05", first)
    open_review(ui, "demo-seq-05", second)

    press(first, "s", "1", "Control+s")
    wait_js(first, "window.lookoutReview.version === 2")

    press(second, "f", "a", "Enter", "Control+s")
    message = second.locator("#save-message")
    message.get_by_text("someone else saved this sequence").wait_for()
    assert "Nothing was overwritten" in message.inner_text()
    assert state(second)["dirty"] is True and state(second)["version"] == 1
    save_screenshot(second, "review-conflict")

    review = ui.api().get(f"/api/sequences/{seq}/review").json()
    assert review["version"] == 2
    assert review["tracks"][0]["is_smoke"] is True
    assert review["tracks"][0]["smoke_type"] == "wildfire"

    second.get_by_role("button", name="Reload their version").click()
    wait_js(second, "window.lookoutReview && window.lookoutReview.ready")
    assert state(second)["version"] == 2
    assert state(second)["tracks"][0]["smoke_type"] == "wildfire"
    press(second, "f", "a", "Enter", "Control+s")
    wait_js(second, "window.lookoutReview.version === 3")
    second.close()


def test_queue_lists_sequences_ready_to_review_oldest_first(ui: UI) -> None:
    page = ui.page
    ui.goto("/sequences/queue")
    rows = page.locator("table.sequences tbody tr")
    assert rows.count() == 6
    started = [rows.nth(i).locator("td").nth(1).locator("a").inner_text() for i in range(6)]
    assert started == sorted(started)
    save_screenshot(page, "queue")
    page.get_by_role("link", name="Start reviewing").click()
    page.wait_for_url(f"**/sequences/{sequence_id(ui.lookout, 'demo-seq-03')}")
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")

    last = sequence_id(ui.lookout, "demo-seq-08")
    page.goto(f"{ui.url}/sequences/next?after={last}")  # wraps around to the oldest
    page.wait_for_url(f"**/sequences/{sequence_id(ui.lookout, 'demo-seq-03')}")


def test_sequence_list_filters(ui: UI) -> None:
    page = ui.page
    ui.goto("/sequences")
    assert page.locator("table.sequences tbody tr").count() == 8
    save_screenshot(page, "sequences")
    page.select_option("select[name=stage]", "annotated")
    page.wait_for_url("**/sequences?*stage=annotated*")
    assert page.locator("table.sequences tbody tr").count() == 2
    page.select_option("select[name=false_positive_type]", "low_cloud")
    page.wait_for_url("**false_positive_type=low_cloud*")
    rows = page.locator("table.sequences tbody tr")
    assert rows.count() == 1
    assert "demo-seq-02" in rows.first.inner_text()
    assert "false positive: low cloud" in rows.first.inner_text()
