"""The admins' page in the browser, by keyboard: add a person and a group, put the person in the
group, take them out, and stop them signing in."""

from __future__ import annotations

import pytest

from tests.support import wait_until
from tests.web.conftest import UI, save_screenshot, sqlite_only

pytestmark = [pytest.mark.browser, sqlite_only]


def _user(ui: UI, email: str) -> dict:
    return next(u for u in ui.api().get("/api/admin/users").json() if u["email"] == email)


def test_manage_people_and_groups_by_keyboard(ui: UI) -> None:
    page = ui.page
    ui.goto("/projects")
    page.get_by_role("link", name="Users and groups").click()
    page.wait_for_url("**/admin")

    email = page.get_by_role("textbox", name="Email")
    email.fill("nina@example.org")
    email.press("Enter")
    page.get_by_role("table", name="Users").get_by_text("nina@example.org").wait_for()

    group_name = page.get_by_role("form", name="Add a group").get_by_role("textbox", name="Name")
    group_name.fill("night-shift")
    group_name.press("Enter")
    page.get_by_role("table", name="Groups").get_by_text("night-shift").wait_for()

    form = page.get_by_role("form", name="Put a user in a group")
    form.get_by_label("User").select_option(label="nina@example.org")
    form.get_by_label("Group").select_option(label="night-shift")
    form.get_by_label("Role").focus()
    page.keyboard.press("Tab")  # to the form's button
    page.keyboard.press("Enter")
    remove = page.get_by_role("button", name="Take nina@example.org out of night-shift")
    remove.wait_for()
    assert [g["name"] for g in _user(ui, "nina@example.org")["groups"]] == ["night-shift"]
    save_screenshot(page, "admin")

    page.once("dialog", lambda dialog: dialog.accept())
    remove.focus()
    page.keyboard.press("Enter")
    remove.wait_for(state="detached")
    assert _user(ui, "nina@example.org")["groups"] == []

    may_sign_in = page.get_by_role("checkbox", name="nina@example.org may sign in")
    may_sign_in.focus()
    page.keyboard.press("Space")
    assert wait_until(lambda: _user(ui, "nina@example.org")["is_active"] is False)
    page.get_by_text("nina@example.org may sign in: no.").wait_for()  # said after the reload
    # The admin's own rights cannot be switched off from here.
    own = page.get_by_role("checkbox", name="local-admin@localhost may sign in")
    assert own.is_disabled()
