"""A project's trash in the browser, by keyboard: reach it from the project page, see who put
an image and a sequence there, when, why and the days left; restore both; delete an image now
(an admin's button)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import UI, save_screenshot, sqlite_only
from tests.web.web_support import wait_js

pytestmark = [pytest.mark.browser, sqlite_only]


def _press(page: Any, button: Any) -> None:
    button.focus()
    page.keyboard.press("Enter")


def test_restore_and_delete_now_from_the_trash_by_keyboard(ui: UI) -> None:
    page = ui.page
    api = ui.api()
    project_id = str(ui.demo.project_id)
    images = api.get(f"/api/projects/{project_id}/images", params={"limit": 2}).json()["items"]
    kept, doomed = images[0]["id"], images[1]["id"]
    sequence = api.get("/api/sequences", params={"project_id": project_id, "limit": 1}).json()
    sequence_id = sequence["items"][0]["id"]
    for image_id, reason in ((kept, "blurry frame"), (doomed, "a stranger's face")):
        trashed = api.request(
            "DELETE", f"/api/projects/{project_id}/images/{image_id}", json={"reason": reason}
        )
        assert trashed.status_code == 200, trashed.text
    trashed = api.request(
        "DELETE", f"/api/sequences/{sequence_id}", json={"reason": "camera pointed at a wall"}
    )
    assert trashed.status_code == 200, trashed.text

    ui.goto(f"/projects/{project_id}")
    _press(page, page.get_by_role("link", name="Trash", exact=True))
    page.wait_for_url(f"**/projects/{project_id}/trash")
    wait_js(page, "window.lookoutTrash && window.lookoutTrash.ready")
    image_rows = page.get_by_role("table", name="Images in the trash")
    sequence_rows = page.get_by_role("table", name="Sequences in the trash")
    kept_row = image_rows.locator(f"tr[data-id='{kept}']")
    assert "blurry frame" in kept_row.inner_text()
    days = ui.lookout.settings.trash_retention_days
    assert kept_row.locator("td").nth(5).inner_text().strip() == str(days)
    sequence_row = sequence_rows.locator(f"tr[data-id='{sequence_id}']")
    assert "camera pointed at a wall" in sequence_row.inner_text()
    assert page.get_by_role("table", name="Deletion log").locator("tbody tr").count() == 3
    save_screenshot(page, "trash")

    # Restore the image, then the sequence: each comes back and leaves the page.
    _press(page, kept_row.get_by_role("button", name="Restore"))
    kept_row.wait_for(state="detached")
    page.get_by_text("was restored").wait_for()
    assert api.get(f"/api/images/{kept}").status_code == 200
    wait_js(page, "window.lookoutTrash && window.lookoutTrash.ready")
    _press(page, sequence_row.get_by_role("button", name="Restore"))
    sequence_row.wait_for(state="detached")
    page.get_by_text("No sequences in the trash.").wait_for()
    assert api.get(f"/api/sequences/{sequence_id}").status_code == 200

    # Delete now (the local admin is an admin): confirmed, then gone for good.
    wait_js(page, "window.lookoutTrash && window.lookoutTrash.ready")
    doomed_row = image_rows.locator(f"tr[data-id='{doomed}']")
    page.once("dialog", lambda dialog: dialog.accept())
    _press(page, doomed_row.get_by_role("button", name="Delete"))
    page.get_by_text("No images in the trash.").wait_for()
    gone = api.get(f"/api/images/{doomed}", params={"include_deleted": "true"})
    assert gone.status_code == 404
    assert "purge" in page.get_by_role("table", name="Deletion log").inner_text()


def test_move_an_image_and_a_sequence_to_the_trash_from_their_pages(ui: UI) -> None:
    page = ui.page
    api = ui.api()
    project_id = str(ui.demo.project_id)
    image_id = api.get(f"/api/projects/{project_id}/images", params={"limit": 1}).json()["items"][
        0
    ]["id"]

    # The image view: the menu by keyboard, a reason, Enter; the gallery says what happened.
    ui.goto(f"/images/{image_id}")
    _press(page, page.locator("details[data-trash] summary"))
    reason = page.get_by_role("textbox", name="Why it goes to the trash (optional)")
    reason.wait_for()
    # The menu's toggle event, which moves the focus, is queued after the menu opens: wait for it.
    wait_js(page, "document.activeElement && document.activeElement.name === 'reason'")
    page.keyboard.type("lens covered in frost")
    save_screenshot(page, "image-trash-menu")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/projects/{project_id}")
    page.locator("#flash", has_text="Image moved to the trash").wait_for()
    trashed = api.get(f"/api/images/{image_id}", params={"include_deleted": "true"}).json()
    assert trashed["deleted_at"] and trashed["delete_reason"] == "lens covered in frost"
    assert api.get(f"/api/images/{image_id}").status_code == 404

    # The review page: no reason is needed for a sequence; the sequences list opens.
    sequence = api.get("/api/sequences", params={"project_id": project_id, "limit": 1}).json()
    sequence_id = sequence["items"][0]["id"]
    page.goto(f"{ui.url}/sequences/{sequence_id}")
    wait_js(page, "window.lookoutReview && window.lookoutReview.ready")
    _press(page, page.locator("details[data-trash] summary"))
    page.get_by_role("button", name="Move to trash").last.click()
    page.wait_for_url("**/sequences?project_id=*")
    page.locator("#flash", has_text="Sequence moved to the trash").wait_for()
    gone = api.get(f"/api/sequences/{sequence_id}", params={"include_deleted": "true"}).json()
    assert gone["deleted_at"] and gone["delete_reason"] is None
    assert api.get(f"/api/sequences/{sequence_id}").status_code == 404
