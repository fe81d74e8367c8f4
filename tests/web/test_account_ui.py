"""The account page in the browser: create an API key by keyboard, see it once, revoke it."""

from __future__ import annotations

import pytest

from tests.web.conftest import UI, save_screenshot, sqlite_only

pytestmark = [pytest.mark.browser, sqlite_only]


def test_create_and_revoke_a_key_by_keyboard(ui: UI) -> None:
    page = ui.page
    ui.goto("/projects")
    page.locator("a.whoami").click()
    page.wait_for_url("**/account")
    assert page.get_by_role("heading", name="Your account").is_visible()

    name = page.get_by_role("textbox", name="Name")
    name.focus()
    name.fill("nightly pipeline")
    page.keyboard.press("Enter")
    shown = page.get_by_role("textbox", name="New API key")
    shown.wait_for()
    token = shown.input_value()
    assert token.startswith("lk_")
    keys = page.get_by_role("table", name="Your API keys")
    assert "nightly pipeline" in keys.inner_text()
    save_screenshot(page, "account")

    # The key works, and acts as the person who made it.
    me = ui.api().get("/api/users/me").json()
    keyed = ui.api().get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    assert keyed.status_code == 200 and keyed.json()["id"] == me["id"]

    # Shown once: a reload lists the key, never its secret.
    page.reload()
    secret = token.split("_", 2)[2]  # the secret itself may hold "_"
    assert secret not in page.content()
    assert "nightly pipeline" in page.get_by_role("table", name="Your API keys").inner_text()

    page.once("dialog", lambda dialog: dialog.accept())
    revoke = page.get_by_role("button", name="Revoke nightly pipeline")
    revoke.focus()
    page.keyboard.press("Enter")
    page.get_by_role("table", name="Your API keys").get_by_text("revoked").wait_for()
    refused = ui.api().get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
