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
    # Alt+arrows move by 1% of the frame, with Shift resize; with Ctrl too, by 0.2%.
    press(page, "Alt+ArrowRight", "Alt+ArrowRight", "Alt+Shift+ArrowDown")
    moved = state(page)["tracks"][2]["box"]
    assert moved == pytest.approx([0.42, 0.4, 0.62, 0.61], abs=1e-6)
    press(page, "Control+Alt+ArrowLeft", "Control+Alt+Shift+ArrowUp")
    moved = state(page)["tracks"][2]["box"]
    assert moved == pytest.approx([0.418, 0.4, 0.618, 0.608], abs=1e-6)

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
    assert third["boxes"][0]["xyxyn"] == pytest.approx([0.418, 0.4, 0.618, 0.608], abs=1e-6)

    press(page, "]")  # the next sequence of the queue, claimed for this reviewer
    page.wait_for_url("**/sequences/*?queue=1")
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")
    held = ui.api().get("/api/review-queue").json()["claimed"]
    assert held is not None and page.url.split("/sequences/")[1].startswith(held["sequence"]["id"])
    assert (
        held["sequence"]["id"] != seq
        and held["sequence"]["processing_stage"] == "ready_to_annotate"
    )


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
        "Zoom",
        "whole frame",
        "Crop loop",
        "previous frame",
        "Interpolate",
        "Extend",
        "Adopt",
        "fine",
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


@pytest.mark.parametrize(
    "screen",
    [{"width": 1366, "height": 768}, {"width": 1920, "height": 1080}],
    ids=lambda s: f"{s['width']}x{s['height']}",
)
def test_draw_move_resize_and_delete_boxes_with_the_mouse(ui: UI, screen: dict[str, int]) -> None:
    page = ui.page
    page.set_viewport_size(screen)
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

    # Decisions with the mouse: a save before them is refused and points at the first left.
    page.click("#save")
    wait_js(page, "window.lookoutReview.undecided.length === 2")
    assert page.locator("#save-message").get_attribute("data-undecided") == "0,1"
    assert "2 tracks are still undecided" in page.locator("#save-message").inner_text()
    assert state(page)["version"] == 1
    page.click("#mark-fp")
    page.locator("#fp-grid button", has_text="antenna").click()
    page.click("#fp-done")
    assert state(page)["picker"] is None
    page.locator("#tracks button.track").nth(1).click()
    page.click("#mark-smoke")
    page.locator("#smoke-types button", has_text="wildfire").click()
    assert [t["decision"] for t in state(page)["tracks"]] == ["false_positive", "smoke"]

    page.click("#save")
    wait_js(page, "window.lookoutReview.version === 2")
    review = ui.api().get(f"/api/sequences/{seq}/review").json()
    assert [t["decision"] for t in review["tracks"]] == ["false_positive", "smoke"]
    assert review["tracks"][0]["false_positive_types"] == ["antenna"]
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
    assert rows.count() == 14
    started = [rows.nth(i).locator("td").nth(1).locator("a").inner_text() for i in range(14)]
    assert started == sorted(started)
    save_screenshot(page, "queue")
    page.get_by_role("link", name="Start reviewing").click()
    page.wait_for_url(f"**/sequences/{sequence_id(ui.lookout, 'demo-seq-03')}?queue=1")
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")

    last = sequence_id(ui.lookout, "demo-seq-12")  # the newest: the mast on day 6
    page.goto(f"{ui.url}/sequences/next?after={last}")  # wraps around to the oldest
    page.wait_for_url(f"**/sequences/{sequence_id(ui.lookout, 'demo-seq-03')}")


def test_sequence_list_filters(ui: UI) -> None:
    page = ui.page
    ui.goto("/sequences")
    assert page.locator("table.sequences tbody tr").count() == 16
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


def _centre(xyxyn: list[float]) -> tuple[float, float]:
    return (xyxyn[0] + xyxyn[2]) / 2, (xyxyn[1] + xyxyn[3]) / 2


def _to_norm(view: dict[str, float], x: float, y: float) -> tuple[float, float]:
    scale = view["scale"]
    return (x - view["ox"]) / (view["w"] * scale), (y - view["oy"]) / (view["h"] * scale)


def _changed_view(page: Any, before: dict[str, float]) -> dict[str, float]:
    """The stage's view once it differs from `before` and has settled."""
    wait_js(
        page,
        f"window.lookoutReview.view.scale !== {before['scale']} || "
        f"window.lookoutReview.view.ox !== {before['ox']} || "
        f"window.lookoutReview.view.oy !== {before['oy']}",
    )
    return stable_view(page)


def test_zoom_and_pan_the_frame_and_edit_a_box_while_zoomed(ui: UI) -> None:
    page = ui.page
    open_review(ui, "demo-seq-08")  # a small, distant plume
    whole = stable_view(page)
    stage = page.locator("#overlay").bounding_box()
    box = state(page)["tracks"][0]["box"]
    assert box is not None and state(page)["zoom"] == {"zoom": 1, "panX": 0, "panY": 0}

    press(page, "z")  # zoom on the selected track's box, with a margin around it
    zoomed = _changed_view(page, whole)
    zoom = state(page)["zoom"]["zoom"]
    assert zoom > 3 and zoomed["scale"] == pytest.approx(whole["scale"] * zoom)
    x1, y1 = to_screen(zoomed, box[0], box[1])
    x2, y2 = to_screen(zoomed, box[2], box[3])
    assert 0 < x1 < x2 < stage["width"] and 0 < y1 < y2 < stage["height"]
    assert x2 - x1 > 3 * (to_screen(whole, box[2], 0)[0] - to_screen(whole, box[0], 0)[0])
    save_screenshot(page, "review-zoomed")

    # Dragging the box moves it by the pointer's travel in the zoomed image's pixels.
    cx, cy = to_screen(zoomed, *_centre(box))
    _drag(page, (cx, cy), (cx + 40, cy + 20))
    moved = state(page)["tracks"][0]["box"]
    dx = 40 / (zoomed["w"] * zoomed["scale"])
    dy = 20 / (zoomed["h"] * zoomed["scale"])
    assert moved == pytest.approx([box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy], abs=0.002)
    assert state(page)["dirty"] is True

    # The wheel zooms at the pointer: the image point under it stays under it.
    px, py = stage["width"] * 0.4, stage["height"] * 0.5
    under = _to_norm(zoomed, px, py)
    page.mouse.move(stage["x"] + px, stage["y"] + py)
    page.mouse.wheel(0, 200)  # out
    wheeled = _changed_view(page, zoomed)
    assert state(page)["zoom"]["zoom"] < zoom
    assert to_screen(wheeled, *under) == pytest.approx((px, py), abs=1.5)

    # Shift+drag pans (also over a box: the boxes stay put).
    boxes = [t["box"] for t in state(page)["tracks"]]
    page.keyboard.down("Shift")
    _drag(page, (px, py), (px - 30, py + 10))
    page.keyboard.up("Shift")
    panned = _changed_view(page, wheeled)
    assert to_screen(panned, *under) == pytest.approx((px - 30, py + 10), abs=1.5)
    assert [t["box"] for t in state(page)["tracks"]] == boxes

    # The middle button pans too, and so does a plain drag beside the boxes once zoomed.
    page.mouse.move(stage["x"] + px, stage["y"] + py)
    page.mouse.down(button="middle")
    page.mouse.move(stage["x"] + px + 10, stage["y"] + py)
    page.mouse.move(stage["x"] + px + 20, stage["y"] + py)
    page.mouse.up(button="middle")
    middle = _changed_view(page, panned)
    assert to_screen(middle, *under) == pytest.approx((px - 10, py + 10), abs=1.5)
    empty = (stage["width"] * 0.05, stage["height"] * 0.95)
    ex, ey = _to_norm(middle, *empty)
    assert not any(b and b[0] <= ex <= b[2] and b[1] <= ey <= b[3] for b in boxes)
    _drag(page, empty, (empty[0] + 20, empty[1] - 10))
    beside = _changed_view(page, middle)
    assert to_screen(beside, *under) == pytest.approx((px + 10, py), abs=1.5)
    assert [t["box"] for t in state(page)["tracks"]] == boxes

    press(page, "0")  # the whole frame again
    assert _changed_view(page, beside) == whole
    assert state(page)["zoom"] == {"zoom": 1, "panX": 0, "panY": 0}
    press(page, "z", "Shift+Z")
    wait_js(page, "window.lookoutReview.zoom.zoom === 1")


def test_the_crop_loop_plays_the_selected_tracks_region_enlarged(ui: UI) -> None:
    page = ui.page
    seq = open_review(ui, "demo-seq-08")
    crop = page.locator("#crop-loop")
    assert not crop.is_visible() and state(page)["crop"]["open"] is False

    press(page, "c")
    wait_js(page, "window.lookoutReview.crop.drawn >= 3")
    assert crop.is_visible()
    info = state(page)["crop"]
    review = ui.api().get(f"/api/sequences/{seq}/review").json()
    region = info["region"]
    for b in review["tracks"][0]["boxes"]:  # the region holds every box of the track
        x1, y1, x2, y2 = b["xyxyn"]
        assert region[0] <= x1 and region[1] <= y1 and x2 <= region[2] and y2 <= region[3]
    assert region[2] - region[0] < 0.5  # a crop, not the frame
    frames = {state(page)["crop"]["frame"]}
    for _ in range(3):  # it moves on from frame to frame
        wait_js(page, f"window.lookoutReview.crop.frame !== {max(frames)}", timeout=5)
        frames.add(state(page)["crop"]["frame"])
    assert len(frames) >= 2
    canvas = page.locator("#crop-canvas").bounding_box()
    view = stable_view(page)
    shown = (region[2] - region[0]) * view["w"] * view["scale"]  # the region's width on the frame
    assert canvas["width"] > 1.5 * shown and canvas["height"] >= 150  # enlarged
    pixel = canvas_pixel(page, "#crop-canvas", canvas["width"] / 2, canvas["height"] / 2)
    assert pixel[3] == 255  # the frame's pixels are drawn
    save_screenshot(page, "review-crop-loop")

    # The loop lets the pointer through to the frame: boxes stay editable under it.
    stage = page.locator("#overlay").bounding_box()
    hit = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).id",
        [canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2],
    )
    assert hit == "overlay" and stage["width"] > canvas["width"]

    press(page, "Escape")  # closes the loop first, the selection stays
    wait_js(page, "window.lookoutReview.crop.open === false")
    assert not crop.is_visible() and state(page)["selected"] == 0
    press(page, "c", "c")
    assert state(page)["crop"]["open"] is False
    press(page, "Escape")
    assert state(page)["selected"] == -1
    press(page, "c")  # without a track there is nothing to crop
    assert state(page)["crop"]["open"] is False
    assert "Select a track" in page.locator("#picker-hint").inner_text()


def test_boxes_over_many_frames_interpolate_extend_copy_and_adopt(ui: UI) -> None:
    page = ui.page
    seq = open_review(ui, "demo-seq-04")
    frames = state(page)["frames"]
    assert frames == 6 and len(state(page)["tracks"]) == 1

    # A new track, hand-drawn on the first and last frames.
    press(page, "Escape", "Home", "n", "Enter")
    assert state(page)["selected"] == 1
    press(page, "End", "n", "Enter")
    press(page, *["Alt+ArrowRight"] * 5)
    assert state(page)["tracks"][1]["box"] == pytest.approx([0.45, 0.4, 0.65, 0.6], abs=1e-6)
    assert state(page)["tracks"][1]["boxes"] == 2

    press(page, "Home", "ArrowRight", "ArrowRight", "i")  # interpolate across the gap
    assert state(page)["tracks"][1]["boxes"] == frames
    assert state(page)["tracks"][1]["box"] == pytest.approx([0.42, 0.4, 0.62, 0.6], abs=1e-6)
    press(page, "Control+z")  # one step
    assert state(page)["tracks"][1]["boxes"] == 2

    press(page, "x")  # extend: copies of the nearest box (frame 0's, two frames away)
    assert state(page)["tracks"][1]["boxes"] == frames
    assert state(page)["tracks"][1]["box"] == pytest.approx([0.4, 0.4, 0.6, 0.6], abs=1e-6)
    press(page, "Control+z")

    press(page, "ArrowRight", "p")  # frame 3: the box of the previous frame that has one
    assert state(page)["tracks"][1]["boxes"] == 3
    assert state(page)["tracks"][1]["box"] == pytest.approx([0.4, 0.4, 0.6, 0.6], abs=1e-6)
    press(page, "Alt+ArrowDown", "ArrowRight", "p")  # frame 4 gets frame 3's moved box
    assert state(page)["tracks"][1]["box"] == pytest.approx([0.4, 0.41, 0.6, 0.61], abs=1e-6)

    # Adopt a prediction: without a selected track, the most confident one here starts a track.
    detail = ui.api().get(f"/api/sequences/{seq}").json()
    predictions = [p for p in detail["frames"][4]["predictions"] if p["bbox_xyxyn"]]
    assert predictions
    best = max(predictions, key=lambda p: p["confidence"] or 0)
    press(page, "Escape", "e")
    after = state(page)
    assert len(after["tracks"]) == 3 and after["selected"] == 2
    assert after["tracks"][2]["box"] == pytest.approx(best["bbox_xyxyn"], abs=1e-6)
    assert "confirm it" in page.locator("#picker-hint").inner_text()
    press(page, "Control+z")
    assert len(state(page)["tracks"]) == 2

    # Shift+E: the draft track moved off its prediction here takes it back, on every frame.
    press(page, "j")
    assert state(page)["selected"] == 0
    original = state(page)["tracks"][0]["box"]
    press(page, *["Alt+ArrowDown"] * 2)
    assert state(page)["tracks"][0]["box"] != original
    press(page, "Shift+E")
    adopted = state(page)["tracks"][0]["box"]
    assert any(adopted == pytest.approx(p["bbox_xyxyn"], abs=1e-6) for p in predictions)
    press(page, "e")  # the prediction under the box on this frame: already there
    assert state(page)["tracks"][0]["box"] == adopted

    # Save: hand-made boxes have no confidence, adopted ones the prediction's.
    press(page, "s", "1", "j", "s", "1", "Control+s")
    wait_js(page, "window.lookoutReview.version === 2")
    review = ui.api().get(f"/api/sequences/{seq}/review").json()
    drawn = review["tracks"][1]["boxes"]
    assert len(drawn) == 4 and all(b["confidence"] is None for b in drawn)
    frame4 = detail["frames"][4]["id"]
    kept = next(b for b in review["tracks"][0]["boxes"] if b["frame_id"] == frame4)
    source = next(
        p for p in predictions if p["bbox_xyxyn"] == pytest.approx(kept["xyxyn"], abs=1e-6)
    )
    assert kept["confidence"] == pytest.approx(source["confidence"])
