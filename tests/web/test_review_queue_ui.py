"""The review queue in the browser: a key starts reviewing a claimed sequence, ] skips one not
reviewed, a save opens the next by itself, skipped sequences can be put back, and a sequence
another reviewer holds is neither offered nor silently taken."""

from __future__ import annotations

import pytest

from tests.web.conftest import UI, save_screenshot, sqlite_only
from tests.web.test_review_ui import press, state
from tests.web.web_support import sequence_id, wait_js

pytestmark = [pytest.mark.browser, sqlite_only]


def _queue_ready(ui: UI) -> None:
    """Wait until the queue page listens for keys (its module ran)."""
    wait_js(ui.page, "window.lookoutQueue && window.lookoutQueue.ready")


def _opened(ui: UI) -> str:
    """The sequence the review page shows, once ready (its id from the URL)."""
    # The URL is enough: the review page's own flag says when it is ready, without waiting
    # for every frame image to load as the "load" event does.
    ui.page.wait_for_url("**/sequences/*?queue=1", wait_until="commit")
    wait_js(ui.page, "window.lookoutReview && window.lookoutReview.ready")
    return ui.page.url.split("/sequences/")[1].split("?")[0]


def _held(ui: UI) -> str | None:
    claimed = ui.api().get("/api/review-queue").json()["claimed"]
    return claimed["sequence"]["id"] if claimed else None


def test_a_key_starts_reviewing_and_the_queue_moves_on_by_itself(ui: UI) -> None:
    page = ui.page
    ui.goto("/sequences/queue")
    oldest = sequence_id(ui.lookout, "demo-seq-03")
    assert page.locator("#queue-count").inner_text() == "14"
    _queue_ready(ui)
    press(page, "r")  # no Tab walk: a key on the queue page
    assert _opened(ui) == oldest and _held(ui) == oldest

    # Not reviewed, ] sets it aside and claims the next; the claim moves with the reviewer.
    press(page, "]")
    second = _opened_after(ui, oldest)
    assert second != oldest and _held(ui) == second

    # A one-track confirm, moving on included: s, 1, Enter (three keys).
    ui.goto("/sequences/queue")
    # Fourteen waiting, one skipped by this reviewer; the one they hold still counts as theirs.
    assert page.locator("#queue-count").inner_text() == "13"
    page.get_by_text("Skipped by you (1)").wait_for()
    save_screenshot(page, "queue-skipped")
    page.get_by_role("button", name="Put back in my queue").click()
    page.get_by_text("Skipped by you").wait_for(state="detached")
    assert page.locator("#queue-count").inner_text() == "14"

    single = sequence_id(ui.lookout, "demo-seq-05")
    page.goto(f"{ui.url}/sequences/{single}?queue=1")
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")
    assert len(state(page)["tracks"]) == 1
    press(page, "s", "1", "Enter")
    following = _opened_after(ui, single)
    review = ui.api().get(f"/api/sequences/{single}/review").json()
    assert (
        review["processing_stage"] == "annotated"
        and review["tracks"][0]["smoke_type"] == "wildfire"
    )
    assert _held(ui) == following


def _opened_after(ui: UI, previous: str) -> str:
    moved = f"!location.pathname.endsWith('{previous}')"
    wait_js(ui.page, f"{moved} && window.lookoutReview && window.lookoutReview.ready")
    return _opened(ui)


def test_auto_next_can_be_turned_off_on_the_page(ui: UI) -> None:
    page = ui.page
    single = sequence_id(ui.lookout, "demo-seq-05")
    page.goto(f"{ui.url}/sequences/{single}?queue=1")
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")
    toggle = page.locator("#auto-next")
    assert toggle.is_checked()
    toggle.uncheck()
    press(page, "s", "2", "Enter")
    wait_js(page, "window.lookoutReview.version === 2")
    assert page.url.endswith(f"{single}?queue=1")
    assert "Press ] for the next sequence" in page.locator("#save-message").inner_text()
    page.reload()
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")
    assert not page.locator("#auto-next").is_checked()  # remembered in this browser


def test_a_sequence_another_reviewer_holds_is_not_offered(ui: UI) -> None:
    page = ui.page
    bob = ui.lookout.keyed_client("bob@example.org", group="default")
    held = bob.post("/api/review-queue/claim", json={})
    assert held.status_code == 200, held.text
    bobs = held.json()["sequence"]["id"]

    ui.goto("/sequences/queue")
    page.get_by_text("reviewing: bob@example.org").wait_for()
    _queue_ready(ui)
    press(page, "r")
    assert _opened(ui) != bobs

    # Opened directly, the page says who has it instead of taking it.
    ui.console.expect("status of 409")
    page.goto(f"{ui.url}/sequences/{bobs}")
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")
    page.locator("#save-message[data-held-by-other=true]").wait_for()
    assert "Another reviewer has this sequence open" in page.locator("#save-message").inner_text()
    assert bob.get("/api/review-queue").json()["claimed"]["sequence"]["id"] == bobs


SCREENS = [{"width": 1366, "height": 768}, {"width": 1920, "height": 1080}]


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s['width']}x{s['height']}")
def test_three_sequences_reviewed_with_the_keyboard_only(ui: UI, screen: dict[str, int]) -> None:
    page = ui.page
    page.set_viewport_size(screen)
    ui.goto("/sequences/queue")
    _queue_ready(ui)
    press(page, "r")
    reviewed: list[str] = []
    for _ in range(3):
        current = _opened(ui) if not reviewed else _opened_after(ui, reviewed[-1])
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the review page is {overflow}px wider than the screen"
        tracks = len(state(page)["tracks"])
        for index in range(tracks):
            # Smoke for even tracks, a false positive (antenna) for odd ones; j moves on.
            press(page, *(("s", "1") if index % 2 == 0 else ("f", "a", "Enter")), "j")
        press(page, "Enter")  # save; the next claimed sequence opens by itself
        reviewed.append(current)
        wait_js(page, f"!location.pathname.endsWith('{current}')")
    for index, seq in enumerate(reviewed):
        review = ui.api().get(f"/api/sequences/{seq}/review").json()
        assert review["processing_stage"] == "annotated", index
        decisions = [t["decision"] for t in review["tracks"]]
        assert decisions == [
            "smoke" if i % 2 == 0 else "false_positive" for i in range(len(decisions))
        ]
    assert len(set(reviewed)) == 3
