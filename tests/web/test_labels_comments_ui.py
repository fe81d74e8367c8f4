"""Classes, metadata and comments in the browser: classify an image on its view and filter
the gallery by that class; add, edit and delete a comment by keyboard; comment on a sequence
from the review page. Text people type is shown as text, never run as HTML."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import UI, save_screenshot, sqlite_only
from tests.web.web_support import wait_js

pytestmark = [pytest.mark.browser, sqlite_only]

MARKUP = "<img src=x onerror=alert(1)> plume at 2 o'clock"


def _project_and_images(ui: UI) -> tuple[str, list[dict[str, Any]]]:
    api = ui.api()
    project = next(p for p in api.get("/api/projects").json() if p["name"].startswith("Demo"))
    images = api.get(f"/api/projects/{project['id']}/images", params={"limit": 5}).json()
    return project["id"], images["items"]


def test_classify_an_image_and_filter_the_gallery_by_class(ui: UI) -> None:
    page = ui.page
    project_id, images = _project_and_images(ui)
    target, other = images[0], images[1]
    ui.goto(f"/images/{target['id']}")

    # A new name creates the class and gives it, by keyboard.
    give = page.get_by_role("combobox", name="Class to give")
    give.focus()
    page.keyboard.type("low sun")
    page.keyboard.press("Enter")
    chips = page.get_by_role("list", name="Classes of this image")
    chips.get_by_text("low sun").wait_for()
    # Metadata set from the same panel shows up, as text.
    page.get_by_role("textbox", name="Metadata key").fill("site")
    page.get_by_role("textbox", name="Metadata value").fill(MARKUP)
    page.get_by_role("textbox", name="Metadata value").press("Enter")
    page.locator("#image-metadata dd", has_text="plume at 2").wait_for()
    assert page.locator("#image-metadata img").count() == 0
    api = ui.api()
    assert api.get(f"/api/images/{target['id']}").json()["metadata"] == {"site": MARKUP}
    save_screenshot(page, "image-classes-comments")

    # The other image gets a second class, then loses it again.
    ui.goto(f"/images/{other['id']}")
    page.get_by_role("combobox", name="Class to give").fill("night")
    page.get_by_role("button", name="Give class").click()
    remove = page.get_by_role("button", name="Remove class night")
    remove.wait_for()
    remove.focus()
    page.keyboard.press("Enter")
    page.get_by_role("list", name="Classes of this image").get_by_text("No class yet.").wait_for()

    # The gallery's class filter shows the classified image only.
    ui.goto(f"/projects/{project_id}")
    page.locator("select[name=class]").select_option(label="low sun")
    page.wait_for_url("**class=*")
    page.wait_for_load_state("networkidle")
    tiles = page.locator("ul.gallery a.tile-link")
    assert tiles.count() == 1
    assert tiles.first.get_attribute("href") == f"/images/{target['id']}"

    # And the metadata search finds it too.
    ui.goto(f"/projects/{project_id}?search_field=site&search_value=plume")
    assert page.locator("ul.gallery a.tile-link").count() == 1

    # The class card lists it with its count; a class in use is not deleted.
    page.locator("#classes-card summary").click()
    row = page.locator("#class-admin li", has_text="1 image")
    assert row.locator("input").input_value() == "low sun"
    ui.console.expect("status of 409")  # the refusal the page shows in words
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    page.locator("#flash", has_text="remove those classifications first").wait_for()


def test_comment_on_the_image_view_by_keyboard(ui: UI) -> None:
    page = ui.page
    _, images = _project_and_images(ui)
    image_id = images[0]["id"]
    ui.goto(f"/images/{image_id}")
    comments = page.get_by_role("list", name="Comments, newest first")
    comments.get_by_text("No comments yet.").wait_for()

    page.locator("body").press("t")  # moves to the comment box
    box = page.get_by_role("textbox", name="Write a comment")
    assert box.evaluate("el => el === document.activeElement")
    page.keyboard.type("first")
    page.keyboard.press("Control+Enter")
    comments.get_by_text("first").wait_for()
    page.keyboard.type(MARKUP)
    page.keyboard.press("Control+Enter")
    comments.locator("li.comment").nth(1).wait_for()
    texts = comments.locator(".comment-text").all_inner_texts()
    assert texts == [MARKUP, "first"]  # newest first, shown as typed
    assert comments.locator("img").count() == 0

    # Edit the older one by keyboard: its Edit button, the text, Ctrl+Enter.
    older = comments.locator("li.comment").nth(1)
    older.get_by_role("button", name="Edit").focus()
    page.keyboard.press("Enter")
    editor = page.get_by_role("textbox", name="Edit your comment")
    assert editor.evaluate("el => el === document.activeElement")
    page.keyboard.type(" look, edited")
    page.keyboard.press("Control+Enter")
    comments.get_by_text("first look, edited").wait_for()
    assert "(edited)" in comments.locator("li.comment").nth(1).inner_text()
    # Esc leaves an edit unchanged.
    comments.locator("li.comment").nth(0).get_by_role("button", name="Edit").focus()
    page.keyboard.press("Enter")
    page.keyboard.type(" (never saved)")
    page.keyboard.press("Escape")
    assert "never saved" not in comments.inner_text()

    # Delete the newest by keyboard, confirming the question.
    page.once("dialog", lambda dialog: dialog.accept())
    comments.locator("li.comment").nth(0).get_by_role("button", name="Delete").focus()
    page.keyboard.press("Enter")
    comments.locator("li.comment", has_text="onerror").wait_for(state="detached")
    stored = ui.api().get(f"/api/images/{image_id}/comments").json()
    assert [c["text"] for c in stored] == ["first look, edited"]
    # The page's own shortcuts stay quiet while typing ("s" is side by side).
    box.focus()
    page.keyboard.type("s")
    assert not page.locator("#side-by-side").is_checked()


def test_comment_on_the_review_page(ui: UI) -> None:
    page = ui.page
    api = ui.api()
    sequence = api.get("/api/sequences", params={"limit": 1}).json()["items"][0]
    ui.goto(f"/sequences/{sequence['id']}")
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")
    box = page.get_by_role("textbox", name="Write a comment")
    box.fill("Cloud or smoke? Ask Camille.")
    # Enter (save the review) and the review's keys do nothing while typing here.
    box.press("Enter")
    page.get_by_role("button", name="Post").click()
    comments = page.get_by_role("list", name="Comments, newest first")
    comments.get_by_text("Ask Camille.").wait_for()
    stored = api.get(f"/api/sequences/{sequence['id']}/comments").json()
    assert stored[0]["text"] == "Cloud or smoke? Ask Camille."
    page.reload()
    page.get_by_role("list", name="Comments, newest first").get_by_text("Ask Camille.").wait_for()


def test_set_and_remove_project_metadata_from_the_gallery(ui: UI) -> None:
    page = ui.page
    project_id, _images = _project_and_images(ui)
    ui.goto(f"/projects/{project_id}")
    page.locator("#classes-card summary").click()
    listing = page.locator("#project-metadata")
    listing.get_by_text("No metadata yet.").wait_for()

    # By keyboard: key, Tab, value, Enter; the value is shown as text.
    page.get_by_role("textbox", name="Project metadata key").fill("region")
    page.keyboard.press("Tab")
    page.keyboard.type(MARKUP)
    page.keyboard.press("Enter")
    listing.locator("dd", has_text="plume at 2").wait_for()
    assert listing.locator("img").count() == 0
    api = ui.api()
    assert api.get(f"/api/projects/{project_id}/metadata-dict").json() == {"region": MARKUP}
    assert page.evaluate("document.activeElement.name") == "key"  # ready for the next key

    # Shown again after a reload, then removed with its button.
    page.reload()
    page.locator("#classes-card summary").click()
    remove = page.get_by_role("button", name="Remove project metadata region")
    remove.focus()
    page.keyboard.press("Enter")
    listing.get_by_text("No metadata yet.").wait_for()
    assert api.get(f"/api/projects/{project_id}/metadata-dict").json() == {}
