"""Projects, gallery, image view, compare, access and errors in the browser."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.exports.builders import make_world
from tests.support import wait_until
from tests.web.conftest import UI, save_screenshot, sqlite_only
from tests.web.web_support import (
    add_analysis,
    after_frames,
    analysis_ids,
    box,
    canvas_alpha_sum,
    canvas_pixel,
    image_id,
    jpeg,
    sequence_id,
    stable_view,
    to_screen,
    wait_js,
)

pytestmark = [pytest.mark.browser, sqlite_only]

ALL_KINDS = ("bounding_box", "polygon", "mask", "keypoint", "classification", "heatmap")
KIND_KEYS = {
    "bounding_box": "b",
    "polygon": "p",
    "mask": "m",
    "keypoint": "k",
    "classification": "c",
    "heatmap": "h",
}


def overlay(page: Any) -> dict[str, Any]:
    return page.evaluate("window.lookoutOverlay")


def whole_canvas(page: Any, selector: str = "#overlay") -> int:
    size = page.locator(selector).bounding_box()
    return canvas_alpha_sum(page, selector, (0, 0, size["width"], size["height"]))


def set_range(page: Any, selector: str, value: float) -> None:
    page.evaluate(
        """([selector, value]) => {
            const input = document.querySelector(selector);
            input.value = String(value);
            input.dispatchEvent(new Event("input", { bubbles: true }));
        }""",
        [selector, value],
    )


def upload(ui: UI, data: bytes, filename: str) -> str:
    project = str(ui.demo.project_id)
    response = ui.lookout.upload(ui.api(), project, data=data, filename=filename)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_projects_and_a_gallery_paged_on_the_server(ui: UI) -> None:
    page = ui.page
    ui.goto("/")
    assert page.url.endswith("/projects")
    card = page.locator(".project-card")
    assert card.count() == 1
    assert "Demo - wildfire cameras" in card.inner_text()
    save_screenshot(page, "projects")

    card.get_by_role("link", name="Open gallery").click()
    page.wait_for_load_state("networkidle")
    tiles = page.locator(".gallery .tile")
    assert tiles.count() == 60  # 102 images: one full page, then the rest
    first_page = {tiles.nth(i).locator("a").get_attribute("href") for i in range(60)}
    assert page.locator(".tile img").first.evaluate("img => img.complete && img.naturalWidth > 0")
    save_screenshot(page, "gallery")

    page.get_by_role("link", name="Next page »").click()
    page.wait_for_load_state("networkidle")
    assert "cursor=" in page.url
    second_page = {tiles.nth(i).locator("a").get_attribute("href") for i in range(tiles.count())}
    assert len(second_page) == 42 and not first_page & second_page
    assert page.get_by_text("Last page").is_visible()

    page.get_by_role("link", name="« First page").click()
    page.select_option("select[name=model]", "yolo_v8")
    page.wait_for_url("**model=yolo_v8*")
    assert tiles.count() == 8 + 10 + 9  # the frames of the three analysed sequences
    page.select_option("select[name=status]", "queued")
    page.wait_for_url("**status=queued*")
    assert tiles.count() == 0
    assert page.get_by_text("No image matches these filters").is_visible()

    seq = sequence_id(ui.lookout, "demo-seq-04")
    page.goto(f"{ui.url}/projects/{ui.demo.project_id}?sequence={seq}")
    assert tiles.count() == 6
    page.goto(f"{ui.url}/projects/{ui.demo.project_id}?date_from=2025-07-19&date_to=2025-07-19")
    assert tiles.count() == 8 + 5  # demo-seq-08 and demo-seq-16, started on July 19
    page.goto(f"{ui.url}/projects/{ui.demo.project_id}?date_from=July")
    assert "is not a date" in page.locator(".notice.warn").inner_text()


def test_every_annotation_type_draws_pixels(ui: UI) -> None:
    page = ui.page
    image = image_id(ui.lookout, "demo-all-types")
    ui.goto(f"/images/{image}")
    wait_js(page, "window.lookoutOverlay.ready && window.lookoutOverlay.counts.heatmap === 1")
    state = overlay(page)
    assert state["counts"] == {
        "bounding_box": 2,
        "polygon": 1,
        "mask": 1,
        "keypoint": 1,
        "classification": 1,
        "heatmap": 1,
    }
    assert page.locator("#overlay").get_attribute("data-drawn-count") == "7"
    save_screenshot(page, "image-view")

    # The cloud box (xywh 500, 80, 120, 40 on 800x450) in the analysis colour, #ff8c1a.
    view = stable_view(page, "lookoutOverlay")
    edge = to_screen(view, 500 / 800, 100 / 450)
    r, g, b, a = canvas_pixel(page, "#overlay", *edge)
    assert r > 200 and 100 < g < 180 and b < 90 and a > 180, (r, g, b, a)
    set_range(page, "#opacity", 0.3)
    wait_js(page, "document.getElementById('opacity-out').textContent === '30%'")
    after_frames(page)  # the redraw the slider asked for
    faint = canvas_pixel(page, "#overlay", *edge)
    assert 20 < faint[3] < a * 0.5, (faint, a)
    set_range(page, "#opacity", 0.9)

    # Each type alone: its count is 1 (2 boxes) and it puts pixels on the canvas.
    for key in KIND_KEYS.values():
        page.keyboard.press(key)
    wait_js(page, "window.lookoutOverlay.drawn === 0")
    assert whole_canvas(page) == 0
    for kind, key in KIND_KEYS.items():
        page.keyboard.press(key)
        wait_js(page, f"window.lookoutOverlay.counts.{kind} >= 1")
        assert overlay(page)["drawn"] == (2 if kind == "bounding_box" else 1), kind
        assert whole_canvas(page) > 10_000, kind
        page.keyboard.press(key)
        wait_js(page, "window.lookoutOverlay.drawn === 0")
        assert whole_canvas(page) == 0, kind
    for key in KIND_KEYS.values():
        page.keyboard.press(key)
    wait_js(page, "window.lookoutOverlay.drawn === 7")

    # The confidence threshold hides what scores below it.
    set_range(page, "#threshold", 0.9)
    wait_js(page, "window.lookoutOverlay.drawn === 3")
    assert overlay(page)["counts"] == {
        "bounding_box": 1,
        "polygon": 0,
        "mask": 0,
        "keypoint": 0,
        "classification": 1,
        "heatmap": 1,
    }
    set_range(page, "#threshold", 0)
    wait_js(page, "window.lookoutOverlay.drawn === 7")

    classes = page.locator("#classes li")  # per class: a count and a switch
    assert classes.count() == 3
    assert classes.filter(has_text="smoke").inner_text().split() == ["smoke", "5"]
    classes.filter(has_text="cloud").locator("input").uncheck()
    wait_js(page, "window.lookoutOverlay.counts.bounding_box === 1")
    classes.filter(has_text="cloud").locator("input").check()
    page.locator("#color-by-class").check()  # the cloud box takes its class colour
    wait_js(page, "window.lookoutOverlay.drawn === 7")
    after_frames(page)  # the redraw the switch asked for
    assert canvas_pixel(page, "#overlay", *edge)[:3] != [r, g, b]
    page.locator("#color-by-class").uncheck()

    page.keyboard.press("s")  # original | overlay
    original = page.locator("#original-pane")
    original.wait_for(state="visible")

    def original_alpha() -> int:
        canvas = "#original-stage canvas"
        size = page.locator(canvas).bounding_box()
        return canvas_alpha_sum(page, canvas, (0, 0, size["width"], size["height"]))

    # Resized to the shown pane, then drawn: a resize clears the canvas until its redraw, so
    # pixels seen once are what counts (reading again may fall between the two).
    assert wait_until(lambda: original_alpha() > 0, timeout=20)
    save_screenshot(page, "image-side-by-side")

    client = ui.api()
    for fmt in ("json", "csv"):
        link = page.locator(f"a[href$='export?format={fmt}']").first
        response = client.get(link.get_attribute("href"))
        assert response.status_code == 200, response.text
        if fmt == "json":
            assert len(response.json()["annotations"]) == 7
        else:
            assert len(response.text.strip().splitlines()) == 8  # header + 7 annotations


def test_compare_counts_for_a_known_pair(ui: UI) -> None:
    page = ui.page
    image = upload(ui, jpeg(640, 360), "pair.jpg")
    a = add_analysis(
        ui.lookout,
        image,
        "model_a",
        [
            box(0.1, 0.1, 0.3, 0.3),
            box(0.5, 0.5, 0.7, 0.7),
            box(0.8, 0.1, 0.95, 0.2),
        ],
    )
    b = add_analysis(
        ui.lookout,
        image,
        "model_b",
        [
            box(0.11, 0.1, 0.31, 0.3),
            box(0.52, 0.5, 0.72, 0.7),
            box(0.1, 0.6, 0.2, 0.8),
            box(0.3, 0.8, 0.4, 0.9),
            box(0.8, 0.1, 0.95, 0.2, cls="cloud"),
        ],
    )
    ui.goto(f"/images/{image}/compare?a={a}&b={b}")
    wait_js(page, "window.lookoutCompare.ready")
    counts = page.evaluate("window.lookoutCompare")
    assert (counts["matched"], counts["onlyA"], counts["onlyB"]) == (2, 1, 3)
    assert page.locator("#count-matched").inner_text() == "2"
    assert page.locator("#count-only-a").inner_text() == "1"
    assert page.locator("#count-only-b").inner_text() == "3"
    wait_js(page, "window.lookoutCompare.drawn === 8")
    assert page.locator("#pairs tbody tr").count() == 2

    page.keyboard.press("3")  # hide the boxes only in B
    wait_js(page, "window.lookoutCompare.drawn === 5")
    page.keyboard.press("3")
    set_range(page, "#iou", 0.95)
    wait_js(page, "window.lookoutCompare.iou === 0.95 && window.lookoutCompare.matched === 0")
    assert page.locator("#count-only-a").inner_text() == "3"
    assert page.locator("#count-only-b").inner_text() == "5"
    set_range(page, "#iou", 0.5)
    wait_js(page, "window.lookoutCompare.iou === 0.5 && window.lookoutCompare.matched === 2")

    page.keyboard.press("x")  # swap A and B
    wait_js(page, "window.lookoutCompare.onlyA === 3")
    assert page.evaluate("window.lookoutCompare.onlyB") == 1
    assert f"a={b}" in page.url
    page.keyboard.press("v")  # side by side
    page.locator("#pane-b").wait_for(state="visible")
    wait_js(page, "window.lookoutCompare.drawnB > 0")


def test_compare_the_platform_against_a_pipeline(ui: UI) -> None:
    page = ui.page
    frame = image_id(ui.lookout, "demo-seq-01-frame-04")
    models = analysis_ids(ui.lookout, frame)
    for a, b in (("platform", "yolo_v8"), ("yolo_v11", "platform"), ("yolo_v8", "yolo_v11")):
        expected = (
            ui.api()
            .get(
                f"/api/images/{frame}/analyses/compare",
                params=[("analysis_id", models[a]), ("analysis_id", models[b])],
            )
            .json()["comparison"]
        )
        ui.goto(f"/images/{frame}/compare?a={models[a]}&b={models[b]}")
        wait_js(page, "window.lookoutCompare.ready")
        shown = page.evaluate("window.lookoutCompare")
        assert (shown["matched"], shown["onlyA"], shown["onlyB"]) == (
            expected["matched_count"],
            expected["only_a_count"],
            expected["only_b_count"],
        ), (a, b)
    assert (shown["matched"], shown["onlyA"], shown["onlyB"]) == (1, 1, 1)
    drawn = page.evaluate("window.lookoutCompare.drawn")
    page.locator("details.more-analyses summary").click()
    page.locator("#also-list input[type=checkbox]").first.check()  # the platform, in a third colour
    wait_js(page, f"window.lookoutCompare.drawn === {drawn + 1}")
    assert "also=" in page.url
    save_screenshot(page, "compare")


def test_ten_thousand_boxes_stay_responsive(ui: UI) -> None:
    page = ui.page
    image = upload(ui, jpeg(1920, 1080), "crowd.jpg")
    boxes = [
        box(col / 100, row / 100, col / 100 + 0.008, row / 100 + 0.008, confidence=(col + 1) / 100)
        for row in range(100)
        for col in range(100)
    ]
    add_analysis(ui.lookout, image, "dense_detector", boxes)
    ui.goto(f"/images/{image}")
    wait_js(page, "window.lookoutOverlay.counts.bounding_box === 10000", timeout=30)
    # Drawing time is a benchmark figure (bench), never a test assertion.
    assert page.evaluate("document.getElementsByTagName('*').length") < 600  # a canvas, not nodes
    set_range(page, "#threshold", 0.5)
    wait_js(page, "window.lookoutOverlay.counts.bounding_box === 5100")
    assert whole_canvas(page) > 0


def test_access_denied_and_sign_in_pages(lookout_factory: Any, page: Any, console: Any) -> None:
    console.expect("status of 404")  # the pages under test answer 404 and 401, by design
    console.expect("status of 401")
    lookout = lookout_factory(PROXY_SECRET="proxy-secret")
    alice = make_world(lookout, group="team-a", name="alice-secret-project", camera=False)
    project = alice.project
    image = lookout.upload(alice.client, project["id"], data=jpeg()).json()["id"]
    sequence = alice.add_sequence("s1", frames=0, started_at="2025-07-14T10:00:00").id

    page.set_extra_http_headers(
        {"X-User-Email": "bob@example.org", "X-Proxy-Secret": "proxy-secret"}
    )
    for path in (
        f"/projects/{project['id']}",
        f"/images/{image}",
        f"/images/{image}/compare",
        f"/sequences/{sequence}",
    ):
        response = page.goto(lookout.url + path)
        assert response.status == 404, path
        assert response.headers["content-type"].startswith("text/html")
        text = page.locator("main").inner_text()
        assert "Not found" in text
        assert "belongs to a group you are not a member of" in text
        assert "alice-secret-project" not in page.content()
    save_screenshot(page, "access-denied")
    page.goto(lookout.url + "/projects")
    assert "alice-secret-project" not in page.content()

    page.set_extra_http_headers(
        {"X-User-Email": "alice@example.org", "X-Proxy-Secret": "proxy-secret"}
    )
    response = page.goto(f"{lookout.url}/projects/{project['id']}")
    assert response.status == 200
    assert page.locator("h1").inner_text() == "alice-secret-project"

    page.set_extra_http_headers({})
    response = page.goto(lookout.url + "/projects")
    assert response.status == 401
    assert "Sign-in required" in page.locator("main").inner_text()


def test_api_errors_are_shown_in_words(ui: UI) -> None:
    page = ui.page
    ui.console.expect("status of 503")
    frame = image_id(ui.lookout, "demo-seq-03-frame-02")

    def unavailable(route: Any) -> None:
        body = json.dumps({"detail": "database is unavailable, try again"})
        route.fulfill(status=503, content_type="application/json", body=body)

    page.route("**/api/images/*/analyses?*", unavailable)
    ui.goto(f"/images/{frame}")
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert error.inner_text() == "Lookout had a problem: Database is unavailable, try again."
    page.unroute("**/api/images/*/analyses?*")

    page.route("**/api/sequences/*", unavailable)
    ui.goto(f"/sequences/{sequence_id(ui.lookout, 'demo-seq-03')}")
    message = page.locator("#save-message")
    message.wait_for(state="visible")
    assert "could not be loaded" in message.inner_text()
    assert "Database is unavailable" in message.inner_text()
    page.unroute("**/api/sequences/*")

    lone = upload(ui, jpeg(), "lone.jpg")
    add_analysis(ui.lookout, lone, "yolo_v8", [box(0.1, 0.1, 0.2, 0.2)])
    ui.goto(f"/images/{lone}/compare")
    error.wait_for(state="visible")
    assert "needs at least two analyses" in error.inner_text()


def test_every_page_has_a_clean_console_and_a_strict_policy(ui: UI) -> None:
    page = ui.page
    frame = image_id(ui.lookout, "demo-seq-01-frame-04")
    seq = sequence_id(ui.lookout, "demo-seq-02")
    for path in (
        "/projects",
        f"/projects/{ui.demo.project_id}",
        f"/images/{frame}",
        f"/images/{frame}/compare",
        "/sequences",
        "/sequences/queue",
        f"/sequences/{seq}",
    ):
        response = ui.goto(path)
        assert response.status == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        after_frames(page)  # what the page's scripts draw after their last fetch is drawn
    assert not ui.console.errors


def test_running_analyses_refresh_until_they_finish(ui: UI) -> None:
    import uuid

    from lookout.analyses import bulk
    from lookout.analyses.models import Analysis
    from lookout.images.models import Image

    page = ui.page
    image = upload(ui, jpeg(), "running.jpg")
    running = add_analysis(ui.lookout, image, "slow_model", [], status="queued")
    ui.goto(f"/images/{image}")
    wait_js(page, "window.lookoutOverlay.ready")
    card = page.locator(f"li[data-analysis-id='{running}']")
    assert card.locator(".badge").inner_text() == "queued"
    assert "refreshing while 1 runs" in page.locator("#refresh-note").inner_text()

    with ui.lookout.sessions() as session:  # the pipeline finishes meanwhile
        analysis = session.get_one(Analysis, uuid.UUID(running))
        row = session.get_one(Image, uuid.UUID(image))
        bulk.insert_annotations(
            session,
            analysis=analysis,
            image=row,
            annotations=[box(0.1, 0.1, 0.4, 0.4), box(0.5, 0.5, 0.9, 0.9)],
        )
        analysis.status = "completed"
        session.commit()
    wait_js(page, "window.lookoutOverlay.counts.bounding_box === 2", timeout=10)
    assert card.locator(".badge").inner_text() == "completed"
    assert page.locator("#refresh-note").inner_text() == ""


def test_queue_a_model_from_the_gallery(ui: UI) -> None:
    page = ui.page
    ui.goto(f"/projects/{ui.demo.project_id}")
    page.locator("details.run-model summary").click()
    page.fill("#queue-form input[name=model_name]", "ui_model")
    page.fill("#queue-form input[name=model_version]", "1")
    page.locator("#queue-form button[type=submit]").click()
    wait_js(page, "document.getElementById('queue-result').textContent.includes('Queued')")
    text = page.locator("#queue-result").inner_text()
    assert text.startswith(f"Queued {ui.demo.frames + 1} analyses of ui_model"), text
    page.locator("#queue-form button[type=submit]").click()  # again: nothing new
    wait_js(page, "document.getElementById('queue-result').textContent.includes('already')")
    assert "Queued 0 analyses" in page.locator("#queue-result").inner_text()
    queued = ui.api().get(
        f"/api/projects/{ui.demo.project_id}/images", params={"model_name": "ui_model"}
    )
    assert len(queued.json()["items"]) == 50  # first page: every image has one now
    ui.console.expect("status of 400")  # the refused request below, by design
    page.evaluate("document.querySelector('#queue-form input[name=model_name]').maxLength = 500")
    page.fill("#queue-form input[name=model_name]", "x" * 201)
    page.locator("#queue-form button[type=submit]").click()
    wait_js(page, "document.getElementById('queue-result').classList.contains('error')")
    assert "at most 200 characters" in page.locator("#queue-result").inner_text()
